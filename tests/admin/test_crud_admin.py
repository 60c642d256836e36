"""The declared CRUD screens (tv_server/admin/crud.py) for service points and organizations:
region scope checked on the record as the write transaction reads it (a record moved out of the
editor's area in between is refused and nothing is written), and the shared list layout with its
pager."""

from __future__ import annotations

import re

import pytest

from content.directory import points as directory
from storage import OutOfScope
from tv_server import keys

OWN = "150602"  # 东胜区
FAR = "150603"  # another banner


def own_area(code: str) -> bool:
    return code.startswith(OWN)


async def test_a_point_moved_out_of_the_area_meanwhile_is_neither_changed_nor_deleted(client):
    """The handler checked the point's region when the request came in; by the time its
    transaction runs, somebody has moved the point into another banner."""
    db = client.app[keys.DB]
    regions = client.app[keys.REGIONS].by_code
    moved = await directory.get_point(db, f"sp-{FAR}")
    form = {**moved.snapshot(), "region_code": OWN, "region_served": "", "name": "改掉"}
    with pytest.raises(OutOfScope):
        await directory.update_point(
            db, moved.id, form, expected_version=moved.version, known_regions=regions,
            allowed=own_area,
        )  # fmt: skip
    with pytest.raises(OutOfScope):
        await directory.delete_point(db, moved.id, expected_version=moved.version, allowed=own_area)
    assert await directory.get_point(db, moved.code) == moved


async def test_an_organization_moved_out_of_the_area_meanwhile_is_not_changed(client):
    db = client.app[keys.DB]
    regions = client.app[keys.REGIONS].by_code
    (org,), _total = await directory.list_organizations(db, regions=[FAR], q=f"org-{FAR}")
    form = {**org.snapshot(), "region_code": OWN, "name": "改掉"}
    with pytest.raises(OutOfScope):
        await directory.update_organization(
            db, org.id, form, expected_version=org.version, known_regions=regions,
            allowed=own_area,
        )  # fmt: skip
    assert await directory.get_organization(db, org.id) == org


@pytest.mark.parametrize(
    ("path", "per_page_marker"),
    [("/admin/directory", "admin/directory/points/"), ("/admin/directory/organizations",
                                                       "admin/directory/organizations/")],
)  # fmt: skip
async def test_both_lists_page_through_the_whole_directory(client, admin_as, path, per_page_marker):
    await admin_as("editor")
    first = await (await client.get(path)).text()
    total = int(re.search(r"共 (\d+) 个", first).group(1))
    pages = -(-total // 50)
    assert pages > 1 and f"1 / {pages}" in first and "page=2" in first and "上一页" not in first
    last = await (await client.get(f"{path}?page={pages}")).text()
    assert f"{pages} / {pages}" in last and "上一页" in last and "下一页" not in last
    shown = len(set(re.findall(rf'href="/{per_page_marker}(\d+)"', last)))
    assert shown == total - 50 * (pages - 1)
