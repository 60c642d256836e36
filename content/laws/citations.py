"""What a program cites: a law of the register (by its code) and, where the text supports one,
article numbers, for the whole program or for one page. Parsing and writing citations (forms,
`program.toml`), their Chinese wording on the TV, and the live rows the TV reads.

Kept apart from `content.laws.register` (the register and re-review) so that revisions, packages
and the workflow can use citations without importing the register's logic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from storage import Invalid

CODE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
ARTICLE_MAX = 9999
ARTICLES_MAX = 20  # articles in one citation
CITATIONS_MAX = 40  # citations of one program
_ARTICLE_SPLIT_RE = re.compile(r"[,，、;；\s]+")
_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class Citation:
    law: str  # the law's code in the register, e.g. "civil-code"
    articles: list[int] = field(default_factory=list)  # empty: the law as a whole
    page: int | None = None  # None: the whole program; else a 1-based page number

    @classmethod
    def of(cls, data: dict) -> Citation:
        return cls(data["law"], list(data.get("articles") or []), data.get("page"))


def chinese_number(n: int) -> str:
    """1079 → 一千零七十九, 15 → 十五, 110 → 一百一十 (how Chinese laws number articles)."""
    if not 0 < n <= ARTICLE_MAX:
        raise ValueError(n)
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    out, zero = [], False
    for value, unit in units:
        digit = n // value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[digit] + unit)
    text = "".join(out)
    return text[1:] if text.startswith("一十") else text


def article_text(number: int) -> str:
    return f"第{chinese_number(number)}条"


def wording(name: str, articles: list[int]) -> str:
    """《中华人民共和国民法典》第一千零七十九条、第一千零八十四条; three or more articles in a
    row read 第一千一百三十三条至第一千一百三十九条."""
    runs: list[list[int]] = []
    for a in sorted(articles):
        if runs and a == runs[-1][-1] + 1:
            runs[-1].append(a)
        else:
            runs.append([a])
    parts = [
        f"{article_text(r[0])}至{article_text(r[-1])}" if len(r) >= 3
        else "、".join(article_text(a) for a in r)
        for r in runs
    ]  # fmt: skip
    return f"《{name}》" + "、".join(parts)


def parse_articles(text: str) -> list[int]:
    """Article numbers typed by an editor: "1079, 1084" (Arabic digits, any separator; a
    leading 第 and trailing 条 are tolerated). Raises Invalid(article_invalid)."""
    out: list[int] = []
    for part in _ARTICLE_SPLIT_RE.split(text.strip()):
        if not part:
            continue
        bare = part.removeprefix("第").removesuffix("条")
        if not (bare.isascii() and bare.isdigit()) or not 0 < int(bare) <= ARTICLE_MAX:
            raise Invalid("article_invalid", part, value=part)
        if int(bare) not in out:
            out.append(int(bare))
    if len(out) > ARTICLES_MAX:
        raise Invalid("too_many_articles", max=ARTICLES_MAX)
    return out


def check(citations: list[Citation], *, pages: int, known: Callable[[str], bool]) -> None:
    """Refuse unknown laws, pages the program does not have, and duplicates."""
    if len(citations) > CITATIONS_MAX:
        raise Invalid("too_many_citations", max=CITATIONS_MAX)
    seen = set()
    for c in citations:
        if not known(c.law):
            raise Invalid("law_not_found", c.law, law=c.law)
        if c.page is not None and not 1 <= c.page <= pages:
            raise Invalid("citation_page_invalid", str(c.page), page=c.page)
        key = (c.law, c.page)
        if key in seen:
            raise Invalid("citation_duplicate", c.law, law=c.law)
        seen.add(key)


def fit(citations: list[Citation], pages: int) -> list[Citation]:
    """Citations kept when a revision's pages change: one of a page that is gone becomes the
    whole program's (shown on the last page), so nothing cited is lost or points nowhere."""
    return [c if c.page is None or c.page <= pages else replace(c, page=None) for c in citations]


def from_toml(value: object, bad: Callable[[str, str], None]) -> list[Citation] | None:
    """`citations = [{ law = "…", articles = [1079], page = 2 }, …]` of a program.toml; problems
    reported through `bad(key, message)`."""
    if not isinstance(value, list):
        bad("citations", "must be a list of { law = …, articles = […], page = … } tables")
        return None
    out = []
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            bad("citations", f"entry #{n} must be a table {{ law = …, articles = […] }}")
            continue
        unknown = sorted(set(item) - {"law", "articles", "page"})
        law, articles, page = item.get("law"), item.get("articles", []), item.get("page")
        if unknown:
            bad("citations", f"entry #{n}: unknown key(s) {', '.join(unknown)}")
        elif not isinstance(law, str) or not CODE_RE.fullmatch(law):
            bad("citations", f"entry #{n}: 'law' must be a law code such as \"civil-code\"")
        elif not isinstance(articles, list) or not all(
            isinstance(a, int) and not isinstance(a, bool) and 0 < a <= ARTICLE_MAX
            for a in articles
        ):
            bad("citations", f"entry #{n}: 'articles' must be a list of article numbers")
        elif len(articles) > ARTICLES_MAX or len(set(articles)) != len(articles):
            bad("citations", f"entry #{n}: at most {ARTICLES_MAX} different articles")
        elif page is not None and (not isinstance(page, int) or isinstance(page, bool)):
            bad("citations", f"entry #{n}: 'page' must be a page number")
        else:
            out.append(Citation(law, list(articles), page))
    if len(out) > CITATIONS_MAX:
        bad("citations", f"{len(out)} citations; at most {CITATIONS_MAX}")
    return out


def to_toml(citations: list[Citation]) -> str:
    """The `citations` value as program.toml writes it: one inline table a line."""
    lines = []
    for c in citations:
        parts = [f'law = "{c.law}"']
        if c.articles:
            parts.append("articles = [" + ", ".join(str(a) for a in c.articles) + "]")
        if c.page is not None:
            parts.append(f"page = {c.page}")
        lines.append("  { " + ", ".join(parts) + " },")
    return "[\n" + "\n".join(lines) + "\n]"


# -- the live rows the TV reads ------------------------------------------------------------------


async def write_live(tx, program_id: int, citations: list[Citation]) -> None:
    """Replace the citations the TV shows of a program (in the publishing transaction)."""
    await tx.execute("DELETE FROM program_citations WHERE program_id = ?", (program_id,))
    await tx.executemany(
        "INSERT INTO program_citations (program_id, position, law_code, articles, page)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (program_id, n, c.law, json.dumps(c.articles), c.page)
            for n, c in enumerate(citations, start=1)
        ],
    )


async def read_live(db_or_tx, program_id: int) -> list[Citation]:
    rows = await db_or_tx.fetchall(
        "SELECT law_code, articles, page FROM program_citations WHERE program_id = ?"
        " ORDER BY position",
        (program_id,),
    )
    return [Citation(r[0], json.loads(r[1]), r[2]) for r in rows]


@dataclass(frozen=True)
class Shown:
    """A citation with its law's name, as the TV words it."""

    page: int | None
    name: str
    articles: list[int]

    @property
    def text(self) -> str:  # 《…》第…条
        return wording(self.name, self.articles)


def basis(shown: list[Shown]) -> list[str]:
    """Citations worded for one screen, one entry per law (its articles together, in order)."""
    merged: dict[str, list[int]] = {}
    for c in shown:
        merged.setdefault(c.name, [])
        merged[c.name] += [a for a in c.articles if a not in merged[c.name]]
    return [wording(name, articles) for name, articles in merged.items()]


async def shown(db, citations: list[Citation]) -> list[Shown]:
    """Citations worded with the register's names (the code when a law is missing)."""
    codes = sorted({c.law for c in citations})
    rows = await db.fetchall(
        f"SELECT code, name FROM laws WHERE code IN ({','.join('?' * len(codes))})", codes
    ) if codes else []  # fmt: skip
    names = {r[0]: r[1] for r in rows}
    return [Shown(c.page, names.get(c.law, c.law), list(c.articles)) for c in citations]


async def shown_live(db, program_id: int) -> list[Shown]:
    """The live citations of a program, as the TV words them."""
    return await shown(db, await read_live(db, program_id))


async def mark_reviewed(tx, program_id: int, actor: str, now: float) -> None:
    """A reviewer approved (or re-approved) what the TV shows: its legal review is done now,
    every "needs legal re-review" flag is cleared and a legal withdrawal is over."""
    await tx.execute("DELETE FROM legal_flags WHERE program_id = ?", (program_id,))
    await tx.execute(
        "INSERT INTO program_legal (program_id, reviewed_at, reviewed_by, withdrawn)"
        " VALUES (?, ?, ?, 0) ON CONFLICT (program_id) DO UPDATE SET"
        " reviewed_at = excluded.reviewed_at, reviewed_by = excluded.reviewed_by, withdrawn = 0",
        (program_id, now, actor),
    )
