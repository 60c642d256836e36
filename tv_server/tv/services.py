"""The service directory on the box: the household's own chain first, then any other region."""

from __future__ import annotations

from dataclasses import replace

import segno
import segno.helpers
from aiohttp import web

from appointments import slots
from content.directory import points as directory
from storage import NotFound
from tv_server import keys
from tv_server.tv.common import cached, current_box, render, screen_url
from tv_ui import i18n, labels
from tv_ui.i18n import gettext

CHILDREN_PER_PAGE = 24


def for_language(points: list[directory.ServicePoint], lang: str) -> list:
    """On a Mongolian box: each point's Mongolian name and description where given, and the
    points serving in Mongolian first (the order otherwise kept)."""
    if lang != "mn":
        return points
    for p in points:  # the Chinese behind each Mongolian text, for the image path's alt
        i18n.remember_source(p.name_mn, p.name)
        i18n.remember_source(p.description_mn, p.description)
    shown = [
        replace(p, name=p.name_mn or p.name, description=p.description_mn or p.description)
        for p in points
    ]
    return sorted(shown, key=lambda p: "mn" not in p.languages)


def _qr_svg(point: directory.ServicePoint) -> str:
    memo = f"{point.address} {point.hours}".strip()
    qr = segno.helpers.make_mecard(name=point.name, phone=point.phone, memo=memo)
    return qr.svg_inline(scale=4, border=2, dark="#000000", light="#ffffff")


async def my_chain(request: web.Request) -> web.Response:
    box = await current_box(request)
    tree = request.app[keys.REGIONS]

    async def build() -> str:
        chain = list(box.chain)
        points = await directory.points_in_regions(request.app[keys.DB], chain)
        sections = []
        for code in chain:
            region = tree.get(code)
            here = for_language([p for p in points if p.region_code == code], box.lang)
            if region is not None and here:
                sections.append({"region": tree.in_language(region, box.lang), "points": here})
        return render(
            request,
            "tv/directory.html",
            box,
            sections=sections,
            kinds=labels.POINT_KINDS,
            levels=labels.OWN_LEVELS,
            other_url=screen_url(request, "tv_region", code=chain[-1]) if chain else None,
            back=screen_url(request, "tv_home") + "#t-dir",
        )

    return await cached(request, box, ("dir", box.chain[:1]), ["directory"], build)


async def region(request: web.Request) -> web.Response:
    box = await current_box(request)
    tree = request.app[keys.REGIONS]
    code = request.match_info["code"]
    here = tree.get(code)
    if here is None:
        raise NotFound("region_not_found", code)
    raw = request.query.get("p", "1")
    page = int(raw) if raw.isdigit() and int(raw) > 0 else 1

    async def build() -> str:
        kids = tree.kids(code)
        pages = max(1, -(-len(kids) // CHILDREN_PER_PAGE))
        if page > pages:
            raise NotFound("not_found", f"page {page}")
        shown = kids[(page - 1) * CHILDREN_PER_PAGE : page * CHILDREN_PER_PAGE]
        points = for_language(
            await directory.points_in_regions(request.app[keys.DB], [code]), box.lang
        )
        parent = tree.get(here.parent_code)
        return render(
            request,
            "tv/region.html",
            box,
            region=tree.in_language(here, box.lang),
            points=points,
            children=[tree.in_language(kid, box.lang) for kid in shown],
            kinds=labels.POINT_KINDS,
            children_label=labels.CHILD_LEVELS.get(here.level, labels.CHILD_LEVELS["township"]),
            page=page,
            pages=pages,
            path=tree.full_name(code, box.lang),
            prev_url=screen_url(request, "tv_region", code=code, query={"p": page - 1})
            if page > 1
            else None,
            next_url=screen_url(request, "tv_region", code=code, query={"p": page + 1})
            if page < pages
            else None,
            back=(screen_url(request, "tv_region", code=parent.code) + f"#r-{code}")
            if parent
            else screen_url(request, "tv_directory"),
        )

    return await cached(request, box, ("region", code, page), ["directory"], build)


async def point(request: web.Request) -> web.Response:
    box = await current_box(request)
    point_id = int(request.match_info["point_id"])
    db = request.app[keys.DB]
    code = await directory.point_code_of(db, point_id)

    async def build() -> str:
        p = await directory.get_point(db, code)
        tree = request.app[keys.REGIONS]
        return render(
            request,
            "tv/point.html",
            box,
            point=for_language([p], box.lang)[0],
            qr=_qr_svg(p),
            services=[gettext(labels.SERVICES.get(s, s)) for s in p.services],
            languages=[gettext(labels.LANGUAGES.get(lang, lang)) for lang in p.languages],
            kind=gettext(labels.POINT_KINDS[p.kind]),
            place=tree.full_name(p.region_code, box.lang),
            callback_url=screen_url(request, "tv_cb", query={"sp": p.code}),
            appointment_url=screen_url(request, "tv_ap", query={"sp": p.code})
            if await slots.services_at(db, p.code)
            else None,
            back=screen_url(request, "tv_directory") + f"#o-{p.id}",
        )

    # "appointments": the 预约办理 button comes and goes with the point's slot patterns.
    return await cached(request, box, ("point", point_id), ["directory", "appointments"], build)
