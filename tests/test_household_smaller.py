"""Smaller things a household stumbles on: one message for a box that is not enrolled yet, a
finished program reopened from its start, the directory's levels in plain words, sample phone
numbers marked only on demo data."""

from __future__ import annotations

import re

import pytest
from yarl import URL

from tests.helpers import make_settings
from tv_server import keys
from tv_server.app import create_app


def ok_link(html: str) -> str:
    return re.search(r'id="n-ok" href="([^"]+)"', html).group(1)


@pytest.mark.parametrize(
    ("serial", "message"),
    [("NEW-BOX-9", "我们已记录下这台机顶盒"), ("DEMO-0240", "即将在您所在的地区开通")],
)
async def test_a_box_not_yet_served_reads_one_message_after_ok(client, serial, message):
    # DEMO-0240 lies in a pastoral banner (Mongolian by default): its household chose Chinese.
    response = await client.get("/tv/", params={"stb": serial, "lang": "zh"})
    for _ in range(3):  # the first screen, then 知道了 (OK) twice: the same message each time
        html = await response.text()
        assert response.status == 200 and message in html and "无法识别" not in html
        response = await client.get(response.url.join(URL(ok_link(html))).path)


async def test_a_finished_program_reopens_at_page_one(client, box):
    db = client.app[keys.DB]
    pid, pages = await db.fetchone(
        "SELECT p.id, COUNT(*) FROM programs p JOIN program_pages g ON g.program_id = p.id"
        " WHERE p.video_media_id IS NULL GROUP BY p.id HAVING COUNT(*) >= 3 LIMIT 1"
    )
    await client.get(f"{box}p-{pid}-{pages}")  # read to the end
    response = await client.get(f"{box}p-{pid}")
    assert str(response.url).endswith(f"p-{pid}-1")
    await client.get(f"{box}p-{pid}-2")  # stopped half way: continue there
    response = await client.get(f"{box}p-{pid}")
    assert str(response.url).endswith(f"p-{pid}-2")


async def test_directory_levels_are_plain_words(client, box):
    html = await (await client.get(box + "dir")).text()
    assert "本村（嘎查）" in html and "本乡镇（苏木）" in html and "本旗（区）" in html
    for jargon in ("嘎查村社区", "苏木乡镇街道", "旗区级"):
        assert jargon not in html
    city = await (await client.get(box + "dir-1506")).text()
    assert "选一个旗（区）" in city and "下级地区" not in city
    banner = await (await client.get(box + "dir-150602")).text()
    assert "选一个乡镇（苏木）" in banner


async def point_page(client, box) -> str:
    point = re.search(r'href="(o-\d+)"', await (await client.get(box + "dir")).text()).group(1)
    return await (await client.get(box + point)).text()


async def test_sample_numbers_are_marked_on_demo_data(client, box):
    assert "示例号码" in await point_page(client, box)


async def test_a_real_deployment_never_shows_a_sample_number(front_client, data_dir):
    from tests.helpers import TEST_SECRET

    settings = make_settings(data_dir, demo=False, allow_unsigned=True)
    assert settings.launch_secret == TEST_SECRET
    client = await front_client(create_app(settings))
    response = await client.get("/tv/", params={"stb": "DEMO-0001"}, allow_redirects=False)
    box = response.headers["Location"][: -len("home")]
    html = await point_page(client, box)
    assert "示例号码" not in html and "0477-555" not in html
    assert "请拨打热线 12348" in html
    directory = await (await client.get(box + "dir")).text()
    assert "0477-555" not in directory
