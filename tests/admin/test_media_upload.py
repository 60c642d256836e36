"""Uploading images from the admin: JSON for the editor's script, a redirect for a plain form,
413/400 with a Chinese message and nothing stored for bad files, permissions and CSRF enforced,
every upload in the audit log."""

from __future__ import annotations

import io
import json
import re

import pytest
from aiohttp import FormData

from tests.helpers import (
    DEMO_VIDEO,
    blank_bomb,
    csrf_of,
    encode,
    jpeg_with_orientation,
    login,
    make_settings,
    photo,
    snapshot,
)
from tv_server import keys
from tv_server.app import create_app

CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def private_data_dir(data_dir):
    """The demo data dir with media folders of its own (the shared ones are links)."""
    for name in ("media", "renditions"):
        (data_dir / name).unlink()
        (data_dir / name).mkdir()
    return data_dir


@pytest.fixture
async def editor(front_client, private_data_dir):
    client = await front_client(create_app(make_settings(private_data_dir)))
    assert (await login(client, "editor")).status == 303
    return client


def form(data: bytes, token: str | None, name="photo.jpg", ctype="image/jpeg", **fields):
    body = FormData()
    if token is not None:
        body.add_field("csrf_token", token)
    for key, value in fields.items():
        body.add_field(key, value)
    # A stream, not raw bytes: aiohttp warns about large raw bodies.
    body.add_field("file", io.BytesIO(data), filename=name, content_type=ctype)
    return body


async def xhr(client, data: bytes, name="photo.jpg", token=None, **fields):
    token = token or await csrf_of(client, "/admin/media")
    return await client.post(
        "/admin/media",
        data=form(data, None, name, **fields),
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )


async def counts(client) -> tuple[int, int]:
    db = client.app[keys.DB]
    return (
        await db.fetchval("SELECT COUNT(*) FROM media"),
        await db.fetchval("SELECT COUNT(*) FROM renditions"),
    )


async def audit(client, action: str) -> list[dict]:
    rows = await client.app[keys.DB].fetchall(
        "SELECT username, outcome, object_id, detail FROM audit_log WHERE action = ? ORDER BY id",
        (action,),
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def test_editor_uploads_a_photo_and_gets_json(editor, private_data_dir):
    response = await xhr(editor, jpeg_with_orientation((1200, 800)))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) >= {"id", "url", "thumb_url", "width", "height"}
    assert (body["width"], body["height"]) == (800, 1200)  # turned upright
    image = await editor.get(body["url"])
    assert image.status == 200
    assert image.content_type == "image/jpeg"
    thumb = await editor.get(body["thumb_url"])
    assert thumb.status == 200
    entry = (await audit(editor, "media.upload"))[-1]
    assert entry["username"] == "editor"
    assert entry["outcome"] == "ok"
    assert entry["object_id"] == str(body["id"])
    assert entry["detail"]["mime"] == "image/jpeg"
    assert len(entry["detail"]["sha256"]) == 64
    assert entry["detail"]["bytes"] > 0


async def test_plain_form_upload_redirects_back_with_the_media_id(editor):
    token = await csrf_of(editor, "/admin/media")
    data = encode(photo((640, 480)), "PNG")
    response = await editor.post(
        "/admin/media",
        data=form(data, token, "diagram.png", "image/png", next="/admin/media?kind=image"),
        allow_redirects=False,
    )
    assert response.status == 303
    location = response.headers["Location"]
    media_id = int(re.search(r"[?&]media=(\d+)", location).group(1))
    assert location.startswith("/admin/media?")
    page = await editor.get(location)
    html = await page.text()
    assert f'id="media-{media_id}"' in html
    assert "640 × 480" in html


async def test_form_never_redirects_off_the_admin(editor):
    token = await csrf_of(editor, "/admin/media")
    response = await editor.post(
        "/admin/media",
        data=form(jpeg_with_orientation(), token, next="https://evil.example/"),
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"].startswith("/admin/media?media=")


BAD = [
    pytest.param(b"just some text, renamed\n" * 40, "upload_not_image", id="text-as-jpg"),
    pytest.param(jpeg_with_orientation()[:2500], "upload_truncated", id="truncated"),
    pytest.param(blank_bomb(), "upload_bomb", id="bomb"),
]


@pytest.mark.parametrize(("data", "code"), BAD)
async def test_bad_file_is_400_with_a_message_and_nothing_stored(
    editor, private_data_dir, data, code
):
    before, files = await counts(editor), snapshot(private_data_dir / "media")
    response = await xhr(editor, data, "holiday.jpg")
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == code
    assert CHINESE.search(error["message"]), error
    assert await counts(editor) == before
    assert snapshot(private_data_dir / "media") == files
    assert not any((private_data_dir / "renditions").rglob("*.*"))
    assert (await audit(editor, "media.upload"))[-1]["outcome"] == "failed"


async def test_bad_file_in_a_plain_form_shows_the_page_again(editor):
    token = await csrf_of(editor, "/admin/media")
    response = await editor.post(
        "/admin/media", data=form(b"not an image at all" * 10, token, "letter.jpg")
    )
    assert response.status == 400
    html = await response.text()
    assert 'role="alert"' in html
    assert "JPEG、PNG 或 WebP" in html
    assert "letter.jpg" in html  # what was chosen is named again


async def test_oversize_upload_is_413_with_a_chinese_message(front_client, private_data_dir):
    client = await front_client(
        create_app(make_settings(private_data_dir, upload_max_bytes=50_000))
    )
    await login(client, "editor")
    before = await counts(client)
    data = encode(photo((600, 450)), "PNG")
    assert len(data) > 50_000
    response = await xhr(client, data, "big.png")
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "upload_too_large"
    assert "最大" in error["message"]
    assert await counts(client) == before
    assert not any((private_data_dir / "media").rglob("*.*"))
    token = await csrf_of(client, "/admin/media")
    page = await client.post("/admin/media", data=form(data, token, "big.png", "image/png"))
    assert page.status == 413
    assert "最大" in await page.text()


async def test_viewer_may_not_upload_and_the_refusal_is_audited(client, admin_as):
    await admin_as("viewer")
    token = await csrf_of(client, "/admin/")
    response = await client.post(
        "/admin/media",
        data=form(jpeg_with_orientation(), None),
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 403
    denied = await client.app[keys.DB].fetchall(
        "SELECT username, outcome, action FROM audit_log WHERE outcome = 'denied'"
    )
    assert ("viewer", "denied", "program.edit") in [tuple(r) for r in denied]


async def test_upload_without_csrf_is_refused(editor):
    before = await counts(editor)
    response = await editor.post("/admin/media", data=form(jpeg_with_orientation(), None))
    assert response.status == 403
    assert await counts(editor) == before


async def test_video_upload(editor):
    response = await xhr(editor, DEMO_VIDEO.read_bytes(), "clip.mp4", kind="video")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["url"].endswith(".mp4")
    assert body["thumb_url"] is None
    response = await xhr(editor, jpeg_with_orientation(), "clip.mp4", kind="video")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "upload_not_mp4"
