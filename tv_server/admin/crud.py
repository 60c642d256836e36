"""Declared list/create/edit/delete screens for the admin, in the spirit of Wagtail's ViewSets
but no framework. A `Crud` states, for one kind of record: the permission, how a record is loaded
and which region it lies in (region scope), the form fields a post is read from, the domain
functions that validate and write it (in one transaction, auditing through `then`), its audit
action and object type, its templates and its messages. The factories below build the handlers
from it; `tv_server/admin/routes.py` lists them with their URLs.

The domain functions follow one contract (`content.directory` is the example):
`create(db, form, *, known_regions, allowed, then)` returns the record;
`update(db, id, form, *, expected_version, known_regions, allowed, then)` returns (before,
after); `delete(db, id, *, expected_version, allowed, then)`. They raise `invalid` (with
`problems`), `Conflict` when the version moved, `OutOfScope` when the record lies outside
`allowed` as the transaction reads it. Records have `id`, `code`, `version`.

A kind that differs says so with a hook rather than its own handlers (the village advisers are
the example): records without a version (`versioned=False`: no `expected_version`, no
`Conflict`), a record spanning several regions (`outside` sees the whole record), a form read
part by part with its files (`read`; the create and update routes are then `@streamed`), and
what the writes need from the request besides the form (`write_args`: who writes, limits).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

from storage import Conflict, OutOfScope
from tv_server import keys
from tv_server.admin import common
from tv_server.admin.common import Handler, render, requires, see_other
from tv_server.admin.streamed import streamed
from tv_ui.i18n import gettext

PER_PAGE = 50
Allowed = Callable[[web.Request], Callable[[str], bool] | None]


def read_fields(
    post: Mapping, text: Iterable[str] = (), lists: Iterable[str] = (), flags: Iterable[str] = ()
) -> dict:
    """A posted form as typed: `text` fields as strings ("" when missing), `lists` (checkbox
    groups, multi-selects) as lists of strings, `flags` (single checkboxes) as "1" or "0"."""
    form: dict = {f: str(post.get(f, "")) for f in text}
    for name in lists:
        form[name] = [str(x) for x in post.getall(name, [])]  # type: ignore[attr-defined]
    for name in flags:
        form[name] = "1" if post.get(name) else "0"
    return form


def problem_words(
    problems: Mapping[str, str], fields: Mapping[str, str], *, problem: str = "", field: str = ""
) -> Callable[[Any], str]:
    """`problem_text(p)`: a domain Problem (field, code, value) as the sentence shown over the
    form, from a slice's templates by code and field names. An unknown code falls back to
    `problems[problem]` (else the code itself), an unknown field to `fields[field]` (else its
    name)."""

    def problem_text(p) -> str:
        template = gettext(problems.get(p.code, problems[problem] if problem else p.code))
        name = gettext(fields.get(p.field, fields[field] if field else p.field))
        return template % {"field": name, "value": p.value}

    return problem_text


def version_of(raw: str) -> int:
    """The version a form was read at; -1 (matches nothing) when missing or mangled."""
    return int(raw) if raw.isdigit() else -1


def page_of(request: web.Request) -> int:
    raw = request.query.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


async def _nothing(_request: web.Request) -> None:
    """No cache depends on this kind of record."""


@dataclass(frozen=True)
class Crud:
    permission: str
    route: str  # the record's edit page; a deletion lands on `list_route`
    list_route: str
    key: str  # the URL part holding the record's id
    noun: str  # the record's name in the templates
    object_type: str  # of the audit entries
    action: str  # audit actions are "<action>.create", ".update", ".delete"
    load: Callable[[Any, int], Awaitable[Any]]  # (db, id) -> record, or NotFound
    allowed: Allowed  # the request's region predicate for the domain (None: everywhere)
    create: Callable[..., Awaitable[Any]]
    update: Callable[..., Awaitable[Any]]
    invalid: type[Exception]  # the domain's validation error, carrying `problems`
    problem_text: Callable[[Any], str]
    audit_detail: Callable[[Any, Any], dict]  # (before, after) -> the audit entry's detail
    fix_below: str  # message over a form with problems (with %(n)s)
    form_template: str
    form_of: Callable[[Any], dict]  # a record as its form's values
    blank: Callable[[web.Request], dict]  # a new record's form
    text_fields: tuple[str, ...]
    list_fields: tuple[str, ...] = ()
    flag_fields: tuple[str, ...] = ()
    # Region scope of the record a URL names: the one region it lies in (`region_of`), or, for
    # a record spanning several, `outside(request, record)`: None when the user may change it,
    # else the detail of the refusal's audit entry.
    region_of: Callable[[Any], str | None] | None = None
    outside: Callable[[web.Request, Any], dict | None] | None = None
    refused_as: str = "region"  # the audit detail naming what a write found outside the scope
    versioned: bool = True  # the form posts back the version it was read at
    stale: str = ""  # message when somebody changed the record in between
    audit_key: str = "code"  # the record's attribute its audit entries name it by
    # A form `request.post()` cannot read (files, streamed): (request) -> an async context
    # manager giving the typed form, its files kept until the write is done; it raises
    # `invalid` when the form itself is refused (a file too large or of the wrong kind).
    read: Callable[[web.Request], AbstractAsyncContextManager[dict]] | None = None
    # More keyword arguments for `create` and `update`, from the request.
    write_args: Callable[[web.Request], dict] = lambda _request: {}
    # Template values every page of the kind needs (labels, choices).
    helpers: Callable[[web.Request], dict] = lambda _request: {}
    # More values for the form page (lists of choices read from the database), from the
    # request, the record (None for a new one) and the form.
    form_context: Callable[[web.Request, Any, dict], Awaitable[dict]] | None = None
    list_template: str = ""
    list_name: str = ""  # the template variable holding the page of records
    fetch_page: Callable[..., Awaitable[tuple[list, int]]] | None = None
    filters: Callable[[web.Request, dict], dict] = lambda _request, _filters: {}
    list_context: Callable[[web.Request], dict] = lambda _request: {}
    delete: Callable[..., Awaitable[Any]] | None = None
    delete_template: str = ""
    deleted: str = ""  # the notice after a deletion
    created: str = "created"  # the notice after a creation
    changed: Callable[[web.Request], Awaitable[None]] = _nothing  # publish a change (caches)
    changed_by: frozenset[str] = field(default=frozenset({"create", "update", "delete"}))

    def __post_init__(self) -> None:
        assert self.region_of or self.outside, "a Crud needs region_of or outside"

    # -- pieces the handlers share (and the slice may use for its other screens)

    def db(self, request: web.Request):
        return request.config_dict[keys.DB]

    async def get(self, request: web.Request) -> Any:
        """The record the URL names, refused (and audited) outside the user's region."""
        record = await self.load(self.db(request), int(request.match_info[self.key]))
        if self.region_of is not None:
            await common.require_region(request, self.permission, self.region_of(record))
        if self.outside is not None and (refused := self.outside(request, record)) is not None:
            raise await common.deny(request, self.permission, **refused)
        return record

    def reading(self, request: web.Request) -> AbstractAsyncContextManager[dict]:
        """The posted form as typed: `async with crud.reading(request) as form`."""
        return self.read(request) if self.read else self._posted(request)

    @contextlib.asynccontextmanager
    async def _posted(self, request: web.Request) -> AsyncIterator[dict]:
        yield read_fields(await request.post(), self.text_fields, self.list_fields,
                          self.flag_fields)  # fmt: skip

    def expected(self, raw: str) -> dict:
        """The version a form was read at, as the domain's `expected_version` (if versioned)."""
        return {"expected_version": version_of(raw)} if self.versioned else {}

    def audit(self, request: web.Request, verb: str):
        """`then(tx, before, after)` for the domain: the audit entry, in its transaction."""

        async def then(tx, before, after) -> None:
            record = after or before
            await common.log(
                request,
                f"{self.action}.{verb}",
                object_type=self.object_type,
                object_id=getattr(record, self.audit_key),
                detail=self.audit_detail(before, after),
                tx=tx,
            )

        return then

    async def done(self, request: web.Request, verb: str) -> None:
        """Publish the change a successful `verb` made (`changed`), if one of `changed_by`."""
        if verb in self.changed_by:
            await self.changed(request)

    async def form_page(
        self,
        request: web.Request,
        record: Any,
        form: dict,
        *,
        problems: list = (),  # type: ignore[assignment]
        error: str = "",
        status: int = 200,
    ) -> web.Response:
        if problems and not error:
            error = gettext(self.fix_below) % {"n": len(problems)}
        extra = await self.form_context(request, record, form) if self.form_context else {}
        return render(
            request,
            self.form_template,
            status=status,
            **{self.noun: record},
            form=form,
            problems=[(p.field, self.problem_text(p)) for p in problems],
            bad_fields={p.field for p in problems},
            error=error,
            **extra,
            **self.helpers(request),
        )

    def delete_page(self, request: web.Request, record: Any, **extra) -> web.Response:
        """The confirmation page (`status` and `error` in `extra` when it is shown again)."""
        return render(request, self.delete_template, **{self.noun: record}, **extra,
                      **self.helpers(request))  # fmt: skip

    async def out_of_scope(self, request: web.Request, exc: OutOfScope) -> web.HTTPForbidden:
        """Moved out of the user's region between the check and the write: refused, audited."""
        return await common.deny(request, self.permission, **{self.refused_as: exc.detail})


# -- the handler factories ------------------------------------------------------------------------


def list_view(crud: Crud) -> Handler:
    """A filtered (region, kind, text), paginated list within the user's region."""
    assert crud.fetch_page is not None

    @requires(crud.permission)
    async def handler(request: web.Request) -> web.Response:
        filters = {k: request.query.get(k, "").strip() for k in ("region", "kind", "q")}
        page = page_of(request)
        rows, total = await crud.fetch_page(
            crud.db(request),
            **crud.filters(request, filters),
            limit=PER_PAGE,
            offset=(page - 1) * PER_PAGE,
        )
        return render(
            request,
            crud.list_template,
            **{crud.list_name: rows},
            total=total,
            page=page,
            pages=max(1, -(-total // PER_PAGE)),
            filters=filters,
            **crud.list_context(request),
            **crud.helpers(request),
        )

    return handler


def new_view(crud: Crud) -> Handler:
    @requires(crud.permission)
    async def handler(request: web.Request) -> web.Response:
        return await crud.form_page(request, None, crud.blank(request))

    return handler


async def _save(crud: Crud, request: web.Request, record: Any) -> web.Response:
    """Create (`record` None) or change a record from the posted form: the form again with the
    problems (400) or the newer version (409), else on to the record's page. A form refused
    while it was read is shown as it was before (the record's, or a new one's)."""
    db = crud.db(request)
    checks = {"known_regions": request.config_dict[keys.REGIONS].by_code,
              "allowed": crud.allowed(request), **crud.write_args(request)}  # fmt: skip
    form = crud.blank(request) if record is None else crud.form_of(record)
    try:
        async with crud.reading(request) as form:
            if record is None:
                saved = await crud.create(db, form, **checks, then=crud.audit(request, "create"))
            else:
                saved, form["code"] = record, record.code
                then = crud.audit(request, "update")
                version = crud.expected(form.get("version", ""))
                await crud.update(db, record.id, form, **version, **checks, then=then)
    except crud.invalid as exc:
        problems = exc.problems  # type: ignore[attr-defined]
        return await crud.form_page(request, record, form, problems=problems, status=400)
    except OutOfScope as exc:
        raise await crud.out_of_scope(request, exc) from None
    except Conflict:
        current = await crud.load(db, record.id)
        return await crud.form_page(request, current, form, error=gettext(crud.stale), status=409)
    await crud.done(request, "create" if record is None else "update")
    ok = crud.created if record is None else "saved"
    raise see_other(request, crud.route, ok=ok, **{crud.key: saved.id})


def create_view(crud: Crud) -> Handler:
    @requires(crud.permission)
    async def handler(request: web.Request) -> web.Response:
        return await _save(crud, request, None)

    return streamed(handler) if crud.read else handler


def edit_view(crud: Crud) -> Handler:
    @requires(crud.permission)
    async def handler(request: web.Request) -> web.Response:
        record = await crud.get(request)
        return await crud.form_page(request, record, crud.form_of(record))

    return handler


def update_view(crud: Crud) -> Handler:
    @requires(crud.permission)
    async def handler(request: web.Request) -> web.Response:
        return await _save(crud, request, await crud.get(request))

    return streamed(handler) if crud.read else handler


def delete_form_view(crud: Crud) -> Handler:
    @requires(crud.permission)
    async def handler(request: web.Request) -> web.Response:
        return crud.delete_page(request, await crud.get(request))

    return handler


def delete_view(crud: Crud) -> Handler:
    assert crud.delete is not None

    @requires(crud.permission)
    async def handler(request: web.Request) -> web.Response:
        record = await crud.get(request)
        post = await request.post()
        try:
            await crud.delete(  # type: ignore[misc]
                crud.db(request),
                record.id,
                **crud.expected(str(post.get("version", ""))),
                allowed=crud.allowed(request),
                then=crud.audit(request, "delete"),
            )
        except OutOfScope as exc:
            raise await crud.out_of_scope(request, exc) from None
        except Conflict:
            current = await crud.load(crud.db(request), record.id)
            return crud.delete_page(request, current, status=409, error=gettext(crud.stale))
        await crud.done(request, "delete")
        raise see_other(request, crud.list_route, ok=crud.deleted)

    return handler


class Views(NamedTuple):
    """The handlers of one declared kind, for its app's route table."""

    list: Handler
    new: Handler
    create: Handler
    edit: Handler
    update: Handler
    delete_form: Handler | None
    delete: Handler | None


def views(crud: Crud) -> Views:
    """Every handler a `Crud` declares (the delete pair only when it declares `delete`)."""
    deletes = crud.delete is not None
    return Views(
        list_view(crud),
        new_view(crud),
        create_view(crud),
        edit_view(crud),
        update_view(crud),
        delete_form_view(crud) if deletes else None,
        delete_view(crud) if deletes else None,
    )


def region_of_user(request: web.Request) -> str:
    """A new record's region: the user's own (blank for a user of the whole city)."""
    return common.current_user(request).region_code or ""
