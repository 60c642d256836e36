"""Upload limits through the real server: an editor's phone photo (6 MB) and a real video (50 MB)
get in, streamed to disk; one byte over a limit is 413 with the Chinese message as soon as it is
passed and leaves nothing behind; bytes that are not what the name says are refused; and every
route that takes no files keeps the small body limit (nobody posts 2 GB to the login form)."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import time
import tracemalloc
from pathlib import Path

import pytest
from aiohttp import FormData
from PIL import Image

from tests.helpers import ROOT, csrf_of, login, make_settings
from tv_server import keys
from tv_server.app import create_app

MiB = 1024 * 1024


@pytest.fixture
def private_data_dir(data_dir):
    """The demo data dir with media folders of its own (the shared ones are links)."""
    for name in ("media", "renditions"):
        (data_dir / name).unlink()
        (data_dir / name).mkdir()
    return data_dir


async def editor_client(front_client, data_dir: Path, **overrides):
    client = await front_client(create_app(make_settings(data_dir, **overrides)))
    assert (await login(client, "editor")).status == 303
    return client


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def phone_photo(path: Path) -> int:
    """A 4000×3000 photo-like JPEG (gradients under noise: it does not compress small)."""
    w, h = 4000, 3000
    ramp = Image.linear_gradient("L").resize((w, h))
    base = Image.merge(
        "RGB",
        (ramp, ramp.transpose(Image.Transpose.ROTATE_90).resize((w, h)),
         ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    )  # fmt: skip
    noise = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    Image.blend(base, noise, 0.3).save(path, "JPEG", quality=92)
    return path.stat().st_size


def fifty_megabyte_video(path: Path) -> int:
    """16 s of testsrc2 and a sine tone at 26 Mbit/s constant rate: about 50 MB of H.264 MP4."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "16",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-b:v", "26M", "-minrate", "26M", "-maxrate", "26M", "-bufsize", "4M",
         "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-b:a", "128k", "-shortest", str(path)],
        check=True, timeout=300,
    )  # fmt: skip
    return path.stat().st_size


def poster_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1280, 720), (40, 90, 150)).save(out, "JPEG", quality=85)
    return out.getvalue()


def program_form(token: str, body: str, **extra: str) -> FormData:
    data = FormData(quote_fields=False)  # file names in UTF-8, as browsers send them
    fields = {"csrf_token": token, "title": "手机拍的合同", "summary": "上传测试",
              "category": "caoyuan-tudi", "language": "zh", "regions": "1506", "body": body,
              **extra}  # fmt: skip
    for key, value in fields.items():
        data.add_field(key, value)
    return data


async def test_a_six_megabyte_phone_photo_becomes_a_program_image_with_renditions(
    front_client, private_data_dir, tmp_path
):
    client = await editor_client(front_client, private_data_dir)
    size = phone_photo(tmp_path / "IMG_20261205.jpg")
    assert size > 6 * MiB  # more than six times the old 1 MiB cap
    token = await csrf_of(client, "/admin/programs/new")
    data = program_form(token, "# 合同\n\n![合同](../images/img_20261205.jpg)\n\n看清条款。\n")
    with (tmp_path / "IMG_20261205.jpg").open("rb") as fh:
        data.add_field("images", fh, filename="IMG_20261205.jpg", content_type="image/jpeg")
        response = await client.post("/admin/programs/new", data=data, allow_redirects=False)
    assert response.status == 303, await response.text()
    pid = int(re.search(r"/programs/(\d+)", response.headers["Location"]).group(1))
    edit = await (await client.get(f"/admin/programs/{pid}")).text()
    assert "../images/img_20261205.jpg" in edit
    db = client.app[keys.DB]
    media = await db.fetchone(
        "SELECT id, file, width, height, bytes FROM media WHERE original_name = ?",
        ("IMG_20261205.jpg",),
    )
    assert (media["width"], media["height"]) == (4000, 3000)
    assert (private_data_dir / media["file"]).stat().st_size == media["bytes"]
    specs = {
        r["spec"]: r["file"]
        for r in await db.fetchall(
            "SELECT spec, file FROM renditions WHERE media_id = ?", (media["id"],)
        )
    }
    assert {"page-720p", "page-1080p", "thumb-720p"} <= set(specs)
    for file in specs.values():
        assert (private_data_dir / file).is_file()
    # The rendition the TV shows is served, small, by the real server.
    page = await client.get(f"/media/{specs['page-720p']}")
    assert page.status == 200 and len(await page.read()) < size / 4
    assert files_under(private_data_dir / "tmp") == []


async def test_a_fifty_megabyte_video_is_streamed_to_disk_and_stored(
    front_client, private_data_dir, tmp_path
):
    client = await editor_client(front_client, private_data_dir)
    token = await csrf_of(client, "/admin/programs/new")
    created = await client.post(
        "/admin/programs/new", data=program_form(token, "# 视频\n\n正文。\n"), allow_redirects=False
    )
    pid = int(re.search(r"/programs/(\d+)", created.headers["Location"]).group(1))
    video = tmp_path / "庭审录像.mp4"
    size = fifty_megabyte_video(video)
    assert size > 45 * MiB
    edit = await (await client.get(f"/admin/programs/{pid}")).text()
    revision = re.search(r'name="revision" value="(\d+)"', edit).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', edit).group(1)
    data = program_form(token, "# 视频\n\n正文。\n", revision=revision)
    data.add_field("poster", poster_jpeg(), filename="poster.jpg", content_type="image/jpeg")
    tracemalloc.start()
    try:
        with video.open("rb") as fh:  # the client streams the file too
            data.add_field("video", fh, filename=video.name, content_type="video/mp4")
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()
            response = await client.post(f"/admin/programs/{pid}", data=data,
                                         allow_redirects=False)  # fmt: skip
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 303, await response.text()
    growth = peak - before
    print(f"\n50 MB video upload: peak traced Python memory grew by {growth / MiB:.1f} MiB")
    assert growth < 8 * MiB  # never the whole body (about 50 MiB) in memory
    row = await client.app[keys.DB].fetchone(
        "SELECT file, bytes, mime, original_name FROM media WHERE kind = 'video' ORDER BY id DESC"
    )
    assert (row["original_name"], row["mime"], row["bytes"]) == (video.name, "video/mp4", size)
    assert (private_data_dir / row["file"]).read_bytes() == video.read_bytes()
    page = await (await client.get(f"/admin/programs/{pid}")).text()
    assert video.name in page and "16" in page  # the side panel: name and duration
    assert files_under(private_data_dir / "tmp") == []


async def _post_media(client, data: bytes, name: str, ctype: str, kind: str):
    token = await csrf_of(client, "/admin/media")
    form = FormData()
    form.add_field("kind", kind)
    form.add_field("file", io.BytesIO(data), filename=name, content_type=ctype)
    return await client.post("/admin/media", data=form, headers={"X-CSRF-Token": token})


@pytest.mark.parametrize(
    ("kind", "setting", "head", "name", "ctype"),
    [
        ("image", "upload_max_bytes", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "big.jpg", "image/jpeg"),
        ("video", "video_upload_max_bytes", b"\x00\x00\x00\x18ftypisom", "big.mp4", "video/mp4"),
    ],
)
async def test_one_byte_over_a_limit_is_413_in_chinese_and_leaves_nothing(
    front_client, private_data_dir, kind, setting, head, name, ctype
):
    limit = 300_000
    client = await editor_client(front_client, private_data_dir, **{setting: limit})
    before = files_under(private_data_dir / "media")
    over = head + bytes(limit + 1 - len(head))
    response = await _post_media(client, over, name, ctype, kind)
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "upload_too_large" and "文件太大" in error["message"]
    # Exactly at the limit the size passes (the bytes are then judged: not a whole file).
    response = await _post_media(client, over[:-1], name, ctype, kind)
    assert response.status == 400
    assert files_under(private_data_dir / "media") == before
    assert files_under(private_data_dir / "tmp") == []
    # The program form says it in Chinese next to the form, with the same status.
    token = await csrf_of(client, "/admin/programs/new")
    data = program_form(token, "# 标题\n\n正文。\n")
    data.add_field("video" if kind == "video" else "cover", io.BytesIO(over), filename=name,
                   content_type=ctype)  # fmt: skip
    response = await client.post("/admin/programs/new", data=data, allow_redirects=False)
    assert response.status == 413
    page = await response.text()
    assert "上传的文件太大" in page and "手机拍的合同" in page  # the typed title is kept
    assert files_under(private_data_dir / "media") == before
    assert files_under(private_data_dir / "tmp") == []


async def test_the_413_comes_while_the_body_is_still_streaming(front_client, private_data_dir):
    """A client announcing 2 GB gets its 413 once the limit is passed, not after 2 GB."""
    limit = 200_000
    client = await editor_client(front_client, private_data_dir, upload_max_bytes=limit)
    token = await csrf_of(client, "/admin/media")
    cookies = "; ".join(f"{m.key}={m.value}" for m in client.session.cookie_jar)
    boundary = "legaltv-limit-test"
    start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nimage\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="huge.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()
    head = (
        f"POST /admin/media HTTP/1.1\r\nHost: {client.host}\r\nCookie: {cookies}\r\n"
        f"X-CSRF-Token: {token}\r\nContent-Length: {2 * 1024**3}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        # Past the limit (and a little more: the multipart reader holds back its latest chunk
        # while it looks for the boundary) …
        writer.write(head + start + b"\xff\xd8\xff\xe0" + bytes(limit + 1024 * 1024))
        await writer.drain()  # … and the other 2 GB never come
        status = await asyncio.wait_for(reader.readline(), 10)
        assert status.startswith(b"HTTP/1.1 413"), status
        answer = await asyncio.wait_for(reader.read(65536), 10)
        assert b"upload_too_large" in answer
    finally:
        writer.close()
    assert files_under(private_data_dir / "tmp") == []
    assert files_under(private_data_dir / "media") == []


@pytest.mark.parametrize(
    ("kind", "name", "content", "code"),
    [
        ("image", "photo.jpg", "mp4", "upload_not_image"),  # a video named as a photo
        ("video", "clip.mp4", "jpeg", "upload_not_mp4"),  # a photo named as a video
        ("image", "photo.jpg", "html", "upload_not_image"),  # a web page named as a photo
        ("video", "clip.mp4", "zip", "upload_not_mp4"),
        ("video", "clip.jpg", "real-mp4", "upload_not_mp4"),  # a real video, a photo's name
    ],
)
async def test_bytes_that_are_not_what_the_name_says_are_refused(
    front_client, private_data_dir, kind, name, content, code
):
    client = await editor_client(front_client, private_data_dir)
    payload = {
        "mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(5000),
        "jpeg": poster_jpeg(),
        "html": b"<!doctype html><script>alert(1)</script>" + bytes(5000),
        "zip": b"PK\x03\x04" + bytes(5000),
        "real-mp4": (ROOT / "content/catalog/fang-dianxin-zhapian/media/video.mp4").read_bytes(),
    }[content]
    before = files_under(private_data_dir / "media")
    response = await _post_media(client, payload, name, "application/octet-stream", kind)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == code
    assert files_under(private_data_dir / "media") == before
    assert files_under(private_data_dir / "tmp") == []


async def test_a_program_image_whose_bytes_are_a_web_page_is_refused(
    front_client, private_data_dir
):
    client = await editor_client(front_client, private_data_dir)
    token = await csrf_of(client, "/admin/programs/new")
    data = program_form(token, "# 标题\n\n正文。\n")
    data.add_field("images", io.BytesIO(b"<html>" + bytes(3000)), filename="scan.jpg",
                   content_type="image/jpeg")  # fmt: skip
    response = await client.post("/admin/programs/new", data=data, allow_redirects=False)
    assert response.status == 400
    assert "不是JPEG、PNG或WebP图片" in await response.text()
    assert files_under(private_data_dir / "media") == []


BIG = 2 * MiB  # twice the small body limit


@pytest.mark.parametrize(
    "path",
    [
        "/admin/login",  # anonymous
        "/tv/b/cb-submit",  # the TV's callback form
        "/api/v1/devices/DEMO-0001/heartbeat",
        "/open311/v2/requests.json",
        "/admin/programs/1/workflow",  # a signed-in admin form without files
    ],
)
async def test_routes_without_files_keep_the_small_body_limit(front_client, data_dir, path):
    client = await editor_client(front_client, data_dir)
    response = await client.post(
        path,
        data=io.BytesIO(b"a=" + b"x" * BIG),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
    )
    assert response.status in (413, 401, 403, 404), response.status
    if response.status == 413 or path.startswith("/admin"):
        assert response.status == 413


async def test_a_stranger_cannot_stream_a_file_to_the_upload_routes(front_client, private_data_dir):
    client = await front_client(create_app(make_settings(private_data_dir)))
    data = FormData()
    data.add_field("file", io.BytesIO(b"\xff\xd8\xff" + bytes(BIG)), filename="a.jpg")
    response = await client.post("/admin/media", data=data, allow_redirects=False)
    assert response.status == 302 and "/admin/login" in response.headers["Location"]
    assert files_under(private_data_dir / "tmp") == []
    assert files_under(private_data_dir / "media") == []


async def test_a_file_before_the_csrf_token_is_refused_before_it_reaches_the_disk(
    front_client, private_data_dir
):
    client = await editor_client(front_client, private_data_dir)
    token = await csrf_of(client, "/admin/media")
    data = FormData()
    data.add_field("file", io.BytesIO(b"\xff\xd8\xff" + bytes(BIG)), filename="a.jpg",
                   content_type="image/jpeg")  # fmt: skip
    data.add_field("csrf_token", token)
    response = await client.post("/admin/media", data=data)
    assert response.status == 403
    no_token = FormData()
    no_token.add_field("file", io.BytesIO(b"\xff\xd8\xff" + bytes(1000)), filename="a.jpg")
    assert (await client.post("/admin/media", data=no_token)).status == 403
    assert files_under(private_data_dir / "tmp") == []
    assert files_under(private_data_dir / "media") == []


async def test_uploads_a_crash_left_behind_are_swept_at_start(front_client, private_data_dir):
    stale = private_data_dir / "tmp" / "upload-crashed"
    fresh = private_data_dir / "tmp" / "upload-in-progress"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
        (folder / "01.mp4").write_bytes(bytes(1000))
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(stale, (two_days_ago, two_days_ago))
    await front_client(create_app(make_settings(private_data_dir)))
    assert not stale.exists() and (fresh / "01.mp4").is_file()
