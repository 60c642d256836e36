"""What an editor writes: a program's editable content as one snapshot (a revision), parsed and
validated from the edit form, serialised to JSON, and compared with another revision.

The body is written as in the package format: every TV page starts with a `# 页标题` line.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field, replace

from content.laws.citations import Citation
from content.programs import package
from storage import DomainError, Invalid

TITLE_MAX = 40
SUMMARY_MAX = package.SUMMARY_MAX
PAGE_MAX_CHARS = 400  # text of one page without image markup; the 720p page holds about 260
PAGES_MAX = 30
TAGS_MAX = 10
TAG_MAX = 20
IMAGE_MD_RE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
TAG_SPLIT_RE = re.compile(r"[,，、;；\s]+")


@dataclass(frozen=True)
class PageDraft:
    title: str
    markdown: str


@dataclass(frozen=True)
class Content:
    """Everything of a program that goes live together when a revision is published."""

    title: str
    summary: str
    category: str
    tags: list[str]
    language: str
    regions: list[str]
    pages: list[PageDraft]
    images: dict[str, int] = field(default_factory=dict)  # "images/x.jpg" → media id
    covers: dict[str, str] = field(default_factory=dict)  # profile → file under the data dir
    video_media_id: int | None = None
    poster_media_id: int | None = None
    duration_seconds: int | None = None
    citations: list[Citation] = field(default_factory=list)  # the laws it rests on
    # The video's subtitle tracks: lang → {"sha", "cues", "burn"} (texts in subtitle_texts).
    # None in revisions written before subtitles were part of them: the program's live tracks
    # stand while its video stays the same (content.programs.subtitles.refs_of).
    subtitles: dict[str, dict] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Content:
        data = json.loads(text)
        data["pages"] = [PageDraft(**p) for p in data["pages"]]
        data["citations"] = [Citation.of(c) for c in data.get("citations", [])]
        return cls(**data)

    def body(self) -> str:
        return body_text(self.pages)

    def with_changes(self, **changes) -> Content:
        return replace(self, **changes)


@dataclass(frozen=True)
class Fields:
    """The edit form as typed, kept as text so a refused form can be shown again unchanged."""

    title: str = ""
    summary: str = ""
    category: str = ""
    tags: str = ""
    language: str = "zh"
    regions: tuple[str, ...] = ()
    body: str = ""

    @classmethod
    def of(cls, content: Content) -> Fields:
        return cls(
            content.title,
            content.summary,
            content.category,
            "，".join(content.tags),
            content.language,
            tuple(content.regions),
            content.body(),
        )


def body_text(pages: list[PageDraft]) -> str:
    return "\n\n".join(f"# {p.title}\n\n{p.markdown}".rstrip() for p in pages) + "\n"


def parse_body(text: str) -> list[PageDraft]:
    """Split the body into pages at each `# ` line. Raises Invalid naming the page at fault."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    if not text.strip():
        raise Invalid("body_required")
    pages: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        if line.startswith("# "):
            pages.append((line[2:].strip(), []))
        elif line.rstrip() == "#":
            pages.append(("", []))
        elif pages:
            pages[-1][1].append(line)
        elif line.strip():
            raise Invalid("body_no_title")
    if len(pages) > PAGES_MAX:
        raise Invalid("too_many_pages", str(len(pages)), max=PAGES_MAX)
    out = []
    for number, (title, lines) in enumerate(pages, start=1):
        markdown = "\n".join(lines).strip()
        if not title:
            raise Invalid("page_title_empty", page=number)
        if not markdown:
            raise Invalid("page_empty", page=number)
        length = len(IMAGE_MD_RE.sub("", markdown).strip())
        if length > PAGE_MAX_CHARS:
            raise Invalid("page_too_long", page=number, n=length, max=PAGE_MAX_CHARS)
        out.append(PageDraft(title, markdown))
    return out


def page_images(markdown: str) -> list[tuple[str, str | None, str]]:
    """Images of a page: (alt text, path inside the program or None when not allowed, ref)."""
    return [
        (m.group(1).strip(), package.page_ref_to_program_path(m.group(2)), m.group(2))
        for m in IMAGE_MD_RE.finditer(markdown)
    ]


def check_images(pages: list[PageDraft], available: set[str]) -> None:
    for number, page in enumerate(pages, start=1):
        for alt, path, ref in page_images(page.markdown):
            if path is None:
                raise Invalid("image_path_invalid", ref, page=number, ref=ref)
            if path not in available:
                raise Invalid("image_not_uploaded", ref, page=number, ref=ref)
            if not alt:
                raise Invalid("image_alt_missing", ref, page=number, ref=ref)


def parse_tags(text: str) -> list[str]:
    tags = [t for t in TAG_SPLIT_RE.split(text.strip()) if t]
    if len(tags) > TAGS_MAX:
        raise Invalid("too_many_tags", max=TAGS_MAX)
    for tag in tags:
        if len(tag) > TAG_MAX:
            raise Invalid("tag_too_long", tag, tag=tag, max=TAG_MAX)
    return list(dict.fromkeys(tags))


class FormInvalid(Invalid):
    """Every problem of a form at once, by the form field it is about ("title", "body",
    "images", …). Its own code and params are the first problem's, for callers showing one."""

    def __init__(self, errors: dict[str, DomainError]) -> None:
        first = next(iter(errors.values()))
        super().__init__(first.code, first.detail, **first.params)
        self.status = first.status
        self.errors = errors


def check_fields(
    fields: Fields, *, categories: set[str], region_exists
) -> tuple[dict[str, DomainError], str, str, list[str], list[PageDraft] | None]:
    """Check every field of the form; return (problems by field, title, summary, tags, pages —
    None when the body is refused)."""
    errors: dict[str, DomainError] = {}
    title, summary = fields.title.strip(), fields.summary.strip()
    if not title:
        errors["title"] = Invalid("title_required")
    elif len(title) > TITLE_MAX:
        errors["title"] = Invalid("title_too_long", n=len(title), max=TITLE_MAX)
    if not summary:
        errors["summary"] = Invalid("summary_required")
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = Invalid("summary_too_long", n=len(summary), max=SUMMARY_MAX)
    if fields.category not in categories:
        errors["category"] = Invalid("category_unknown", fields.category)
    if fields.language not in package.LANGUAGES:
        errors["language"] = Invalid("language_invalid", fields.language)
    if not fields.regions:
        errors["regions"] = Invalid("regions_required")
    for code in fields.regions:
        if not region_exists(code):
            errors["regions"] = Invalid("region_not_found", code)
    tags: list[str] = []
    try:
        tags = parse_tags(fields.tags)
    except Invalid as exc:
        errors["tags"] = exc
    pages = None
    try:
        pages = parse_body(fields.body)
    except Invalid as exc:
        errors["body"] = exc
    return errors, title, summary, tags, pages


def validate_fields(
    fields: Fields, *, categories: set[str], region_exists
) -> tuple[str, str, list[str], list[PageDraft]]:
    """Check the form; return (title, summary, tags, pages). Raises FormInvalid naming every
    problem found."""
    errors, title, summary, tags, pages = check_fields(
        fields, categories=categories, region_exists=region_exists
    )
    if errors or pages is None:
        raise FormInvalid(errors)
    return title, summary, tags, pages


# -- comparing two revisions -------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str  # "title", "summary", … or "body"
    old: str
    new: str


def _media_ref(content: Content) -> str:
    """The video and poster of a revision as a short text (media ids)."""
    if content.video_media_id is None:
        return ""
    return f"video #{content.video_media_id} · poster #{content.poster_media_id}"


def _cited(content: Content) -> str:
    """The citations of a revision as a short text: "civil-code 1079,1084 · p2 …"."""
    return "；".join(
        c.law
        + (" " + ",".join(map(str, c.articles)) if c.articles else "")
        + (f" · p{c.page}" if c.page else "")
        for c in content.citations
    )


def _subtitled(content: Content) -> str:
    """The subtitle tracks of a revision as a short text: "zh 12 · 3fa0b1c2 · burn"."""
    return "；".join(
        f"{lang} {ref['cues']} · {ref['sha'][:8]}" + (" · burn" if ref.get("burn") else "")
        for lang, ref in sorted((content.subtitles or {}).items())
    )


def diff(old: Content | None, new: Content) -> tuple[list[Change], list[tuple[str, str]]]:
    """What changed from `old` (None: nothing live yet) to `new`: the changed fields, and the
    body as lines marked " " (same), "-" (removed) or "+" (added)."""
    before = old or Content("", "", "", [], "", [], [])
    changes = []
    for name in ("title", "summary", "category", "language"):
        if getattr(before, name) != getattr(new, name):
            changes.append(Change(name, getattr(before, name), getattr(new, name)))
    for name in ("tags", "regions"):
        if getattr(before, name) != getattr(new, name):
            changes.append(
                Change(name, "、".join(getattr(before, name)), "、".join(getattr(new, name)))
            )
    if before.covers != new.covers:
        changes.append(Change("cover", before.covers.get("720p", ""), new.covers.get("720p", "")))
    if (before.video_media_id, before.poster_media_id) != (new.video_media_id, new.poster_media_id):
        changes.append(Change("video", _media_ref(before), _media_ref(new)))
    if set(before.images) != set(new.images):
        changes.append(
            Change("images", "、".join(sorted(before.images)), "、".join(sorted(new.images)))
        )
    if before.citations != new.citations:
        changes.append(Change("citations", _cited(before), _cited(new)))
    if _subtitled(before) != _subtitled(new) and new.subtitles is not None:
        changes.append(Change("subtitles", _subtitled(before), _subtitled(new)))
    lines = [
        (line[0], line[2:])
        for line in difflib.ndiff(
            before.body().splitlines() if old else [], new.body().splitlines()
        )
        if line[0] in " -+"
    ]
    return changes, lines
