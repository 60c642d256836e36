"""译文状态: the review status of each TV language's strings, read-only, for every account.
Drafted Mongolian is shown as 草稿 (not reviewed by a native speaker), never as reviewed."""

from __future__ import annotations

from aiohttp import web

from tv_server.admin.common import render, requires
from tv_ui import i18n
from tv_ui.i18n import N_

PERMISSION = "view"
STATUS_LABELS = {
    "drafted": N_("草稿，未经母语者审校"),
    "reviewed": N_("已审校"),
    "missing": N_("未翻译（显示中文）"),
}
LANGUAGE_LABELS = {"mn": N_("蒙古文（传统蒙古文，竖写）")}


@requires(PERMISSION)
async def translation_status(request: web.Request) -> web.Response:
    show = request.query.get("status", "drafted")
    if show not in STATUS_LABELS:
        show = "drafted"
    languages = []
    for lang, label in LANGUAGE_LABELS.items():
        entries = i18n.review_status(lang)
        counts = {s: sum(1 for e in entries if e[2] == s) for s in STATUS_LABELS}
        languages.append(
            {
                "code": lang,
                "label": label,
                "counts": counts,
                "entries": [e for e in entries if e[2] == show][:1000],
            }
        )
    return render(
        request,
        "admin/translation.html",
        languages=languages,
        status_labels=STATUS_LABELS,
        show=show,
    )
