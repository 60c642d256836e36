"""Load and validate a content package: categories and programs stored as folders of TOML,
Markdown, images and video (the format editors import and export; see docs/content-format.md).

Everything is checked before anything is returned; all problems found are reported together in
one `PackageError`, each naming the file and, where it helps, the line.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nh3
from markdown_it import MarkdownIt
from PIL import Image, UnidentifiedImageError

from content.laws import citations as cites
from content.programs import uploads

SLUG_RE = re.compile(r"[a-z0-9-]+")
PAGE_NAME_RE = re.compile(r"(\d+)\.md")
IMAGE_RE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
LANGUAGES = {"zh", "mn"}
IMAGE_FORMATS = {"JPEG", "PNG", "WEBP"}
SUMMARY_MAX = 60
MAX_IMAGE_PIXELS = 40_000_000  # 8K × 5K; anything larger is not a TV picture

CATEGORY_KEYS = {"slug", "title", "description", "order"}
PROGRAM_REQUIRED = {
    "slug",
    "title",
    "summary",
    "category",
    "tags",
    "language",
    "regions",
    "published_at",
}
PROGRAM_OPTIONAL = {"cover", "video", "poster", "duration_seconds", "citations"}
VERSION_LANGS = ("mn",)  # language versions a program folder may hold (<slug>/mn/)
VERSION_REQUIRED = {"title"}
VERSION_KEYS = {"title", "summary"}


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.message}"


class PackageError(Exception):
    """A content package is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("invalid content package:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Category:
    slug: str
    title: str
    description: str
    order: int


@dataclass(frozen=True)
class Page:
    number: int  # 1-based position in file-name order
    title: str  # from the first line "# 页标题"
    markdown: str  # the page body, without the title line
    images: list[str] = field(default_factory=list)  # paths relative to the program folder


@dataclass(frozen=True)
class Version:
    """A language version of the program (`<slug>/mn/`): its own title, summary and pages.
    Its review status is not part of a package (an imported version arrives as drafted)."""

    lang: str
    title: str
    summary: str
    pages: list[Page]
    root: Path  # the version folder, e.g. <slug>/mn


@dataclass(frozen=True)
class Program:
    slug: str
    title: str
    summary: str
    category: str
    tags: list[str]
    language: str
    regions: list[str]
    cover: str | None  # paths relative to the program folder, e.g. "images/cover.jpg"
    video: str | None
    poster: str | None
    duration_seconds: int | None
    published_at: dt.date
    pages: list[Page]
    root: Path  # the program folder
    citations: list[cites.Citation] = field(default_factory=list)  # laws it rests on
    versions: dict[str, Version] = field(default_factory=dict)  # {"mn": …} where there is one

    def path(self, relative: str) -> Path:
        """Absolute path of a file of this program (a cover, an image, the video)."""
        return self.root / relative


# --------------------------------------------------------------------------- loading


def load_catalog(root: Path) -> tuple[list[Category], list[Program]]:
    """Load `categories.toml` and every program folder under `root`.

    Categories come sorted by `order`, programs by slug. Raises PackageError listing every
    problem in the whole catalog.
    """
    root = Path(root)
    problems: list[Problem] = []
    categories = _load_categories(root / "categories.toml", problems)
    known = {c.slug for c in categories}
    programs: list[Program] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name.startswith((".", "_")):
            continue
        try:
            programs.append(load_program(folder, known))
        except PackageError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PackageError(problems)
    return sorted(categories, key=lambda c: (c.order, c.slug)), programs


def load_program(folder: Path, categories: set[str]) -> Program:
    """Load and validate one program folder; `categories` are the known category slugs."""
    folder = Path(folder)
    problems: list[Problem] = []
    toml_path = folder / "program.toml"
    if not SLUG_RE.fullmatch(folder.name):
        problems.append(Problem(folder, "folder name is not a valid slug ([a-z0-9-]+)"))
    data, text = _read_toml(toml_path, problems)
    if data is None:
        raise PackageError(problems)

    def bad(key: str, message: str) -> None:
        problems.append(Problem(toml_path, f"'{key}': {message}", key_line(text, key)))

    for key in sorted(set(data) - PROGRAM_REQUIRED - PROGRAM_OPTIONAL):
        bad(key, "unknown key")
    for key in sorted(PROGRAM_REQUIRED - set(data)):
        problems.append(Problem(toml_path, f"missing required key '{key}'"))

    slug = _string(data, "slug", bad)
    if slug is not None:
        if not SLUG_RE.fullmatch(slug):
            bad("slug", f"{slug!r} is not a valid slug ([a-z0-9-]+)")
        elif slug != folder.name:
            bad("slug", f"{slug!r} does not match the folder name {folder.name!r}")
    title = _string(data, "title", bad)
    summary = _string(data, "summary", bad)
    if summary is not None and len(summary) > SUMMARY_MAX:
        bad("summary", f"is {len(summary)} characters long; at most {SUMMARY_MAX}")
    category = _string(data, "category", bad)
    if category is not None and category not in categories:
        bad("category", f"unknown category {category!r} (not in categories.toml)")
    tags = _string_list(data, "tags", bad, allow_empty=True)
    language = _string(data, "language", bad)
    if language is not None and language not in LANGUAGES:
        bad("language", f"{language!r} is not one of {sorted(LANGUAGES)}")
    regions = _string_list(data, "regions", bad, allow_empty=False)
    for code in regions or []:
        if not (code.isdigit() and code.isascii() and len(code) in (2, 4, 6, 9, 12)):
            bad("regions", f"{code!r} is not a region code (2, 4, 6, 9 or 12 digits)")
    published_at = _date(data, "published_at", bad)

    cover = _asset(folder, data, "cover", bad, _check_image)
    video = _asset(folder, data, "video", bad, _check_video)
    poster = _asset(folder, data, "poster", bad, _check_image)
    duration = data.get("duration_seconds")
    if duration is not None:
        if "video" not in data:
            bad("duration_seconds", "only allowed together with 'video'")
        if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
            bad("duration_seconds", "must be a positive integer")
            duration = None

    pages = _load_pages(folder, problems)
    citations = cites.from_toml(data["citations"], bad) if "citations" in data else []
    for c in citations or []:
        if c.page is not None and pages and not 1 <= c.page <= len(pages):
            bad("citations", f"page {c.page} of a program of {len(pages)} pages")
    versions = {}
    for lang in VERSION_LANGS:
        if (folder / lang).exists():
            version = _load_version(folder, lang, problems)
            if version is not None:
                versions[lang] = version
    if problems:
        raise PackageError(problems)
    return Program(
        slug=slug,
        title=title,
        summary=summary,
        category=category,
        tags=tags,
        language=language,
        regions=regions,
        cover=cover,
        video=video,
        poster=poster,
        duration_seconds=duration,
        published_at=published_at,
        pages=pages,
        root=folder,
        citations=citations,
        versions=versions,
    )


def _load_version(folder: Path, lang: str, problems: list[Problem]) -> Version | None:
    """`<slug>/<lang>/version.toml` (title, summary) and `<slug>/<lang>/pages/NN.md`. Images in
    its pages are written as in the program's own pages ("../images/x.jpg") and must exist in
    the program folder; a page's title line may be empty ("#")."""
    root = folder / lang
    toml_path = root / "version.toml"
    count = len(problems)
    data, text = _read_toml(toml_path, problems)
    if data is None:
        return None

    def bad(key: str, message: str) -> None:
        problems.append(Problem(toml_path, f"'{key}': {message}", key_line(text, key)))

    for key in sorted(set(data) - VERSION_KEYS):
        bad(key, "unknown key")
    for key in sorted(VERSION_REQUIRED - set(data)):
        problems.append(Problem(toml_path, f"missing required key '{key}'"))
    title = _string(data, "title", bad)
    summary = _string(data, "summary", bad, required=False) or ""
    pages = _load_pages(folder, problems, root / "pages", untitled=True)
    if len(problems) > count:
        return None
    return Version(lang, title, summary, pages, root)


def _load_categories(path: Path, problems: list[Problem]) -> list[Category]:
    data, text = _read_toml(path, problems)
    if data is None:
        return []
    for key in sorted(set(data) - {"category"}):
        problems.append(Problem(path, f"unknown top-level key '{key}'", key_line(text, key)))
    entries = data.get("category")
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(path, "no [[category]] entries"))
        return []
    headers = [i + 1 for i, ln in enumerate(text.splitlines()) if ln.strip() == "[[category]]"]
    categories: list[Category] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        start = headers[n] if n < len(headers) else 1
        count = len(problems)

        def bad(key: str, message: str, start: int = start, n: int = n) -> None:
            line = key_line(text, key, start) or start
            problems.append(Problem(path, f"category #{n + 1} '{key}': {message}", line))

        for key in sorted(set(entry) - CATEGORY_KEYS):
            bad(key, "unknown key")
        for key in sorted(CATEGORY_KEYS - set(entry)):
            problems.append(Problem(path, f"category #{n + 1}: missing key '{key}'", start))
        slug = _string(entry, "slug", bad)
        if slug is not None and not SLUG_RE.fullmatch(slug):
            bad("slug", f"{slug!r} is not a valid slug ([a-z0-9-]+)")
        elif slug in seen:
            bad("slug", f"duplicate category slug {slug!r}")
        title = _string(entry, "title", bad)
        description = _string(entry, "description", bad, required=False) or ""
        order = entry.get("order")
        if "order" in entry and (not isinstance(order, int) or isinstance(order, bool)):
            bad("order", "must be an integer")
        if len(problems) == count:
            seen.add(slug)
            categories.append(Category(slug, title, description, order))
    return categories


def _load_pages(
    folder: Path, problems: list[Problem], pages_dir: Path | None = None, untitled: bool = False
) -> list[Page]:
    pages_dir = pages_dir or folder / "pages"
    if not pages_dir.is_dir():
        problems.append(Problem(pages_dir, "missing pages/ folder"))
        return []
    numbered: dict[int, Path] = {}
    for path in sorted(pages_dir.iterdir()):
        match = PAGE_NAME_RE.fullmatch(path.name)
        if not match or not path.is_file():
            problems.append(Problem(path, "unexpected file in pages/ (expected 01.md, 02.md …)"))
            continue
        numbered[int(match.group(1))] = path
    if not numbered:
        problems.append(Problem(pages_dir, "no pages (expected pages/01.md, 02.md …)"))
        return []
    for number in range(1, max(numbered) + 1):
        if number not in numbered:
            problems.append(Problem(pages_dir / f"{number:02d}.md", "page file is missing"))
    pages: list[Page] = []
    for position, number in enumerate(sorted(numbered), start=1):
        page = _load_page(folder, numbered[number], position, problems, untitled)
        if page is not None:
            pages.append(page)
    return pages


def _load_page(
    folder: Path, path: Path, number: int, problems: list[Problem], untitled: bool = False
) -> Page | None:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(path, f"not UTF-8 text ({exc.reason})"))
        return None
    lines = text.splitlines()
    if not text.strip():
        problems.append(Problem(path, "page is empty", 1))
        return None
    first = lines[0].lstrip("\ufeff")
    if untitled and first.rstrip() == "#":
        first = "# "  # a version's page may have no title of its own
    elif not first.startswith("# ") or not first[2:].strip():
        problems.append(Problem(path, "first line must be the page title: '# 页标题'", 1))
        return None
    body = "\n".join(lines[1:]).strip()
    if not body:
        problems.append(Problem(path, "page has a title but no text", 1))
    images: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        for match in IMAGE_RE.finditer(line):
            ref = match.group(1)
            rel = page_ref_to_program_path(ref)
            if rel is None:
                problems.append(
                    Problem(
                        path, f"image {ref!r} must be a relative path inside the program", lineno
                    )
                )
                continue
            if not (folder / rel).is_file():
                problems.append(Problem(path, f"image {ref!r} not found ({rel})", lineno))
                continue
            error = _check_image(folder / rel)
            if error:
                problems.append(Problem(path, f"image {ref!r}: {error}", lineno))
                continue
            images.append(rel)
    return Page(number=number, title=first[2:].strip(), markdown=body, images=images)


def page_ref_to_program_path(ref: str) -> str | None:
    """Map an image path written in a page ("../images/x.jpg") to a path relative to the
    program folder ("images/x.jpg"); None when it is remote, absolute or leaves the program."""
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or ref.startswith(("/", "\\")) or "\\" in ref:
        return None
    joined = posixpath.normpath(posixpath.join("pages", unquote(parts.path)))
    if joined.startswith("..") or joined in (".", ""):
        return None
    return joined


# --------------------------------------------------------------------------- checks


def _check_image(path: Path) -> str | None:
    """Return why `path` is not an acceptable image, or None. Sniffs the bytes, not the name."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                fmt = im.format
                width, height = im.size
    except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return "not a readable JPEG, PNG or WebP image"
    except OSError as exc:
        return f"cannot be read ({exc})"
    if fmt not in IMAGE_FORMATS:
        return f"is {fmt}, expected JPEG, PNG or WebP"
    if width * height > MAX_IMAGE_PIXELS:
        return f"is {width}×{height}, too large"
    return None


def _check_video(path: Path) -> str | None:
    """Return why `path` is not a video container we take (MP4, MOV, MKV, WebM), or None.
    Sniffs the bytes, not the name; the codecs are checked with ffprobe at import."""
    try:
        kind = uploads.sniff_file(path)
    except OSError as exc:
        return f"cannot be read ({exc})"
    if kind not in uploads.VIDEO_KINDS:
        return "not a video file (MP4, MOV, MKV or WebM, judged by its bytes)"
    return None


# --------------------------------------------------------------------------- TOML helpers


def _read_toml(path: Path, problems: list[Problem]) -> tuple[dict | None, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(path, "file is missing"))
        return None, ""
    except UnicodeDecodeError:
        problems.append(Problem(path, "not UTF-8 text"))
        return None, ""
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        if line is None:
            found = re.search(r"line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
        problems.append(Problem(path, f"TOML syntax error: {exc}", line))
        return None, text


def key_line(text: str, key: str, start: int = 1) -> int | None:
    """Line number (1-based) of `key = …` at or after line `start`; TOML gives no positions."""
    pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for lineno, line in enumerate(text.splitlines()[start - 1 :], start=start):
        if pattern.match(line):
            return lineno
    return None


def _string(data: dict, key: str, bad: Callable, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        bad(key, "must be a non-empty string")
        return None
    return value


def _string_list(data: dict, key: str, bad: Callable, allow_empty: bool) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        bad(key, "must be a list of non-empty strings")
        return None
    if not value and not allow_empty:
        bad(key, "must not be empty")
        return None
    return list(value)


def _date(data: dict, key: str, bad: Callable) -> dt.date | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    bad(key, 'must be an ISO date such as "2025-03-01"')
    return None


def _asset(
    folder: Path, data: dict, key: str, bad: Callable, check: Callable[[Path], str | None]
) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        bad(key, "must be a relative path")
        return None
    parts = urlsplit(value)
    rel = posixpath.normpath(value)
    if parts.scheme or parts.netloc or value.startswith("/") or rel.startswith(".."):
        bad(key, f"{value!r} must be a relative path inside the program folder")
        return None
    if not (folder / rel).is_file():
        bad(key, f"file {value!r} not found")
        return None
    error = check(folder / rel)
    if error:
        bad(key, f"{value!r}: {error}")
        return None
    return rel


# --------------------------------------------------------------------------- Markdown

ALLOWED_TAGS = {
    "p", "br", "h1", "h2", "h3", "ul", "ol", "li", "strong", "em", "s", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td", "img", "a",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"img": {"src", "alt"}, "a": {"href"}}

_md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _is_relative(url: str) -> bool:
    parts = urlsplit(url)
    return not (parts.scheme or parts.netloc or url.startswith(("/", "\\")) or "\\" in url)


def render_markdown(text: str, image_url: Callable[[str], str] | None = None) -> str:
    """Render page Markdown to safe HTML for the TV.

    Only relative images and links survive. `image_url` maps the relative path written in the
    Markdown (e.g. "../images/x.jpg") to the URL to emit; without it the path is kept.
    """
    tokens = _md.parse(text)
    for token in tokens:
        for child in token.children or []:
            if child.type == "image":
                src = str(child.attrs.get("src", ""))
                if not _is_relative(src):
                    # Show the alt text instead of a remote or data: image.
                    child.type, child.tag, child.attrs = "text", "", {}
                    child.content = "".join(c.content for c in child.children or [])
                    child.children = None
                    continue
                child.attrs["src"] = image_url(unquote(src)) if image_url else src
            elif child.type == "link_open":
                if not _is_relative(str(child.attrs.get("href", ""))):
                    child.attrs.pop("href", None)
    html = _md.renderer.render(tokens, _md.options, {})
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        # Emitted image URLs may be absolute (a CDN); Markdown ones were filtered above.
        url_schemes={"http", "https"} if image_url else set(),
        link_rel=None,
        strip_comments=True,
    )
