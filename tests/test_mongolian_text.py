"""Traditional Mongolian on the TV: every string of the mn catalog is drafted in Mongolian
script, marked unreviewed, and shapes in the served font with no missing glyph — checked
against the font's cmap and by a HarfBuzz (libraqm) shaping run — and the per-screen subset the
server sends renders a screen exactly as the whole font does."""

from __future__ import annotations

import io
import re

import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont
from fontTools.ttLib.tables._g_l_y_f import Glyph
from PIL import Image, ImageChops, ImageDraw, ImageFont, features

from tests.helpers import ROOT, enter
from tv_server.tvfont import find_font
from tv_ui import i18n

PO = ROOT / "tv_ui" / "locale" / "mn" / "LC_MESSAGES" / "messages.po"
MONGOLIAN = re.compile("[\u1800-\u18af]")
REVIEW = "review: drafted, not reviewed by a native speaker"
FONT = find_font()

pytestmark = pytest.mark.skipif(FONT is None, reason="fonts-noto-core is not installed")


def catalog():
    with PO.open("rb") as f:
        return read_po(f)


def tv_message_ids() -> set[str]:
    from babel.messages.extract import extract_from_dir

    method_map = [
        ("tv_ui/templates/**.html", "jinja2"),
        ("tv_ui/**.py", "python"),
        ("tv_server/tv/**.py", "python"),
        ("tv_server/middlewares.py", "python"),
    ]
    options = {"tv_ui/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    return {
        m if isinstance(m, str) else m[0]
        for _f, _l, m, _c, _ctx in extract_from_dir(
            str(ROOT), method_map, options, keywords={"_": None, "gettext": None, "N_": None}
        )
    }


def translated():
    return [m for m in catalog() if m.id and m.string]


def test_every_tv_string_is_drafted_in_mongolian_script_and_marked_unreviewed():
    messages = {m.id: m for m in catalog() if m.id}
    missing = [
        mid for mid in tv_message_ids() if not messages.get(mid, None) or not messages[mid].string
    ]
    assert missing == []
    for m in translated():
        assert MONGOLIAN.search(m.string), m.id
        assert REVIEW in m.user_comments, m.id  # never presented as reviewed
        assert "fuzzy" not in m.flags, m.id  # a fuzzy entry would not be compiled
        for placeholder in re.findall(r"%\(\w+\)s", m.id):
            assert placeholder in m.string, m.id


def test_compiled_catalog_serves_the_drafts_and_falls_back_to_chinese():
    assert i18n.gettext("首页", "mn") == "ᠲᠡᠷᠢᠭᠦᠨ ᠨᠢᠭᠤᠷ"
    # An admin string the TV catalog leaves empty stays Chinese.
    untranslated = next(m.id for m in catalog() if m.id and not m.string)
    assert i18n.gettext(untranslated, "mn") == untranslated


def demo_program_texts() -> list[str]:
    """The demo's Mongolian program versions (title, summary, page titles and text)."""
    from content.programs.demo_versions import VERSIONS, script

    return [
        script(text)
        for title, summary, pages in VERSIONS.values()
        for text in (title, summary, *(part for page in pages for part in page))
    ]


def demo_point_names() -> list[str]:
    """The demo's drafted Mongolian service-point names (content/directory/demo.py)."""
    import csv

    from content.directory.demo import demo_service_points
    from device_registry import regions

    rows = list(csv.DictReader(io.StringIO(regions.bundled_csv_text())))
    return [p["name_mn"] for p in demo_service_points(rows) if p["name_mn"]]


def test_every_mongolian_character_is_in_the_font():
    cmap = TTFont(FONT).getBestCmap()
    texts = [m.string for m in translated()] + demo_program_texts() + demo_point_names()
    used = {c for t in texts for c in t if MONGOLIAN.match(c) or c == "\u202f"}
    assert used and sorted(hex(ord(c)) for c in used if ord(c) not in cmap) == []


def _without_notdef() -> ImageFont.FreeTypeFont:
    """The font with an empty .notdef: text that needs .notdef renders differently in it."""
    font = TTFont(FONT)
    font["glyf"][".notdef"] = Glyph()
    out = io.BytesIO()
    font.save(out)
    out.seek(0)
    return ImageFont.truetype(out, 40, layout_engine=ImageFont.Layout.RAQM)


def _render(font, text):
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 20, bottom - top + 20), 0)
    ImageDraw.Draw(image).text((10 - left, 10 - top), text, font=font, fill=255)
    return image


def _differs(a, b) -> bool:
    return a.size != b.size or ImageChops.difference(a, b).getbbox() is not None


def test_every_catalog_string_shapes_with_no_missing_glyph():
    assert features.check("raqm"), "Pillow without libraqm cannot shape Mongolian"
    full = ImageFont.truetype(str(FONT), 40, layout_engine=ImageFont.Layout.RAQM)
    blank = _without_notdef()
    # The check works: a character the font lacks does render .notdef.
    assert _differs(_render(full, "ᠠ\u4e2d"), _render(blank, "ᠠ\u4e2d"))
    from device_registry.region_names import bundled_csv_text

    texts = [m.string for m in translated()] + bundled_csv_text().splitlines()[1:]
    texts += demo_program_texts() + demo_point_names()
    runs = {run for text in texts for run in re.findall("[\u1800-\u18af\u202f ]+", text)}
    bad = [run for run in runs if run.strip() and _differs(_render(full, run), _render(blank, run))]
    assert bad == []


def test_letters_join_when_shaped():
    full = ImageFont.truetype(str(FONT), 40, layout_engine=ImageFont.Layout.RAQM)
    word = "ᠮᠣᠩᠭᠣᠯ"
    # Joined medial forms are narrower than the letters standing alone (isolated forms).
    assert full.getlength(word) < sum(full.getlength(c) for c in word) * 0.8


async def test_served_subset_renders_the_screen_as_the_whole_font_does(client):
    base = await enter(client, "DEMO-0001")
    await client.post(base + "lang", data={"l": "mn"})
    html = await (await client.get(base + "home")).text()
    css_url = re.search(r'href="(/tv/font/mv-[0-9a-f]{20}\.css)"', html).group(1)
    assert "/static/tv." not in html.split("</head>")[0]  # one stylesheet, not two
    css = await (await client.get(css_url)).text()
    assert re.search(r"writing-mode: ?vertical-lr", css) and "@font-face" in css
    response = await client.get(css_url.replace(".css", ".woff2"))
    assert response.status == 200
    assert "immutable" in response.headers["Cache-Control"]
    woff2 = await response.read()
    assert len(woff2) <= 40 * 1024
    font = TTFont(io.BytesIO(woff2))
    font.flavor = None
    ttf = io.BytesIO()
    font.save(ttf)
    ttf.seek(0)
    subset = ImageFont.truetype(ttf, 40, layout_engine=ImageFont.Layout.RAQM)
    full = ImageFont.truetype(str(FONT), 40, layout_engine=ImageFont.Layout.RAQM)
    runs = {r for r in re.findall("[\u1800-\u18af\u202f ]+", html) if r.strip()}
    assert runs
    assert [r for r in runs if _differs(_render(full, r), _render(subset, r))] == []
    # Unknown names are 404, not a subset made on demand from a guess.
    assert (await client.get("/tv/font/mv-00000000000000000000.woff2")).status == 404
    assert (await client.get("/tv/font/../../etc/passwd")).status == 404


async def test_admin_shows_the_mongolian_drafts_as_unreviewed(client, admin_as):
    await admin_as("viewer")
    html = await (await client.get("/admin/translation")).text()
    drafted = len(translated())
    assert f"草稿，未经母语者审校 {drafted}" in html
    assert "已审校 0" in html  # nothing is presented as reviewed
    assert "ᠲᠡᠷᠢᠭᠦᠨ ᠨᠢᠭᠤᠷ" in html and "首页" in html  # the strings themselves, listed
    home = await (await client.get("/admin/")).text()
    assert 'href="/admin/translation"' in home  # reachable from the navigation


def test_the_keypads_two_word_keys_read_apart_in_mongolian():
    """删除 takes one digit back and 清空 clears the number: on the phone step they sit side by
    side, so a household must be able to tell them apart (both were once drafted alike)."""
    found = {m.id: m.string for m in catalog() if m.id in ("删除", "清空")}
    assert set(found) == {"删除", "清空"}
    assert all(MONGOLIAN.search(text) for text in found.values())
    assert found["删除"] != found["清空"]
