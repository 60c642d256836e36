"""Settings: declared once, documented, read from TOML and LEGALTV_* variables."""

import re

import pytest

from tests.helpers import ROOT
from tv_server.settings import SETTINGS, load_settings


def test_every_setting_is_documented():
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\|\s*`([a-z_]+)`", doc, flags=re.M))
    missing = [s.name for s in SETTINGS if s.name not in documented]
    assert not missing, f"settings missing from docs/settings.md: {missing}"
    stale = documented - {s.name for s in SETTINGS}
    assert not stale, f"docs/settings.md documents settings that do not exist: {stale}"


def test_env_overrides_toml_and_toml_overrides_defaults(tmp_path):
    config = tmp_path / "legaltv.toml"
    config.write_text('port = 9000\nlaunch_secret = "from-file"\nmax_open_callbacks = 5\n')
    settings = load_settings(config, env={"LEGALTV_PORT": "9100", "LEGALTV_DEMO": "yes"})
    assert settings.port == 9100
    assert settings.launch_secret == "from-file"
    assert settings.max_open_callbacks == 5
    assert settings.demo is True


def test_data_dir_comes_from_environment():
    settings = load_settings(env={"LEGALTV_DATA_DIR": "/srv/legaltv"})
    assert str(settings.db_path) == "/srv/legaltv/legaltv.sqlite3"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LEGALTV_PORT": "eighty"}, "LEGALTV_PORT: port must be a int"),
        ({"LEGALTV_DEMO": "maybe"}, "LEGALTV_DEMO: demo must be true or false"),
    ],
)
def test_bad_values_are_reported_with_their_source(env, message):
    with pytest.raises(ValueError, match=message):
        load_settings(env=env)


def test_unknown_setting_in_file_is_rejected(tmp_path):
    config = tmp_path / "legaltv.toml"
    config.write_text("prot = 80\n")
    with pytest.raises(ValueError, match="unknown setting 'prot'"):
        load_settings(config, env={})
