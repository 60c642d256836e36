"""The callback policy (routing rules, calendar, deadlines, attempts) built from the settings.

Built once per Settings object; a bad rule or date stops the server at start-up with its source.
"""

from __future__ import annotations

from callbacks import deadlines, routing
from callbacks.lifecycle import Policy
from tv_server.settings import Settings

_CACHE: dict[int, tuple[Settings, Policy]] = {}


def build(settings: Settings) -> Policy:
    start, end = deadlines.parse_hours(settings.working_hours)
    try:
        weekdays = frozenset(int(d) for d in settings.working_weekdays.split(",") if d.strip())
    except ValueError:
        raise ValueError(f"working_weekdays: {settings.working_weekdays!r}") from None
    if not weekdays or not weekdays <= set(range(1, 8)):
        raise ValueError(f"working_weekdays must be numbers 1-7: {settings.working_weekdays!r}")
    calendar = deadlines.Calendar(
        weekdays=weekdays,
        start=start,
        end=end,
        holidays=frozenset(settings.public_holidays),
        makeup_days=frozenset(settings.makeup_working_days),
    )
    return Policy(
        rules=routing.parse_rules(settings.callback_routing),
        calendar=calendar,
        first_call_working_days=settings.callback_first_call_working_days,
        max_attempts=max(1, settings.callback_max_attempts),
    )


def policy(settings: Settings) -> Policy:
    cached = _CACHE.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = (settings, build(settings))
        _CACHE[id(settings)] = cached
    return cached[1]
