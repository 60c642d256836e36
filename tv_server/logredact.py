"""Secrets never reach a log line: box page tokens, launch signatures and API keys are masked.

Box tokens ride in every TV URL (`/tv/b/TOKEN/…`) and launch signatures in the portal's launch
URL, API keys may come as `api_key=` in a query string or in a header: any log line quoting a
path, a Referer or a header would hand them to whoever reads the logs. `redact(text)` masks them;
`install()` (called by the app factory) puts it in front of every log record of the process —
ours, aiohttp's access and error logs, tracebacks — so no log site can forget it; and it keeps
aiosqlite's statement-by-statement debug lines, which quote the parameters (full phone numbers),
out of the log at every log_level.
docs/operations.md shows an nginx `log_format` doing the same for the proxy's access log.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # The page token, as a path segment or percent-encoded inside another URL (a Referer, a
    # `next=` parameter).
    (re.compile(r"(/tv/b/)[^/?#\s\"'&]+", re.I), rf"\g<1>{MASK}"),
    (re.compile(r"(%2Ftv%2Fb%2F)(?:(?!%2F)[^/?#\s\"'&])+", re.I), rf"\g<1>{MASK}"),
    # Query-string (or form) secrets: API keys, launch signatures, the box cookie.
    (
        re.compile(r"((?:^|[?&;\s\"'])(?:api[_-]?key|sig|ltv_box)(?:=|%3D))[^&;\s\"'#]+", re.I),
        rf"\g<1>{MASK}",
    ),
    # The keys themselves wherever they stand (an Authorization or X-API-Key header): API keys
    # `ltv_PREFIX_SECRET` keep their prefix (it names the key, it is not secret), device tokens
    # `ltvd_…` are masked whole.
    (re.compile(r"\b(ltv_[0-9a-f]{8}_)[A-Za-z0-9_\-]+"), rf"\g<1>{MASK}"),
    (re.compile(r"\bltvd_[A-Za-z0-9_\-]+"), f"ltvd_{MASK}"),
    # A bare page token (SERIAL.ISSUED[.GENERATION].MAC, the MAC 22 characters), e.g. quoted
    # in an exception message.
    (
        re.compile(
            r"(?<![A-Za-z0-9_\-.])[A-Za-z0-9_\-]+\.[0-9a-f]{6,}(?:\.[0-9a-f]+)?"
            r"\.[A-Za-z0-9_\-]{22}(?![A-Za-z0-9_\-])"
        ),
        MASK,
    ),
)


def redact(text: str) -> str:
    """`text` with every box token, launch signature, API key and device token masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


_installed = False


def install() -> None:
    """Redact every log record of the process from now on (idempotent).

    A record factory rather than a handler filter: it runs for every logger and every handler
    (including ones added later, such as a test's capture), before anything is formatted. The
    message is formatted and redacted at once, and so is the traceback text of an exception.
    """
    global _installed
    # aiosqlite logs every statement with its parameters at DEBUG (phone numbers, hashes,
    # reminder bodies): its logger stays at INFO even when log_level is DEBUG.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
