"""Content packages in the admin: an editor uploads a zip and sees what was imported (new
programs wait for review), a broken zip shows every problem by file and line with nothing
written, a viewer may download but not import (403, audited), uploads are size-limited."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from aiohttp import FormData

from content.programs import export
from tests.helpers import CATALOG, csrf_of, login, make_settings, tree
from tv_server import keys
from tv_server.app import create_app

PAGE = "/admin/packages"


@pytest.fixture
def private_data_dir(data_dir):
    """The demo data dir with media folders of its own (the shared ones are links)."""
    for name in ("media", "renditions", "titlecards"):
        (data_dir / name).unlink()
        (data_dir / name).mkdir()
    return data_dir


async def signed_in(front_client, data_dir, username: str, **settings):
    client = await front_client(create_app(make_settings(data_dir, **settings)))
    assert (await login(client, username)).status == 303
    return client


def package_zip(tmp_path, *, slug: str = "xin-jiemu", category: str | None = None) -> bytes:
    """A zip with categories.toml and one new program (a copy of yichan-jicheng)."""
    files = {"categories.toml": (CATALOG / "categories.toml").read_bytes()}
    for rel, data in tree(CATALOG / "yichan-jicheng").items():
        if rel == "program.toml":
            data = data.replace(b"yichan-jicheng", slug.encode())
            if category:
                data = re.sub(rb'category = ".*"', f'category = "{category}"'.encode(), data)
        files[f"{slug}/{rel}"] = data
    return export.zip_files(files)


async def upload(client, data: bytes, name: str = "bao.zip", **fields):
    body = FormData()
    body.add_field("csrf_token", await csrf_of(client, PAGE))
    for key, value in fields.items():
        body.add_field(key, value)
    body.add_field("file", io.BytesIO(data), filename=name, content_type="application/zip")
    return await client.post(f"{PAGE}/import", data=body)


async def audit(client, action: str) -> list[dict]:
    rows = await client.app[keys.DB].fetchall(
        "SELECT username, outcome, detail FROM audit_log WHERE action = ? ORDER BY id", (action,)
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def count(client, table: str) -> int:
    return await client.app[keys.DB].fetchval(f"SELECT COUNT(*) FROM {table}")


async def test_editor_uploads_a_package_and_sees_what_was_imported(
    front_client, private_data_dir, tmp_path
):
    client = await signed_in(front_client, private_data_dir, "editor")
    page = await client.get(PAGE)
    assert page.status == 200
    assert "导入内容包" in await page.text()
    response = await upload(client, package_zip(tmp_path))
    html = await response.text()
    assert response.status == 200, html
    assert "已导入：bao.zip" in html
    assert "xin-jiemu" in html
    assert "已存为草稿，待审核" in html  # an editor cannot put programs on the TV
    db = client.app[keys.DB]
    row = await db.fetchone("SELECT id, status FROM programs WHERE slug = 'xin-jiemu'")
    assert row["status"] == "draft"
    entries = await audit(client, "content.import")
    assert entries[-1]["username"] == "editor" and entries[-1]["outcome"] == "ok"
    assert entries[-1]["detail"]["draft"] == 1
    per_program = await audit(client, "program.import")
    assert per_program[-1]["detail"]["slug"] == "xin-jiemu"


async def test_admin_may_publish_directly(front_client, private_data_dir, tmp_path):
    client = await signed_in(front_client, private_data_dir, "admin")
    response = await upload(client, package_zip(tmp_path), publish="1")
    assert response.status == 200
    assert "已上线" in await response.text()
    db = client.app[keys.DB]
    assert await db.fetchval("SELECT status FROM programs WHERE slug = 'xin-jiemu'") == "published"


async def test_a_broken_package_is_reported_by_file_and_line_and_nothing_written(
    front_client, private_data_dir, tmp_path
):
    client = await signed_in(front_client, private_data_dir, "editor")
    before = [await count(client, t) for t in ("programs", "media", "program_revisions")]
    response = await upload(client, package_zip(tmp_path, category="no-such"))
    html = await response.text()
    assert response.status == 400
    assert "没有导入任何内容" in html
    assert "bao.zip/xin-jiemu/program.toml" in html
    assert re.search(r"<td><code>bao.zip/xin-jiemu/program.toml</code></td><td>4</td>", html)
    assert "unknown category" in html
    after = [await count(client, t) for t in ("programs", "media", "program_revisions")]
    assert after == before
    assert not any((private_data_dir / "media").rglob("*.jpg"))
    assert (await audit(client, "content.import"))[-1]["outcome"] == "failed"


async def test_a_zip_slip_upload_is_refused(front_client, private_data_dir):
    client = await signed_in(front_client, private_data_dir, "editor")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../../evil.toml", "x = 1")
    response = await upload(client, buffer.getvalue())
    assert response.status == 400
    assert "unsafe path refused" in await response.text()


async def test_viewer_cannot_import_and_is_audited(front_client, private_data_dir, tmp_path):
    client = await signed_in(front_client, private_data_dir, "viewer")
    page = await (await client.get(PAGE)).text()
    assert "上传并导入" not in page
    response = await upload(client, package_zip(tmp_path))
    assert response.status == 403
    denied = [e for e in await audit(client, "program.edit") if e["outcome"] == "denied"]
    assert denied and denied[-1]["username"] == "viewer"
    assert (
        await client.app[keys.DB].fetchval("SELECT COUNT(*) FROM programs WHERE slug = 'xin-jiemu'")
        == 0
    )


async def test_viewer_downloads_a_program_as_a_zip(front_client, data_dir):
    client = await signed_in(front_client, data_dir, "viewer")
    pid = await client.app[keys.DB].fetchval("SELECT id FROM programs WHERE slug = 'gongzheng'")
    response = await client.get(f"{PAGE}/export.zip", params={"id": str(pid)})
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert "gongzheng-" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(await response.read()))
    files = {name: archive.read(name) for name in archive.namelist()}
    for rel, data in tree(CATALOG / "gongzheng").items():
        assert files[f"gongzheng/{rel}"] == data
    assert "categories.toml" in files
    entry = (await audit(client, "content.export"))[-1]
    assert entry["username"] == "viewer" and entry["detail"]["programs"] == ["gongzheng"]


async def test_export_all_as_zip(front_client, data_dir):
    client = await signed_in(front_client, data_dir, "editor")
    response = await client.get(f"{PAGE}/export.zip", params={"all": "1"})
    assert response.status == 200
    names = zipfile.ZipFile(io.BytesIO(await response.read())).namelist()
    # The bundled catalog, and the Mongolian versions content.programs.demo_versions drafts.
    assert sorted(n for n in names if "/mn/" not in n) == sorted(tree(CATALOG))
    assert "fang-dianxin-zhapian/mn/version.toml" in names


async def test_scoped_editor_cannot_export_a_program_outside_their_region(front_client, data_dir):
    client = await signed_in(front_client, data_dir, "dsq_editor")
    pid = await client.app[keys.DB].fetchval("SELECT id FROM programs WHERE slug = 'gongzheng'")
    response = await client.get(f"{PAGE}/export.zip", params={"id": str(pid)})
    assert response.status == 403


async def test_a_too_large_upload_gets_413_with_a_message(front_client, private_data_dir):
    client = await signed_in(
        front_client, private_data_dir, "editor", video_upload_max_bytes=20_000
    )
    response = await upload(client, b"PK" + bytes(30_000))
    assert response.status == 413
    assert "文件太大" in await response.text()
