"""Renditions: fit without upscaling, EXIF handled, bombs refused, cached by content."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from content.programs import renditions
from content.programs.renditions import (
    COVER_SPECS,
    PAGE_IMAGE_SPECS,
    ImageTooLargeError,
    RenditionError,
    RenditionSpec,
    make_all,
    make_rendition,
)


def make_jpeg(path: Path, size, colour=(200, 40, 40), exif=None) -> Path:
    im = Image.new("RGB", size, colour)
    # Mark the top-left corner so orientation can be checked.
    im.paste((0, 0, 255), (0, 0, size[0] // 4, size[1] // 4))
    kwargs = {"exif": exif} if exif is not None else {}
    im.save(path, "JPEG", quality=90, **kwargs)
    return path


def test_specs_match_the_canvas():
    assert [(s.max_width, s.max_height) for s in PAGE_IMAGE_SPECS.values()] == [
        (560, 420), (840, 630), (1680, 1260)
    ]  # fmt: skip
    assert [(s.max_width, s.max_height) for s in COVER_SPECS.values()] == [
        (1280, 720), (1920, 1080), (3840, 2160)
    ]  # fmt: skip


def test_fits_inside_box_and_keeps_aspect_ratio(tmp_path):
    src = make_jpeg(tmp_path / "wide.jpg", (2000, 1000))
    out = make_rendition(src, PAGE_IMAGE_SPECS["720p"], tmp_path / "cache")
    with Image.open(out) as im:
        assert im.size == (560, 280)
        assert im.format == "JPEG"
        assert not im.info.get("progressive")


def test_never_upscales(tmp_path):
    src = make_jpeg(tmp_path / "small.jpg", (300, 200))
    paths = make_all(src, COVER_SPECS, tmp_path / "cache")
    for path in paths.values():
        with Image.open(path) as im:
            assert im.size == (300, 200)


def test_honours_exif_orientation_and_strips_exif(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    exif[0x010F] = "CameraMaker"
    src = make_jpeg(tmp_path / "rotated.jpg", (400, 200), exif=exif)
    out = make_rendition(src, PAGE_IMAGE_SPECS["720p"], tmp_path / "cache")
    with Image.open(out) as im:
        assert im.size == (200, 400)  # now portrait
        assert not im.getexif()
        assert "exif" not in im.info
        # The blue corner, top-left in storage, is top-right once displayed upright.
        r, g, b = im.convert("RGB").getpixel((im.width - 10, 10))
        assert b > 150 and r < 100


def test_png_with_transparency_becomes_rgb_jpeg(tmp_path):
    src = tmp_path / "alpha.png"
    Image.new("RGBA", (100, 100), (0, 0, 0, 0)).save(src)
    out = make_rendition(src, PAGE_IMAGE_SPECS["720p"], tmp_path / "cache")
    with Image.open(out) as im:
        assert im.mode == "RGB"
        assert im.getpixel((50, 50)) == (255, 255, 255)


def test_webp_spec(tmp_path):
    src = make_jpeg(tmp_path / "a.jpg", (1000, 1000))
    out = make_rendition(src, RenditionSpec("page-webp", 560, 420, "WEBP"), tmp_path / "c")
    assert out.suffix == ".webp"
    with Image.open(out) as im:
        assert im.format == "WEBP" and im.size == (420, 420)


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "size", [(6400, renditions.MAX_PIXELS // 6400 + 1), (9000, 9000), (60000, 60000)]
)
def test_refuses_real_bomb_header(tmp_path, size):
    # A tiny PNG claiming a row over the limit, 81 MP or 3.6 GP: each refused with our own
    # exception, before any pixel is decoded and before anything is written to the cache.
    src = tmp_path / "huge.png"
    src.write_bytes(_png_header(*size))
    with pytest.raises(ImageTooLargeError):
        make_rendition(src, PAGE_IMAGE_SPECS["720p"], tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_refuses_non_image(tmp_path):
    src = tmp_path / "fake.jpg"
    src.write_text("not an image")
    with pytest.raises(RenditionError):
        make_rendition(src, PAGE_IMAGE_SPECS["720p"], tmp_path / "cache")


def test_second_call_is_a_cache_hit_not_made_again(tmp_path):
    src = make_jpeg(tmp_path / "a.jpg", (1200, 900))
    spec = PAGE_IMAGE_SPECS["1080p"]
    first = make_rendition(src, spec, tmp_path / "cache")
    os.utime(first, (1_000_000_000, 1_000_000_000))
    second = make_rendition(src, spec, tmp_path / "cache")
    assert second == first
    assert second.stat().st_mtime == 1_000_000_000


def test_cache_key_is_content_not_name(tmp_path):
    a = make_jpeg(tmp_path / "a.jpg", (800, 600))
    b = tmp_path / "copy-of-a.jpg"
    b.write_bytes(a.read_bytes())
    c = make_jpeg(tmp_path / "c.jpg", (800, 600), colour=(10, 200, 10))
    spec = PAGE_IMAGE_SPECS["720p"]
    cache = tmp_path / "cache"
    assert make_rendition(a, spec, cache) == make_rendition(b, spec, cache)
    assert make_rendition(c, spec, cache) != make_rendition(a, spec, cache)
    assert make_rendition(a, PAGE_IMAGE_SPECS["1080p"], cache) != make_rendition(a, spec, cache)


def test_no_temp_files_left_behind(tmp_path):
    src = make_jpeg(tmp_path / "a.jpg", (800, 600))
    make_all(src, PAGE_IMAGE_SPECS, tmp_path / "cache")
    names = [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert len(names) == 3 and not any(n.startswith(".tmp") for n in names)
