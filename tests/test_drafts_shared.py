"""The household's drafts (callback and appointment) share one implementation: bounded per box
and per kind, scoped to their box, and written only to tables of a fixed allow-list."""

import pytest

from callbacks import drafts
from tests.helpers import draft_for, phone_step, publish, tomorrow
from tv_server import keys


async def test_each_kind_of_draft_is_capped_per_box_without_evicting_the_other(client, box):
    await publish(client)
    await phone_step(client, box, tomorrow())
    for _ in range(drafts.DRAFTS_PER_BOX + 2):
        await draft_for(client, box)
    db = client.app[keys.DB]
    assert await db.fetchval("SELECT COUNT(*) FROM callback_drafts") == drafts.DRAFTS_PER_BOX
    assert await db.fetchval("SELECT COUNT(*) FROM appointment_drafts") == 1


async def test_a_table_outside_the_allow_list_is_refused(client, box):
    db = client.app[keys.DB]
    with pytest.raises(ValueError):
        await drafts.read(db, "devices; --", 1, "abc123")
    with pytest.raises(ValueError):
        async with db.transaction() as tx:
            await drafts.write(tx, "devices", 1, None, ("x",), 0.0)
