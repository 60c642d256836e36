"""What to bring to an appointment, per service: a short list staff edit, shown on the receipt."""

from __future__ import annotations

import time

from appointments import slots
from storage import Database, Invalid

TEXT_MAX = 200
# Until staff write their own: what every office asks for.
DEFAULTS = {
    "notarisation": "身份证、户口本原件，需公证的材料原件及复印件",
    "legal_aid": "身份证，家庭经济困难证明，与案件有关的材料",
    "mediation": "身份证，与纠纷有关的材料（合同、欠条、照片等）",
    "consultation": "身份证，与问题有关的材料",
}


async def get_all(db: Database) -> dict[str, str]:
    rows = await db.fetchall("SELECT service, text FROM appointment_bring")
    kept = {r[0]: r[1] for r in rows}
    return {s: kept.get(s, DEFAULTS[s]) for s in slots.SERVICES}


async def get(db: Database, service: str) -> str:
    return (await get_all(db))[service]


async def set_text(db: Database, service: str, text: str) -> tuple[str, str]:
    """Replace a service's list; returns (before, after)."""
    slots.service_param(service)
    text = " ".join(text.split())
    if not text:
        raise Invalid("bring_required", service)
    if len(text) > TEXT_MAX:
        raise Invalid("bring_too_long", str(len(text)))
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT text FROM appointment_bring WHERE service = ?", (service,))
        await tx.execute(
            "INSERT INTO appointment_bring (service, text, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (service) DO UPDATE SET text = excluded.text,"
            " updated_at = excluded.updated_at",
            (service, text, time.time()),
        )
    return (row[0] if row else DEFAULTS[service]), text
