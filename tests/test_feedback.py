"""Rating a completed request from the box (one screen, digits 1–5, optional reason, skippable,
never asked again once answered or skipped twice), and the staff's figures and follow-up."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl

from accounts import users
from advisers import advisers
from callbacks import lifecycle
from storage import clock
from tests.helpers import (
    ask_adviser,
    box_village,
    completed_request,
    csrf_of,
    enter,
    form_data,
    home_goes_to,
)
from tv_server import keys


async def test_a_completed_callback_is_rated_once_with_a_reason(client, box):
    db = client.app[keys.DB]
    assert await home_goes_to(client, box) is None
    req = await completed_request(client)
    assert (await home_goes_to(client, box)).endswith(f"rate-{req.ref}")
    page = await (await client.get(box + f"rate-{req.ref}")).text()
    assert 'data-key="1"' in page and 'data-key="5"' in page and req.ref in page
    response = await client.post(box + f"rate-{req.ref}", data={"s": "2"}, allow_redirects=False)
    assert response.headers["Location"].endswith(f"rate-{req.ref}-why")
    # One rating per request: a second answer (here a score button without script) is ignored.
    await client.post(box + f"rate-{req.ref}", data={"k": "5"}, allow_redirects=False)
    response = await client.post(
        box + f"rate-{req.ref}-why", data={"r": "slow"}, allow_redirects=False
    )
    assert response.headers["Location"].endswith("home")
    row = await db.fetchone(
        "SELECT score, reason, service, office_code, region_code FROM ratings"
        " WHERE kind = 'callback' AND subject_id = ?",
        (req.id,),
    )
    ticket = await lifecycle.get(db, req.id)
    assert tuple(row) == (2, "slow", "legal_aid", ticket.office_code, ticket.region_code)
    assert await home_goes_to(client, box) is None
    export = await lifecycle.household_export(db, "DEMO-0001")  # subject access: it is theirs
    item = next(r for r in export["callback_requests"] if r["ref"] == req.ref)
    assert item["rating"]["score"] == 2 and item["rating"]["reason"] == "slow"


async def test_skipped_twice_is_never_asked_again(client, box):
    db = client.app[keys.DB]
    req = await completed_request(client)

    async def later() -> None:  # the pause between asks has passed
        await db.execute("UPDATE ratings SET asked_at = asked_at - 13 * 3600")

    assert await home_goes_to(client, box)
    await client.get(box + f"rate-{req.ref}")
    response = await client.post(box + f"rate-{req.ref}", data={"skip": "1"}, allow_redirects=False)
    assert response.headers["Location"].endswith("home")
    assert await home_goes_to(client, box) is None  # not again on this visit
    await client.get(box + f"rate-{req.ref}")  # reopening it within the pause is no new ask
    await later()
    assert (await home_goes_to(client, box)).endswith(f"rate-{req.ref}")  # the next visit
    await client.get(box + f"rate-{req.ref}")  # left with Back: the second ask
    await later()
    assert await home_goes_to(client, box) is None
    assert await db.fetchval("SELECT asks FROM ratings WHERE subject_id = ?", (req.id,)) == 2


async def test_only_the_boxs_own_completed_request_can_be_rated(client, box):
    req = await completed_request(client, serial="DEMO-0002")
    assert (await client.get(box + f"rate-{req.ref}")).status == 404
    response = await client.post(box + f"rate-{req.ref}", data={"s": "1"})
    assert response.status == 404
    other = await enter(client, "DEMO-0002")
    assert (await client.post(other + f"rate-{req.ref}", data={"s": "9"})).status == 400


async def test_satisfaction_and_low_list_match_independent_counts(client, admin_as):
    db = client.app[keys.DB]
    scores = {"DEMO-0001": [1, 4], "DEMO-0002": [5], "DEMO-0003": [2]}
    for serial, given in scores.items():
        box = await enter(client, serial)
        for i, score in enumerate(given):
            req = await completed_request(client, serial, key=f"k{i}{serial[-4:]}xxxxxx")
            await client.post(box + f"rate-{req.ref}", data={"s": str(score)})
    await admin_as("viewer")
    page = await (await client.get("/admin/feedback?by=service")).text()
    all_scores = [s for given in scores.values() for s in given]
    assert re.search(r'id="fb-count">(\d+)<', page).group(1) == str(len(all_scores))
    mean = sum(all_scores) / len(all_scores)
    assert re.search(r'id="fb-mean">([\d.]+)<', page).group(1) == f"{mean:.2f}"
    assert re.search(r'id="fb-low">(\d+)<', page).group(1) == "2"
    csv_text = (await (await client.get("/admin/feedback?by=office&format=csv")).read()).decode()
    assert csv_text.splitlines()[-1].startswith(f"all,,,{len(all_scores)},")
    assert (await client.get("/admin/feedback/low")).status == 403  # supervisors only

    # 东胜区's staff see their banner's low ratings and record a follow-up, audited.
    await admin_as("staff")
    low = await (await client.get("/admin/feedback/low")).text()
    own_low = await db.fetchall(
        "SELECT subject_id, ref FROM ratings WHERE score <= 2 AND region_code LIKE '150602%'"
    )
    assert len(re.findall(r'<tr data-ref="', low)) == len(own_low) >= 1
    sid, ref = own_low[0]
    token = await csrf_of(client, "/admin/feedback/low")
    response = await client.post(
        f"/admin/feedback/low/callback/{sid}",
        data=form_data(token, {"note": "已回访，重新安排律师"}),
        allow_redirects=False,
    )
    assert response.status == 303
    assert (
        await db.fetchval(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'feedback.follow_up'"
            " AND username = 'staff'"
        )
        == 1
    )
    again = await client.post(
        f"/admin/feedback/low/callback/{sid}", data=form_data(token, {"note": "再来一次"})
    )
    assert again.status == 409


async def test_satisfaction_per_adviser_for_a_period_in_csv_and_xlsx(client, admin_as, box):
    """Per adviser and for a period (the day the rating was given, China time), as the page, CSV
    and XLSX show it, against counts made straight from the ratings table."""
    db = client.app[keys.DB]
    adviser = await advisers.for_village(db, await box_village(client))
    admin = await users.find_user(db, "admin")
    for score in (2, 5, 4):  # three callbacks asked of the adviser on the TV card, then rated
        ticket = await lifecycle.get_by_ref(db, await ask_adviser(client, box, adviser.id))
        await lifecycle.claim(db, ticket.id, admin.id)
        await lifecycle.complete(db, ticket.id, admin.id, "已电话解答")
        assert (await home_goes_to(client, box)).endswith(f"rate-{ticket.ref}")
        await client.post(box + f"rate-{ticket.ref}", data={"s": str(score)})
    plain = await completed_request(client)  # not asked of an adviser
    await client.post(box + f"rate-{plain.ref}", data={"s": "1"})
    # The 4 was given 40 days ago: outside a period of the last week.
    await db.execute(
        "UPDATE ratings SET answered_at = answered_at - 40 * 86400 WHERE score = 4"
        " AND adviser_id = ?",
        (adviser.id,),
    )
    today = clock.today()
    since = (today - dt.timedelta(days=7)).isoformat()
    period = f"since={since}&until={today.isoformat()}"
    start = clock.at(today - dt.timedelta(days=7))
    count, total, low = await db.fetchone(
        "SELECT COUNT(*), SUM(score), SUM(score <= 2) FROM ratings"
        " WHERE adviser_id = ? AND score IS NOT NULL AND answered_at >= ?",
        (adviser.id, start),
    )
    assert (count, total, low) == (2, 7, 1)  # the independent count
    await admin_as("viewer")
    page = await (await client.get(f"/admin/feedback?by=adviser&{period}")).text()
    assert adviser.name in page
    assert re.search(r'id="fb-count">(\d+)<', page).group(1) == "3"  # the adviser's two + 1
    csv_rows = (
        (await (await client.get(f"/admin/feedback?by=adviser&{period}&format=csv")).read())
        .decode("utf-8-sig")
        .splitlines()
    )
    row = next(r for r in csv_rows if r.startswith(f"adviser,{adviser.id},"))
    assert row == f"adviser,{adviser.id},{adviser.name},{count},{total / count},1,{low}"
    assert csv_rows[-1].startswith("all,,,3,")
    everything = (
        (await (await client.get("/admin/feedback?by=adviser&format=csv")).read())
        .decode("utf-8-sig")
        .splitlines()
    )
    assert next(r for r in everything if r.startswith(f"adviser,{adviser.id},")).startswith(
        f"adviser,{adviser.id},{adviser.name},3,"
    )
    xlsx = await client.get(f"/admin/feedback?by=adviser&{period}&format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(await xlsx.read())).active
    cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert cells[0] == ["by", "key", "name", "ratings", "mean", "satisfied_4_5", "low_1_2"]
    assert [adviser.name, count, total / count, 1, low] in [r[2:] for r in cells]
    exports = await db.fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'feedback.export' AND username = 'viewer'"
    )
    assert exports == 3
