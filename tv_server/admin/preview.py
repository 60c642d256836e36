"""Admin slice: preview a program exactly as the TV renders it. The preview page holds three
frames (1280×720, 1920×1080, 3840×2160) whose documents come from the TV's own page and video
renderers with a neutral box: no usage is recorded and every link stays inside the preview."""

from __future__ import annotations

import re
from dataclasses import replace

from aiohttp import web

from content.programs import live as programs_live
from content.programs import subtitles
from content.programs import versions as program_versions
from content.programs import video as video_domain
from content.programs.preview import PreviewSource, preview_source
from storage import NotFound
from tv_server import keys
from tv_server.admin import program_scope
from tv_server.admin import video as video_slice
from tv_server.admin.common import deny, render, requires, url
from tv_server.tv import common as tv_common
from tv_server.tv import programs as tv_programs
from tv_ui import i18n
from tv_ui.i18n import N_

# (profile, width, height, label, scale without script)
FRAMES = (
    ("720p", 1280, 720, N_("1280×720 旧机顶盒"), 0.5),
    ("1080p", 1920, 1080, N_("1920×1080 高清"), 1 / 3),
    ("2160p", 3840, 2160, N_("3840×2160 4K"), 1 / 6),
)
PROFILES = {f[0] for f in FRAMES}
# The TV's policy, except that the admin (same origin) may frame it.
FRAME_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
    " media-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none';"
    " object-src 'none'"
)


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else None


def _lang(request: web.Request) -> str:
    return "mn" if request.query.get("lang") == "mn" else "zh"


def _images(request: web.Request) -> bool:
    """The Mongolian preview on the image path (`mi=1`): as a box whose model cannot shape
    Mongolian shows it, every Mongolian text block a drawn image (tv_server.mongol_image)."""
    return _lang(request) == "mn" and request.query.get("mi") == "1"


async def _source(request: web.Request) -> tuple[int, PreviewSource]:
    """The program and revision asked for, after the region check for scoped users: the same
    rule as the programs list (a program some box of their region can see). With `lang=mn`, its
    Mongolian version as a Mongolian box shows it (vertical)."""
    pid = int(request.match_info["pid"])
    db = request.config_dict[keys.DB]
    source = await preview_source(db, pid, _int(request.query.get("rev")))
    if not program_scope.can_view(request, source.regions):
        raise await deny(request, "view", program=pid, regions=source.regions)
    if _lang(request) == "mn":
        version = (await program_versions.get_versions(db, pid)).get("mn")
        if version is None:
            raise NotFound("not_found", "mn")
        # The Chinese of each text, for the image path's `alt` (recorded when collecting).
        tv_programs.remember_sources(source.detail, version, with_bodies=True)
        source = replace(source, detail=program_versions.apply(source.detail, version))
    return pid, source


def _page(request: web.Request, source: PreviewSource) -> int | str:
    """The page number asked for, or "video"; page 1 (or the video) when absent."""
    detail = source.detail
    raw = request.query.get("page", "")
    if raw == "video" or (not raw and not detail.pages and detail.video_file):
        if not detail.video_file:
            raise NotFound("not_found", "video")
        return "video"
    number = _int(raw) or 1
    if not 1 <= number <= len(detail.pages):
        raise NotFound("not_found", f"page {number}")
    return number


@requires("view")
async def preview(request: web.Request) -> web.Response:
    pid, source = await _source(request)
    page = _page(request, source)
    webp = request.query.get("webp") == "1"
    rev = source.revision_id

    lang = _lang(request) if _lang(request) != "zh" else None
    images = "1" if _images(request) else None

    def link(**changes) -> str:
        query = {
            "rev": rev,
            "page": page,
            "webp": "1" if webp else None,
            "lang": lang,
            "mi": images,
            **changes,
        }
        return url(request, "admin_program_preview", query, pid=pid)

    frames = [
        {
            "profile": profile,
            "width": width,
            "height": height,
            "label": label,
            "percent": round(scale * 100),
            "url": url(
                request,
                "admin_program_preview_frame",
                {
                    "profile": profile,
                    "page": page,
                    "rev": rev,
                    "webp": "1" if webp else None,
                    "lang": lang,
                    "mi": images,
                },
                pid=pid,
            ),
        }
        for profile, width, height, label, scale in FRAMES
    ]
    router = request.app.router
    edit_url = url(request, "admin_program", pid=pid) if "admin_program" in router else None
    return render(
        request,
        "admin/preview/preview.html",
        source=source,
        detail=source.detail,
        page=page,
        webp=webp,
        link=link,
        frames=frames,
        edit_url=edit_url,
        lang=lang,
        images=images,
    )


@requires("view")
async def frame(request: web.Request) -> web.Response:
    """One frame's document: the TV's own screen for the page (or video), links kept inside."""
    if _images(request):
        i18n.collect_sources()  # the Chinese of the drawn texts (their alt)
    pid, source = await _source(request)
    page = _page(request, source)
    profile = request.query.get("profile", "1080p")
    if profile not in PROFILES:
        raise NotFound("not_found", profile)
    webp = request.query.get("webp") == "1"

    lang, images = _lang(request), _images(request)

    def frame_url(to: int | str) -> str:
        query = {"profile": profile, "page": to, "rev": source.revision_id}
        if webp:
            query["webp"] = "1"
        if lang != "zh":
            query["lang"] = lang
        if images:
            query["mi"] = "1"
        return url(request, "admin_program_preview_frame", query, pid=pid)

    detail = source.detail
    i18n.use_language(lang)  # the TV's strings and, for mn, the vertical layout and its font
    settings = request.config_dict[keys.SETTINGS]
    pending = None
    # (on the image path: the texts drawn at the frame's profile, alt their Chinese)
    drawn = {"images_at": profile} if images else {}
    if page == "video":
        db = request.config_dict[keys.DB]
        pending = await video_domain.unfinished(db, settings.data_path, detail.video_file)
    if pending is not None and not pending.plays_as_is:
        html = await _pending(request, pid, source, profile, pending, frame_url)
    elif page == "video":
        html = await tv_programs.render_video(
            request,
            None,
            detail,
            profile=profile,
            pages_url=frame_url(1),
            back=frame_url("video"),
            back_force=True,
            lang=lang,
            shapes_mongolian=not images,
            subs_url_for=lambda track: url(
                request,
                "admin_program_preview_subs",
                {"rev": source.revision_id, "lang": lang if lang != "zh" else None},
                pid=pid,
                file=f"{track.lang}-{track.sha[:16]}.vtt",
            ),
            **drawn,
        )
    else:
        html = await tv_programs.render_page(
            request,
            None,
            detail,
            page,
            profile=profile,
            webp=webp,
            page_url=frame_url,
            video_url=frame_url("video"),
            back=frame_url(1),
            back_force=True,
            lang=lang,
            **drawn,
        )
    return web.Response(
        text=html,
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "SAMEORIGIN",
            "Content-Security-Policy": FRAME_CSP,
        },
    )


async def _pending(
    request: web.Request,
    pid: int,
    source: PreviewSource,
    profile: str,
    pending: video_domain.Unfinished,
    frame_url,
) -> str:
    """The video screen while its transcode runs (or after it failed): the poster, else the
    first good frame kept at upload, under the transcode's progress, in place of a player
    Chromium could not play (H.265, AV1, Matroska…). The frame polls the progress and, once
    the job is done, loads itself again: the TV's player with the transcoded MP4."""
    detail = source.detail
    db = request.config_dict[keys.DB]
    still = None
    if detail.poster_media_id:
        covers = await programs_live.rendition_files(
            db, [detail.poster_media_id], "cover-" + profile
        )
        still = covers.get(detail.poster_media_id)
    still = still or pending.first_frame
    lang = _lang(request)
    return tv_common.render(
        request,
        "admin/preview/video_pending.html",
        None,
        program=detail.card,
        status=video_slice.describe(pending.job),
        status_url=url(
            request,
            "admin_program_preview_video",
            {"rev": source.revision_id, "lang": lang if lang != "zh" else None},
            pid=pid,
        ),
        still=f"/media/{still}" if still else None,
        pages_url=frame_url(1) if detail.pages else None,
        back=frame_url(1) if detail.pages else frame_url("video"),
        back_force=True,
        profile=profile,
    )


@requires("view")
async def video_state(request: web.Request) -> web.Response:
    """The transcode of the previewed revision's video, polled by its frames while it is not
    done (`{"state": "none"}` without a job, or once a job is done)."""
    _pid, source = await _source(request)
    db = request.config_dict[keys.DB]
    data_dir = request.config_dict[keys.SETTINGS].data_path
    pending = await video_domain.unfinished(db, data_dir, source.detail.video_file)
    body = {"state": "done"} if pending is None else video_slice.describe(pending.job)
    return web.json_response(body, headers={"Cache-Control": "no-store"})


_SUBS_NAME = re.compile(r"^(zh|mn)-([0-9a-f]{16})\.vtt$")


@requires("view")
async def subs(request: web.Request) -> web.Response:
    """A subtitle track of the previewed revision, a draft's too (the TV's `/tv/subs/` serves
    only what a published program shows): to whoever may preview the program, never cached."""
    pid, source = await _source(request)
    match = _SUBS_NAME.match(request.match_info["file"])
    if match is None:
        raise NotFound("not_found", "subtitles")
    tracks = await subtitles.tracks_of_program(
        request.config_dict[keys.DB], pid, source.detail.video_file, source.detail.subtitles
    )
    track = subtitles.track_named(tracks, match.group(1), match.group(2))
    if track is None:
        raise NotFound("not_found", "subtitles")
    return web.Response(
        text=track.vtt,
        content_type="text/vtt",
        charset="utf-8",
        headers={"Cache-Control": "private, no-store"},
    )
