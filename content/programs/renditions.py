"""Image renditions per screen profile, made at publish time and cached on disk.

A rendition is keyed by (sha256 of the source bytes, spec): the same picture uploaded twice is
decoded once, and a second request is a cache hit that never opens the image.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

# 40 megapixels is far beyond any picture a TV needs (a 4K frame is 8.3 MP), and small
# enough that decoding one cannot exhaust a small server's memory.
MAX_PIXELS = 40_000_000
# Pillow warns above this and refuses above twice this, at open() time; only ever lower it.
if Image.MAX_IMAGE_PIXELS is None or Image.MAX_IMAGE_PIXELS > MAX_PIXELS:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class RenditionError(Exception):
    """The source image cannot be turned into a rendition."""


class ImageTooLargeError(RenditionError):
    """The source image is a possible decompression bomb (too many pixels)."""


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    max_width: int
    max_height: int
    fmt: str = "JPEG"  # "JPEG" or "WEBP"

    @property
    def suffix(self) -> str:
        return ".webp" if self.fmt.upper() == "WEBP" else ".jpg"

    @property
    def key(self) -> str:
        return f"{self.name}-{self.max_width}x{self.max_height}-{self.fmt.lower()}"


# A page image occupies at most 560×420 px of the 1280×720 canvas.
PAGE_IMAGE_SPECS: dict[str, RenditionSpec] = {
    "720p": RenditionSpec("page-720p", 560, 420),
    "1080p": RenditionSpec("page-1080p", 840, 630),
    "2160p": RenditionSpec("page-2160p", 1680, 1260),
}
# Covers, posters and title cards fill the canvas.
COVER_SPECS: dict[str, RenditionSpec] = {
    "720p": RenditionSpec("cover-720p", 1280, 720),
    "1080p": RenditionSpec("cover-1080p", 1920, 1080),
    "2160p": RenditionSpec("cover-2160p", 3840, 2160),
}


def webp_of(spec: RenditionSpec) -> RenditionSpec:
    """The WebP twin of a JPEG spec (`page-1080p` → `page-1080p-webp`), for boxes that decode it."""
    return RenditionSpec(spec.name + "-webp", spec.max_width, spec.max_height, "WEBP")


PAGE_IMAGE_WEBP_SPECS = {p: webp_of(s) for p, s in PAGE_IMAGE_SPECS.items()}
COVER_WEBP_SPECS = {p: webp_of(s) for p, s in COVER_SPECS.items()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def rendition_path(
    src: Path, spec: RenditionSpec, cache_dir: Path, source_hash: str | None = None
) -> Path:
    """Where the rendition of `src` for `spec` lives (whether or not it exists yet)."""
    source_hash = source_hash or _sha256(Path(src))
    return Path(cache_dir) / source_hash[:2] / f"{source_hash}-{spec.key}{spec.suffix}"


def open_image(src: Path) -> Image.Image:
    """Open and fully decode `src`, refusing decompression bombs; EXIF orientation applied."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(src) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ImageTooLargeError(
                        f"{src}: {im.width}×{im.height} px exceeds the limit of {MAX_PIXELS} px"
                    )
                im.load()
                image = ImageOps.exif_transpose(im)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageTooLargeError(f"{src}: possible decompression bomb ({exc})") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise RenditionError(f"{src}: cannot decode image ({exc})") from exc
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        # Flatten transparency onto white: TVs show JPEG, and black halos look broken.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def make_rendition(src: Path, spec: RenditionSpec, cache_dir: Path) -> Path:
    """Return the path of the rendition of `src` for `spec`, making it if not cached.

    Fits inside max_width × max_height keeping the aspect ratio, never upscales, applies and
    drops EXIF, writes a baseline JPEG (quality 85) or a WebP atomically.
    """
    out = rendition_path(src, spec, cache_dir)
    if out.is_file():
        return out
    return write_rendition(open_image(src), spec, out)


def write_rendition(image: Image.Image, spec: RenditionSpec, out: Path) -> Path:
    """Fit a decoded image to `spec` and write it atomically to `out` (see make_rendition)."""
    image = to_rgb(image)
    if image.width > spec.max_width or image.height > spec.max_height:
        image.thumbnail((spec.max_width, spec.max_height), Image.Resampling.LANCZOS)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=spec.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            if spec.fmt.upper() == "WEBP":
                image.save(fh, "WEBP", quality=82, method=4)
            else:
                image.save(fh, "JPEG", quality=85, optimize=True, progressive=False)
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return out


def make_all(src: Path, specs, cache_dir: Path) -> dict[str, Path]:
    """Make renditions for every spec; `specs` is a {name: spec} dict or a list of specs."""
    items = specs.items() if isinstance(specs, dict) else ((s.name, s) for s in specs)
    return {name: make_rendition(src, spec, cache_dir) for name, spec in items}
