"""The register of laws programs cite, and legal re-review: a law marked amended or repealed (or
whose new text takes effect) flags every live program citing it "needs legal re-review"; a
reviewer clears the flag by re-approving; every published program is due for a legal review a
set number of days after its last one, and a weekly digest of what falls due goes out through
the webhook outbox. CSV import/export of the register is here too (see docs/editors.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from callbacks import webhooks
from content.laws import citations as cites
from content.laws.citations import Citation
from storage import Conflict, Database, Invalid, NotFound, clock, sheets
from storage.database import Transaction

STATUSES = ("in_force", "amended", "repealed")
# Accepted in a CSV besides the codes, as people write them in Excel.
STATUS_WORDS = {
    "现行有效": "in_force",
    "已修改": "amended",
    "已修正": "amended",
    "已废止": "repealed",
}
NAME_MAX, ISSUER_MAX, NOTE_MAX = 80, 40, 200
COLUMNS = (
    "code", "name", "issuer", "promulgated_on", "effective_on", "status", "amended_on",
    "repealed_on", "replaced_by", "note",
)  # fmt: skip
RESERVED = {"new", "import"}  # admin paths beside /laws/CODE
_OPTIONAL = {"amended_on", "repealed_on", "replaced_by"}  # NULL when empty
CSV_MAX_BYTES = 1024 * 1024
CSV_MAX_ROWS = 2000
DIGEST_EVENT = "legal.review_digest"
# (tx, action, object id, detail): writes the audit entry inside the change it describes.
AuditHook = Callable[[Transaction, str, str | int, dict], Awaitable[None]]


@dataclass(frozen=True)
class Law:
    code: str
    name: str
    issuer: str
    promulgated_on: str  # ISO dates
    effective_on: str
    status: str = "in_force"
    amended_on: str = ""
    repealed_on: str = ""
    replaced_by: str = ""
    note: str = ""

    def values(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Problem:
    field: str
    code: str  # a stable code, worded by the admin
    value: str = ""
    line: int | None = None


class LawInvalid(Invalid):
    """A law (or rows of a CSV file) refused; `problems` lists each."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = problems[0]
        super().__init__(f"law_{first.code}", first.value, field=first.field)


@dataclass(frozen=True)
class Flag:
    law_code: str
    law_name: str
    kind: str  # amended, repealed, effective
    on_date: str
    replaced_by: str
    flagged_at: float


# -- the register ------------------------------------------------------------------------------


def _law(row) -> Law:
    return Law(*(row[k] or "" for k in Law.__dataclass_fields__))


async def list_laws(db) -> list[Law]:
    rows = await db.fetchall("SELECT * FROM laws ORDER BY status = 'repealed', effective_on DESC")
    return [_law(r) for r in rows]


async def get_law(db, code: str) -> Law:
    row = await db.fetchone("SELECT * FROM laws WHERE code = ?", (code,))
    if row is None:
        raise NotFound("law_not_found", code, law=code)
    return _law(row)


async def known_codes(db, codes: list[str]) -> set[str]:
    """Which of these law codes the register holds."""
    if not codes:
        return set()
    marks = ",".join("?" * len(codes))
    rows = await db.fetchall(f"SELECT code FROM laws WHERE code IN ({marks})", codes)
    return {r[0] for r in rows}


async def citing_programs(db, code: str) -> list[dict]:
    """The programs whose live text cites the law: id, title, slug."""
    rows = await db.fetchall(
        "SELECT DISTINCT p.id, p.title, p.slug FROM program_citations c"
        " JOIN programs p ON p.id = c.program_id WHERE c.law_code = ? ORDER BY p.title",
        (code,),
    )
    return [dict(r) for r in rows]


async def citing_counts(db) -> dict[str, int]:
    """How many programs' live text cites each law."""
    rows = await db.fetchall(
        "SELECT law_code, COUNT(DISTINCT program_id) FROM program_citations GROUP BY law_code"
    )
    return {r[0]: r[1] for r in rows}


def _date(values: dict, key: str, problems: list[Problem], required: bool) -> str:
    raw = str(values.get(key) or "").strip()
    if not raw:
        if required:
            problems.append(Problem(key, "required"))
        return ""
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        problems.append(Problem(key, "date_invalid", raw))
        return ""


def clean(values: dict, *, known: Callable[[str], bool]) -> tuple[Law | None, list[Problem]]:
    """Check a law as typed in the form or a CSV row; `known(code)` tells which laws exist (for
    `replaced_by`)."""
    problems: list[Problem] = []
    text = {k: str(values.get(k) or "").strip() for k in COLUMNS}
    code = text["code"].lower()
    if not cites.CODE_RE.fullmatch(code) or code in RESERVED:
        problems.append(Problem("code", "code_invalid", text["code"]))
    for key, limit in (("name", NAME_MAX), ("issuer", ISSUER_MAX)):
        if not text[key]:
            problems.append(Problem(key, "required"))
        elif len(text[key]) > limit:
            problems.append(Problem(key, "too_long", str(limit)))
    if len(text["note"]) > NOTE_MAX:
        problems.append(Problem("note", "too_long", str(NOTE_MAX)))
    name = text["name"].removeprefix("《").removesuffix("》")
    promulgated = _date(text, "promulgated_on", problems, True)
    effective = _date(text, "effective_on", problems, True)
    amended = _date(text, "amended_on", problems, False)
    repealed = _date(text, "repealed_on", problems, False)
    status = STATUS_WORDS.get(text["status"], text["status"] or "in_force")
    if status not in STATUSES:
        problems.append(Problem("status", "status_invalid", text["status"]))
    if promulgated and effective and effective < promulgated:
        problems.append(Problem("effective_on", "effective_before_promulgated", effective))
    if promulgated and amended and amended < promulgated:
        problems.append(Problem("amended_on", "amended_before_promulgated", amended))
    if status == "amended" and not amended:
        problems.append(Problem("amended_on", "amended_needs_date"))
    if status == "repealed" and not repealed:
        problems.append(Problem("repealed_on", "repealed_needs_date"))
    if status != "repealed" and (repealed or text["replaced_by"]):
        problems.append(Problem("repealed_on", "only_when_repealed"))
    replaced = text["replaced_by"].lower()
    if replaced and (replaced == code or not known(replaced)):
        problems.append(Problem("replaced_by", "replaced_by_unknown", replaced))
    if problems:
        return None, problems
    law = Law(code, name, text["issuer"], promulgated, effective, status, amended, repealed,
              replaced, text["note"])  # fmt: skip
    return law, []


def _changes(before: Law | None, after: Law, today: str) -> list[tuple[str, str]]:
    """The flags a change of the register raises: (kind, date) — marked amended or repealed,
    a new amendment or repeal date, or a new effective date that has arrived."""
    if before is None:
        return []
    out = []
    if after.status == "repealed" and (before.status, before.repealed_on) != (
        "repealed",
        after.repealed_on,
    ):
        out.append(("repealed", after.repealed_on))
    elif after.status == "amended" and (before.status, before.amended_on) != (
        "amended",
        after.amended_on,
    ):
        out.append(("amended", after.amended_on))
    if not out and after.effective_on != before.effective_on and after.effective_on <= today:
        out.append(("effective", after.effective_on))
    return out


async def _flag_citing(tx, code: str, kind: str, on_date: str, now: float) -> list[int]:
    """Flag every program whose live text cites the law; returns their ids."""
    rows = await tx.fetchall(
        "SELECT DISTINCT program_id FROM program_citations WHERE law_code = ?", (code,)
    )
    ids = [r[0] for r in rows]
    await tx.executemany(
        "INSERT INTO legal_flags (program_id, law_code, kind, on_date, flagged_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (program_id, law_code) DO UPDATE SET"
        " kind = excluded.kind, on_date = excluded.on_date, flagged_at = excluded.flagged_at",
        [(pid, code, kind, on_date, now) for pid in ids],
    )
    return ids


def _today(now: float) -> str:
    return clock.local(now).date().isoformat()


async def _write(tx, law: Law, before: Law | None, actor: str, now: float) -> list[int]:
    today = _today(now)
    pending = (
        0
        if law.effective_on > today and (before is None or before.effective_on != law.effective_on)
        else 1
    )
    v = {k: (val or None) if k in _OPTIONAL else val for k, val in law.values().items()}
    if before is None:
        await tx.execute(
            "INSERT INTO laws (code, name, issuer, promulgated_on, effective_on, status,"
            " amended_on, repealed_on, replaced_by, note, effective_flagged, updated_at,"
            " updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*(v[k] for k in COLUMNS), 1, now, actor),
        )
        return []
    await tx.execute(
        "UPDATE laws SET name = ?, issuer = ?, promulgated_on = ?, effective_on = ?, status = ?,"
        " amended_on = ?, repealed_on = ?, replaced_by = ?, note = ?,"
        " effective_flagged = CASE WHEN ? = 0 THEN 0 ELSE effective_flagged END,"
        " updated_at = ?, updated_by = ? WHERE code = ?",
        (*(v[k] for k in COLUMNS[1:]), pending, now, actor, law.code),
    )
    if before.name != law.name:  # the TV words its citations with the name
        citing = await tx.fetchall(
            "SELECT DISTINCT program_id FROM program_citations WHERE law_code = ?", (law.code,)
        )
        tx.emit("program", [r[0] for r in citing])  # their screens follow once committed
    flagged: list[int] = []
    for kind, on_date in _changes(before, law, today):
        flagged += await _flag_citing(tx, law.code, kind, on_date, now)
    return sorted(set(flagged))


async def save_law(
    db: Database, values: dict, *, create: bool, actor: str, now: float | None = None,
    audit: AuditHook | None = None,
) -> tuple[Law, list[int]]:  # fmt: skip
    """Create a law or change one; returns it and the ids of the programs flagged for legal
    re-review by the change. Raises LawInvalid listing every problem."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        codes = {r[0] for r in await tx.fetchall("SELECT code FROM laws")}
        law, problems = clean(values, known=codes.__contains__)
        if problems:
            raise LawInvalid(problems)
        if create and law.code in codes:
            raise LawInvalid([Problem("code", "code_taken", law.code)])
        before = None
        if not create:
            row = await tx.fetchone("SELECT * FROM laws WHERE code = ?", (law.code,))
            if row is None:
                raise NotFound("law_not_found", law.code, law=law.code)
            before = _law(row)
        flagged = await _write(tx, law, before, actor, now)
        if audit:
            detail = {"changed": _changed(before, law), "flagged": flagged}
            await audit(tx, "law.create" if create else "law.update", law.code, detail)
    return law, flagged


def _changed(before: Law | None, after: Law) -> dict:
    if before is None:
        return after.values()
    old, new = before.values(), after.values()
    return {k: [old[k], new[k]] for k in COLUMNS if old[k] != new[k]}


async def flag_effective(db: Database, now: float | None = None) -> list[int]:
    """Flag the programs citing a law whose new effective date has arrived (run periodically);
    returns the ids flagged. Safe to run from several processes."""
    now = time.time() if now is None else now
    today = _today(now)
    flagged: list[int] = []
    async with db.transaction() as tx:
        due = await tx.fetchall(
            "SELECT code, effective_on FROM laws WHERE effective_flagged = 0 AND effective_on <= ?",
            (today,),
        )
        for code, effective in due:
            flagged += await _flag_citing(tx, code, "effective", effective, now)
            await tx.execute("UPDATE laws SET effective_flagged = 1 WHERE code = ?", (code,))
    return sorted(set(flagged))


# -- CSV ---------------------------------------------------------------------------------------


def export_csv(laws: list[Law]) -> bytes:
    """The register for Excel (UTF-8 with BOM, text guarded by the one table writer)."""
    return sheets.csv_bytes(COLUMNS, ([law.values()[k] for k in COLUMNS] for law in laws))


def decode(raw: bytes) -> str:
    """UTF-8 with or without BOM, or GBK/GB18030 as Excel saves it in China."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LawInvalid([Problem("file", "encoding", line=1)])


def parse_csv(text: str, existing: set[str]) -> tuple[list[tuple[int, Law]], list[Problem]]:
    """Every row checked, each problem with its line; nothing touches the database."""
    problems: list[Problem] = []
    rows: list[tuple[int, dict]] = []
    reader = csv.reader(io.StringIO(text.removeprefix(sheets.BOM)))
    header: list[str] | None = None
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            missing = [c for c in COLUMNS if c not in header]
            unknown = [c for c in header if c not in COLUMNS]
            if missing:
                problems.append(Problem("header", "columns_missing", ", ".join(missing), line))
            if unknown:
                problems.append(Problem("header", "columns_unknown", ", ".join(unknown), line))
            if problems:
                return [], problems
            continue
        if len(cells) != len(header):
            problems.append(Problem("row", "row_width", f"{len(cells)} / {len(header)}", line))
            continue
        rows.append((line, dict(zip(header, (sheets.unguard(c.strip()) for c in cells),
                                    strict=True))))  # fmt: skip
        if len(rows) > CSV_MAX_ROWS:
            problems.append(Problem("file", "too_many_rows", str(CSV_MAX_ROWS), line))
            return [], problems
    if header is None:
        return [], [Problem("file", "empty_file", line=1)]
    in_file = {str(r.get("code", "")).strip().lower() for _, r in rows}
    known = (existing | in_file).__contains__
    out: list[tuple[int, Law]] = []
    seen: dict[str, int] = {}
    for line, values in rows:
        law, found = clean(values, known=known)
        problems.extend(Problem(p.field, p.code, p.value, line) for p in found)
        if law is None:
            continue
        if law.code in seen:
            problems.append(Problem("code", "code_duplicate", f"{law.code} @ {seen[law.code]}",
                                    line))  # fmt: skip
            continue
        seen[law.code] = line
        out.append((line, law))
    return out, problems


@dataclass
class Imported:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)


async def import_csv(
    db: Database, raw: bytes, *, actor: str, now: float | None = None,
    audit: AuditHook | None = None,
) -> Imported:  # fmt: skip
    """Check every row, then write them all in one transaction, or none: LawInvalid lists each
    bad row with its line. Changes flag programs as an edit in the form does."""
    now = time.time() if now is None else now
    text = decode(raw)
    async with db.transaction() as tx:
        stored = {r["code"]: _law(r) for r in await tx.fetchall("SELECT * FROM laws")}
        laws, problems = parse_csv(text, set(stored))
        if problems:
            raise LawInvalid(sorted(problems, key=lambda p: p.line or 0))
        result = Imported()
        # Laws that others replace are written first, so `replaced_by` always points at a row.
        for _line, law in sorted(laws, key=lambda item: bool(item[1].replaced_by)):
            before = stored.get(law.code)
            if before == law:
                result.unchanged.append(law.code)
                continue
            result.flagged += await _write(tx, law, before, actor, now)
            (result.created if before is None else result.updated).append(law.code)
            if audit:
                await audit(tx, "law.import", law.code, {"changed": _changed(before, law)})
        result.flagged = sorted(set(result.flagged))
    return result


# -- flags and legal review ----------------------------------------------------------------------


async def flags(db, program_ids: list[int] | None = None) -> dict[int, list[Flag]]:
    """Open "needs legal re-review" flags by program."""
    rows = await db.fetchall(
        "SELECT f.program_id, f.law_code, COALESCE(l.name, f.law_code) AS name, f.kind,"
        " f.on_date, COALESCE(r.name, l.replaced_by, '') AS replaced, f.flagged_at"
        " FROM legal_flags f LEFT JOIN laws l ON l.code = f.law_code"
        " LEFT JOIN laws r ON r.code = l.replaced_by ORDER BY f.flagged_at, f.law_code"
    )
    out: dict[int, list[Flag]] = {}
    wanted = set(program_ids) if program_ids is not None else None
    for r in rows:
        if wanted is None or r[0] in wanted:
            out.setdefault(r[0], []).append(Flag(*r[1:]))
    return out


async def program_regions(db, program_ids: list[int]) -> dict[int, list[str]]:
    """The regions (live rows) of these programs."""
    if not program_ids:
        return {}
    marks = ",".join("?" * len(program_ids))
    rows = await db.fetchall(
        f"SELECT program_id, region_code FROM program_regions WHERE program_id IN ({marks})",
        program_ids,
    )
    out: dict[int, list[str]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(r[1])
    return out


@dataclass(frozen=True)
class LegalState:
    program_id: int
    slug: str
    title: str
    status: str  # the TV's: published, unpublished, draft
    regions: list[str]
    reviewed_on: str  # last legal review (date), "" when never published
    review_by: str
    overdue: bool
    withdrawn: bool  # taken off the TV until it is re-reviewed
    flags: list[Flag]


async def legal_states(
    db, *, now: float, review_days: int, program_ids: list[int] | None = None
) -> list[LegalState]:
    """Every live program's legal review: when it was last reviewed (its last legal review, or
    else when its live version was approved), when it is due again, whether that is past, and
    its open flags; soonest due first."""
    rows = await db.fetchall(
        "SELECT p.id, p.slug, p.title, p.status, p.updated_at, g.reviewed_at,"
        " COALESCE(g.withdrawn, 0) AS withdrawn, r.published_at AS approved_at"
        " FROM programs p LEFT JOIN program_legal g ON g.program_id = p.id"
        " LEFT JOIN program_workflow w ON w.program_id = p.id"
        " LEFT JOIN program_revisions r ON r.id = w.live_revision_id"
        " WHERE p.status IN ('published', 'unpublished')"
    )
    regions: dict[int, list[str]] = {}
    for r in await db.fetchall("SELECT program_id, region_code FROM program_regions"):
        regions.setdefault(r[0], []).append(r[1])
    open_flags = await flags(db)
    today = clock.local(now).date()
    out = []
    for r in rows:
        if program_ids is not None and r["id"] not in program_ids:
            continue
        last = r["reviewed_at"] or r["approved_at"] or r["updated_at"]
        reviewed = clock.local(last).date()
        due = reviewed + dt.timedelta(days=review_days)
        out.append(LegalState(
            r["id"], r["slug"], r["title"], r["status"], regions.get(r["id"], []),
            reviewed.isoformat(), due.isoformat(), due < today and r["status"] == "published",
            bool(r["withdrawn"]) and r["status"] == "unpublished", open_flags.get(r["id"], []),
        ))  # fmt: skip
    return sorted(out, key=lambda s: (s.review_by, s.slug))


async def legal_state(db, program_id: int, *, now: float, review_days: int) -> LegalState | None:
    found = await legal_states(db, now=now, review_days=review_days, program_ids=[program_id])
    return found[0] if found else None


async def reapprove(
    db: Database, program_id: int, *, revision: int, actor: str, now: float | None = None,
    audit: AuditHook | None = None,
) -> bool:  # fmt: skip
    """A reviewer re-approves the version the TV shows (`revision`, as the page showed it): its
    legal review is done, its flags are cleared, and a program withdrawn for legal review goes
    back on the TV. Refused while it still cites a repealed law: that needs a new revision.
    Returns whether the TV content changed (it was withdrawn)."""
    from content.programs import workflow

    now = time.time() if now is None else now
    await workflow.get_state(db, program_id)  # gives a program imported live its workflow row
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT p.status, w.live_revision_id, COALESCE(g.withdrawn, 0) AS withdrawn"
            " FROM programs p JOIN program_workflow w ON w.program_id = p.id"
            " LEFT JOIN program_legal g ON g.program_id = p.id WHERE p.id = ?",
            (program_id,),
        )
        if row is None or row["live_revision_id"] is None:
            raise NotFound("program_not_live", str(program_id))
        if row["live_revision_id"] != revision:
            raise Conflict("edited_elsewhere", str(row["live_revision_id"]))
        repealed = await tx.fetchall(
            "SELECT DISTINCT l.name FROM program_citations c JOIN laws l ON l.code = c.law_code"
            " WHERE c.program_id = ? AND l.status = 'repealed'",
            (program_id,),
        )
        if repealed:
            raise Conflict("cites_repealed_law", repealed[0][0], name=repealed[0][0])
        cleared = await tx.fetchall(
            "SELECT law_code, kind FROM legal_flags WHERE program_id = ?", (program_id,)
        )
        back = bool(row["withdrawn"]) and row["status"] == "unpublished"
        await cites.mark_reviewed(tx, program_id, actor, now)
        if back:
            await _set_status(tx, program_id, "published", now)
        if audit:
            await audit(tx, "program.legal_reapprove", program_id, {
                "revision": revision, "cleared": [f"{r[0]}:{r[1]}" for r in cleared],
                "republished": back,
            })  # fmt: skip
    return back


async def _set_status(tx, program_id: int, status: str, now: float) -> None:
    await tx.execute(
        "UPDATE programs SET status = ?, updated_at = ?, version = version + 1 WHERE id = ?",
        (status, now, program_id),
    )
    tx.emit("program", [program_id])  # on or off the TV once committed


async def set_withdrawn(
    db: Database, program_id: int, withdraw: bool, *, now: float | None = None,
    audit: AuditHook | None = None,
) -> bool:  # fmt: skip
    """An admin's choice for a flagged program: take it off the TV until it is re-reviewed, or
    keep (put back) it live meanwhile. Returns whether the TV content changed."""
    now = time.time() if now is None else now
    async with db.transaction() as tx:
        row = await tx.fetchone(
            "SELECT p.status, COALESCE(g.withdrawn, 0) AS withdrawn FROM programs p"
            " LEFT JOIN program_legal g ON g.program_id = p.id WHERE p.id = ?",
            (program_id,),
        )
        if row is None:
            raise NotFound("program_not_found", str(program_id))
        if withdraw and not await tx.fetchone(
            "SELECT 1 FROM legal_flags WHERE program_id = ?", (program_id,)
        ):
            raise Conflict("not_flagged", str(program_id))
        if withdraw and row["status"] != "published":
            raise Conflict(f"not_allowed_{row['status']}", row["status"])
        if not withdraw and not row["withdrawn"]:
            raise Conflict("not_withdrawn", str(program_id))
        changed = False
        if withdraw:
            await _set_status(tx, program_id, "unpublished", now)
            changed = True
        elif row["status"] == "unpublished":
            await _set_status(tx, program_id, "published", now)
            changed = True
        await tx.execute(
            "INSERT INTO program_legal (program_id, withdrawn) VALUES (?, ?)"
            " ON CONFLICT (program_id) DO UPDATE SET withdrawn = excluded.withdrawn",
            (program_id, int(withdraw)),
        )
        if audit:
            await audit(tx, "program.legal_withdraw" if withdraw else "program.legal_keep_live",
                        program_id, {"tv_changed": changed})  # fmt: skip
    return changed


# -- editing a program's citations ---------------------------------------------------------------


async def save_citations(
    db: Database, program_id: int, citations: list[Citation], *, base_revision: int,
    author: str, audit: AuditHook | None = None,
) -> int:  # fmt: skip
    """Save new citations as a revision of the working copy (reviewed like any change); the TV
    keeps showing what is live. Returns the working revision's id."""
    # The workflow imports citations; importing it here keeps imports one-way.
    from content.programs import workflow

    state = await workflow.get_state(db, program_id)
    if state.workflow.state == "in_review":
        raise Conflict("not_allowed_in_review")
    if state.workflow.draft_revision_id != base_revision:
        raise Conflict("edited_elsewhere", str(state.workflow.draft_revision_id))
    known = {r[0] for r in await db.fetchall("SELECT code FROM laws")}
    cites.check(citations, pages=len(state.draft.content.pages), known=known.__contains__)
    if citations == state.draft.content.citations:
        return base_revision
    content = state.draft.content.with_changes(citations=list(citations))
    now = time.time()
    async with db.transaction() as tx:
        flow = await workflow.locked(
            tx, program_id, ("draft", "needs_changes", "scheduled", "current"), base_revision
        )
        new_state = "needs_changes" if flow.state == "needs_changes" else "draft"
        rev = await workflow.new_draft(
            tx, program_id, content, state=new_state, author=author, note="法律依据", now=now
        )
        if audit:
            await audit(tx, "program.citations", program_id, {
                "revision": rev, "citations": [asdict(c) for c in citations],
            })  # fmt: skip
    return rev


async def draft_warnings(db, citations: list[Citation]) -> list[Law]:
    """Repealed laws a working copy still cites (an amended law is still in force)."""
    codes = sorted({c.law for c in citations})
    if not codes:
        return []
    rows = await db.fetchall(
        f"SELECT * FROM laws WHERE status = 'repealed' AND code IN ({','.join('?' * len(codes))})",
        codes,
    )
    return [_law(r) for r in rows]


# -- the weekly digest ---------------------------------------------------------------------------


def _week(now: float) -> str:
    year, week, _ = clock.local(now).isocalendar()
    return f"{year}-W{week:02d}"


async def weekly_digest(
    db: Database, *, now: float | None = None, review_days: int, ahead_days: int = 7
) -> int | None:
    """Once per ISO week (China time): queue a `legal.review_digest` event for every active
    webhook endpoint — programs overdue, due within `ahead_days`, and flagged. Returns the
    number of deliveries queued, None when this week's digest was already made."""
    now = time.time() if now is None else now
    week = _week(now)
    states = await legal_states(db, now=now, review_days=review_days)
    horizon = (clock.local(now).date()
               + dt.timedelta(days=ahead_days)).isoformat()  # fmt: skip

    def item(s: LegalState) -> dict:
        return {"id": s.program_id, "slug": s.slug, "title": s.title, "status": s.status,
                "reviewed_on": s.reviewed_on, "review_by": s.review_by}  # fmt: skip

    body = {
        "event": DIGEST_EVENT,
        "week": week,
        "at": now,
        "review_days": review_days,
        "overdue": [item(s) for s in states if s.overdue],
        "due_soon": [item(s) for s in states
                     if not s.overdue and s.status == "published" and s.review_by <= horizon],
        "flagged": [{**item(s), "withdrawn": s.withdrawn, "laws": [
            {"code": f.law_code, "name": f.law_name, "change": f.kind, "date": f.on_date}
            for f in s.flags]} for s in states if s.flags],
    }  # fmt: skip
    key = f"legal_digest:{week}"
    async with db.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM meta WHERE key = ?", (key,)):
            return None
        queued = await webhooks.enqueue_event(tx, DIGEST_EVENT, body, f"legal-digest-{week}", now)
        await tx.execute(
            "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?)",
            (key, json.dumps({"queued": queued}), now),
        )
    return queued


# -- the demo's register -------------------------------------------------------------------------

NPC, NPCSC, STATE_COUNCIL = "全国人民代表大会", "全国人民代表大会常务委员会", "国务院"
# The laws the demo programs cite, with their real dates; the three the Civil Code replaced.
DEMO_LAWS = [
    Law("constitution", "中华人民共和国宪法", NPC, "1982-12-04", "2018-03-11", "amended",
        "2018-03-11", note="1982-12-04施行；1988、1993、1999、2004、2018年五次修正"),
    Law("civil-code", "中华人民共和国民法典", NPC, "2020-05-28", "2021-01-01"),
    Law("legal-aid-law", "中华人民共和国法律援助法", NPCSC, "2021-08-20", "2022-01-01"),
    Law("anti-telecom-fraud-law", "中华人民共和国反电信网络诈骗法", NPCSC, "2022-09-02",
        "2022-12-01"),
    Law("rural-land-contract-law", "中华人民共和国农村土地承包法", NPCSC, "2002-08-29",
        "2019-01-01", "amended", "2018-12-29", note="2009年、2018年修正；现行文本2019-01-01施行"),
    Law("elderly-rights-law", "中华人民共和国老年人权益保障法", NPCSC, "1996-08-29",
        "2018-12-29", "amended", "2018-12-29",
        note="1996-10-01施行；2012年修订，2009、2015、2018年修正"),
    Law("anti-domestic-violence-law", "中华人民共和国反家庭暴力法", NPCSC, "2015-12-27",
        "2016-03-01"),
    Law("road-traffic-safety-law", "中华人民共和国道路交通安全法", NPCSC, "2003-10-28",
        "2021-04-29", "amended", "2021-04-29", note="2004-05-01施行；2007、2011、2021年修正"),
    Law("grassland-law", "中华人民共和国草原法", NPCSC, "1985-06-18", "2021-04-29", "amended",
        "2021-04-29", note="1985-10-01施行；2002年修订，2009、2013、2021年修正"),
    Law("people-mediation-law", "中华人民共和国人民调解法", NPCSC, "2010-08-28", "2011-01-01"),
    Law("labor-contract-law", "中华人民共和国劳动合同法", NPCSC, "2007-06-29", "2013-07-01",
        "amended", "2012-12-28", note="2008-01-01施行；2012年修正，2013-07-01施行"),
    Law("migrant-wage-regulation", "保障农民工工资支付条例", STATE_COUNCIL, "2019-12-30",
        "2020-05-01", note="国务院令第724号"),
    Law("notarization-law", "中华人民共和国公证法", NPCSC, "2005-08-28", "2018-01-01",
        "amended", "2017-09-01", note="2006-03-01施行；2015年、2017年修正，现行文本2018-01-01施行"),
    Law("consumer-rights-law", "中华人民共和国消费者权益保护法", NPCSC, "1993-10-31",
        "2014-03-15", "amended", "2013-10-25", note="2009年、2013年修正；现行文本2014-03-15施行"),
    Law("marriage-law", "中华人民共和国婚姻法", NPC, "1980-09-10", "1981-01-01", "repealed",
        "2001-04-28", "2021-01-01", "civil-code", "民法典施行之日废止"),
    Law("contract-law", "中华人民共和国合同法", NPC, "1999-03-15", "1999-10-01", "repealed",
        "", "2021-01-01", "civil-code", "民法典施行之日废止"),
    Law("inheritance-law", "中华人民共和国继承法", NPC, "1985-04-10", "1985-10-01", "repealed",
        "", "2021-01-01", "civil-code", "民法典施行之日废止"),
]  # fmt: skip


async def count_laws(db: Database) -> int:
    """How many laws the register holds."""
    return await db.fetchval("SELECT COUNT(*) FROM laws")


async def load_demo_laws(db: Database) -> None:
    """Put the demo's laws into the register (those missing; the register is the admins' once
    loaded)."""
    now = time.time()
    async with db.transaction() as tx:
        for law in sorted(DEMO_LAWS, key=lambda item: bool(item.replaced_by)):
            if await tx.fetchone("SELECT 1 FROM laws WHERE code = ?", (law.code,)):
                continue
            await _write(tx, law, None, "", now)


def problem_codes() -> tuple[str, ...]:
    """Every Problem.code this module raises (the admin words each)."""
    return (
        "required", "too_long", "code_invalid", "code_taken", "code_duplicate", "date_invalid",
        "status_invalid", "effective_before_promulgated", "amended_before_promulgated",
        "amended_needs_date", "repealed_needs_date", "only_when_repealed", "replaced_by_unknown",
        "encoding", "columns_missing", "columns_unknown", "row_width", "empty_file",
        "too_many_rows",
    )  # fmt: skip
