"""Demo advisers for the pilot villages: invented lawyers, clearly marked 示例, with portraits
drawn by Pillow (a plain silhouette and the word 示例 — no real person's photo)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from advisers import advisers
from content.programs import titlecard, uploads
from storage import Database

# (name, firm, sittings, place, services): invented, one per group of villages.
PEOPLE = [
    ("王明远（示例）", "鄂尔多斯示例律师事务所", "周二 09:00-12:00", "村委会法律服务室",
     ["consultation", "mediation", "legal_aid"]),
    ("其其格（示例）", "东胜示例律师事务所", "周四 14:30-17:30", "村委会法律服务室",
     ["consultation", "lawyer_mediation", "notarisation"]),
    ("张海燕（示例）", "达拉特示例律师事务所", "周一 09:00-12:00; 周五 14:00-17:00",
     "镇司法所调解室", ["consultation", "mediation", "legal_aid", "appraisal"]),
    ("巴图（示例）", "乌审示例律师事务所", "周三 09:30-12:30", "苏木司法所",
     ["consultation", "mediation", "lawyer_mediation"]),
]  # fmt: skip
EXTRA_NAMES = ("李春生", "乌力吉", "刘晓红", "萨仁", "高建国", "图雅", "白永平", "那顺")
VILLAGES_PER_ADVISER = 6
COLOURS = [(31, 74, 128), (0, 105, 62), (120, 40, 90), (150, 80, 0)]


def portrait(index: int) -> bytes:
    """A 300x400 JPEG: a coloured background, a head-and-shoulders silhouette, 示例."""
    img = Image.new("RGB", (300, 400), COLOURS[index % len(COLOURS)])
    draw = ImageDraw.Draw(img)
    draw.ellipse((95, 70, 205, 190), fill=(232, 214, 190))
    draw.pieslice((40, 210, 260, 470), 180, 360, fill=(30, 30, 40))
    draw.rectangle((40, 340, 260, 400), fill=(30, 30, 40))
    font = titlecard.load_font(44)
    draw.rectangle((0, 0, 300, 62), fill=(255, 212, 0))
    draw.text((150, 31), "示例", font=font, fill=(11, 31, 58), anchor="mm")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def groups(villages: Sequence[dict]) -> list[list[str]]:
    """Consecutive villages of a township, at most VILLAGES_PER_ADVISER each."""
    by_township: dict[str, list[str]] = {}
    for v in villages:
        by_township.setdefault(v["parent_code"], []).append(v["code"])
    out = []
    for codes in by_township.values():
        for i in range(0, len(codes), VILLAGES_PER_ADVISER):
            out.append(codes[i : i + VILLAGES_PER_ADVISER])
    return out


async def load(db: Database, data_dir: Path, regions: list[dict], pilot: Sequence[str]) -> int:
    """Create the demo advisers; return how many."""
    by_code = {r["code"]: r for r in regions}
    wanted = set(pilot)
    villages = [r for r in regions if r["code"] in wanted]
    stations = {
        r[0]: r[1]
        for r in await db.fetchall(
            "SELECT region_code, code FROM service_points WHERE kind = 'township_station'"
        )
    }
    made = 0
    for n, codes in enumerate(groups(villages)):
        name, firm, sittings, place, services = PEOPLE[n % len(PEOPLE)]
        township = by_code[codes[0]]["parent_code"]
        media_id = await uploads.store_upload(
            db, data_dir, f"demo-adviser-{n + 1}.jpg", portrait(n), max_bytes=2**20
        )
        data = {
            "code": f"demo-adv-{n + 1:03d}",
            "name": name
            if n < len(PEOPLE)
            else f"{EXTRA_NAMES[(n - len(PEOPLE)) % len(EXTRA_NAMES)]}（示例）",
            "firm": firm,
            "office_code": stations.get(township),
            "phone": f"0477-85{n + 1:05d}",
            "languages": ["zh", "mn"] if n % 2 else ["zh"],
            "services": services,
            "villages": codes,
            "sittings": sittings,
            "place": place,
            "description": "示例数据：婚姻家庭、土地草场承包、劳务工资、借款纠纷等问题都可以问。",
        }
        await advisers.save(db, data, photo=advisers.Photo(media_id, "demo"))
        made += 1
    return made
