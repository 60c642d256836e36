"""Choosing the TV language: the signed launch URL, the demo entry, the home screen's language
tile, the per-box and per-household memory, and the pastoral banners' default."""

import re
import time

from device_registry.records import get_box
from tests.helpers import TEST_SECRET, enter, front_screens, warm_screen
from tv_server import keys
from tv_server.boxauth import launch_signature

MONGOLIAN = re.compile("[\u1820-\u1878]")


def lang_of(html: str) -> str:
    return re.search(r'<html lang="(\w+)"', html).group(1)


async def home_html(client, base: str) -> str:
    response = await client.get(base + "home")
    assert response.status == 200
    return await response.text()


async def pastoral_box(client) -> str:
    """A demo box in a live village of 乌审旗 (a pastoral banner) whose household never chose."""
    db = client.app[keys.DB]
    rows = await db.fetchall(
        "SELECT serial FROM devices WHERE village_code LIKE '150626%'"
        " AND state IN ('installed','activated','active') ORDER BY serial"
    )
    for (serial,) in rows:
        base = await enter(client, serial)
        html = await home_html(client, base)
        if "普法节目" in html or MONGOLIAN.search(html):
            if 'id="t-programs"' in html:
                return serial
    raise AssertionError("no live demo box in 乌审旗")


async def test_demo_entry_with_lang_mn_shows_mongolian_and_is_remembered(client):
    response = await client.get("/tv/", params={"stb": "DEMO-0001", "lang": "mn"})
    html = await response.text()
    assert lang_of(html) == "mn"
    assert MONGOLIAN.search(html)
    assert "普法节目" not in html  # translated, not the Chinese source
    # Remembered: the next entry without lang is still Mongolian.
    base = await enter(client, "DEMO-0001")
    assert lang_of(await home_html(client, base)) == "mn"
    box = await get_box(client.app[keys.DB], "DEMO-0001")
    assert box.language == "mn"


async def test_demo_entry_refuses_an_unknown_language(client):
    response = await client.get("/tv/", params={"stb": "DEMO-0001", "lang": "fr"})
    assert response.status == 400
    assert (await get_box(client.app[keys.DB], "DEMO-0001")).language is None


def signed(serial="DEMO-0001", lang="", ts=None):
    ts = int(time.time()) if ts is None else ts
    params = {"stb": serial, "ts": str(ts), "sig": launch_signature(TEST_SECRET, serial, ts, lang)}
    if lang:
        params["lang"] = lang
    return params


async def test_signed_launch_carries_the_language_inside_the_signature(client):
    response = await client.get("/tv/launch", params=signed(lang="mn"))
    assert response.status == 200
    assert lang_of(await response.text()) == "mn"
    # lang added to (or changed on) a URL signed without it is refused.
    tampered = {**signed(), "lang": "mn"}
    response = await client.get("/tv/launch", params=tampered, allow_redirects=False)
    assert response.status == 403
    tampered = {**signed(lang="mn"), "lang": "zh"}
    response = await client.get("/tv/launch", params=tampered, allow_redirects=False)
    assert response.status == 403
    # Old URLs without lang stay valid (and keep the remembered language).
    response = await client.get("/tv/launch", params=signed())
    assert response.status == 200
    assert lang_of(await response.text()) == "mn"


async def test_language_tile_switches_by_remote_form_and_back(client, box):
    html = await home_html(client, box)
    assert lang_of(html) == "zh"
    # On a Chinese screen the Mongolian word is a pre-rendered image (no font to download).
    assert 'id="t-lang"' in html and 'src="data:image/png;base64,' in html
    assert not MONGOLIAN.search(html) and "/tv/font/" not in html
    response = await client.post(box + "lang", data={"l": "mn"})
    assert response.status == 200
    html = await response.text()
    assert lang_of(html) == "mn" and "汉语" in html  # the tile now leads back to Chinese
    # Every screen follows, including cached shared ones.
    zh_list = await (await client.get(box + "programs")).text()
    assert lang_of(zh_list) == "mn"
    response = await client.post(box + "lang", data={"l": "zh"})
    assert lang_of(await response.text()) == "zh"
    assert lang_of(await (await client.get(box + "programs")).text()) == "zh"


async def test_language_tile_refuses_garbage(client, box):
    response = await client.post(box + "lang", data={"l": "x" * 5000})
    assert response.status == 400


async def test_screen_cache_keys_on_the_language(client):
    zh_box = await enter(client, "DEMO-0001")
    mn_box = await enter(client, "DEMO-0002")
    await client.post(mn_box + "lang", data={"l": "mn"})
    a = await (await client.get(zh_box + "programs")).text()
    b = await (await client.get(mn_box + "programs")).text()
    c = await (await client.get(zh_box + "programs")).text()
    assert lang_of(a) == lang_of(c) == "zh" and lang_of(b) == "mn"


async def test_pastoral_banner_boxes_start_in_mongolian_until_the_household_chooses(client):
    serial = await pastoral_box(client)
    base = await enter(client, serial)
    assert lang_of(await home_html(client, base)) == "mn"
    await client.post(base + "lang", data={"l": "zh"})
    base = await enter(client, serial)
    assert lang_of(await home_html(client, base)) == "zh"


async def test_household_language_follows_a_replacement_box(client):
    db = client.app[keys.DB]
    now = time.time()
    async with db.transaction() as tx:
        hid = await tx.insert(
            "INSERT INTO households (village_code, label, created_at)"
            " SELECT village_code, 'H-LANG', ? FROM devices WHERE serial = 'DEMO-0001'",
            (now,),
        )
        await tx.execute(
            "UPDATE devices SET household_id = ? WHERE serial IN ('DEMO-0001', 'DEMO-0003')",
            (hid,),
        )
    base = await enter(client, "DEMO-0001")
    await client.post(base + "lang", data={"l": "mn"})
    # DEMO-0003 stands in for the household's new box: it never chose, the household did.
    assert (await get_box(db, "DEMO-0003")).language == "mn"


async def test_admin_stays_chinese_after_a_mongolian_screen(client, box):
    await client.post(box + "lang", data={"l": "mn"})
    await client.get(box + "home")
    response = await client.get("/admin/login")
    assert not MONGOLIAN.search(await response.text())


async def test_callback_records_the_household_language_and_staff_see_it(client, admin_as):
    from tests.helpers import draft_for, submit

    mn_box = await enter(client, "DEMO-0001")
    await client.post(mn_box + "lang", data={"l": "mn"})
    response = await submit(client, mn_box, await draft_for(client, mn_box))
    assert response.status == 303, await response.text()
    zh_box = await enter(client, "DEMO-0002")
    response = await submit(client, zh_box, await draft_for(client, zh_box))
    assert response.status == 303, await response.text()
    db = client.app[keys.DB]
    rows = await db.fetchall(
        "SELECT d.serial, r.language, r.ref FROM callback_requests r"
        " JOIN devices d ON d.id = r.device_id WHERE d.serial IN ('DEMO-0001', 'DEMO-0002')"
        " ORDER BY r.id DESC LIMIT 2"
    )
    languages = {r[0]: r[1] for r in rows}
    assert languages == {"DEMO-0001": "mn", "DEMO-0002": "zh"}
    await admin_as("admin")
    queue = await (await client.get("/admin/callbacks")).text()
    mn_ref = next(r[2] for r in rows if r[0] == "DEMO-0001")
    row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{mn_ref}(?:(?!</tr>).)*</tr>", queue, re.S)
    assert row and "蒙古语" in row.group(0)


async def test_mongolian_boxes_see_mongolian_region_names_and_chinese_where_none(client):
    base = await enter(client, "DEMO-0001")
    await client.post(base + "lang", data={"l": "mn"})
    home = await home_html(client, base)
    # City and district in Mongolian (drafted), township and village (no Mongolian name) Chinese.
    assert "ᠣᠷᠳᠣᠰ ᠬᠣᠲᠠ ᠳᠦᠩᠱᠡᠩ ᠲᠣᠭᠣᠷᠢᠭ 交通街道" in home
    directory = await (await client.get(base + "dir")).text()
    assert '<h2 class="section">ᠣᠷᠳᠣᠰ ᠬᠣᠲᠠ<' in directory
    assert '<h2 class="section">ᠳᠦᠩᠱᠡᠩ ᠲᠣᠭᠣᠷᠢᠭ<' in directory
    zh = await enter(client, "DEMO-0002")
    assert '<h2 class="section">鄂尔多斯市<' in await (await client.get(zh + "dir")).text()


def test_region_names_import_by_csv_all_or_nothing(tmp_path):
    import subprocess
    import sys

    from tests.helpers import ROOT

    env = {"PATH": "/usr/bin:/bin", "LEGALTV_DATA_DIR": str(tmp_path / "data")}

    def run(text, action="import-mn"):
        path = tmp_path / "names.csv"
        path.write_text(text, encoding="utf-8")
        return subprocess.run(
            [sys.executable, "-m", "tv_server.cli", "regions", action, str(path)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=False,
        )

    tree = (ROOT / "device_registry" / "data" / "ordos_divisions.csv").read_text("utf-8")
    assert run(tree, "import").returncode == 0
    bad = run("code,name_mn,review\n150602,ᠳᠦᠩᠱᠡᠩ,drafted\n9999,ᠬᠠ,drafted\n150603,ᠬᠠ,sure\n")
    assert bad.returncode == 2
    assert "line 3: unknown region code '9999'" in bad.stderr
    assert "line 4: review must be drafted or reviewed" in bad.stderr
    good = run("code,name_mn,review\n150602,ᠳᠦᠩᠱᠡᠩ,reviewed\n")
    assert good.returncode == 0, good.stderr
    assert "imported 1 Mongolian region names" in good.stdout


async def test_language_switch_keeps_other_boxes_warm_and_is_rate_limited(client):
    other = await enter(client, "DEMO-0002")
    url = await warm_screen(client, other)  # served by the fast lane
    mine = await enter(client, "DEMO-0001")
    mine_url = await warm_screen(client, mine)
    response = await client.post(mine + "lang", data={"l": "mn"})
    assert response.status == 200
    before = await front_screens(client)
    assert (await client.get(url)).status == 200
    assert await front_screens(client) == before + 1  # the other box's answer stayed warm
    # This box's own remembered answer is gone: the next one is Mongolian.
    assert lang_of(await (await client.get(mine_url)).text()) == "mn"
    statuses = []
    for i in range(12):
        response = await client.post(mine + "lang", data={"l": "zh" if i % 2 == 0 else "mn"})
        statuses.append(response.status)
    assert statuses[:9] == [200] * 9 and statuses[-1] == 429
    assert "操作太频繁" in await response.text() or "ᠬᠠᠮᠠᠭ" in await response.text()
