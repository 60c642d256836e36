"""Renditions bench: the time to make every rendition of one 12-megapixel photo at upload.

Makes a photo-like 4000×3000 JPEG (noise and gradients, so encoders work as on a real photo),
then times `content.programs.uploads` checking it and making all 18 renditions (page, cover,
thumbnail × 720p/1080p/2160p × JPEG/WebP) from one decode, on a cold cache each time; median of 5.
For comparison it also times the naive path (`renditions.make_rendition` per spec, a decode each).

    .venv/bin/python -m bench.renditions_bench [--repeats 5] [--write]
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageFilter

from bench import common
from bench.common import fmt

SIZE = (4000, 3000)
TARGET_SECONDS = 5.0  # an editor waits for an upload; beyond this it feels broken
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- renditions:start -->", "<!-- renditions:end -->"


def photo_like(size: tuple[int, int] = SIZE) -> bytes:
    """A 12-megapixel JPEG with photo-like content: smooth gradients under fine noise."""
    noise = Image.effect_noise(size, 40)
    gx = Image.linear_gradient("L").rotate(90).resize(size)
    gy = Image.linear_gradient("L").resize(size)
    radial = Image.radial_gradient("L").resize(size)
    red = ImageChops.add(ImageChops.multiply(gx, noise), radial, scale=1.5)
    green = ImageChops.blend(gy, noise, 0.35)
    blue = ImageChops.blend(radial, gx, 0.5)
    image = Image.merge("RGB", (red, green, blue)).filter(ImageFilter.GaussianBlur(1))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def run(repeats: int = 5) -> dict:
    from content.programs import renditions, uploads

    data = photo_like()
    totals, checks, naive = [], [], []
    per_spec: dict[str, list[float]] = {s.name: [] for s in uploads.UPLOAD_SPECS}
    for _ in range(repeats):
        cache = Path(tempfile.mkdtemp(prefix="legaltv-rend-"))
        try:
            started = time.perf_counter()
            checked = uploads.check_image(data)
            decoded = time.perf_counter()
            timings: dict[str, float] = {}
            made = uploads.make_renditions(checked.image, "0" * 64, cache, timings=timings)
            done = time.perf_counter()
            assert len(made) == len(uploads.UPLOAD_SPECS)
            checks.append(decoded - started)
            totals.append(done - started)
            for name, seconds in timings.items():
                per_spec[name].append(seconds)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    # The naive path once: a decode per spec, as make_rendition does for a single rendition.
    src_dir = Path(tempfile.mkdtemp(prefix="legaltv-rend-src-"))
    try:
        src = src_dir / "photo.jpg"
        src.write_bytes(data)
        started = time.perf_counter()
        renditions.make_all(src, uploads.UPLOAD_SPECS, src_dir / "cache")
        naive.append(time.perf_counter() - started)
    finally:
        shutil.rmtree(src_dir, ignore_errors=True)
    total = statistics.median(totals)
    return {
        "repeats": repeats,
        "source_bytes": len(data),
        "size": SIZE,
        "specs": len(uploads.UPLOAD_SPECS),
        "total_s": total,
        "runs_s": totals,
        "check_s": statistics.median(checks),
        "naive_s": naive[0],
        "per_spec_s": {k: statistics.median(v) for k, v in per_spec.items()},
        "pass": total <= TARGET_SECONDS,
    }


def markdown(result: dict) -> str:
    w, h = result["size"]
    lines = [
        f"Source: a photo-like {w}×{h} JPEG ({fmt(result['source_bytes'])} B); "
        f"{result['specs']} renditions from one decode, cold cache, median of "
        f"{result['repeats']} (`bench/renditions_bench.py`).",
        "",
        "| measure | seconds |",
        "| --- | ---: |",
        f"| check + decode (sniff, verify, full load, EXIF orientation) | "
        f"{result['check_s']:.3f} |",
        f"| **all renditions, check included (median)** | **{result['total_s']:.3f}** |",
        f"| runs | {', '.join(f'{t:.3f}' for t in result['runs_s'])} |",
        f"| naive: `make_rendition` per spec (a decode each), once | {result['naive_s']:.3f} |",
        "",
        "| spec | JPEG s | WebP s |",
        "| --- | ---: | ---: |",
    ]
    per = result["per_spec_s"]
    for name in [n for n in per if not n.endswith("-webp")]:
        lines.append(f"| `{name}` | {per[name]:.3f} | {per.get(name + '-webp', 0):.3f} |")
    lines += [
        "",
        "Per-spec times include the resize, counted once for the JPEG of each size.",
        f"**Renditions of a 12 MP photo: {result['total_s']:.2f} s "
        f"(target ≤ {TARGET_SECONDS:.0f} s): {common.verdict(result['pass'])}**",
    ]
    return "\n".join(lines)


def add_section(text: str, result: dict, machine: dict) -> str:
    """`text` (bench/RESULTS.md) with this bench's section put in or replaced."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    intro = f"Run {when} on `{machine['uname']}`, {machine['nproc']} × {machine['cpu']}."
    return common.put_section(
        text, START, END, "Renditions: one 12-megapixel photo", intro, markdown(result)
    )


def write_section(result: dict, machine: dict) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# LegalTV bench results\n"
    RESULTS.write_text(add_section(text, result, machine))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--write", action="store_true", help="record the result in bench/RESULTS.md")
    a = p.parse_args()
    result = run(a.repeats)
    print(markdown(result))
    if a.write:
        write_section(result, common.machine_info())


if __name__ == "__main__":
    main()
