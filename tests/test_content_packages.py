"""Content packages: export programs as the catalog's folder format, import folders and zips
(all checked first, nothing written on any problem), and export → import → export round-trips
byte for byte; the bundled catalog is exactly what exporting the demo gives back."""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from content.programs import export, package_import, versions, workflow
from content.programs.package import PackageError
from storage import Database
from tests.helpers import CATALOG, enter, legaltv, open_db, test_database, tree
from tv_server import keys

TABLES = ("programs", "program_revisions", "program_workflow", "program_pages", "media",
          "categories", "audit_log")  # fmt: skip


def media_files(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "media").rglob("*") if p.is_file()}


async def counts(db: Database) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT COUNT(*) FROM {t}") for t in TABLES}


@pytest.fixture
async def demo_db(data_dir):
    db = test_database(data_dir)
    await db.open()
    yield db
    await db.close()


@pytest.fixture
def private_media(data_dir):
    """The demo data dir with media folders of its own (the shared ones are links), so
    imports never write into the session's template."""
    for name in ("media", "renditions", "titlecards"):
        (data_dir / name).unlink()
        (data_dir / name).mkdir()
    return data_dir


def without_versions(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files of a package but its Mongolian versions: the demo's are drafted by
    content.programs.demo_versions, not bundled with the catalog."""
    return {k: v for k, v in files.items() if "/mn/" not in k}


def privatise(data_dir: Path) -> Path:
    """What the `private_media` fixture does, once the demo's media have been exported."""
    for name in ("media", "renditions", "titlecards"):
        (data_dir / name).unlink()
        (data_dir / name).mkdir()
    return data_dir


async def program_id(db: Database, slug: str) -> int:
    return await db.fetchval("SELECT id FROM programs WHERE slug = ?", (slug,))


# -- export ---------------------------------------------------------------------------------------


async def test_exporting_the_demo_gives_back_the_bundled_catalog(demo_db, data_dir, tmp_path):
    slugs = await export.export_programs(demo_db, data_dir, None, tmp_path / "out")
    assert slugs == sorted(p.name for p in CATALOG.iterdir() if p.is_dir())
    exported = without_versions(tree(tmp_path / "out"))
    bundled = tree(CATALOG)
    assert sorted(exported) == sorted(bundled)
    for name, data in bundled.items():
        assert exported[name] == data, name


async def test_export_import_export_round_trips_byte_for_byte(demo_db, data_dir, tmp_path):
    await export.export_programs(demo_db, data_dir, None, tmp_path / "first")
    fresh = await open_db(tmp_path / "fresh")
    try:
        result = await package_import.import_package(fresh, tmp_path / "fresh", tmp_path / "first")
        assert {p.outcome for p in result.programs} == {"published"}
        assert len(result.programs) == 15
        await export.export_programs(fresh, tmp_path / "fresh", None, tmp_path / "second")
        # The TV of the fresh data dir shows the imported programs.
        assert (
            await fresh.fetchval("SELECT COUNT(*) FROM programs WHERE status = 'published'") == 15
        )
        assert await fresh.fetchval("SELECT COUNT(*) FROM program_pages") == await demo_db.fetchval(
            "SELECT COUNT(*) FROM program_pages"
        )
    finally:
        await fresh.close()
    first, second = tree(tmp_path / "first"), tree(tmp_path / "second")
    assert sorted(first) == sorted(second)
    for name, data in first.items():
        assert second[name] == data, name


async def test_export_of_one_program_holds_its_category_and_files(demo_db, data_dir, tmp_path):
    pid = await program_id(demo_db, "fang-dianxin-zhapian")
    await export.export_programs(demo_db, data_dir, [pid], tmp_path / "one")
    files = tree(tmp_path / "one")
    assert sorted(files) == sorted(
        ["categories.toml"]
        + [f"fang-dianxin-zhapian/{p}" for p in tree(CATALOG / "fang-dianxin-zhapian")]
        # its Mongolian version (the demo drafts one)
        + ["fang-dianxin-zhapian/mn/version.toml", "fang-dianxin-zhapian/mn/pages/01.md"]
        + ["fang-dianxin-zhapian/mn/pages/02.md"]
    )
    categories = files["categories.toml"].decode()
    assert categories.count("[[category]]") == 1
    category = re.search(r'category = "(.*)"', files["fang-dianxin-zhapian/program.toml"].decode())
    assert f'slug = "{category.group(1)}"' in categories
    assert files["fang-dianxin-zhapian/media/video.mp4"][4:8] == b"ftyp"


async def test_export_refuses_a_folder_that_is_not_empty(demo_db, data_dir, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(Exception, match="export_dir_not_empty"):
        await export.export_programs(demo_db, data_dir, None, tmp_path / "out")
    assert tree(tmp_path / "out") == {"keep.txt": b"mine"}


async def test_latest_exports_the_working_copy_not_what_the_tv_shows(
    demo_db, private_media, tmp_path
):
    pid = await program_id(demo_db, "gongzheng")
    pkg = tmp_path / "pkg"
    shutil.copytree(CATALOG / "gongzheng", pkg / "gongzheng")
    shutil.copy(CATALOG / "categories.toml", pkg)
    page = pkg / "gongzheng" / "pages" / "01.md"
    page.write_text(page.read_text(encoding="utf-8").replace("公证", "公证（新）", 1), "utf-8")
    result = await package_import.import_package(demo_db, private_media, pkg)
    assert [(p.slug, p.outcome) for p in result.programs] == [("gongzheng", "draft")]
    await export.export_programs(demo_db, private_media, [pid], tmp_path / "latest", latest=True)
    text = (tmp_path / "latest" / "gongzheng" / "pages" / "01.md").read_text(encoding="utf-8")
    assert "公证（新）" in text
    live = (await demo_db.fetchval(
        "SELECT markdown FROM program_pages WHERE program_id = ? AND number = 1", (pid,)
    )) + (await demo_db.fetchval(
        "SELECT title FROM program_pages WHERE program_id = ? AND number = 1", (pid,)
    ))  # fmt: skip
    assert "公证（新）" not in live


# -- import: programs that exist become drafts to review -----------------------------------------


async def test_reimporting_an_existing_program_makes_a_draft_and_the_tv_is_unchanged(
    demo_db, private_media, tmp_path
):
    pid = await program_id(demo_db, "gongzheng")
    before = await workflow.get_state(demo_db, pid)
    pkg = tmp_path / "pkg"
    shutil.copytree(CATALOG / "gongzheng", pkg / "gongzheng")
    shutil.copy(CATALOG / "categories.toml", pkg)
    # The same content as the TV shows changes nothing.
    same = await package_import.import_package(demo_db, private_media, pkg)
    assert [p.outcome for p in same.programs] == ["unchanged"]
    toml = pkg / "gongzheng" / "program.toml"
    toml.write_text(
        re.sub(r'title = ".*"', 'title = "公证：新的标题"', toml.read_text("utf-8")), "utf-8"
    )
    changed = await package_import.import_package(demo_db, private_media, pkg, author="cli")
    assert [p.outcome for p in changed.programs] == ["draft"]
    state = await workflow.get_state(demo_db, pid)
    assert state.workflow.state == "draft"
    assert state.draft.content.title == "公证：新的标题"
    assert state.live.id == before.live.id
    assert (
        await demo_db.fetchval("SELECT title FROM programs WHERE id = ?", (pid,))
        != "公证：新的标题"
    )
    # --publish: the new revision goes live at once.
    toml.write_text(toml.read_text("utf-8").replace("新的标题", "再次修改"), "utf-8")
    await package_import.import_package(demo_db, private_media, pkg, publish_updates=True)
    assert (
        await demo_db.fetchval("SELECT title FROM programs WHERE id = ?", (pid,))
        == "公证：再次修改"
    )
    assert (await workflow.get_state(demo_db, pid)).workflow.state == "current"


async def test_a_program_waiting_for_review_is_not_overwritten(demo_db, private_media, tmp_path):
    pid = await program_id(demo_db, "gongzheng")
    state = await workflow.get_state(demo_db, pid)
    async with demo_db.transaction() as tx:
        await tx.execute("UPDATE program_workflow SET state = 'in_review' WHERE program_id = ?",
                         (pid,))  # fmt: skip
    pkg = tmp_path / "pkg"
    shutil.copytree(CATALOG / "gongzheng", pkg / "gongzheng")
    shutil.copy(CATALOG / "categories.toml", pkg)
    (pkg / "gongzheng" / "pages" / "01.md").write_text("# 改了\n\n新内容。\n", "utf-8")
    with pytest.raises(PackageError) as caught:
        await package_import.import_package(demo_db, private_media, pkg)
    assert "pkg/gongzheng/program.toml:1: 'slug': program 'gongzheng' is waiting for review" in str(
        caught.value
    )
    assert (await workflow.get_state(demo_db, pid)).draft.id == state.draft.id


# -- import: broken packages write nothing --------------------------------------------------------


def _new_program(pkg: Path, slug: str = "xin-jiemu") -> Path:
    """A valid new program (a copy of yichan-jicheng under another slug) in `pkg`."""
    folder = pkg / slug
    shutil.copytree(CATALOG / "yichan-jicheng", folder)
    toml = folder / "program.toml"
    toml.write_text(toml.read_text("utf-8").replace("yichan-jicheng", slug), "utf-8")
    return folder


def _missing_page(folder: Path) -> str:
    (folder / "pages" / "02.md").unlink()
    return "broken/pages/02.md: page file is missing"


def _bad_image(folder: Path) -> str:
    (folder / "images" / "shunxu.jpg").write_bytes(b"not a picture at all")
    line = next(
        n
        for n, text in enumerate(
            (folder / "pages" / "02.md").read_text("utf-8").splitlines(), start=1
        )
        if "shunxu.jpg" in text
    )
    return f"broken/pages/02.md:{line}: image '../images/shunxu.jpg': not a readable JPEG"


def _unknown_category(folder: Path) -> str:
    toml = folder / "program.toml"
    lines = toml.read_text("utf-8").splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith("category"))
    lines[n] = 'category = "no-such"'
    toml.write_text("\n".join(lines) + "\n", "utf-8")
    return f"broken/program.toml:{n + 1}: 'category': unknown category 'no-such'"


def _bad_toml(folder: Path) -> str:
    toml = folder / "program.toml"
    lines = toml.read_text("utf-8").splitlines()
    lines[2] = "summary = 没有引号"  # line 3: a value without quotes
    toml.write_text("\n".join(lines) + "\n", "utf-8")
    return "broken/program.toml:3: TOML syntax error"


def _unknown_region(folder: Path) -> str:
    toml = folder / "program.toml"
    toml.write_text(
        re.sub(r"regions = \[.*\]", 'regions = ["159999"]', toml.read_text("utf-8")), "utf-8"
    )
    n = next(
        i for i, line in enumerate(toml.read_text("utf-8").splitlines(), 1) if "regions" in line
    )
    return f"broken/program.toml:{n}: 'regions': unknown region '159999'"


@pytest.mark.parametrize(
    "breaker", [_missing_page, _bad_image, _unknown_category, _bad_toml, _unknown_region]
)
async def test_a_broken_package_names_file_and_line_and_writes_nothing(
    demo_db, private_media, tmp_path, breaker
):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    shutil.copy(CATALOG / "categories.toml", pkg)
    _new_program(pkg, "good-one")  # valid, and still not imported
    expected = breaker(_new_program(pkg, "broken")).replace("broken/", "pkg/broken/")
    before, files = await counts(demo_db), media_files(private_media)
    with pytest.raises(PackageError) as caught:
        await package_import.import_package(demo_db, private_media, pkg)
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value
    assert await counts(demo_db) == before
    assert media_files(private_media) == files == set()


async def test_a_broken_zip_names_files_inside_the_zip(demo_db, private_media, tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    shutil.copy(CATALOG / "categories.toml", pkg)
    _unknown_category(_new_program(pkg, "broken"))
    archive = tmp_path / "upload.zip"
    archive.write_bytes(export.zip_files(dict(tree(pkg))))
    before = await counts(demo_db)
    with pytest.raises(PackageError) as caught:
        await package_import.import_package(demo_db, private_media, archive, label="bao.zip")
    assert str(caught.value.problems[0]).startswith(
        "bao.zip/broken/program.toml:4: 'category': unknown category 'no-such'"
    )
    assert await counts(demo_db) == before


async def test_a_zip_made_of_one_folder_imports(demo_db, private_media, tmp_path):
    files = {"wrapper/categories.toml": (CATALOG / "categories.toml").read_bytes()}
    for rel, data in tree(CATALOG / "jiaotong-shigu").items():
        files[f"wrapper/xin-jiaotong/{rel}"] = data.replace(b"jiaotong-shigu", b"xin-jiaotong")
    archive = tmp_path / "pkg.zip"
    archive.write_bytes(export.zip_files(files))
    result = await package_import.import_package(demo_db, private_media, archive, publish_new=False)
    assert [(p.slug, p.outcome) for p in result.programs] == [("xin-jiaotong", "draft")]
    pid = result.programs[0].id
    assert await demo_db.fetchval("SELECT status FROM programs WHERE id = ?", (pid,)) == "draft"
    assert (await workflow.get_state(demo_db, pid)).workflow.state == "draft"


# -- zip safety ------------------------------------------------------------------------------------


def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    info.create_system = 3
    return (info, target.encode())


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("../evil.txt", b"x")], "unsafe path"),
        ([("pkg/../../evil.txt", b"x")], "unsafe path"),
        ([("/tmp/evil.txt", b"x")], "unsafe path"),
        ([("C:/evil.txt", b"x")], "unsafe path"),
        ([("a\\..\\evil.txt", b"x")], "unsafe path"),
        ([_symlink("pkg/link", "/etc/passwd")], "symbolic link"),
        ([("pkg/zeros.bin", bytes(20 * 1024 * 1024))], "expands too much"),
    ],
)
async def test_unsafe_zips_are_refused_before_anything_is_unpacked(
    demo_db, private_media, tmp_path, entries, message
):
    archive = _zip(tmp_path / "bad.zip", entries)
    before = await counts(demo_db)
    with pytest.raises(PackageError, match=message):
        await package_import.import_package(demo_db, private_media, archive)
    assert not (tmp_path / "evil.txt").exists()
    assert await counts(demo_db) == before


async def test_zip_limits_on_entries_and_unpacked_size(demo_db, private_media, tmp_path):
    many = _zip(tmp_path / "many.zip", [(f"f{i}.txt", b"x") for i in range(30)])
    with pytest.raises(PackageError, match="30 entries; at most 20"):
        await package_import.import_package(demo_db, private_media, many, max_files=20)
    big = _zip(tmp_path / "big.zip", [(f"f{i}.bin", os.urandom(40_000)) for i in range(3)])
    with pytest.raises(PackageError, match="at most 100000"):
        await package_import.import_package(demo_db, private_media, big, max_bytes=100_000)


async def test_a_zip_whose_headers_lie_about_sizes_is_stopped(tmp_path):
    """Sizes in the headers that do not match the data: refused, little written."""
    data = os.urandom(300_000)
    archive = _zip(tmp_path / "liar.zip", [("pkg/a.bin", data)])
    raw = bytearray(archive.read_bytes())
    # Patch the central directory's uncompressed size to claim 10 bytes.
    cd = raw.rfind(b"PK\x01\x02")
    raw[cd + 24 : cd + 28] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    with pytest.raises(PackageError):
        package_import.unpack_zip(archive, tmp_path / "out", max_bytes=100_000)
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= 100_000 + (1 << 20)


async def test_not_a_zip(demo_db, private_media, tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"hello")
    with pytest.raises(PackageError, match="not a readable zip file"):
        await package_import.import_package(demo_db, private_media, fake)


# -- the command line ------------------------------------------------------------------------------


async def test_cli_export_and_import(data_dir, tmp_path):
    out = tmp_path / "out"
    done = legaltv("content", "export", "--all", str(out), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert "exported 15 programs" in done.stdout
    assert without_versions(tree(out)) == tree(CATALOG)
    # One program into a fresh data dir, then export it back.
    one = tmp_path / "one"
    pid = "1"
    done = legaltv("content", "export", pid, str(one), data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    fresh = tmp_path / "fresh"
    done = legaltv("content", "import", str(one), data_dir=fresh)
    assert done.returncode == 0, done.stderr
    assert re.search(r"published\s+\S+ \(program 1, revision 1\)", done.stdout)
    again = tmp_path / "again"
    done = legaltv("content", "export", "--all", str(again), data_dir=fresh)
    assert done.returncode == 0, done.stderr
    assert tree(again) == tree(one)


async def test_cli_import_of_a_broken_package_lists_file_and_line_and_exits_2(
    private_media, tmp_path
):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    shutil.copy(CATALOG / "categories.toml", pkg)
    _unknown_category(_new_program(pkg, "broken"))
    done = legaltv("content", "import", str(pkg), data_dir=private_media)
    assert done.returncode == 2
    assert "nothing was imported" in done.stderr
    assert "pkg/broken/program.toml:4: 'category': unknown category 'no-such'" in done.stderr
    assert media_files(private_media) == set()


async def test_cli_export_needs_ids_or_all(data_dir, tmp_path):
    done = legaltv("content", "export", str(tmp_path / "x"), data_dir=data_dir)
    assert done.returncode == 2
    assert "ids or --all" in done.stderr


def test_zip_export_is_deterministic():
    files = {"b/x.md": "# t\n\nx\n", "a/categories.toml": "x = 1\n"}
    first, second = export.zip_files(files), export.zip_files(dict(reversed(files.items())))
    assert first == second
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == ["a/categories.toml", "b/x.md"]


# -- Mongolian versions ----------------------------------------------------------------------------

MONGOLIAN = re.compile("[\u1800-\u18af]")
MN_SLUG = "fang-dianxin-zhapian"  # the demo drafts a Mongolian version of it


async def _export_mn(db: Database, data_dir: Path, out: Path, slug: str = MN_SLUG) -> Path:
    await export.export_programs(db, data_dir, [await program_id(db, slug)], out)
    return out


async def test_the_mongolian_version_travels_and_arrives_drafted_in_a_fresh_database(
    demo_db, data_dir, tmp_path
):
    pid = await program_id(demo_db, MN_SLUG)
    assert await versions.mark_reviewed(demo_db, pid, "mn", "reviewer")
    original = (await versions.get_versions(demo_db, pid))["mn"]
    pkg = await _export_mn(demo_db, data_dir, tmp_path / "pkg")
    toml = (pkg / MN_SLUG / "mn" / "version.toml").read_text(encoding="utf-8")
    assert MONGOLIAN.search(toml) and "review" not in toml  # the review is no file's to claim
    fresh = await open_db(tmp_path / "fresh")
    try:
        result = await package_import.import_package(fresh, tmp_path / "fresh", pkg)
        new_id = result.programs[0].id
        got = (await versions.get_versions(fresh, new_id))["mn"]
        assert (got.title, got.summary, got.pages) == (
            original.title,
            original.summary,
            original.pages,
        )
        assert (got.review, got.reviewed_by) == ("drafted", None)  # drafted, not "reviewed"
        covers = await versions.cover_files(fresh, [new_id], "mn", "2160p")
        assert (tmp_path / "fresh" / covers[new_id]).is_file()  # its title cards drawn anew
        # Importing the same package again leaves the version (and a review of it) alone.
        assert await versions.mark_reviewed(fresh, new_id, "mn", "reviewer")
        await package_import.import_package(fresh, tmp_path / "fresh", pkg)
        assert (await versions.get_versions(fresh, new_id))["mn"].review == "reviewed"
        await export.export_programs(fresh, tmp_path / "fresh", None, tmp_path / "again")
    finally:
        await fresh.close()
    assert tree(tmp_path / "again") == tree(pkg)


async def test_an_imported_mongolian_version_shows_on_a_mongolian_box(client, data_dir, tmp_path):
    db = client.app[keys.DB]
    pkg = await _export_mn(db, data_dir, tmp_path / "pkg")
    private_media = privatise(data_dir)
    # The same program under a new slug: a new program with its Mongolian version.
    (pkg / MN_SLUG).rename(pkg / "xin-zhapian")
    toml = pkg / "xin-zhapian" / "program.toml"
    toml.write_text(toml.read_text().replace(MN_SLUG, "xin-zhapian"), encoding="utf-8")
    mn_title = (await versions.get_versions(db, await program_id(db, MN_SLUG)))["mn"].title
    result = await package_import.import_package(db, private_media, pkg)
    new_id = result.programs[0].id
    assert result.programs[0].outcome == "published"
    await client.get("/tv/", params={"stb": "DEMO-0001", "lang": "mn"})
    base = await enter(client)
    html = await (await client.get(base + f"p-{new_id}-1")).text()
    assert mn_title in html
    assert 'class="tag zh-tag"' not in html  # not the Chinese fallback


def _mn_untitled_text(pkg: Path) -> str:
    (pkg / MN_SLUG / "mn" / "pages" / "02.md").write_text("# ᠠᠰᠠᠭᠤ\n\n", encoding="utf-8")
    return f"pkg/{MN_SLUG}/mn/pages/02.md:1: page has a title but no text"


def _mn_title_too_long(pkg: Path) -> str:
    path = pkg / MN_SLUG / "mn" / "version.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(lines[1] + "\n" + f'title = "{"ᠠ" * 201}"\n', encoding="utf-8")
    return f"pkg/{MN_SLUG}/mn/version.toml:2: 'title': is too long (at most 200 characters)"


def _mn_no_title(pkg: Path) -> str:
    path = pkg / MN_SLUG / "mn" / "version.toml"
    path.write_text('summary = "ᠠ"\n', encoding="utf-8")
    return f"pkg/{MN_SLUG}/mn/version.toml: missing required key 'title'"


def _mn_page_gap(pkg: Path) -> str:
    pages = pkg / MN_SLUG / "mn" / "pages"
    (pages / "02.md").rename(pages / "03.md")
    return f"pkg/{MN_SLUG}/mn/pages/02.md: page file is missing"


@pytest.mark.parametrize(
    "breaker", [_mn_untitled_text, _mn_title_too_long, _mn_no_title, _mn_page_gap]
)
async def test_a_broken_mongolian_version_is_refused_naming_file_and_line(
    demo_db, data_dir, tmp_path, breaker
):
    pkg = await _export_mn(demo_db, data_dir, tmp_path / "pkg")
    private_media = privatise(data_dir)
    expected = breaker(pkg)
    await demo_db.execute("DELETE FROM program_versions")
    before, files = await counts(demo_db), media_files(private_media)
    with pytest.raises(PackageError) as caught:
        await package_import.import_package(demo_db, private_media, pkg)
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value
    assert await counts(demo_db) == before
    assert await demo_db.fetchval("SELECT COUNT(*) FROM program_versions") == 0
    assert media_files(private_media) == files == set()
