"""Title cards: a generated cover for programs that ship without one.

A card is drawn natively at each screen profile (720p, 1080p, 2160p) so that 4K boxes get
crisp text instead of an upscaled 720p picture. Colours are chosen from the title, so the same
program always gets the same card.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

SPECS: dict[str, tuple[int, int]] = {
    "720p": (1280, 720),
    "1080p": (1920, 1080),
    "2160p": (3840, 2160),
}

# Calm, dark backgrounds; white text on each has a contrast ratio well above 7:1.
PALETTE: list[tuple[int, int, int]] = [
    (18, 52, 86),  # deep blue
    (22, 78, 64),  # pine green
    (92, 30, 38),  # wine red
    (58, 44, 96),  # indigo
    (30, 62, 74),  # slate teal
    (86, 52, 20),  # dark ochre (grassland brown)
]
TEXT = (255, 255, 255)
ACCENT = (244, 196, 48)  # warm gold, used for the emblem and the label

FAMILY = "Noto Sans CJK SC"
_KNOWN_DIRS = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/noto-cjk",
    "/usr/share/fonts/google-noto-cjk",
    "/usr/local/share/fonts",
)


class FontNotFoundError(RuntimeError):
    """Noto Sans CJK is not installed (Debian: apt-get install fonts-noto-cjk)."""


def _sc_index(path: str) -> int | None:
    """Return the face index of 'Noto Sans CJK SC' inside a .ttc collection, if any."""
    for index in range(16):
        try:
            name = ImageFont.truetype(path, 12, index=index).getname()[0]
        except OSError:
            return None
        if name == FAMILY:
            return index
    return None


@functools.cache
def find_font(weight: str = "Bold") -> tuple[str, int]:
    """Locate Noto Sans CJK SC (`weight` is "Bold" or "Regular"); return (path, face index)."""
    candidates: list[str] = []
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(
                ["fc-match", "-f", "%{file}", f"{FAMILY}:style={weight}"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if "CJK" in out:
            candidates.append(out)
    for folder in _KNOWN_DIRS:
        candidates.append(f"{folder}/NotoSansCJK-{weight}.ttc")
        candidates.append(f"{folder}/NotoSansCJKsc-{weight}.otf")
    for path in candidates:
        if Path(path).is_file():
            index = _sc_index(path)
            if index is not None:
                return path, index
    raise FontNotFoundError(
        f"font '{FAMILY} {weight}' not found; install fonts-noto-cjk (looked in: "
        + ", ".join(_KNOWN_DIRS)
        + ")"
    )


@functools.cache
def load_font(size: int, weight: str = "Bold") -> ImageFont.FreeTypeFont:
    path, index = find_font(weight)
    return ImageFont.truetype(path, size, index=index)


def palette_colour(title: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(title.encode("utf-8")).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    """Wrap by characters (Chinese has no spaces); keep ASCII words together where possible."""
    lines: list[str] = []
    current = ""
    for token in _tokens(text):
        if token == "\n":  # noqa: S105 - a line break, not a secret
            lines.append(current)
            current = ""
            continue
        trial = current + token
        # Closing punctuation never starts a line (kinsoku): let it overhang instead.
        if current and token not in _NO_LINE_START and font.getlength(trial) > max_width:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


_NO_LINE_START = set("，。、：；！？）》」』”’,.:;!?)")


def _tokens(text: str) -> list[str]:
    """Split into CJK characters and runs of ASCII letters/digits (kept whole)."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ch.isascii() and ch.isalnum():
            word += ch
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(ch)
    if word:
        tokens.append(word)
    return tokens


def _fit_title(title: str, max_width: float, start: int, minimum: int) -> tuple:
    """Pick the largest font size (from `start` down) that fits the title on ≤ 3 lines."""
    size = start
    while True:
        font = load_font(size)
        lines = wrap_text(title, font, max_width)
        if len(lines) <= 3 or size <= minimum:
            return font, lines[:3]
        size = int(size * 0.9)


def _card(title: str, profile: str) -> tuple[Image.Image, ImageDraw.ImageDraw, float]:
    """A card's background for one screen profile ("720p", "1080p" or "2160p"), shared by the
    Chinese and the Mongolian card: the title's colour, a lighter band and circle, the emblem;
    with its drawing context and scale (every measure is in 720p canvas pixels, times it)."""
    if profile not in SPECS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(SPECS)}")
    width, height = SPECS[profile]
    s = width / 1280
    bg = palette_colour(title)
    image = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(image)
    # A lighter band along the bottom and a soft circle give depth without noise.
    lighter = tuple(min(255, c + 18) for c in bg)
    draw.rectangle([0, int(height * 0.86), width, height], fill=lighter)
    cx, cy, r = int(1080 * s), int(170 * s), int(260 * s)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=lighter)
    # Emblem: a balance scale (the sign of law) in gold, top left.
    _draw_scale(draw, int(120 * s), int(130 * s), s)
    return image, draw, s


def render_title_card(title: str, category_title: str, profile: str) -> Image.Image:
    """Draw the card for one screen profile ("720p", "1080p" or "2160p")."""
    image, draw, s = _card(title, profile)
    width, height = image.size
    bg = palette_colour(title)

    # Category label: a gold rounded box with dark text.
    label_font = load_font(max(12, int(30 * s)))
    lx, ly = int(200 * s), int(100 * s)
    pad = int(14 * s)
    lw = label_font.getlength(category_title)
    draw.rounded_rectangle(
        [lx, ly, lx + lw + 2 * pad, ly + int(30 * s) + 2 * pad],
        radius=int(10 * s),
        fill=ACCENT,
    )
    draw.text((lx + pad, ly + pad), category_title, font=label_font, fill=bg, anchor="lt")

    # Title: big, bold, white, left aligned, at most three lines.
    margin = int(96 * s)
    font, lines = _fit_title(title, width - 2 * margin, int(84 * s), int(40 * s))
    line_h = int(font.size * 1.3)
    top = int(250 * s) + (3 - len(lines)) * line_h // 2
    for i, line in enumerate(lines):
        draw.text((margin, top + i * line_h), line, font=font, fill=TEXT, anchor="lt")

    # Footer: the service line every card points to.
    foot_font = load_font(max(12, int(28 * s)), "Regular")
    draw.text(
        (margin, int(height * 0.93)),
        "法治宣传 · 公共法律服务热线 12348",
        font=foot_font,
        fill=TEXT,
        anchor="lm",
    )
    return image


def _draw_scale(draw: ImageDraw.ImageDraw, x: int, y: int, s: float) -> None:
    """A simple balance: post, beam, two pans."""
    w = max(2, int(6 * s))
    draw.line([x, y - int(40 * s), x, y + int(40 * s)], fill=ACCENT, width=w)
    draw.line(
        [x - int(44 * s), y - int(26 * s), x + int(44 * s), y - int(26 * s)], fill=ACCENT, width=w
    )
    draw.rectangle(
        [x - int(24 * s), y + int(40 * s), x + int(24 * s), y + int(48 * s)], fill=ACCENT
    )
    for px in (x - int(44 * s), x + int(44 * s)):
        draw.line([px, y - int(26 * s), px, y + int(6 * s)], fill=ACCENT, width=max(1, w // 2))
        draw.chord(
            [px - int(20 * s), y - int(10 * s), px + int(20 * s), y + int(22 * s)],
            0,
            180,
            fill=ACCENT,
        )
    r = int(8 * s)
    draw.ellipse([x - r, y - int(40 * s) - r, x + r, y - int(40 * s) + r], fill=ACCENT)


MONGOLIAN_FONT = "NotoSansMongolian-Regular.ttf"


@functools.cache
def _mongolian_font(size: int) -> ImageFont.FreeTypeFont:
    found = sorted(
        p for d in ("/usr/share/fonts", "/usr/local/share/fonts")
        for p in Path(d).rglob(MONGOLIAN_FONT)
    ) if Path("/usr/share/fonts").exists() else []  # fmt: skip
    if not found:
        raise FileNotFoundError(f"{MONGOLIAN_FONT} not found (Debian fonts-noto-core)")
    return ImageFont.truetype(str(found[0]), size, layout_engine=ImageFont.Layout.RAQM)


def _vertical_columns(text: str, size: int, max_height: int) -> list[Image.Image]:
    """Mongolian `text` shaped in Noto Sans Mongolian, wrapped at spaces into columns no longer
    than `max_height`, each turned 90° clockwise (read top to bottom, columns left to right)."""
    font = _mongolian_font(size)
    lines: list[str] = []
    for word in text.split():
        joined = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(joined) <= max_height:
            lines[-1] = joined
        else:
            lines.append(word)
    ascent, descent = font.getmetrics()
    columns = []
    for line in lines[:4]:
        img = Image.new("L", (int(font.getlength(line)) + 4, ascent + descent), 0)
        ImageDraw.Draw(img).text((2, 0), line, font=font, fill=255)
        columns.append(img.rotate(-90, expand=True))
    return columns


def render_title_card_mn(title: str, profile: str) -> Image.Image:
    """The card of a program's Mongolian version: the same colours and emblem as the Chinese
    card, the title in traditional Mongolian script written vertically, columns left to right,
    and the 12348 hotline."""
    image, draw, s = _card(title, profile)
    height = image.height
    x, top = int(220 * s), int(60 * s)
    for column in _vertical_columns(title, int(72 * s), int(height * 0.86) - top - int(30 * s)):
        image.paste(TEXT, (x, top), column)
        x += column.width + int(24 * s)
    foot_font = load_font(max(12, int(28 * s)), "Regular")
    draw.text((int(96 * s), int(height * 0.93)), "12348", font=foot_font, fill=TEXT, anchor="lm")
    return image


def render_poster_mn(frame: Image.Image, title: str, profile: str) -> Image.Image:
    """The video poster of a program's Mongolian version: the poster frame filling the screen,
    darkened towards the left, with the title in traditional Mongolian script over it, written
    vertically (columns left to right) beside a gold rule."""
    if profile not in SPECS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(SPECS)}")
    width, height = SPECS[profile]
    s = width / 1280
    image = ImageOps.fit(frame.convert("RGB"), (width, height), Image.Resampling.LANCZOS)
    # The player's time and progress bar covers the bottom of the picture: the title stays above.
    top, bottom = int(56 * s), int(height * 0.74)
    columns = _vertical_columns(title, int(64 * s), bottom - top)
    gap = 0  # the font's line height already spaces the columns
    x0 = int(88 * s)
    text_right = x0 + sum(c.width for c in columns) + gap * max(0, len(columns) - 1)
    # A shade that keeps white text readable on any frame: dark behind the columns, fading out.
    solid, fade = text_right + int(48 * s), int(220 * s)
    shade = Image.new("L", (width, height), 0)
    shade_draw = ImageDraw.Draw(shade)
    for x in range(min(width, solid + fade)):
        alpha = 190 if x < solid else int(190 * (1 - (x - solid) / fade))
        shade_draw.line([(x, 0), (x, height)], fill=alpha)
    image.paste((0, 0, 0), (0, 0), shade)
    draw = ImageDraw.Draw(image)
    rule = max(2, int(6 * s))
    draw.rectangle([int(56 * s), top, int(56 * s) + rule, bottom], fill=ACCENT)
    x, outline = x0, max(1, int(2 * s))
    for column in columns:
        for dx, dy in ((outline, outline), (-outline, outline)):
            image.paste((0, 0, 0), (x + dx, top + dy), column)
        image.paste(TEXT, (x, top), column)
        x += column.width + gap
    return image


def write_title_cards_mn(title: str, out_dir: Path, stem: str) -> dict[str, Path]:
    """Write `<stem>-mn-<profile>.jpg` for every profile; return {profile: path}."""
    return write_title_cards(title, "", out_dir, f"{stem}-mn", render=render_title_card_mn)


def write_title_cards(
    title: str, category_title: str, out_dir: Path, stem: str, render=None
) -> dict[str, Path]:
    """Write `<stem>-<profile>.jpg` for every profile; return {profile: path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for profile in SPECS:
        path = out_dir / f"{stem}-{profile}.jpg"
        tmp = path.with_suffix(".jpg.tmp")
        card = (
            render(title, profile)
            if render is not None
            else render_title_card(title, category_title, profile)
        )
        card.save(tmp, "JPEG", quality=85, optimize=True, progressive=False)
        tmp.replace(path)
        written[profile] = path
    return written
