"""Numeric settings have an allowed range: a 0 or a negative number from the TOML file, a
LEGALTV_* variable or the command line stops the start with one readable line, instead of
quietly turning a limit off or breaking the server later."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest

from tests.helpers import ROOT
from tv_server.settings import SETTINGS, load_settings

NUMERIC = [s for s in SETTINGS if s.type in (int, float)]
BY_NAME = {s.name: s for s in SETTINGS}


def from_env(name: str, raw: str):
    return load_settings(env={"LEGALTV_" + name.upper(): raw})


def from_file(tmp_path, name: str, raw: str):
    config = tmp_path / "legaltv.toml"
    config.write_text(f"{name} = {raw}\n")
    return load_settings(config, env={})


def from_command_line(name: str, value):
    return load_settings(env={}, **{name: value})


def test_every_numeric_setting_declares_its_range():
    unbounded = [s.name for s in NUMERIC if s.minimum is None and s.above is None]
    assert not unbounded, f"numeric settings without a lower bound: {unbounded}"
    others = [
        s.name
        for s in SETTINGS
        if s.type not in (int, float) and (s.minimum, s.maximum, s.above) != (None, None, None)
    ]
    assert not others, f"a range on a setting that is not a number: {others}"


@pytest.mark.parametrize("setting", NUMERIC, ids=lambda s: s.name)
def test_the_default_is_inside_its_range(setting):
    assert setting.in_range(setting.default)


def _notation(setting) -> str:
    """How docs/settings.md's type column writes the range: `≥ 1`, `> 0`, `1–65535`."""
    if setting.maximum is not None and setting.minimum is not None and setting.above is None:
        return f"{setting.minimum}–{setting.maximum}"
    low = f"> {setting.above}" if setting.above is not None else f"≥ {setting.minimum}"
    return low + (f", ≤ {setting.maximum}" if setting.maximum is not None else "")


def test_docs_show_every_numeric_range():
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    types = dict(re.findall(r"^\|\s*`([a-z_]+)`\s*\|[^|]*\|\s*([^|]*?)\s*\|", doc, flags=re.M))
    wrong = {
        s.name: types.get(s.name)
        for s in NUMERIC
        if types.get(s.name) != f"{s.type.__name__} {_notation(s)}"
    }
    assert not wrong, f"docs/settings.md does not show these ranges as declared: {wrong}"


# What an operator's slip (or a hostile config change) would do, per setting: the values that
# must be refused, with the message, and the edge values that must still be accepted.
REFUSED = [
    ("requests_per_box_per_day", "0", "at least 1"),  # every household refused all day
    ("requests_per_box_per_day", "-3", "at least 1"),
    ("max_open_callbacks", "0", "at least 1"),
    ("appointment_max_per_box", "0", "at least 1"),
    ("login_attempts_per_ip", "0", "at least 1"),  # nobody could log in
    ("port", "0", "between 1 and 65535"),
    ("port", "-80", "between 1 and 65535"),
    ("port", "65536", "between 1 and 65535"),
    ("db_readers", "0", "at least 1"),
    ("session_ttl", "-5", "at least 1"),
    ("box_token_ttl", "0", "at least 1"),
    ("upload_max_bytes", "0", "at least 1"),
    ("screen_cache_entries", "0", "at least 1"),
    ("callback_retention_days", "0", "at least 1"),  # numbers erased at once
    ("webhook_retention_days", "0", "at least 1"),  # queued webhooks deleted before delivery
    ("usage_flush_seconds", "0", "more than 0"),  # a loop spinning without a pause
    ("webhook_poll_seconds", "0.0", "more than 0"),
    ("change_poll_seconds", "-1.5", "more than 0"),
    ("sse_keepalive_seconds", "0", "more than 0"),
    ("refusal_audit_seconds", "0", "more than 0"),  # one audit row per refused login
    ("register_attempts_per_ip", "-1", "at least 0"),  # would quietly turn the limit off
    ("sse_streams_max", "-1", "at least 0"),
    ("video_jobs_concurrency", "-2", "at least 0"),
    ("appointment_horizon_days", "367", "between 0 and 366"),
    ("appointment_horizon_days", "-1", "between 0 and 366"),
]


@pytest.mark.parametrize(("name", "raw", "allowed"), REFUSED)
def test_out_of_range_values_are_refused_from_every_source(tmp_path, name, raw, allowed):
    var = "LEGALTV_" + name.upper()
    with pytest.raises(ValueError) as refused:
        from_env(name, raw)
    assert str(refused.value) == f"{var}: {name} must be {allowed}, not {raw!r}"

    with pytest.raises(ValueError) as refused:
        from_file(tmp_path, name, raw)
    config = tmp_path / "legaltv.toml"
    in_file = tomllib.loads(f"x = {raw}")["x"]  # shown as written: 0, not 0.0
    assert str(refused.value) == f"{config}: {name} must be {allowed}, not {in_file!r}"

    value = BY_NAME[name].type(raw)

    with pytest.raises(ValueError) as refused:
        from_command_line(name, value)
    assert str(refused.value) == f"command line: {name} must be {allowed}, not {value!r}"


ACCEPTED = [
    ("requests_per_box_per_day", "1", 1),
    ("port", "1", 1),
    ("port", "65535", 65535),
    ("db_readers", "1", 1),
    ("session_ttl", "1", 1),
    ("usage_flush_seconds", "0.01", 0.01),
    # 0 where the help says what it means ("turns the limit off", "today only", …)
    ("register_attempts_per_ip", "0", 0),
    ("launch_failures_per_ip", "0", 0),
    ("register_new_per_minute", "0", 0),
    ("api_key_requests_per_minute", "0", 0),
    ("sse_streams_per_box", "0", 0),
    ("sse_streams_max", "0", 0),
    ("video_jobs_concurrency", "0", 0),
    ("video_ffmpeg_threads", "0", 0),
    ("rating_window_days", "0", 0),
    ("coverage_first_refresh_seconds", "0", 0.0),
    ("coverage_first_wait_seconds", "0", 0.0),
    ("appointment_cancel_cutoff_hours", "0", 0.0),
    ("appointment_horizon_days", "0", 0),
    ("appointment_horizon_days", "366", 366),
]


@pytest.mark.parametrize(("name", "raw", "value"), ACCEPTED)
def test_edge_values_inside_the_range_are_accepted_from_every_source(tmp_path, name, raw, value):
    assert getattr(from_env(name, raw), name) == value
    assert getattr(from_file(tmp_path, name, raw), name) == value
    assert getattr(from_command_line(name, value), name) == value


@pytest.mark.parametrize("setting", NUMERIC, ids=lambda s: s.name)
def test_every_declared_bound_holds_at_its_edge(setting):
    step = 1 if setting.type is int else 0.5
    if setting.minimum is not None:
        assert getattr(from_command_line(setting.name, setting.minimum), setting.name) == (
            setting.minimum
        )
        with pytest.raises(ValueError, match=f"{setting.name} must be "):
            from_command_line(setting.name, setting.type(setting.minimum - step))
    if setting.above is not None:
        with pytest.raises(ValueError, match=f"{setting.name} must be more than"):
            from_command_line(setting.name, setting.type(setting.above))
        assert from_command_line(setting.name, setting.above + 0.001) is not None
    if setting.maximum is not None:
        assert getattr(from_command_line(setting.name, setting.maximum), setting.name) == (
            setting.maximum
        )
        with pytest.raises(ValueError, match=f"{setting.name} must be "):
            from_command_line(setting.name, setting.maximum + step)


@pytest.mark.parametrize(
    ("name", "toml", "shown"),
    [
        ("usage_flush_seconds", "nan", "nan"),  # NaN compares false with every bound
        ("usage_flush_seconds", "inf", "inf"),
        ("port", "8080.5", "8080.5"),  # not quietly 8080
        ("requests_per_box_per_day", "true", "True"),  # not quietly 1
    ],
)
def test_values_that_are_no_number_of_the_setting_s_type_are_refused(tmp_path, name, toml, shown):
    kind = BY_NAME[name].type.__name__
    with pytest.raises(ValueError, match=f"{name} must be a {kind}, not {shown}"):
        from_file(tmp_path, name, toml)
    if toml != "true":
        with pytest.raises(ValueError, match=f"{name} must be a {kind}, not '{shown}'"):
            from_env(name, toml)


def _serve(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEGALTV_")}
    return subprocess.run(
        [sys.executable, "-m", "tv_server.cli", "serve", "--data-dir", str(tmp_path / "var"),
         "--host", "127.0.0.1", *args],
        cwd=ROOT, env={**environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_serve_with_a_daily_cap_of_0_stops_with_one_readable_line(tmp_path):
    done = _serve(tmp_path, "--port", "19471", LEGALTV_REQUESTS_PER_BOX_PER_DAY="0")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "legaltv: LEGALTV_REQUESTS_PER_BOX_PER_DAY: requests_per_box_per_day must be at least 1,"
        " not '0'"
    ]
    assert not (tmp_path / "var").exists()  # stopped before touching the data dir


def test_serve_with_port_0_on_the_command_line_stops_with_one_readable_line(tmp_path):
    done = _serve(tmp_path, "--port", "0")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "legaltv: command line: port must be between 1 and 65535, not 0"
    ]
