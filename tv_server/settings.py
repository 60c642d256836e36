"""Every setting in one place: name, default, type and help.

Values come from the defaults, then a TOML file (`--config` or LEGALTV_CONFIG), then `LEGALTV_*`
environment variables, then command-line overrides. `docs/settings.md` documents each one (a test
checks that).
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from storage import clock
from storage.connect import is_postgres


@dataclass(frozen=True)
class Setting:
    """One setting. A number's allowed range: `minimum` and `maximum` inclusive, `above` an
    exclusive lower bound (an interval that must be more than 0); None is unbounded. A value
    outside it stops the start (`_coerce`), so a 0 or a negative number cannot quietly turn a
    limit off or make a loop spin; where 0 means "off" the help says so and the range allows it."""

    name: str
    default: Any
    help: str
    type: type = str
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None

    @property
    def allowed(self) -> str:
        """The allowed range in words ("" when unbounded), as error messages give it."""
        low = (
            f"more than {self.above}"
            if self.above is not None
            else (f"at least {self.minimum}" if self.minimum is not None else "")
        )
        if self.maximum is None:
            return low
        if self.minimum is not None and self.above is None:
            return f"between {self.minimum} and {self.maximum}"
        return f"{low} and at most {self.maximum}" if low else f"at most {self.maximum}"

    def in_range(self, value: float) -> bool:
        # Written so that NaN is never in range.
        return (
            (self.minimum is None or value >= self.minimum)
            and (self.above is None or value > self.above)
            and (self.maximum is None or value <= self.maximum)
        )


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", "Address the server listens on."),
    Setting("port", 8080, "TCP port the server listens on.", int, minimum=1, maximum=65535),
    Setting("data_dir", "./var", "Folder holding the SQLite file, media and generated images."),
    Setting("public_url", "", "Public base URL printed at start-up (default http://HOST:PORT)."),
    Setting(
        "launch_secret",
        "",
        "Shared secret of the operator portal for signed launch URLs (HMAC-SHA256). When empty, "
        "a random secret is generated once and kept in DATA_DIR/launch_secret (SQLite only: on "
        "PostgreSQL serve refuses to start without it).",
    ),
    Setting(
        "secret_key",
        "",
        "Key signing admin sessions and CSRF tokens. When empty, a random key is generated once "
        "and kept in DATA_DIR/secret_key (SQLite only: on PostgreSQL serve refuses to start "
        "without it).",
    ),
    Setting(
        "device_token_secret",
        "",
        "Key signing device tokens (HMAC-SHA256; heartbeats verify them without a database "
        "read). When empty, a random key is generated once and kept in "
        "DATA_DIR/device_token_secret (SQLite only: on PostgreSQL serve refuses to start without "
        "it). Changing it invalidates every signed device token.",
    ),
    Setting(
        "metrics_access",
        "loopback",
        "Who may read /metrics (Prometheus text format): loopback (from this machine only, never "
        "a request a reverse proxy forwarded), token (Authorization: Bearer metrics_token, from "
        "anywhere) or off (404).",
    ),
    Setting(
        "metrics_token",
        "",
        "The bearer token /metrics asks for when metrics_access is token (16 characters or more).",
    ),
    Setting(
        "session_ttl", 8 * 3600, "Seconds an admin session lasts without activity.", int, minimum=1
    ),
    Setting(
        "cookie_secure",
        False,
        "Mark admin cookies and the box cookie Secure (sent over HTTPS only). When not set, on "
        "whenever public_url starts with https://.",
        bool,
    ),
    Setting(
        "trusted_proxies",
        (),
        "Addresses or CIDR networks of the reverse proxies in front (a TOML list, or "
        "comma-separated in the environment). Only from these peers is X-Forwarded-For read "
        "(its rightmost address that is not itself a trusted proxy) for the login and "
        "self-registration limits and the audit log. Empty: the TCP peer is the client.",
        ipaddress.ip_network,
    ),
    Setting(
        "login_attempts_per_ip",
        20,
        "Login attempts one address may make in 10 minutes before it must wait.",
        int,
        minimum=1,
    ),
    Setting(
        "refusal_audit_seconds",
        60.0,
        "Anonymous refusals (failed logins, CSRF failures) are audited at most once per address "
        "and kind in this many seconds; the next row written counts those in between "
        '(detail "folded").',
        float,
        above=0,
    ),
    Setting(
        "register_attempts_per_ip",
        30,
        "Self-registrations of boxes (POST /api/v1/devices/{serial}/register) one client "
        "address may make per minute; then 429 with Retry-After. 0 turns the limit off.",
        int,
        minimum=0,
    ),
    Setting(
        "launch_failures_per_ip",
        30,
        "Failed launches (GET /tv/launch with a missing, forged or stale signature) one client "
        "address may make per minute; then 429 with the TV's notice. Valid signed launches are "
        "never limited. 0 turns the limit off.",
        int,
        minimum=0,
    ),
    Setting(
        "register_new_per_minute",
        120,
        "New boxes self-registration may add per minute from all addresses together (caps how "
        "fast the pending list grows). 0 turns the limit off.",
        int,
        minimum=0,
    ),
    Setting(
        "api_key_requests_per_minute",
        120,
        "Requests one API key may make per minute to the Open311 endpoints, and apart from "
        "those to the coverage API; then 429 with Retry-After. 0 turns the limit off.",
        int,
        minimum=0,
    ),
    Setting(
        "upload_max_bytes",
        20 * 1024 * 1024,
        "Largest image an editor may upload (program pictures, covers, posters, announcement "
        "pictures). The body is streamed to disk and refused with 413 as soon as it is passed.",
        int,
        minimum=1,
    ),
    Setting(
        "video_upload_max_bytes",
        2 * 1024**3,
        "Largest video (MP4, MOV, MKV or WebM) an editor may upload, and largest content "
        "package (.zip, at most 512 MB however high this is). Streamed to disk, refused with "
        "413 once passed.",
        int,
        minimum=1,
    ),
    Setting(
        "video_max_seconds",
        7200,
        "Longest program video accepted (seconds, as ffprobe reads it); longer uploads are "
        "refused with a message. Videos shorter than 1 s, without a video stream or in a codec "
        "FFmpeg cannot decode are too; package imports apply the same checks.",
        int,
        minimum=1,
    ),
    Setting(
        "video_jobs_concurrency",
        1,
        "Video transcodes (FFmpeg at the idle CPU priority) the server runs at once; the rest "
        "wait in the queue. 0 stops transcoding (jobs stay queued). With several server "
        "processes let one transcode: a starting process queues again the jobs it finds "
        "running.",
        int,
        minimum=0,
    ),
    Setting(
        "video_ffmpeg_threads",
        0,
        "CPUs a transcode (or a subtitle burn) may use: FFmpeg is bound to that many CPUs and "
        "its decoder, filters and each encoder use that many threads. 0: every CPU but one, "
        "at least one, so the server keeps a core while FFmpeg (already at the idle CPU "
        "priority) works.",
        int,
        minimum=0,
    ),
    Setting(
        "video_ladder",
        "540:1200,720:2500,1080:5000,2160:15000",
        "The HLS ladder: comma-separated HEIGHT:KBITS rungs (H.264 video bit rate). A rung "
        "larger than the source is left out. Applies to videos transcoded afterwards.",
    ),
    Setting(
        "video_max_fps",
        60,
        "Highest frame rate of the HLS renditions above 720p; those of 720p and less and the "
        "progressive MP4 get at most 30 fps (or this, when lower), which the ladder's bit rates "
        "assume. A faster source keeps every 2nd, 3rd… frame (120 fps: 60 or 30; 50 fps: 50 "
        "or 25); when that would fall under 24 fps, the cap itself. Applies to videos "
        "transcoded afterwards.",
        int,
        minimum=1,
    ),
    Setting(
        "launch_max_skew",
        300,
        "Seconds a launch URL's timestamp may differ from now.",
        int,
        minimum=1,
    ),
    Setting(
        "box_token_ttl",
        30 * 24 * 3600,
        "Seconds a box's signed page token stays valid.",
        int,
        minimum=1,
    ),
    Setting(
        "demo",
        False,
        "Load the bundled demo on start (idempotent) and enable its six accounts with the "
        "published password. A start without it disables those accounts.",
        bool,
    ),
    Setting(
        "allow_unsigned",
        False,
        "Accept /tv/?stb=SERIAL without a signature: anyone may then enter as any box. For the "
        "demo and trials only (`make run` turns it on with the demo); never in production.",
        bool,
    ),
    Setting(
        "max_open_callbacks", 3, "Open callback requests one box may have at once.", int, minimum=1
    ),
    Setting(
        "requests_per_box_per_day",
        10,
        "New requests one box may make per day (China day), callbacks submitted and appointments"
        " booked together, whatever their state now: a cancelled one still counts. Staff booking"
        " on a household's behalf does not count.",
        int,
        minimum=1,
    ),
    Setting(
        "rating_window_days",
        14,
        "Days after a request is completed during which the household is asked to rate it"
        " (0: never ask).",
        int,
        minimum=0,
    ),
    Setting(
        "rating_ask_again_hours",
        12.0,
        "Hours before a rating that was shown and left unanswered is asked once more.",
        float,
        above=0,
    ),
    Setting("hotline", "12348", "The public legal service hotline shown on every home screen."),
    Setting(
        "timezone",
        clock.DEFAULT_ZONE,
        "The offices' time zone (an IANA name): every time and date the admin, exports, the "
        "CLI and the TV show, and every date computed (deadlines, coverage days, reference "
        "numbers), whatever zone the server itself is set to.",
        str,
    ),
    Setting(
        "mongolian_default_regions",
        "150623,150624,150625,150626",
        "Region codes (comma-separated) whose boxes start in Mongolian while their household has "
        "not chosen a language: by default the pastoral banners Otog Front, Otog, Hanggin and "
        "Uxin. Empty: every box starts in Chinese.",
    ),
    Setting(
        "usage_flush_seconds", 2.0, "How often batched usage records are written.", float, above=0
    ),
    Setting(
        "sse_keepalive_seconds",
        20.0,
        "Interval of keep-alive comments on SSE streams.",
        float,
        above=0,
    ),
    Setting(
        "sse_streams_per_box",
        2,
        "Announcement streams (SSE) one box may hold open; a further one ends its oldest. "
        "0 turns the limit off.",
        int,
        minimum=0,
    ),
    Setting(
        "sse_streams_max",
        20000,
        "Announcement streams (SSE) one server process holds open in all; a further one ends "
        "the oldest (that box reconnects or polls). 0 turns the limit off.",
        int,
        minimum=0,
    ),
    Setting(
        "announcement_poll_seconds",
        5.0,
        "How often the server looks for new announcements.",
        float,
        above=0,
    ),
    Setting(
        "change_poll_seconds",
        2.0,
        "SQLite: how often the server reads the changes another process (a legaltv command) "
        "wrote, and drops what its caches may no longer serve.",
        float,
        above=0,
    ),
    Setting(
        "coverage_first_refresh_seconds",
        0.0,
        "Seconds after start before the leading node first recomputes the coverage figures "
        "(meanwhile those kept by the last run are served, marked stale; a staff change starts "
        "it at once). Then they are recomputed every minute.",
        float,
        minimum=0,
    ),
    Setting(
        "coverage_first_wait_seconds",
        10.0,
        "How long a coverage request (the dashboard's default figures, the API) waits for figures "
        "not computed yet (a very first start; the first request after a staff change, which at "
        "a province's scale takes a minute) before it is answered 503 figures_computing with "
        "Retry-After (0: answered at once).",
        float,
        minimum=0,
    ),
    Setting("screen_cache_entries", 5000, "Rendered TV screens kept in memory.", int, minimum=1),
    Setting(
        "database_url",
        "",
        "The database: empty for the data dir's SQLite file, sqlite:///FILE, or "
        "postgresql://USER:PASSWORD@HOST/NAME (docs/scaling.md).",
    ),
    Setting("db_readers", 2, "Read-only SQLite connections in the pool.", int, minimum=1),
    Setting(
        "sqlite_synchronous",
        "FULL",
        "SQLite synchronous mode (FULL survives power loss; NORMAL only process crashes).",
    ),
    Setting("log_level", "INFO", "Logging level (DEBUG, INFO, WARNING, ERROR)."),
    # Callback requests (docs/callbacks.md).
    Setting(
        "callback_first_call_working_days",
        1.0,
        "Working days within which a callback's first call is due (then the end of the "
        "household's time window).",
        float,
        above=0,
    ),
    Setting(
        "callback_max_attempts",
        3,
        "Failed call attempts (no answer, busy) after which a request becomes unreachable.",
        int,
        minimum=1,
    ),
    Setting(
        "callback_routing",
        "",
        "Routing rules SERVICE=KIND (comma-separated) over the defaults: consultation and "
        "mediation to the township station, legal aid, notarisation and appraisal to the banner "
        "centre.",
    ),
    Setting(
        "callback_retention_days",
        180,
        "Days a closed request keeps its phone number.",
        int,
        minimum=1,
    ),
    Setting("working_weekdays", "1,2,3,4,5", "Working weekdays, ISO numbers (1 = Monday)."),
    Setting("working_hours", "08:30-18:00", "Office hours on working days (in `timezone`)."),
    Setting(
        "public_holidays",
        (),
        "Public holidays, a TOML list of ISO dates (or comma-separated in the environment).",
        tuple,
    ),
    Setting(
        "makeup_working_days",
        (),
        "Weekend days worked instead (make-up days), a list of ISO dates like public_holidays.",
        tuple,
    ),
    # Appointments at service points (docs/appointments.md).
    Setting(
        "appointment_horizon_days",
        14,
        "Days ahead (after today) for which households can book an appointment (0: today "
        "only; at most 366).",
        int,
        minimum=0,
        maximum=366,
    ),
    Setting(
        "appointment_cancel_cutoff_hours",
        2.0,
        "Hours before an appointment after which the household can no longer cancel it on the "
        "TV (staff still can; 0: until it starts).",
        float,
        minimum=0,
    ),
    Setting(
        "appointment_max_per_box",
        3,
        "Appointments still to come that one box may hold at a time.",
        int,
        minimum=1,
    ),
    Setting(
        "appointment_reminder_phone",
        False,
        "Put the household's full phone number into the day-before reminder webhook (an SMS "
        "gateway needs it). Off: the reminder carries the masked number only.",
        bool,
    ),
    Setting(
        "webhook_poll_seconds", 2.0, "How often the webhook outbox is looked at.", float, above=0
    ),
    Setting(
        "webhook_retention_days",
        30,
        "Days a queued webhook body is kept (delivered, given up or waiting on a switched-off "
        "endpoint) before it is deleted.",
        int,
        minimum=1,
    ),
    Setting(
        "legal_review_days",
        365,
        "Days after its last legal review that a published program is due for the next one.",
        int,
        minimum=1,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


# The limits that 0 turns off (their help says so). Off is allowed, for a site whose proxy
# limits the same, but `legaltv serve` warns of each and /healthz lists them ("limits_off").
LIMITS = (
    "register_attempts_per_ip",
    "launch_failures_per_ip",
    "register_new_per_minute",
    "api_key_requests_per_minute",
    "sse_streams_per_box",
    "sse_streams_max",
)


@dataclass(frozen=True)
class Settings:
    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Plain attributes: settings are read on every request, so no __getattr__ detour.
        for name, value in self.values.items():
            object.__setattr__(self, name, value)

    @property
    def data_path(self) -> Path:
        return Path(self.values["data_dir"])

    @property
    def db_path(self) -> Path:
        return self.data_path / "legaltv.sqlite3"

    @property
    def unsigned_allowed(self) -> bool:
        return bool(self.values["allow_unsigned"])

    @property
    def unsafe_modes(self) -> tuple[str, ...]:
        """The settings on that must never be on a production server (see /healthz)."""
        return tuple(name for name in ("demo", "allow_unsigned") if self.values[name])

    @property
    def limits_off(self) -> tuple[str, ...]:
        """The limits set to 0, which turns them off (`LIMITS`)."""
        return tuple(name for name in LIMITS if self.values[name] == 0)


def _coerce(setting: Setting, raw: Any, source: str) -> Any:
    if setting.type is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"{source}: {setting.name} must be true or false, not {raw!r}")
    if setting.type is ipaddress.ip_network:  # a list of addresses or CIDR networks
        items = raw.split(",") if isinstance(raw, str) else raw
        try:
            return tuple(
                ipaddress.ip_network(str(i).strip(), strict=False) for i in items if str(i).strip()
            )
        except (TypeError, ValueError):
            raise ValueError(
                f"{source}: {setting.name} must be a list of addresses or CIDR networks, "
                f"not {raw!r}"
            ) from None
    if setting.type is tuple:  # a list of ISO dates: TOML list or comma-separated text
        items = raw.split(",") if isinstance(raw, str) else raw
        try:
            return tuple(date.fromisoformat(str(i).strip()) for i in items if str(i).strip())
        except (TypeError, ValueError):
            raise ValueError(
                f"{source}: {setting.name} must be a list of ISO dates, not {raw!r}"
            ) from None
    try:
        if setting.type in (int, float) and (
            isinstance(raw, bool) or (setting.type is int and isinstance(raw, float))
        ):
            raise TypeError  # TOML `true` is not 1, and 2.5 is not quietly 2
        value = setting.type(raw)
        if setting.type is float and not math.isfinite(value):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"{source}: {setting.name} must be a {setting.type.__name__}, not {raw!r}"
        ) from None
    if setting.type in (int, float) and not setting.in_range(value):
        raise ValueError(f"{source}: {setting.name} must be {setting.allowed}, not {raw!r}")
    return value


def load_settings(
    config_file: Path | str | None = None,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Merge defaults, the TOML file, LEGALTV_* variables and overrides (None means unset)."""
    env = dict(os.environ if env is None else env)
    values = {s.name: s.default for s in SETTINGS}
    given: set[str] = set()  # settings set explicitly, by any source
    config_file = config_file or env.get("LEGALTV_CONFIG")
    if config_file:
        with open(config_file, "rb") as fh:
            data = tomllib.load(fh)
        for key, raw in data.items():
            if key not in _BY_NAME:
                raise ValueError(f"{config_file}: unknown setting {key!r}")
            values[key] = _coerce(_BY_NAME[key], raw, str(config_file))
            given.add(key)
    for setting in SETTINGS:
        var = "LEGALTV_" + setting.name.upper()
        if var in env:
            values[setting.name] = _coerce(setting, env[var], var)
            given.add(setting.name)
    for key, raw in overrides.items():
        if raw is None:
            continue
        if key not in _BY_NAME:
            raise ValueError(f"unknown setting {key!r}")
        values[key] = _coerce(_BY_NAME[key], raw, "command line")
        given.add(key)
    clock.load_zone(values["timezone"])  # an unknown zone stops the start, not the first page
    if "cookie_secure" not in given and str(values["public_url"]).lower().startswith("https://"):
        values["cookie_secure"] = True  # an HTTPS site sends its admin cookie over HTTPS only
    return Settings(values)


def _kept_secret(settings: Settings, name: str) -> str:
    path = settings.data_path / name
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    settings.data_path.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secret + "\n")
    return secret


SHARED_SECRETS = ("launch_secret", "secret_key", "device_token_secret")


def missing_shared_secrets(settings: Settings) -> list[str]:
    """On PostgreSQL every node must sign and verify with the same keys: the secrets not set
    explicitly (a generated one would be this node's own). [] on SQLite (one process)."""
    if not is_postgres(str(settings.database_url)):
        return []
    return [name for name in SHARED_SECRETS if not settings.values[name]]


def ensure_secrets(settings: Settings) -> Settings:
    """Return settings with a launch secret, a session key and a device token key, generating
    and keeping each in the data dir when not configured."""
    values = dict(settings.values)
    for name in ("launch_secret", "secret_key", "device_token_secret"):
        if not values[name]:
            values[name] = _kept_secret(settings, name)
    return Settings(values)
