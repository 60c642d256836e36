"""The "needs legal re-review" (需法律复核) flags as the programs slice shows them: in the editors'
list, the reviewers' queue and on a program's pages (see `tv_server/admin/laws.py`)."""

from __future__ import annotations

import time

from aiohttp import web

from content.laws import register as laws
from tv_server import keys
from tv_server.admin import program_scope
from tv_ui.i18n import N_, gettext

FLAG = {
    "amended": N_("《%(law)s》已于 %(date)s 修改"),
    "repealed": N_("《%(law)s》已于 %(date)s 废止"),
    "effective": N_("《%(law)s》新文本自 %(date)s 起施行"),
}
REPLACED = N_("，由《%(name)s》取代")


def flag_text(flag: laws.Flag) -> str:
    """Why a program needs legal re-review, in words."""
    text = gettext(FLAG[flag.kind]) % {"law": flag.law_name, "date": flag.on_date}
    if flag.kind == "repealed" and flag.replaced_by:
        text += gettext(REPLACED) % {"name": flag.replaced_by}
    return text


async def list_context(request: web.Request) -> dict:
    """For the programs list and the review queue: open flags by program id, of the programs
    the user may see (and those programs' legal state, for the queue)."""
    db = request.config_dict[keys.DB]
    found = await laws.flags(db)
    regions = await laws.program_regions(db, list(found))
    visible = {
        pid: flags for pid, flags in found.items()
        if program_scope.can_view(request, regions.get(pid, []))
    }  # fmt: skip
    states = await laws.legal_states(
        db, now=time.time(), review_days=int(request.config_dict[keys.SETTINGS].legal_review_days),
        program_ids=list(visible),
    )  # fmt: skip
    return {"legal": visible, "legal_queue": states, "flag_text": flag_text}


async def program_context(request: web.Request, program_id: int) -> dict:
    """For a program's edit and review pages: its open flags."""
    found = await laws.flags(request.config_dict[keys.DB], [program_id])
    return {"legal_flags": found.get(program_id, []), "legal_pid": program_id,
            "flag_text": flag_text}  # fmt: skip
