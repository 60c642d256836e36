"""User management for admins: accounts, roles, region scope, passwords, disabling."""

from __future__ import annotations

from aiohttp import web

from accounts import users
from storage import DomainError
from tv_server import keys
from tv_server.admin import labels
from tv_server.admin.common import current_user, log, render, requires, see_other
from tv_ui.i18n import gettext


def _scopes(request: web.Request) -> list[tuple[str, str]]:
    """Regions a user can be scoped to: the banners/districts and their townships."""
    tree = request.config_dict[keys.REGIONS]
    out = []
    for root in tree.roots:
        for banner in tree.kids(root.code):
            out.append((banner.code, banner.name))
            out.extend((t.code, f"{banner.name} · {t.name}") for t in tree.kids(banner.code))
    return out


def _region(request: web.Request, value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if request.config_dict[keys.REGIONS].get(value) is None:
        raise DomainError("region_not_found", value)
    return value


def _message(exc: DomainError) -> str:
    return gettext(labels.ERRORS.get(exc.code, labels.ERRORS["server_error"]))


@requires("users.manage")
async def user_list(request: web.Request) -> web.Response:
    return render(
        request, "admin/users.html", users=await users.list_users(request.config_dict[keys.DB])
    )


@requires("users.manage")
async def user_new(request: web.Request) -> web.Response:
    return render(request, "admin/user_form.html", edit=None, scopes=_scopes(request), form={})


@requires("users.manage")
async def user_create(request: web.Request) -> web.Response:
    form = await request.post()
    data = {k: str(form.get(k, "")) for k in ("username", "display_name", "role", "region")}
    try:
        if form.get("password") != form.get("password2"):
            raise DomainError("password_mismatch")
        user = await users.create_user(
            request.config_dict[keys.DB],
            data["username"].strip(),
            str(form.get("password", "")),
            data["role"],
            display_name=data["display_name"].strip(),
            region_code=_region(request, data["region"]),
        )
    except DomainError as exc:
        return render(
            request,
            "admin/user_form.html",
            status=400,
            edit=None,
            form=data,
            scopes=_scopes(request),
            error=_message(exc),
        )
    await log(
        request,
        "user.create",
        object_type="user",
        object_id=user.id,
        detail={"username": user.username, "role": user.role, "region": user.region_code},
    )
    raise see_other(request, "admin_users", ok="created")


@requires("users.manage")
async def user_edit(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    user = await users.get_user(db, int(request.match_info["uid"]))
    form = {"display_name": user.display_name, "role": user.role, "region": user.region_code or ""}
    return render(request, "admin/user_form.html", edit=user, form=form, scopes=_scopes(request))


@requires("users.manage")
async def user_update(request: web.Request) -> web.Response:
    db = request.config_dict[keys.DB]
    target = await users.get_user(db, int(request.match_info["uid"]))
    form = await request.post()
    action = str(form.get("action", "save"))
    data = {k: str(form.get(k, "")) for k in ("display_name", "role", "region")}
    try:
        if action == "password":
            if form.get("password") != form.get("password2"):
                raise DomainError("password_mismatch")
            await users.set_password(db, target.id, str(form.get("password", "")))
            await log(request, "user.password", object_type="user", object_id=target.id)
            raise see_other(request, "admin_users", ok="password")
        if action in ("disable", "enable"):
            if target.id == current_user(request).id:
                raise DomainError("self_disable")
            await users.set_disabled(db, target.id, action == "disable")
            await log(request, f"user.{action}", object_type="user", object_id=target.id)
            raise see_other(request, "admin_users", ok=f"{action}d")
        updated = await users.update_user(
            db,
            target.id,
            role=data["role"],
            region_code=_region(request, data["region"]),
            display_name=data["display_name"].strip() or target.username,
        )
    except DomainError as exc:
        return render(
            request,
            "admin/user_form.html",
            status=400,
            edit=target,
            form=data,
            scopes=_scopes(request),
            error=_message(exc),
        )
    await log(
        request,
        "user.update",
        object_type="user",
        object_id=target.id,
        detail={
            "role": [target.role, updated.role],
            "region": [target.region_code, updated.region_code],
        },
    )
    raise see_other(request, "admin_users", ok="saved")
