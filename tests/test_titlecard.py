"""Title cards: native size per profile, baseline JPEG, readable text, stable colours."""

from __future__ import annotations

from PIL import Image, ImageChops, ImageStat

from content.programs.titlecard import (
    SPECS,
    find_font,
    palette_colour,
    render_title_card,
    write_title_cards,
)


def test_font_is_noto_sans_cjk_sc():
    from PIL import ImageFont

    path, index = find_font()
    assert ImageFont.truetype(path, 20, index=index).getname()[0] == "Noto Sans CJK SC"


def test_cards_have_profile_sizes():
    for profile, size in SPECS.items():
        assert render_title_card("赡养父母是法定义务", "老人妇女儿童保护", profile).size == size


def test_written_cards_are_baseline_jpegs(tmp_path):
    paths = write_title_cards("发生交通事故怎么办", "生活维权", tmp_path, "jiaotong")
    assert set(paths) == set(SPECS)
    for profile, path in paths.items():
        assert path.name == f"jiaotong-{profile}.jpg"
        with Image.open(path) as im:
            assert im.format == "JPEG"
            assert im.size == SPECS[profile]
            assert not im.info.get("progressive") and not im.info.get("progression")
        # SOF0 (baseline DCT) marker present, SOF2 (progressive) absent
        data = path.read_bytes()
        assert b"\xff\xc0" in data and b"\xff\xc2" not in data


def _title_area_ink(image: Image.Image) -> float:
    """Share of pixels in the title band that differ from the background colour."""
    w, h = image.size
    band = image.crop((int(w * 0.07), int(h * 0.33), int(w * 0.6), int(h * 0.8)))
    bg = Image.new("RGB", band.size, image.getpixel((int(w * 0.02), int(h * 0.5))))
    diff = ImageChops.difference(band, bg).convert("L").point(lambda v: 255 if v > 60 else 0)
    return diff.histogram()[255] / (band.width * band.height)


def test_cards_contain_rendered_title_text():
    image = render_title_card("有了纠纷找人民调解", "法律服务指南", "720p")
    assert _title_area_ink(image) > 0.05
    empty = render_title_card("", "法律服务指南", "720p")
    assert _title_area_ink(empty) < 0.01


def test_different_titles_give_different_cards():
    a = render_title_card("公证能办哪些事", "法律服务指南", "720p")
    b = render_title_card("怎样申请法律援助", "法律服务指南", "720p")
    assert ImageChops.difference(a, b).getbbox() is not None


def test_colour_is_deterministic_per_title():
    assert palette_colour("草场流转合同怎么签") == palette_colour("草场流转合同怎么签")
    card = render_title_card("草场流转合同怎么签", "草原与土地", "720p")
    assert card.getpixel((5, 360)) == palette_colour("草场流转合同怎么签")


def test_long_titles_wrap_within_the_card():
    title = "草原承包经营权、草畜平衡、禁牧休牧和草场流转合同纠纷的解决办法与典型案例解析" * 2
    image = render_title_card(title, "草原与土地", "720p")
    # Nothing drawn in the right margin of the title band: the text wrapped.
    w, h = image.size
    margin = image.crop((int(w * 0.95), int(h * 0.75), w, int(h * 0.84)))
    assert margin.getcolors() is not None and len(margin.getcolors()) <= 2


def test_4k_card_has_the_same_layout_at_full_resolution():
    small = render_title_card("防范电信网络诈骗", "防范诈骗", "720p")
    big = render_title_card("防范电信网络诈骗", "防范诈骗", "2160p")
    # Drawn at 3840×2160 with everything scaled: shrunk back, it matches the 720p card.
    down = big.resize(small.size, Image.Resampling.LANCZOS)
    diff = ImageChops.difference(down, small).convert("L")
    assert ImageStat.Stat(diff).mean[0] < 12
    # …and it carries detail a 720p upscale could not: sharp glyph edges.
    up = small.resize(big.size, Image.Resampling.BICUBIC)
    assert ImageChops.difference(up, big).getbbox() is not None
