"""The content package format: the bundled catalog, broken packages, safe Markdown."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from content.programs.package import (
    PackageError,
    load_catalog,
    load_program,
    page_ref_to_program_path,
    render_markdown,
)

CATALOG = Path(__file__).resolve().parents[1] / "content" / "catalog"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG)


def test_bundled_catalog_has_enough_programs_and_categories(catalog):
    categories, programs = catalog
    assert len(programs) >= 14
    used = {p.category for p in programs}
    assert len(categories) >= 7 and len(used) >= 7
    assert [c.order for c in categories] == sorted(c.order for c in categories)


def test_every_page_is_tv_sized_and_titled(catalog):
    _, programs = catalog
    for program in programs:
        assert 4 <= len(program.pages) <= 6, program.slug
        assert [p.number for p in program.pages] == list(range(1, len(program.pages) + 1))
        for page in program.pages:
            count = len(CJK.findall(page.title + page.markdown))
            assert 80 <= count <= 300, (program.slug, page.number, count)
            assert page.title and not page.markdown.startswith("# ")


def test_every_program_illustrates_at_least_two_pages(catalog):
    _, programs = catalog
    for program in programs:
        assert sum(1 for p in program.pages if p.images) >= 2, program.slug
        for page in program.pages:
            for image in page.images:
                assert (program.root / image).is_file()


def test_catalog_ships_a_real_h264_mp4_with_poster(catalog):
    _, programs = catalog
    with_video = [p for p in programs if p.video]
    assert with_video
    for program in with_video:
        data = program.path(program.video).read_bytes()
        assert data[4:8] == b"ftyp"
        assert b"avc1" in data and b"moov" in data
        # +faststart: the index comes before the media data
        assert data.index(b"moov") < data.index(b"mdat")
        assert len(data) <= 600 * 1024
        assert program.poster and program.path(program.poster).is_file()
        assert 10 <= program.duration_seconds <= 20


def test_catalog_stays_small():
    total = sum(p.stat().st_size for p in CATALOG.rglob("*") if p.is_file())
    assert total < 4 * 1024 * 1024
    for image in CATALOG.glob("*/images/*.jpg"):
        if image.name != "cover.jpg":
            assert image.stat().st_size <= 80 * 1024, image


# --------------------------------------------------------------------------- broken packages


@pytest.fixture
def program_dir(tmp_path: Path) -> Path:
    """A copy of one valid bundled program to break in each test."""
    dest = tmp_path / "yichan-jicheng"
    shutil.copytree(CATALOG / "yichan-jicheng", dest)
    return dest


CATEGORIES = {"hunyin-jiating", "xianfa"}


def load(folder: Path):
    return load_program(folder, CATEGORIES)


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(PackageError) as info:
        load(folder)
    return [str(p) for p in info.value.problems]


def test_valid_copy_loads(program_dir):
    program = load(program_dir)
    assert program.slug == "yichan-jicheng"
    assert program.root == program_dir


def test_missing_page_file_is_reported(program_dir):
    (program_dir / "pages" / "02.md").unlink()
    problems = problems_of(program_dir)
    assert any("02.md" in p and "missing" in p for p in problems)


def test_image_referenced_but_absent_names_page_and_line(program_dir):
    (program_dir / "images" / "yizhu.jpg").unlink()
    problems = problems_of(program_dir)
    assert any(re.search(r"pages/03\.md:3: .*yizhu\.jpg.*not found", p) for p in problems)


def test_jpg_that_is_really_text_is_refused(program_dir):
    (program_dir / "images" / "shunxu.jpg").write_text("this is not a picture")
    problems = problems_of(program_dir)
    assert any("02.md:3" in p and "not a readable" in p for p in problems)


def test_unknown_category_names_line(program_dir):
    toml = program_dir / "program.toml"
    toml.write_text(toml.read_text().replace('"hunyin-jiating"', '"no-such"'))
    problems = problems_of(program_dir)
    assert any("program.toml:4:" in p and "unknown category" in p for p in problems)


def test_bad_slug_is_refused(tmp_path, program_dir):
    bad = tmp_path / "Bad_Slug"
    program_dir.rename(bad)
    toml = bad / "program.toml"
    toml.write_text(toml.read_text().replace('"yichan-jicheng"', '"Bad_Slug"'))
    problems = problems_of(bad)
    assert any("program.toml:1:" in p and "not a valid slug" in p for p in problems)


def test_slug_must_match_folder(program_dir):
    toml = program_dir / "program.toml"
    toml.write_text(toml.read_text().replace('"yichan-jicheng"', '"other-slug"'))
    assert any("does not match the folder" in p for p in problems_of(program_dir))


def test_unknown_key_names_line(program_dir):
    toml = program_dir / "program.toml"
    toml.write_text(toml.read_text() + 'colour = "red"\n')
    lines = toml.read_text().count("\n")
    problems = problems_of(program_dir)
    assert any(f"program.toml:{lines}:" in p and "'colour': unknown key" in p for p in problems)


def test_video_that_is_not_mp4_is_refused(program_dir):
    (program_dir / "media").mkdir()
    (program_dir / "media" / "video.mp4").write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" * 4)
    shutil.copy(program_dir / "images" / "yizhu.jpg", program_dir / "media" / "poster.jpg")
    toml = program_dir / "program.toml"
    toml.write_text(toml.read_text() + 'video = "media/video.mp4"\nposter = "media/poster.jpg"\n')
    assert any("not a video file (MP4, MOV, MKV or WebM" in p for p in problems_of(program_dir))


def test_video_without_poster_is_taken(program_dir):
    """The poster is optional: the TV shows a frame the transcode took until one is chosen."""
    (program_dir / "media").mkdir()
    shutil.copy(CATALOG / "fang-dianxin-zhapian" / "media" / "video.mp4", program_dir / "media")
    toml = program_dir / "program.toml"
    toml.write_text(toml.read_text() + 'video = "media/video.mp4"\n')
    program = load(program_dir)
    assert (program.video, program.poster) == ("media/video.mp4", None)


def test_empty_page_is_refused(program_dir):
    (program_dir / "pages" / "04.md").write_text("")
    assert any("04.md:1: page is empty" in p for p in problems_of(program_dir))


def test_page_without_title_line_is_refused(program_dir):
    (program_dir / "pages" / "04.md").write_text("没有标题的一页。\n")
    assert any("04.md:1:" in p and "title" in p for p in problems_of(program_dir))


def test_all_problems_are_reported_together(program_dir):
    (program_dir / "pages" / "02.md").unlink()
    toml = program_dir / "program.toml"
    toml.write_text(toml.read_text().replace('"hunyin-jiating"', '"no-such"') + "x = 1\n")
    assert len(problems_of(program_dir)) >= 3


def test_catalog_reports_unknown_category_key(tmp_path):
    (tmp_path / "categories.toml").write_text(
        '[[category]]\nslug = "a"\ntitle = "甲"\ndescription = ""\norder = 1\nicon = "x"\n'
    )
    with pytest.raises(PackageError) as info:
        load_catalog(tmp_path)
    assert any("categories.toml:6:" in str(p) for p in info.value.problems)


def test_toml_syntax_error_names_line(program_dir):
    toml = program_dir / "program.toml"
    toml.write_text(toml.read_text() + "oops = \n")
    assert any("program.toml:" in p and "TOML syntax" in p for p in problems_of(program_dir))


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("../images/x.jpg", "images/x.jpg"),
        ("../../other/images/x.jpg", None),
        ("https://example.com/x.jpg", None),
        ("/etc/passwd", None),
        ("data:image/png;base64,AAAA", None),
    ],
)
def test_page_image_refs_stay_inside_the_program(ref, expected):
    assert page_ref_to_program_path(ref) == expected


# --------------------------------------------------------------------------- Markdown


def test_render_markdown_basic_formatting():
    html = render_markdown("**重要**\n\n- 一\n- 二\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<strong>重要</strong>" in html and "<li>一</li>" in html and "<td>1</td>" in html


def test_render_markdown_strips_script_and_handlers():
    html = render_markdown('你好<script>alert(1)</script>\n\n<img src="x" onerror="alert(1)">')
    # Raw HTML is shown as harmless text: no real tag, no attribute on any element.
    assert "<script" not in html
    assert not re.search(r"<[^>]*onerror", html)
    assert "<img" not in html and "&lt;script&gt;" in html


def test_render_markdown_drops_javascript_links():
    html = render_markdown("[点我](javascript:alert(1)) [走](JaVaScRiPt:alert(1))")
    assert 'href="javascript' not in html.lower()


def test_render_markdown_drops_remote_and_data_images_but_keeps_alt():
    html = render_markdown(
        "![远程](https://evil.example/x.png) ![数据](data:image/png;base64,AAAA) "
        "![协议相对](//evil.example/y.png)"
    )
    assert "<img" not in html
    assert "远程" in html and "数据" in html


def test_render_markdown_keeps_relative_links_only():
    html = render_markdown("[相对](other.html) [远程](https://example.com/)")
    assert '<a href="other.html">相对</a>' in html
    assert "example.com" not in html


def test_render_markdown_rewrites_image_urls():
    seen = []

    def url(path: str) -> str:
        seen.append(path)
        return "/media/p/" + path.removeprefix("../")

    html = render_markdown("![草畜平衡](../images/caoxu.jpg)", image_url=url)
    assert seen == ["../images/caoxu.jpg"]
    assert '<img src="/media/p/images/caoxu.jpg" alt="草畜平衡">' in html


def test_bundled_pages_render_with_their_images(catalog):
    _, programs = catalog
    for program in programs:
        for page in program.pages:
            html = render_markdown(page.markdown, image_url=lambda p: "/x/" + p)
            assert html.count("<img") == len(page.images)
