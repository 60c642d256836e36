"""Every admin export is dated the same way: its file name carries today's date in the server's
time zone from the settings (Asia/Shanghai by default), whatever zone the machine is set to."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from storage import clock

EXPORTS = {
    "/admin/directory/export.csv": "legaltv-directory",
    "/admin/laws/export.csv": "legaltv-laws",
    "/admin/advisers/export.csv": "legaltv-advisers",
    "/admin/callbacks/figures?format=csv": "callbacks",
}


@pytest.fixture
def machine_on_another_day(monkeypatch):
    """The machine's zone set to one where it is another day than in China right now."""
    china_hour = dt.datetime.now(ZoneInfo("Asia/Shanghai")).hour
    monkeypatch.setenv("TZ", "Etc/GMT+12" if china_hour < 19 else "Etc/GMT-14")
    time.tzset()
    assert dt.date.today() != clock.today()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(("path", "name"), EXPORTS.items())
async def test_an_export_is_dated_in_the_servers_zone(
    client, admin_as, machine_on_another_day, path, name
):
    await admin_as("admin")
    response = await client.get(path)
    assert response.status == 200
    stamp = clock.today().strftime("%Y%m%d")
    assert f'filename="{name}-{stamp}.csv"' in response.headers["Content-Disposition"]
