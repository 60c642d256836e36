"""Admin slice: the law register (admins edit it; CSV import/export), each program's legal basis
(citations picked from the register), the "needs legal re-review" worklist with the overdue
list, and the background task that flags new effective dates and sends the weekly digest."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from accounts import audit as audit_log
from content.laws import citations as cites
from content.laws import register as laws
from content.laws.citations import Citation
from content.laws.register import LawInvalid
from content.programs import workflow
from storage import DomainError, clock
from tv_server import keys
from tv_server.admin import crud, labels, program_scope, views_programs
from tv_server.admin.common import (
    current_user,
    deny,
    log,
    render,
    requires,
    see_other,
)
from tv_server.admin.downloads import dated
from tv_server.admin.legal_flags import flag_text
from tv_ui.i18n import N_, gettext

log_ = logging.getLogger(__name__)
EDIT = "laws.edit"  # admins only
TASK_SECONDS = 3600.0  # new effective dates and the weekly digest are looked at hourly
PICKER_ROWS = 4  # empty rows the citation picker offers besides the current citations

STATUS = {"in_force": N_("现行有效"), "amended": N_("已修改"), "repealed": N_("已废止")}
FIELDS = {
    "code": N_("代号"), "name": N_("名称"), "issuer": N_("制定机关"),
    "promulgated_on": N_("公布日期"), "effective_on": N_("施行日期"), "status": N_("状态"),
    "amended_on": N_("修改日期"), "repealed_on": N_("废止日期"), "replaced_by": N_("取代它的法律"),
    "note": N_("备注"), "header": N_("表头"), "row": N_("这一行"), "file": N_("文件"),
}  # fmt: skip
PROBLEMS = {
    "required": N_("%(field)s不能为空。"),
    "too_long": N_("%(field)s太长：最多 %(value)s 个字。"),
    "code_invalid": N_("代号只能用小写字母、数字和横线（如 civil-code）：%(value)s"),
    "code_taken": N_("代号 %(value)s 已被使用。"),
    "code_duplicate": N_("代号在文件中重复：%(value)s"),
    "date_invalid": N_("%(field)s不是日期（应为 2021-01-01 这样的格式）：%(value)s"),
    "status_invalid": N_("状态应为 in_force、amended 或 repealed：%(value)s"),
    "effective_before_promulgated": N_("施行日期不能早于公布日期。"),
    "amended_before_promulgated": N_("修改日期不能早于公布日期。"),
    "amended_needs_date": N_("标为“已修改”时要填修改日期。"),
    "repealed_needs_date": N_("标为“已废止”时要填废止日期。"),
    "only_when_repealed": N_("只有已废止的法律才填废止日期和取代它的法律。"),
    "replaced_by_unknown": N_("法规库中没有取代它的法律：%(value)s"),
    "encoding": N_("文件编码无法识别：请另存为 UTF-8 或 GBK 编码的 CSV。"),
    "columns_missing": N_("表头缺少列：%(value)s"),
    "columns_unknown": N_("表头有不认识的列：%(value)s"),
    "row_width": N_("这一行的列数与表头不一致（%(value)s）。"),
    "empty_file": N_("文件是空的。"),
    "too_many_rows": N_("行数太多：最多 %(value)s 行。"),
}
ERRORS = {
    "law_not_found": N_("法规库中没有这部法律：%(law)s"),
    "article_invalid": N_("条文号应为数字，如 1079：%(value)s"),
    "too_many_articles": N_("一条引用最多 %(max)s 个条文。"),
    "too_many_citations": N_("一个节目最多 %(max)s 条法律依据。"),
    "citation_page_invalid": N_("节目没有第 %(page)s 页。"),
    "citation_duplicate": N_("同一部法律在同一页只能引用一次：%(law)s"),
    "cites_repealed_law": N_(
        "节目仍引用已废止的《%(name)s》，不能直接复核通过：请先修改法律依据和内容，再送审。"
    ),
    "program_not_live": N_("节目还没有上线，不需要法律复核。"),
    "not_flagged": N_("这个节目没有待法律复核的标记。"),
    "not_withdrawn": N_("这个节目没有因法律复核而下线。"),
}
NOTICES = {
    "law_saved": N_("法律已保存。"),
    "law_flagged": N_("法律已保存，引用它的节目已标记为“需法律复核”。"),
    "laws_imported": N_("法规库已导入。"),
    "citations_saved": N_("法律依据已保存为新稿件，送审通过后在电视上生效。"),
    "legal_cleared": N_("法律复核已通过，标记已清除。"),
    "legal_withdrawn": N_("节目已下线，复核通过后重新上线。"),
    "legal_kept": N_("节目在复核期间继续播出。"),
}


def _db(request: web.Request):
    return request.config_dict[keys.DB]


def _days(request: web.Request) -> int:
    return int(request.config_dict[keys.SETTINGS].legal_review_days)


def _audit(request: web.Request, object_type: str):
    async def hook(tx, action: str, object_id, detail: dict) -> None:
        await log(request, action, object_type=object_type, object_id=object_id, detail=detail,
                  tx=tx)  # fmt: skip

    return hook


problem_text = crud.problem_words(PROBLEMS, FIELDS, problem="required", field="row")


def error_text(exc: DomainError) -> str:
    text = gettext(
        ERRORS.get(exc.code) or labels.ERRORS.get(exc.code) or labels.ERRORS["server_error"]
    )
    try:
        return text % exc.params if exc.params else text
    except (KeyError, ValueError, TypeError):
        return text


def _helpers() -> dict:
    return {"statuses": STATUS, "flag_text": flag_text, "fields": FIELDS}


# -- the register ------------------------------------------------------------------------------


@requires("view")
async def law_list(request: web.Request) -> web.Response:
    db = _db(request)
    return render(request, "admin/laws/list.html", laws=await laws.list_laws(db),
                  citing=await laws.citing_counts(db), **_helpers())  # fmt: skip


def _form_values(law: laws.Law | None) -> dict:
    return law.values() if law else {k: "" for k in laws.COLUMNS} | {"status": "in_force"}


async def _law_page(request, law, values, *, create: bool, status=200, problems=()):
    db = _db(request)
    programs = await laws.citing_programs(db, law.code) if law is not None else []
    return render(
        request, "admin/laws/form.html", status=status, law=law, values=values, create=create,
        problems=[problem_text(p) for p in problems],
        bad_fields={p.field for p in problems}, programs=programs,
        all_laws=await laws.list_laws(db), **_helpers(),
    )  # fmt: skip


@requires(EDIT)
async def law_new(request: web.Request) -> web.Response:
    return await _law_page(request, None, _form_values(None), create=True)


@requires("view")
async def law_view(request: web.Request) -> web.Response:
    law = await laws.get_law(_db(request), request.match_info["code"])
    return await _law_page(request, law, _form_values(law), create=False)


async def _save(request: web.Request, create: bool) -> web.Response:
    post = await request.post()
    values = {k: str(post.get(k, ""))[:400] for k in laws.COLUMNS}
    law = None
    if not create:
        law = await laws.get_law(_db(request), request.match_info["code"])
        values["code"] = law.code  # the code never changes: packages cite it
    try:
        saved, flagged = await laws.save_law(
            _db(request), values, create=create, actor=current_user(request).username,
            audit=_audit(request, "law"),
        )  # fmt: skip
    except LawInvalid as exc:
        return await _law_page(request, law, values, create=create, status=400,
                               problems=exc.problems)  # fmt: skip
    raise see_other(request, "admin_law", ok="law_flagged" if flagged else "law_saved",
                    code=saved.code)  # fmt: skip


@requires(EDIT)
async def law_create(request: web.Request) -> web.Response:
    return await _save(request, create=True)


@requires(EDIT)
async def law_update(request: web.Request) -> web.Response:
    return await _save(request, create=False)


@requires("view")
async def export_csv(request: web.Request) -> web.Response:
    data = laws.export_csv(await laws.list_laws(_db(request)))
    await log(request, "law.export", object_type="law", detail={"bytes": len(data)})
    return dated(data, "csv", "legaltv-laws")


def _import_page(request: web.Request, status: int = 200, **ctx) -> web.Response:
    return render(request, "admin/laws/import.html", status=status, columns=laws.COLUMNS,
                  max_mb=laws.CSV_MAX_BYTES // 2**20, **ctx)  # fmt: skip


@requires(EDIT)
async def import_form(request: web.Request) -> web.Response:
    return _import_page(request)


@requires(EDIT)
async def import_csv(request: web.Request) -> web.Response:
    post = await request.post()
    upload = post.get("file")
    if not isinstance(upload, web.FileField):
        return _import_page(request, 400, error=gettext(N_("请选择要导入的 CSV 文件。")))
    raw = upload.file.read(laws.CSV_MAX_BYTES + 1)
    if len(raw) > laws.CSV_MAX_BYTES:
        message = gettext(N_("文件太大：最多 %(mb)s MB。")) % {"mb": laws.CSV_MAX_BYTES // 2**20}
        return _import_page(request, 413, error=message)
    name = (upload.filename or "")[:200]
    try:
        result = await laws.import_csv(_db(request), raw, actor=current_user(request).username,
                                       audit=_audit(request, "law"))  # fmt: skip
    except LawInvalid as exc:
        await log(request, "law.import", object_type="law", outcome="failed",
                  detail={"file": name, "problems": len(exc.problems)})  # fmt: skip
        report = [(p.line, problem_text(p)) for p in exc.problems]
        message = gettext(N_("文件中有 %(n)s 处问题，没有导入任何内容。")) % {"n": len(report)}
        return _import_page(request, 400, error=message, report=report, name=name)
    await log(request, "law.import", object_type="law", detail={
        "file": name, "created": len(result.created), "updated": len(result.updated),
        "flagged": result.flagged,
    })  # fmt: skip
    raise see_other(request, "admin_laws", ok="laws_imported")


# -- legal re-review ---------------------------------------------------------------------------


@requires("view")
async def review_list(request: web.Request) -> web.Response:
    """Flagged programs, the overdue list and what falls due soon, within the user's scope."""
    now = time.time()
    states = [
        s for s in await laws.legal_states(_db(request), now=now, review_days=_days(request))
        if program_scope.can_view(request, s.regions)
    ]  # fmt: skip
    soon = (clock.today(now) + dt.timedelta(days=30)).isoformat()
    return render(
        request, "admin/laws/review.html",
        flagged=[s for s in states if s.flags],
        overdue=[s for s in states if s.overdue],
        due_soon=[s for s in states if not s.overdue and s.status == "published"
                  and s.review_by <= soon],
        review_days=_days(request), **_helpers(),
    )  # fmt: skip


async def _program(request: web.Request) -> workflow.ProgramState:
    state = await workflow.get_state(_db(request), int(request.match_info["pid"]))
    if not program_scope.can_view(request, state.regions):
        raise await deny(request, "view", object="program", id=state.id)
    return state


async def _legal_page(request, state, *, status=200, error="", rows=None) -> web.Response:
    db = _db(request)
    register = await laws.list_laws(db)
    draft = state.draft.content
    current = rows if rows is not None else [
        {"law": c.law, "articles": ", ".join(map(str, c.articles)), "page": c.page or ""}
        for c in draft.citations
    ]  # fmt: skip
    blank = {"law": "", "articles": "", "page": ""}
    user = current_user(request)
    return render(
        request, "admin/laws/program.html", status=status, state=state, error=error,
        legal=await laws.legal_state(db, state.id, now=time.time(), review_days=_days(request)),
        live=await cites.shown(db, state.live.content.citations) if state.live else [],
        rows=current + [blank] * PICKER_ROWS, register=register,
        pages=list(enumerate((p.title for p in draft.pages), start=1)),
        warnings=await laws.draft_warnings(db, draft.citations),
        can_cite=user.can("program.edit") and program_scope.can_change(request, state.regions)
        and state.workflow.state != "in_review",
        can_reapprove=user.can("program.review")
        and program_scope.can_change(request, state.regions),
        can_withdraw=user.can(EDIT), **_helpers(),
    )  # fmt: skip


@requires("view")
async def program_legal(request: web.Request) -> web.Response:
    return await _legal_page(request, await _program(request))


def _rows(post) -> list[dict]:
    """The picker's rows as typed (blank rows skipped), capped."""
    lawcodes, articles, pages = (post.getall(k, []) for k in ("law", "articles", "page"))
    rows = []
    for n, code in enumerate(lawcodes[: cites.CITATIONS_MAX + PICKER_ROWS]):
        if not code:
            continue
        text = str(articles[n] if n < len(articles) else "")[:200]
        page = str(pages[n] if n < len(pages) else "")
        rows.append({"law": str(code)[:40], "articles": text,
                     "page": int(page) if page.isdigit() else ""})  # fmt: skip
    return rows


def _citations(rows: list[dict]) -> list[Citation]:
    return [Citation(r["law"], cites.parse_articles(r["articles"]), r["page"] or None)
            for r in rows]  # fmt: skip


async def _guard(request: web.Request, permission: str, state) -> None:
    user = current_user(request)
    if not user.can(permission) or (
        permission != EDIT and not program_scope.can_change(request, state.regions)
    ):
        raise await deny(request, permission, object="program", id=state.id)


@requires("view")
async def program_legal_action(request: web.Request) -> web.Response:
    state = await _program(request)
    post = await request.post()
    action = post.get("action", "")
    db = _db(request)
    hook = views_programs.audit_hook(request)
    rows = None
    try:
        if action == "citations":
            await _guard(request, "program.edit", state)
            rows = _rows(post)
            await laws.save_citations(
                db, state.id, _citations(rows), base_revision=int(post.get("revision", "0") or 0),
                author=current_user(request).username, audit=hook,
            )  # fmt: skip
            ok = "citations_saved"
        elif action == "reapprove":
            await _guard(request, "program.review", state)
            await laws.reapprove(
                db, state.id, revision=int(post.get("revision", "0") or 0),
                actor=current_user(request).username, audit=hook,
            )  # fmt: skip
            ok = "legal_cleared"
        elif action in ("withdraw", "keep"):
            await _guard(request, EDIT, state)
            await laws.set_withdrawn(db, state.id, action == "withdraw", audit=hook)
            ok = "legal_withdrawn" if action == "withdraw" else "legal_kept"
        else:
            raise web.HTTPBadRequest(reason="unknown action")
    except DomainError as exc:
        state = await workflow.get_state(db, state.id)
        return await _legal_page(request, state, status=exc.status, error=error_text(exc),
                                 rows=rows)  # fmt: skip
    raise see_other(request, "admin_program_legal", ok=ok, pid=state.id)


# -- the background task -------------------------------------------------------------------------


async def tick(app: web.Application, now: float | None = None) -> list[int]:
    """Flag programs citing laws whose new text takes effect now, and queue the weekly digest
    (once a week). Returns the ids flagged."""
    db = app[keys.DB]
    now = time.time() if now is None else now
    flagged = await laws.flag_effective(db, now)
    days = int(app[keys.SETTINGS].legal_review_days)
    queued = await laws.weekly_digest(db, now=now, review_days=days)
    if flagged or queued is not None:
        detail = {"flagged": flagged, "digest_deliveries": queued}
        await audit_log.record(db, user=None, action="law.tick", object_type="law", detail=detail)
    return flagged


async def _run(app: web.Application) -> None:
    while True:
        await asyncio.sleep(60 if TASK_SECONDS > 60 else TASK_SECONDS)
        try:
            if app[keys.NODE].leads:  # once for the installation (tv_server.node)
                await tick(app)
        except Exception:  # a failed round must not stop the next ones
            log_.exception("legal review round failed")
        await asyncio.sleep(max(0.0, TASK_SECONDS - 60))


async def legal_task(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx of the main application."""
    task = asyncio.create_task(_run(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# This slice's messages, found by code by the admin's templates and error pages.
labels.ERRORS.update(ERRORS)
labels.NOTICES.update(NOTICES)
