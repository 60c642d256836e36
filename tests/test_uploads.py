"""Uploads: the real type judged from the bytes, bombs and broken files refused with nothing
stored, photos turned upright without EXIF, every rendition made before the row is written, and
WebP page images for the boxes whose model decodes WebP."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from content.programs import renditions, uploads
from content.programs.live import THUMB_SPECS
from storage import Database, Invalid
from tests.helpers import (
    DEMO_VIDEO,
    blank_bomb,
    encode,
    enter,
    jpeg_with_orientation,
    photo,
    snapshot,
)
from tv_server import keys
from tv_server.migrations import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` × `height` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture
async def db(tmp_path):
    database = Database(tmp_path / "data" / "legaltv.sqlite3")
    await database.open()
    await database.migrate(MIGRATIONS)
    yield database
    await database.close()


async def counts(db) -> tuple[int, int]:
    return (
        await db.fetchval("SELECT COUNT(*) FROM media"),
        await db.fetchval("SELECT COUNT(*) FROM renditions"),
    )


async def store(db, data: bytes, name="photo.jpg", *, max_bytes=20 * 2**20, kind="image"):
    data_dir = db.path.parent
    return await uploads.store_upload(db, data_dir, name, data, max_bytes=max_bytes, kind=kind)


async def test_photo_is_stored_upright_without_exif_with_every_rendition(db):
    data_dir = db.path.parent
    media_id = await store(db, jpeg_with_orientation((3000, 2000), 6))
    info = await uploads.media_info(db, media_id)
    assert (info["width"], info["height"]) == (2000, 3000)
    assert info["mime"] == "image/jpeg"
    assert info["original_name"] == "photo.jpg"
    with Image.open(data_dir / info["file"]) as im:
        assert im.size == (2000, 3000)
        assert not im.getexif()
        assert "exif" not in im.info
        # Orientation 6 turns the picture a quarter clockwise: the marker is now top right.
        marker = im.convert("RGB").getpixel((im.width - 10, 10))
        assert marker[2] > 200 and marker[0] < 60, marker
    expected = {
        "page-720p": (280, 420),
        "page-1080p": (420, 630),
        "page-2160p": (840, 1260),
        "cover-720p": (480, 720),
        "cover-1080p": (720, 1080),
        "cover-2160p": (1440, 2160),
        "thumb-720p": (141, 212),
    }
    for name, size in expected.items():
        for spec, fmt in ((name, "JPEG"), (name + "-webp", "WEBP")):
            rendition = info["renditions"][spec]
            assert (rendition["width"], rendition["height"]) == size, spec
            with Image.open(data_dir / rendition["url"].removeprefix("/media/")) as im:
                assert im.format == fmt, spec
                assert im.size == size, spec
                assert not im.getexif(), spec
                if fmt == "JPEG":
                    assert not im.info.get("progressive"), spec
    assert len(info["renditions"]) == len(uploads.UPLOAD_SPECS) == 18
    assert (
        await uploads.rendition_url(db, media_id, "page-1080p-webp")
        == (info["renditions"]["page-1080p-webp"]["url"])
    )
    assert await uploads.rendition_url(db, media_id, "no-such-spec") is None


async def test_renditions_are_where_publishing_looks_for_them(db):
    """A later make_rendition of the stored original is a cache hit on the same file."""
    data_dir = db.path.parent
    info = await uploads.media_info(db, await store(db, jpeg_with_orientation()))
    original = data_dir / info["file"]
    for spec in (*renditions.PAGE_IMAGE_SPECS.values(), *renditions.COVER_WEBP_SPECS.values()):
        path = renditions.make_rendition(original, spec, data_dir / "renditions")
        assert f"/media/{path.relative_to(data_dir)}" == info["renditions"][spec.name]["url"]


@pytest.mark.parametrize("size", [(1000, 1000), (4000, 3000), (3001, 1999), (7, 5000), (5000, 7)])
@pytest.mark.parametrize("spec", [*renditions.COVER_SPECS.values(), *THUMB_SPECS.values()])
def test_sizes_match_pillow_thumbnail(size, spec):
    box = (spec.max_width, spec.max_height)
    im = Image.new("L", size)
    im.thumbnail(box)
    assert uploads.fit_size(size, box) == im.size


@pytest.mark.parametrize(
    ("fmt", "mime", "suffix"),
    [("PNG", "image/png", ".png"), ("WEBP", "image/webp", ".webp")],
)
async def test_png_and_webp_are_accepted(db, fmt, mime, suffix):
    data = encode(photo((800, 600)).convert("RGBA"), fmt)
    info = await uploads.media_info(db, await store(db, data, "picture.bin"))
    assert info["mime"] == mime
    assert info["file"].endswith(suffix)
    assert (info["width"], info["height"]) == (800, 600)
    assert info["renditions"]["page-720p"]["width"] == 560


async def test_the_same_picture_twice_is_one_media_row(db):
    data = jpeg_with_orientation()
    assert await store(db, data) == await store(db, data, "again.jpg")
    assert (await counts(db))[0] == 1


BAD_IMAGES = [
    pytest.param(b"Hello, this is a letter, not a picture.\n" * 20, "upload_not_image", id="text"),
    pytest.param(b"GIF89a" + b"\x00" * 200, "upload_not_image", id="gif"),
    pytest.param(encode(Image.new("RGB", (50, 50)), "BMP"), "upload_not_image", id="bmp"),
    pytest.param(jpeg_with_orientation()[:3000], "upload_truncated", id="truncated-jpeg"),
    pytest.param(encode(photo((300, 200)), "PNG")[:-400], "upload_truncated", id="truncated-png"),
    pytest.param(png_claiming(50_000, 50_000), "upload_bomb", id="png-claims-2.5-gigapixels"),
    pytest.param(blank_bomb(), "upload_bomb", id="blank-48-megapixels"),
]


@pytest.mark.parametrize(("data", "code"), BAD_IMAGES)
async def test_bad_images_are_refused_and_nothing_is_stored(db, data, code):
    await store(db, jpeg_with_orientation((300, 200)))  # something already there
    before_rows, before_files = await counts(db), snapshot(db.path.parent)
    with pytest.raises(Invalid) as caught:
        await store(db, data, "holiday.jpg")
    assert caught.value.code == code
    assert await counts(db) == before_rows
    assert snapshot(db.path.parent) - before_files <= {
        "legaltv.sqlite3-wal",
        "legaltv.sqlite3-shm",
    }


async def test_too_large_is_refused_before_decoding(db):
    with pytest.raises(Invalid) as caught:
        await store(db, jpeg_with_orientation(), max_bytes=1000)
    assert caught.value.code == "upload_too_large"
    assert await counts(db) == (0, 0)


async def test_mp4_with_h264_is_accepted_as_video(db):
    data = DEMO_VIDEO.read_bytes()
    info = await uploads.media_info(db, await store(db, data, "clip.mp4", kind="video"))
    assert info["kind"] == "video"
    assert info["mime"] == "video/mp4"
    assert info["renditions"] == {}
    assert (db.path.parent / info["file"]).read_bytes() == data


def _without_h264(data: bytes) -> bytes:
    stsd = data.index(b"stsd")
    return data[:stsd] + data[stsd:].replace(b"avc1", b"hev1", 1)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        pytest.param(lambda d: d[: len(d) // 2], "upload_truncated", id="truncated"),
        # An H.265 label on H.264 bytes: ffprobe names a codec, FFmpeg cannot decode a frame.
        pytest.param(_without_h264, "video_unreadable", id="hevc-label-on-h264-bytes"),
        pytest.param(lambda d: jpeg_with_orientation(), "upload_not_mp4", id="a-jpeg"),
        pytest.param(lambda d: b"\x00\x00\x00\x08free" + d[8:], "upload_truncated", id="no-ftyp"),
        pytest.param(lambda d: b"RIFF\x00\x00\x00\x00AVI LIST" * 4, "upload_not_mp4", id="avi"),
    ],
)
async def test_bad_videos_are_refused(db, mutate, code):
    with pytest.raises(Invalid) as caught:
        await store(db, mutate(DEMO_VIDEO.read_bytes()), "clip.mp4", kind="video")
    assert caught.value.code == code
    assert await counts(db) == (0, 0)
    assert not (db.path.parent / "media").exists()


async def test_video_over_the_limit_is_refused(db):
    with pytest.raises(Invalid) as caught:
        await store(db, DEMO_VIDEO.read_bytes(), "clip.mp4", kind="video", max_bytes=100_000)
    assert caught.value.code == "upload_too_large"


# -- WebP on the TV ----------------------------------------------------------------------------

IMG_SRC = re.compile(r'<img [^>]*src="([^"]+)"')


async def test_webp_boxes_get_webp_page_images_and_others_jpeg(client):
    db = client.app[keys.DB]
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE device_models SET webp = 1 WHERE model = (SELECT model FROM devices"
            " WHERE serial = 'DEMO-0001')"
        )
    webp_box = await enter(client, "DEMO-0001")
    serial = await db.fetchval(
        "SELECT d.serial FROM devices d JOIN device_models m ON m.model = d.model"
        " WHERE m.webp = 0 AND d.serial LIKE 'DEMO-%'"
        " AND d.village_code = (SELECT village_code FROM devices WHERE serial = 'DEMO-0001')"
        " ORDER BY d.serial LIMIT 1"
    )
    assert serial, "the demo has a box of another model in the same village"
    jpeg_box = await enter(client, serial)
    pid, number = await db.fetchone(
        "SELECT program_id, number FROM program_pages WHERE markdown LIKE '%![%'"
        " ORDER BY program_id, number LIMIT 1"
    )
    for base, suffix in ((webp_box, ".webp"), (jpeg_box, ".jpg")):
        html = await (await client.get(f"{base}p-{pid}-{number}")).text()
        sources = IMG_SRC.findall(html)
        assert sources, html
        assert all(src.endswith(suffix) for src in sources), (suffix, sources)
