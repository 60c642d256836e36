"""Legal-education programs on the box: categories → programs → pages (or a video)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import replace

from aiohttp import web

from content.programs import live as domain
from content.programs import package, renditions, subtitles, versions
from content.programs import video as video_domain
from storage import NotFound
from tv_server import keys, mongol_image
from tv_server.tv.common import cached, current_box, render, screen_url
from tv_ui import i18n, labels

log = logging.getLogger(__name__)

PER_PAGE = 6
MONGOLIAN = re.compile("[\u1800-\u18af]")

NEXT_SCAN = 1000  # programs of a category looked through for the next one


async def program_for(request: web.Request, box, pid: int) -> domain.ProgramDetail:
    """The program, from memory when possible; NotFound unless visible in the box's regions.
    A Mongolian box gets the program's Mongolian version where it has one (`language` says)."""
    details = request.app[keys.PROGRAMS]
    entry = details.get(pid)
    if entry is None:
        db = request.app[keys.DB]
        detail = await domain.get_program(db, pid, None)
        entry = details.put(
            pid, (detail, frozenset(detail.regions), await versions.get_versions(db, pid))
        )
    detail, regions, langs = entry
    if regions.isdisjoint(box.chain):
        raise NotFound("program_not_found", str(pid))
    version = langs.get(box.lang)
    if not version:
        return detail
    remember_sources(detail, version, with_bodies=not box.mongolian_text())
    return versions.apply(detail, version)


def remember_sources(detail: domain.ProgramDetail, version: versions.Version, *, with_bodies: bool):
    """The zh version's texts as the sources of the version's (tv_ui.i18n.sources): the image
    path gives each drawn text its Chinese from them. Page by page (a version may have more or
    fewer pages: those without a Chinese page of their number have no source); the pages' bodies
    (`with_bodies`) paragraph by paragraph where they have as many (mongol_image.paired_texts)."""
    i18n.remember_source(version.title, detail.card.title)
    i18n.remember_source(version.summary, detail.card.summary)
    for mn, zh in zip(version.pages, detail.pages, strict=False):
        i18n.remember_source(mn.title, zh.title)
        if with_bodies:
            pairs = mongol_image.paired_texts(
                package.render_markdown(mn.markdown), package.render_markdown(zh.markdown)
            )
            for shown, source in pairs:
                i18n.remember_source(shown, source)


def _media_url(rel: str | None) -> str | None:
    return f"/media/{rel}" if rel else None


async def categories(request: web.Request) -> web.Response:
    box = await current_box(request)
    db = request.app[keys.DB]

    async def build() -> str:
        cats = await domain.list_categories(db, list(box.chain))
        return render(
            request,
            "tv/categories.html",
            box,
            categories=cats,
            back=screen_url(request, "tv_home") + "#t-programs",
        )

    return await cached(request, box, ("cats", box.chain[:1]), ["programs"], build)


def _page_number(request: web.Request) -> int:
    raw = request.query.get("p", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else 1


async def category(request: web.Request) -> web.Response:
    box = await current_box(request)
    db = request.app[keys.DB]
    slug = request.match_info["slug"]
    page = _page_number(request)

    async def build() -> str:
        cat = await domain.get_category(db, slug)
        cards, total = await domain.list_programs(
            db, slug, list(box.chain), (page - 1) * PER_PAGE, PER_PAGE
        )
        pages = max(1, -(-total // PER_PAGE))
        if page > pages:
            raise NotFound("not_found", f"page {page}")
        thumbs = await domain.cover_files(db, [c.id for c in cards], "thumb-" + box.profile)
        # A Mongolian box: Mongolian titles where a version exists, 汉语 on the others.
        named = await versions.titles(db, [c.id for c in cards], box.lang)
        for c in cards:
            if c.id in named:
                i18n.remember_source(named[c.id], c.title)
        cards = [replace(c, title=named[c.id]) if c.id in named else c for c in cards]
        if named:  # the versions' own title cards, in Mongolian
            thumbs.update(
                await versions.cover_files(db, list(named), box.lang, "thumb-" + box.profile)
            )
        return render(
            request,
            "tv/category.html",
            box,
            category=cat,
            cards=cards,
            zh_only={c.id for c in cards if c.id not in named} if box.lang == "mn" else set(),
            zh_name=labels.SELF_NAMES["zh"],
            page=page,
            pages=pages,
            thumbs={k: _media_url(v) for k, v in thumbs.items()},
            prev_url=screen_url(request, "tv_category", slug=slug, query={"p": page - 1})
            if page > 1
            else None,
            next_url=screen_url(request, "tv_category", slug=slug, query={"p": page + 1})
            if page < pages
            else None,
            back=screen_url(request, "tv_categories") + "#cat-" + slug,
        )

    return await cached(request, box, ("cat", slug, page, box.chain[:1]), ["programs"], build)


async def resume(request: web.Request) -> web.Response:
    """Open a program where this box stopped: its video first, else the last page read."""
    box = await current_box(request)
    pid = int(request.match_info["pid"])
    detail = await program_for(request, box, pid)
    page = await request.app[keys.USAGE].page_for(box.id, pid)
    if page is None and detail.video_file:
        raise web.HTTPFound(screen_url(request, "tv_video", pid=pid))
    page = min(max(page or 1, 1), max(len(detail.pages), 1))
    if page == len(detail.pages):  # read to the end: reopening it starts again at page 1
        page = 1
    raise web.HTTPFound(screen_url(request, "tv_page", pid=pid, n=page))


async def page_image_files(db, media_ids: list[int], profile: str, webp: bool) -> dict[int, str]:
    """Rendition files of page images for a screen profile: WebP where the box decodes it and
    the rendition exists, the baseline JPEG otherwise."""
    spec = "page-" + profile
    files = await domain.rendition_files(db, media_ids, spec)
    if webp:
        files.update(await domain.rendition_files(db, media_ids, spec + "-webp"))
    return files


async def render_page(
    request: web.Request,
    box,
    detail: domain.ProgramDetail,
    number: int,
    *,
    profile: str,
    webp: bool,
    page_url: Callable[[int], str],
    video_url: str | None,
    back: str,
    **extra,
) -> str:
    """A program page as the TV shows it; shared by the box's screens and the editors' preview
    (which passes its own links and no box)."""
    db = request.config_dict[keys.DB]
    current = detail.pages[number - 1]
    files = await page_image_files(db, list(detail.images.values()), profile, webp)

    def image_url(path: str) -> str:
        key = path[3:] if path.startswith("../") else path
        media_id = detail.images.get(key) or detail.images.get(path)
        return _media_url(files.get(media_id)) or ""

    body = package.render_markdown(current.markdown, image_url=image_url)
    return render(
        request,
        "tv/page.html",
        box,
        program=detail.card,
        page=current,
        body=body,
        number=number,
        total=len(detail.pages),
        pager=True,
        prev_url=page_url(number - 1) if number > 1 else None,
        next_url=page_url(number + 1) if number < len(detail.pages) else None,
        video_url=video_url if detail.video_file else None,
        back=back,
        profile=profile,
        basis=detail.basis(number),
        zh_name=labels.SELF_NAMES["zh"],
        program_language=detail.language,
        **extra,
    )


async def _poster(
    request: web.Request, detail: domain.ProgramDetail, frame: str | None, profile: str
) -> str | None:
    """The poster file of the video screen: the program's poster (or the first frame taken from
    the video); for the program's Mongolian version, that frame with the Mongolian title drawn
    over it (`versions.poster_file`, drawn once per frame, title and profile), else — no frame,
    or one that cannot be read — the version's Mongolian title card."""
    if detail.language not in versions.LANGS:
        return frame
    if frame is not None:
        data_dir = request.config_dict[keys.SETTINGS].data_path
        try:
            return await asyncio.to_thread(
                versions.poster_file, data_dir, frame, detail.card.title, profile
            )
        except (renditions.RenditionError, OSError):  # an unreadable frame, no font
            log.warning("no Mongolian poster for program %s from %s", detail.card.id, frame)
    db = request.config_dict[keys.DB]
    cards = await versions.cover_files(db, [detail.card.id], detail.language, profile)
    return cards.get(detail.card.id, frame)


async def render_video(
    request: web.Request,
    box,
    detail: domain.ProgramDetail,
    *,
    profile: str,
    pages_url: str | None,
    back: str,
    hls: bool = False,
    lang: str = "zh",
    subs_on: bool = True,
    overlay: bool = True,
    shapes_mongolian: bool = True,
    subs_url_for: Callable[[subtitles.Track], str] | None = None,
    **extra,
) -> str:
    """A program's video screen as the TV shows it (shared with the editors' preview): the HLS
    ladder for a box that plays HLS natively, else the 720p MP4 (the upload while it is being
    transcoded, or for a video stored before transcoding existed). Subtitles in the box's
    language (else Chinese): a WebVTT file the player draws over the video, or, for a model
    that cannot draw over a playing video (`overlay` false), the burned-in MP4 when it exists.
    Mongolian subtitles the player draws as text: their letters join the screen's font subset
    (`data-glyphs`); a box that cannot shape Mongolian (`shapes_mongolian` false, the image
    path) gets them burned in when that copy exists, else the Chinese track."""
    db = request.config_dict[keys.DB]
    posters = await domain.rendition_files(
        db, [detail.poster_media_id] if detail.poster_media_id else [], "cover-" + profile
    )
    play = await video_domain.playable_file(db, detail.video_file)
    poster = posters.get(detail.poster_media_id) or next(iter(play.posters), None)
    tracks = await subtitles.tracks_of_program(
        db, detail.card.id, detail.video_file, detail.subtitles
    )
    track = subtitles.pick(tracks, lang)
    glyphs = ""
    if track is not None and track.lang in versions.LANGS:
        if not shapes_mongolian and overlay:  # text it cannot shape: the picture, or Chinese
            burned_mn = track.burn_state == "done" and track.burn_file
            overlay = not burned_mn
            track = track if burned_mn else tracks.get("zh")
        else:
            glyphs = "".join(sorted(set(MONGOLIAN.findall(track.vtt))))
    src = play.hls if hls and play.hls else play.mp4
    subs_url, burned = None, False
    if track is not None and overlay:
        # A fixed path (the editors' preview renders this in the admin sub-application and
        # names its own, `subs_url_for`: the TV's serves only published texts).
        subs_url = (
            subs_url_for(track)
            if subs_url_for is not None
            else f"/tv/subs/{track.media_id or 0}-{track.lang}-{track.sha[:16]}.vtt"
        )
    elif track is not None and track.burn_state == "done" and track.burn_file:
        burned = True
        if subs_on:
            src = track.burn_file
    return render(
        request,
        "tv/video.html",
        box,
        program=detail.card,
        video_src=_media_url(src),
        poster=_media_url(await _poster(request, detail, poster, profile)),
        duration=detail.duration_seconds or (round(play.duration) if play.duration else None),
        pages_url=pages_url if detail.pages else None,
        back=back,
        profile=profile,
        subs_url=subs_url,
        subs_burned=burned,
        subs_on=subs_on,
        subs_glyphs=glyphs if subs_url else "",
        thumbs=play.thumbs,
        lang=lang,  # the editors' preview has no box to take it from
        **extra,
    )


async def _next_in_category(request: web.Request, box, detail: domain.ProgramDetail):
    """What the video screen offers at the end: the program after this one in its category's
    list as the box sees it (title and link), or None for the last one."""
    cards, _total = await domain.list_programs(
        request.app[keys.DB], detail.card.category, list(box.chain), 0, NEXT_SCAN
    )
    ids = [c.id for c in cards]
    if detail.card.id not in ids or ids[-1] == detail.card.id:
        return None
    after = cards[ids.index(detail.card.id) + 1]
    return {"title": after.title, "url": screen_url(request, "tv_program", pid=after.id)}


async def page(request: web.Request) -> web.Response:
    box = await current_box(request)
    pid, number = int(request.match_info["pid"]), int(request.match_info["n"])
    detail = await program_for(request, box, pid)
    if not 1 <= number <= len(detail.pages):
        raise NotFound("not_found", f"page {number}")

    async def build() -> str:
        return await render_page(
            request,
            box,
            detail,
            number,
            profile=box.profile,
            webp=box.webp,
            page_url=lambda n: screen_url(request, "tv_page", pid=pid, n=n),
            video_url=screen_url(request, "tv_video", pid=pid),
            back=screen_url(request, "tv_category", slug=detail.card.category) + f"#prog-{pid}",
        )

    key = ("page", pid, number, box.webp)
    return await cached(request, box, key, [f"program:{pid}"], build, view=(pid, number))


async def video(request: web.Request) -> web.Response:
    box = await current_box(request)
    pid = int(request.match_info["pid"])
    detail = await program_for(request, box, pid)
    if not detail.video_file:
        raise NotFound("program_not_found", str(pid))

    async def build() -> str:
        return await render_video(
            request,
            box,
            detail,
            profile=box.profile,
            pages_url=screen_url(request, "tv_page", pid=pid, n=1),
            back=screen_url(request, "tv_category", slug=detail.card.category) + f"#prog-{pid}",
            hls=box.hls,
            lang=box.lang,
            subs_on=subs_on,
            overlay=overlay,
            shapes_mongolian=box.mongolian_text(),
            position_url=screen_url(request, "tv_video_at", pid=pid),
            subs_set_url=screen_url(request, "tv_video_subs", pid=pid),
            next_program=await _next_in_category(request, box, detail),
        )

    subs_on, overlay = await subtitles.box_choice(request.app[keys.DB], box.id)
    key = ("video", pid, box.hls, subs_on, overlay, box.chain[:1])
    return await cached(request, box, key, [f"program:{pid}"], build, view=(pid, 0))
