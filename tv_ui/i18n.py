"""gettext for every UI string. Chinese (zh) is the source language of the messages; catalogs for
other languages (Mongolian, mn) live in tv_ui/locale/<lang>/LC_MESSAGES/messages.mo.

The language of the screen being rendered is a context variable (`use_language`), set by the TV
handler for the box's language, so that templates (`_()`) and Python code (`gettext()`) translate
into it without passing it around; it is Chinese everywhere else (the admin). A message missing
from a catalog falls back to its Chinese source.
"""

from __future__ import annotations

import contextvars
import functools
import gettext as _gettext
from importlib import resources

from babel.support import NullTranslations, Translations

DEFAULT_LANGUAGE = "zh"
LANGUAGES = ("zh", "mn")

_current: contextvars.ContextVar[str] = contextvars.ContextVar(
    "legaltv_language", default=DEFAULT_LANGUAGE
)


@functools.cache
def translations(lang: str = DEFAULT_LANGUAGE) -> NullTranslations:
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()
    folder = resources.files("tv_ui").joinpath("locale")
    return Translations.load(str(folder), [lang], domain="messages")


def use_language(lang: str) -> None:
    """Translate into `lang` for the rest of the current task (one request)."""
    _current.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


def current_language() -> str:
    return _current.get()


# The source (Chinese) of each text of the screen being rendered that shows in another language:
# a UI message's msgid (recorded by gettext) and a content text's zh version (recorded by the
# handler that swapped it in). The Mongolian image path takes each drawn text's `alt` from it.
_sources: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "legaltv_sources", default=None
)


def collect_sources() -> None:
    """Start recording texts' sources afresh for the current task (one TV request)."""
    _sources.set({})


def remember_source(shown: str, source: str) -> None:
    """`shown` (a translation, a content text's version) stands for `source` on this screen."""
    found = _sources.get()
    shown = " ".join(shown.split())
    if found is not None and shown and shown != source:
        found.setdefault(shown, source.strip())


def sources() -> dict[str, str]:
    """The texts recorded since `collect_sources` (empty when not recording)."""
    return _sources.get() or {}


def gettext(message: str, lang: str | None = None) -> str:
    text = translations(lang or _current.get()).gettext(message)
    if text is not message:
        remember_source(text, message)
    return text


def ngettext(singular: str, plural: str, n: int, lang: str | None = None) -> str:
    text = translations(lang or _current.get()).ngettext(singular, plural, n)
    if text not in (singular, plural):
        remember_source(text, singular if n == 1 else plural)
    return text


_ = gettext


@functools.cache
def catalog_pairs(lang: str) -> dict[str, str]:
    """Every singular message of a language's catalog and its translation (source -> text)."""
    catalog = getattr(translations(lang), "_catalog", {})
    return {k: v for k, v in catalog.items() if isinstance(k, str) and k and isinstance(v, str)}


REVIEW_PREFIX = "review:"


@functools.cache
def review_status(lang: str) -> tuple[tuple[str, str, str], ...]:
    """(message, translation, status) of every message in a language's catalog; status is
    `reviewed`, `drafted` (a translation not yet reviewed by a native speaker — the default for
    any translation whose translator comment does not say `review: reviewed…`) or `missing`.
    The status lives with each string in the .po file (docs/translation.md)."""
    from babel.messages.pofile import read_po

    path = resources.files("tv_ui").joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    if not path.is_file():
        return ()
    with path.open("rb") as f:
        catalog = read_po(f)
    out = []
    for m in catalog:
        if not m.id or not isinstance(m.id, str):
            continue
        if not m.string:
            status = "missing"
        else:
            notes = [c for c in m.user_comments if c.startswith(REVIEW_PREFIX)]
            reviewed = notes and notes[0][len(REVIEW_PREFIX) :].strip().startswith("reviewed")
            status = "reviewed" if reviewed else "drafted"
        out.append((m.id, m.string if isinstance(m.string, str) else "", status))
    return tuple(out)


def N_(message: str) -> str:  # noqa: N802 - the conventional name for a gettext no-op marker
    """Mark a string for extraction without translating it now."""
    return message


__all__ = [
    "N_",
    "_",
    "_gettext",
    "current_language",
    "gettext",
    "ngettext",
    "translations",
    "use_language",
]
