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


def gettext(message: str, lang: str | None = None) -> str:
    return translations(lang or _current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int, lang: str | None = None) -> str:
    return translations(lang or _current.get()).ngettext(singular, plural, n)


_ = gettext


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
