"""gettext for every UI string. Chinese (zh) is the source language of the messages; catalogs for
other languages (Mongolian, mn) live in tv_ui/locale/<lang>/LC_MESSAGES/messages.mo."""

from __future__ import annotations

import functools
import gettext as _gettext
from importlib import resources

from babel.support import NullTranslations, Translations

DEFAULT_LANGUAGE = "zh"


@functools.cache
def translations(lang: str = DEFAULT_LANGUAGE) -> NullTranslations:
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()
    folder = resources.files("tv_ui").joinpath("locale")
    return Translations.load(str(folder), [lang], domain="messages")


def gettext(message: str, lang: str = DEFAULT_LANGUAGE) -> str:
    return translations(lang).gettext(message)


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the conventional name for a gettext no-op marker
    """Mark a string for extraction without translating it now."""
    return message


__all__ = ["N_", "_", "_gettext", "gettext", "translations"]
