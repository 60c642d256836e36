"""Admin slice: a program's Mongolian version (content.programs.versions). Editors write it
(title, summary, pages) and preview it as a Mongolian box shows it (vertical, in the TV
frames); a reviewer marks it reviewed once a native speaker has checked it. Saving the text makes
it a draft again. Every change is scoped like the program and audited."""

from __future__ import annotations

import asyncio

from aiohttp import web

from content.programs import versions, workflow
from storage import DomainError
from tv_server import keys
from tv_server.admin import program_scope
from tv_server.admin.common import current_user, deny, render, requires, see_other
from tv_server.admin.views_programs import audit_hook
from tv_ui.i18n import N_, gettext

LANG = "mn"
EXTRA_PAGES = 2  # blank page fields offered below the version's pages
REVIEW_LABELS = {
    "drafted": N_("草稿，未经母语者审校"),
    "reviewed": N_("已审校"),
    "none": N_("尚无蒙古文版本（蒙古语电视显示中文并标注“汉语”）"),
}
ERRORS = {
    "required": N_("请填写这一项。"),
    "too_long": N_("内容太长。"),
}


async def _program(request: web.Request) -> workflow.ProgramState:
    pid = int(request.match_info["pid"])
    state = await workflow.get_state(request.config_dict[keys.DB], pid)
    if not program_scope.can_view(request, state.regions):
        raise await deny(request, "view", object="program", id=pid)
    return state


def _fields(form) -> dict:
    pages = []
    for i in range(1, versions.MAX_PAGES + 1):
        if f"page_title_{i}" not in form and f"page_text_{i}" not in form:
            break
        pages.append((form.get(f"page_title_{i}", ""), form.get(f"page_text_{i}", "")))
    return {"title": form.get("title", ""), "summary": form.get("summary", ""), "pages": pages}


def _page(request, state, data: dict, version, status: int = 200, error: str = "", field=""):
    pages = list(data["pages"]) + [("", "")] * EXTRA_PAGES
    return render(
        request,
        "admin/program_version.html",
        status=status,
        state=state,
        data={**data, "pages": pages},
        review=version.review if version else "none",
        reviewed_by=version.reviewed_by if version else None,
        review_labels=REVIEW_LABELS,
        error=error,
        field=field,
        can_edit=current_user(request).can("program.edit"),
        can_review=current_user(request).can("program.review") and version is not None,
    )


@requires("view")
async def show(request: web.Request) -> web.Response:
    state = await _program(request)
    version = (await versions.get_versions(request.config_dict[keys.DB], state.id)).get(LANG)
    data = (
        {
            "title": version.title,
            "summary": version.summary,
            "pages": [(p.title, p.markdown) for p in version.pages],
        }
        if version
        else {"title": "", "summary": "", "pages": []}
    )
    return _page(request, state, data, version)


@requires("view")
async def act(request: web.Request) -> web.Response:
    state = await _program(request)
    db = request.config_dict[keys.DB]
    form = await request.post()
    action = form.get("action", "")
    user = current_user(request)
    permission = "program.review" if action == "review" else "program.edit"
    if action not in ("save", "review", "delete") or not user.can(permission):
        raise await deny(request, permission, program=state.id)
    if not program_scope.can_change(request, state.regions):
        raise await deny(request, permission, program=state.id, regions=state.regions)
    version = (await versions.get_versions(db, state.id)).get(LANG)
    settings = request.config_dict[keys.SETTINGS]
    if action == "save":
        data = _fields(form)
        try:
            clean = versions.validate(data)
            loop = asyncio.get_running_loop()  # drawing the cards is CPU work: off the loop
            covers = await loop.run_in_executor(
                None, versions.make_covers, state.id, clean["title"], settings.data_path
            )
            await versions.save_version(
                db, state.id, LANG, clean, covers=covers, audit=audit_hook(request)
            )
        except DomainError as exc:
            message = gettext(ERRORS.get(exc.code, N_("保存失败，请检查填写的内容。")))
            return _page(request, state, data, version, 422, message, exc.detail)
        ok = "version_saved"
    elif action == "review":
        await versions.mark_reviewed(db, state.id, LANG, user.username, audit=audit_hook(request))
        ok = "version_reviewed"
    else:
        await versions.delete_version(db, state.id, LANG, audit=audit_hook(request))
        ok = "version_deleted"
    raise see_other(request, "admin_program_version", ok=ok, pid=state.id)
