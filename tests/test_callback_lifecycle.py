"""The callback lifecycle: routing, deadlines, claiming, attempts, cancellation, privacy."""

import asyncio
import datetime as dt

import pytest

from accounts.users import find_user
from callbacks import deadlines, lifecycle, routing, webhooks
from callbacks import requests as box_requests
from storage import Conflict, Invalid, clock
from tv_server import keys

CST = clock.zone()


def at(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=CST).timestamp()


def local(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, CST).strftime("%Y-%m-%d %H:%M")


CAL = deadlines.Calendar(holidays=frozenset({dt.date(2026, 10, 1), dt.date(2026, 10, 2)}))


@pytest.mark.parametrize(
    ("submitted", "window", "due"),
    [
        ("2026-06-01 10:00", "morning", "2026-06-02 12:00"),  # Monday → Tuesday's morning
        ("2026-06-01 10:00", "evening", "2026-06-02 21:00"),
        ("2026-06-01 20:00", "morning", "2026-06-03 12:00"),  # after hours: a full day from Tue
        ("2026-06-05 16:00", "afternoon", "2026-06-08 18:00"),  # Friday → Monday
        ("2026-06-06 09:00", "morning", "2026-06-09 12:00"),  # Saturday counts from Monday
        ("2026-09-30 11:00", "morning", "2026-10-05 12:00"),  # holidays skipped
    ],
)
def test_first_call_is_due_one_working_day_later_in_the_households_window(submitted, window, due):
    assert local(deadlines.due_at(CAL, at(submitted), window, 1)) == due


def test_makeup_working_day_counts():
    cal = deadlines.Calendar(makeup_days=frozenset({dt.date(2026, 6, 6)}))
    assert local(deadlines.due_at(cal, at("2026-06-05 16:00"), "afternoon", 1)) == (
        "2026-06-06 18:00"
    )


def test_routing_rules_parse_and_reject_unknown_kinds():
    rules = routing.parse_rules("legal_aid=township_station")
    assert rules["legal_aid"] == "township_station"
    assert rules["consultation"] == "township_station"
    with pytest.raises(ValueError):
        routing.parse_rules("legal_aid=castle")


async def _submit(db, box_id, chain, service="consultation", sp=None, key="k" * 16, now=None):
    draft = box_requests.validate(service, "13800138000", "morning", key, sp)
    req, _ = await lifecycle.submit(
        db, lifecycle.Policy(), box_id, draft, chain, max_open=10, now=now
    )
    return await lifecycle.get_by_ref(db, req.ref)


@pytest.fixture
async def setup(client):
    db = client.app[keys.DB]
    tree = client.app[keys.REGIONS]
    device = await db.fetchone("SELECT id, village_code FROM devices WHERE serial = 'DEMO-0001'")
    chain = [r.code for r in tree.chain(device[1])]
    staff = await find_user(db, "staff")
    admin = await find_user(db, "admin")
    return db, device[0], chain, staff, admin


async def test_routing_by_service_to_township_station_or_banner_centre(setup):
    db, box_id, chain, _staff, _admin = setup
    consult = await _submit(db, box_id, chain, "consultation", key="a" * 16)
    aid = await _submit(db, box_id, chain, "legal_aid", key="b" * 16)
    chosen = await _submit(db, box_id, chain, "appraisal", sp=consult.office_code, key="c" * 16)
    kinds = dict(
        await db.fetchall(
            "SELECT code, kind FROM service_points WHERE code IN (?, ?)",
            (consult.office_code, aid.office_code),
        )
    )
    assert kinds[consult.office_code] == "township_station"
    assert kinds[aid.office_code] == "banner_centre"
    assert chosen.office_code == consult.office_code  # the household's choice wins
    assert consult.region_code == chain[0] and consult.due_at > consult.created_at


async def test_two_staff_claiming_at_once_one_wins_the_other_gets_a_conflict(setup):
    db, box_id, chain, staff, admin = setup
    ticket = await _submit(db, box_id, chain)
    results = await asyncio.gather(
        lifecycle.claim(db, ticket.id, staff.id),
        lifecycle.claim(db, ticket.id, admin.id),
        return_exceptions=True,
    )
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1 and conflicts[0].code == "already_claimed"
    after = await lifecycle.get(db, ticket.id)
    assert after.status == "assigned" and after.assignee_id in (staff.id, admin.id)
    kinds = [e.kind for e in await lifecycle.events(db, ticket.id)]
    assert kinds == ["submitted", "claimed"]


async def test_failed_attempts_make_a_request_unreachable_after_the_limit(setup):
    db, box_id, chain, staff, _admin = setup
    policy = lifecycle.Policy(max_attempts=2)
    ticket = await _submit(db, box_id, chain)
    await lifecycle.claim(db, ticket.id, staff.id)
    assert await lifecycle.record_attempt(db, policy, ticket.id, staff.id, "busy") == "in_progress"
    assert (await lifecycle.get(db, ticket.id)).first_call_at is not None
    assert await lifecycle.record_attempt(db, policy, ticket.id, staff.id, "no_answer") == (
        "unreachable"
    )
    with pytest.raises(Conflict):
        await lifecycle.record_attempt(db, policy, ticket.id, staff.id, "answered")


async def test_call_again_needs_a_future_time_and_only_the_assignee_records(setup):
    db, box_id, chain, staff, admin = setup
    ticket = await _submit(db, box_id, chain)
    await lifecycle.claim(db, ticket.id, staff.id)
    with pytest.raises(Invalid):
        await lifecycle.record_attempt(db, lifecycle.Policy(), ticket.id, staff.id, "call_again")
    with pytest.raises(Conflict) as caught:
        await lifecycle.record_attempt(db, lifecycle.Policy(), ticket.id, admin.id, "answered")
    assert caught.value.code == "not_assignee"
    later = ticket.created_at + 7200
    await lifecycle.record_attempt(
        db, lifecycle.Policy(), ticket.id, staff.id, "call_again", call_again_at=later
    )
    assert (await lifecycle.get(db, ticket.id)).call_again_at == later
    await lifecycle.complete(db, ticket.id, staff.id, "advice given")
    assert (await lifecycle.get(db, ticket.id)).status == "completed"


async def test_household_cancel_is_idempotent_and_staff_cancel_needs_a_reason(setup):
    db, box_id, chain, staff, _admin = setup
    ticket = await _submit(db, box_id, chain)
    assert await lifecycle.cancel_by_household(db, box_id, ticket.ref) is True
    assert await lifecycle.cancel_by_household(db, box_id, ticket.ref) is False
    other = await _submit(db, box_id, chain, key="z" * 16)
    with pytest.raises(Invalid):
        await lifecycle.cancel_by_staff(db, other.id, staff.id, "  ")
    await lifecycle.cancel_by_staff(db, other.id, staff.id, "duplicate of a phone call")
    events = await lifecycle.events(db, other.id)
    assert events[-1].reason == "duplicate of a phone call" and events[-1].user_id == staff.id


async def test_overdue_requests_are_counted_until_first_called(setup):
    db, box_id, chain, staff, _admin = setup
    old = at("2026-06-01 10:00")
    ticket = await _submit(db, box_id, chain, now=old)
    later = at("2026-06-10 10:00")
    assert ticket.overdue(later)
    before = await lifecycle.overdue_count(db, None, now=later)
    assert before >= 1
    await lifecycle.claim(db, ticket.id, staff.id)
    await lifecycle.record_attempt(db, lifecycle.Policy(), ticket.id, staff.id, "answered")
    assert await lifecycle.overdue_count(db, None, now=later) == before - 1
    figures = await lifecycle.figures(db, None, now=later)
    assert figures.median_first_call_seconds is not None
    assert figures.within_deadline_share is not None and figures.within_deadline_share < 1


async def test_closed_requests_lose_their_number_after_retention(setup):
    db, box_id, chain, staff, _admin = setup
    ticket = await _submit(db, box_id, chain, now=at("2025-01-01 10:00"))
    await lifecycle.cancel_by_household(db, box_id, ticket.ref, now=at("2025-01-02 10:00"))
    assert await lifecycle.erase_expired_phones(db, 180, now=at("2025-06-01 10:00")) == 0
    assert await lifecycle.erase_expired_phones(db, 180, now=at("2025-08-01 10:00")) == 1
    row = await db.fetchone("SELECT phone_e164 FROM callback_requests WHERE id = ?", (ticket.id,))
    assert "13800138000" not in row[0]
    export = await lifecycle.household_export(db, "DEMO-0001")
    item = next(r for r in export["callback_requests"] if r["ref"] == ticket.ref)
    assert item["phone"] is None and item["phone_masked"] == "138****8000"


async def test_events_are_queued_for_every_active_webhook(setup):
    db, box_id, chain, staff, _admin = setup
    await webhooks.add_endpoint(db, "hotline", "http://127.0.0.1:9/hook")
    ticket = await _submit(db, box_id, chain)
    await lifecycle.claim(db, ticket.id, staff.id)
    assert await webhooks.pending_count(db) == 2
    rows = await webhooks.due(db, ticket.created_at + 1e6)
    assert [r.event_type for r in rows] == ["callback.submitted", "callback.claimed"]
    assert all("13800138000" not in r.payload for r in rows)


async def test_household_cancels_from_the_tv_with_a_confirm_step(client, box):
    from tests.helpers import draft_for, submit

    draft = await draft_for(client, box)
    ref = (await submit(client, box, draft)).headers["Location"].rsplit("r-", 1)[1]
    mine = await (await client.get(box + "mine")).text()
    assert f'href="mc-{ref}"' in mine and 'data-refresh="1"' in mine
    confirm = await (await client.get(box + f"mc-{ref}")).text()
    assert "确定取消" in confirm
    for _ in range(2):  # a double OK is harmless
        response = await client.post(box + f"mc-{ref}", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"].endswith(f"#req-{ref}")
    mine = await (await client.get(box + "mine")).text()
    assert "已取消" in mine and f'href="mc-{ref}"' not in mine
    events = await client.app[keys.DB].fetchall(
        "SELECT actor, kind FROM callback_events e JOIN callback_requests r"
        " ON r.id = e.request_id WHERE r.ref = ? ORDER BY e.id",
        (ref,),
    )
    assert [tuple(e) for e in events] == [("household", "submitted"), ("household", "cancelled")]


def test_cli_exports_one_households_callback_data(data_dir, tmp_path, capsys):
    import json

    from tv_server.cli import main

    out = tmp_path / "export"
    assert (
        main(["callbacks", "export-household", "DEMO-0001", str(out), "--data-dir", str(data_dir)])
        == 0
    )
    data = json.loads((out / "callbacks-DEMO-0001.json").read_text(encoding="utf-8"))
    assert data["serial"] == "DEMO-0001" and isinstance(data["callback_requests"], list)
    assert (
        main(["callbacks", "export-household", "NOPE-1", str(out), "--data-dir", str(data_dir)])
        != 0
    )
