"""Working callbacks as a township clerk: today's calls by window, 今天到期 with agreed times,
one staff name per state, claiming, completing with a result, the number kept revealed, and the
figures export in Chinese."""

import csv
import datetime as dt
import io
import time

from openpyxl import load_workbook

from callbacks import lifecycle
from storage import clock
from tests.helpers import act_on_callback, new_request
from tv_server import keys


def row_of(html: str, ref: str) -> str:
    return html.split(f'id="cb-{ref}"', 1)[1].split("</tr>", 1)[0]


def tomorrow_at(hour: int) -> float:
    return clock.at(clock.today() + dt.timedelta(days=1), dt.time(hour, 0))


async def test_todays_calls_list_windows_with_submitted_and_due_times(client, admin_as):
    _box, ref, cid = await new_request(client)  # chose the morning
    db = client.app[keys.DB]
    created, due = await db.fetchone(
        "SELECT created_at, due_at FROM callback_requests WHERE id = ?", (cid,)
    )
    await admin_as("staff")
    html = await (await client.get("/admin/callbacks/today")).text()
    row = row_of(html, ref)
    assert 'data-window="morning"' in row
    assert clock.fmt(created, clock.SHORT) in row and clock.fmt(due, clock.SHORT) in row
    morning = await (await client.get("/admin/callbacks/today?window=morning")).text()
    evening = await (await client.get("/admin/callbacks/today?window=evening")).text()
    assert ref in morning and ref not in evening


async def test_an_agreed_call_again_time_today_is_due_today_and_on_todays_list(client, admin_as):
    _box, ref, cid = await new_request(client)
    await admin_as("staff")
    assert (await act_on_callback(client, cid, action="claim")).status == 303
    now = time.time()
    # An agreed time later today, in the evening window (or just ahead when it is late).
    agreed = max(now + 60, clock.at(clock.today(), dt.time(19, 30)))
    if clock.date(agreed) != clock.date(now):
        agreed = now + 30
    db = client.app[keys.DB]
    staff_id = await db.fetchval("SELECT id FROM users WHERE username = 'staff'")
    policy = lifecycle.Policy()
    await lifecycle.record_attempt(db, policy, cid, staff_id, "call_again", call_again_at=agreed)
    await db.execute(  # its first-call deadline lies days ahead: only the agreed time is today
        "UPDATE callback_requests SET due_at = ? WHERE id = ?", (now + 5 * 86400, cid)
    )
    html = await (await client.get("/admin/callbacks?due=today")).text()
    assert f'id="cb-{ref}"' in html
    today = await (await client.get("/admin/callbacks/today")).text()
    assert clock.fmt(agreed, "%H:%M") in row_of(today, ref)
    # Agreed for tomorrow: not today's.
    await db.execute(
        "UPDATE callback_requests SET call_again_at = ? WHERE id = ?", (tomorrow_at(10), cid)
    )
    assert f'id="cb-{ref}"' not in await (await client.get("/admin/callbacks/today")).text()


async def test_one_staff_name_per_state_in_filter_and_rows(client, admin_as):
    _box, ref, cid = await new_request(client)
    await admin_as("staff")
    await act_on_callback(client, cid, action="claim")
    html = await (await client.get("/admin/callbacks?status=assigned")).text()
    option = html.split('<option value="assigned"', 1)[1].split("</option>", 1)[0]
    label = option.rsplit(">", 1)[1]
    assert label in row_of(html, ref)
    assert "已分派给工作人员" not in html  # the household's wording stays on the TV


async def test_after_claiming_the_request_reads_as_mine(client, admin_as):
    _box, _ref, cid = await new_request(client)
    await admin_as("staff")
    await act_on_callback(client, cid, action="claim")
    html = await (await client.get(f"/admin/callbacks/{cid}")).text()
    assert "已认领" in html and "由您承办" in html


async def test_completing_needs_a_short_result(client, admin_as):
    _box, _ref, cid = await new_request(client)
    await admin_as("staff")
    await act_on_callback(client, cid, action="claim")
    response = await act_on_callback(client, cid, action="complete", note="  ")
    assert response.status == 400
    assert "请简要写下办理结果" in await response.text()
    assert (await lifecycle.get(client.app[keys.DB], cid)).status == "assigned"
    assert (await act_on_callback(client, cid, action="complete", note="已电话解答")).status == 303
    assert (await lifecycle.get(client.app[keys.DB], cid)).status == "completed"


async def test_answered_can_complete_in_the_same_step(client, admin_as):
    _box, _ref, cid = await new_request(client)
    await admin_as("staff")
    await act_on_callback(client, cid, action="claim")
    response = await act_on_callback(
        client, cid, action="attempt", outcome="busy", complete="1", note="x"
    )
    assert response.status == 400
    response = await act_on_callback(
        client, cid, action="attempt", outcome="answered", complete="1", note="已解答，不需再联系"
    )
    assert response.status == 303
    ticket = await lifecycle.get(client.app[keys.DB], cid)
    assert ticket.status == "completed" and ticket.attempts == 1
    html = await (await client.get(response.headers["Location"])).text()
    assert "已解答，不需再联系" in html


async def test_a_revealed_number_stays_shown_to_the_assignee_while_they_work(client, admin_as):
    _box, _ref, cid = await new_request(client)
    await admin_as("staff")
    await act_on_callback(client, cid, action="claim")
    html = await (await act_on_callback(client, cid, action="reveal")).text()
    assert "13800138000" in html and 'name="keep_phone"' in html
    response = await act_on_callback(client, cid, action="note", note="先打一次", keep_phone="1")
    assert response.status == 303
    html = await (await client.get(response.headers["Location"])).text()
    assert "13800138000" in html
    # Leaving the request and coming back: masked again.
    html = await (await client.get(f"/admin/callbacks/{cid}")).text()
    assert "13800138000" not in html and "138****8000" in html
    reveals = await client.app[keys.DB].fetchval(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'callback.reveal_phone'"
    )
    assert reveals == 2  # every showing is audited


async def test_cancel_sits_apart_from_complete(client, admin_as):
    _box, _ref, cid = await new_request(client)
    await admin_as("staff")
    await act_on_callback(client, cid, action="claim")
    html = await (await client.get(f"/admin/callbacks/{cid}")).text()
    complete_at = html.index('value="complete"')
    cancel_at = html.index('value="cancel"')
    between = html[complete_at:cancel_at]
    assert 'value="assign"' in between and 'value="note"' in between
    assert '<details class="cb-danger"' in between


async def test_figures_export_in_chinese_with_percentages(client, admin_as):
    _box, _ref, cid = await new_request(client)
    await admin_as("staff")
    await act_on_callback(client, cid, action="claim")
    await act_on_callback(client, cid, action="attempt", outcome="answered", note="ok")
    response = await client.get("/admin/callbacks/figures?format=csv")
    rows = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert rows[0] == ["分类", "项目", "数量"]
    assert ["服务", "法律咨询", "1"] in rows
    share = next(r for r in rows if r[0] == "按期回电比例")
    assert share[2].endswith("%")
    assert any(r[0] == "状态" and r[1] == "办理中" for r in rows)
    assert f"callbacks-{clock.stamp()}.csv" in response.headers["Content-Disposition"]
    response = await client.get("/admin/callbacks/figures?format=xlsx")
    values = [
        tuple(r)
        for r in load_workbook(io.BytesIO(await response.read())).active.iter_rows(values_only=True)
    ]
    assert ("分类", "项目", "数量") in values
