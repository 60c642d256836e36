"""Staff admit a pending box in the registry page of the admin (headless Chromium), then open
the box's page. Screenshots are kept in test-artifacts/ for the staff guide."""

from __future__ import annotations

import pytest

from tests.helpers import ARTIFACTS, make_settings
from tv_server.app import create_app
from tv_server.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


async def test_admin_accepts_a_pending_box(front_server, data_dir, chromium):
    server = await front_server(create_app(make_settings(data_dir)))
    client_url = server.make_url
    page = await chromium.new_page(viewport={"width": 1280, "height": 900})
    response = await page.request.post(
        str(client_url("/api/v1/devices/NEW-BOX-77/register")), data={}
    )
    assert response.status == 202
    await page.goto(str(client_url("/admin/login")))
    await page.fill("input[name=username]", "admin")
    await page.fill("input[name=password]", DEMO_PASSWORD)
    async with page.expect_navigation():
        await page.click("button[type=submit]")
    await page.goto(str(client_url("/admin/registry?state=pending")))
    ARTIFACTS.mkdir(exist_ok=True)
    await page.check("input[name=serials][value=NEW-BOX-77]")
    await page.screenshot(path=str(ARTIFACTS / "registry-pending.png"), full_page=True)
    async with page.expect_navigation():
        await page.click("button[name=decision][value=accept]")
    assert "已接受所选机顶盒" in await page.inner_text("main")
    await page.goto(str(client_url("/admin/registry/box/DEMO-0001")))
    assert "换机" in await page.inner_text("main")
    await page.screenshot(path=str(ARTIFACTS / "registry-box.png"), full_page=True)
