"""Regenerate the images, covers, poster and demo video of the bundled catalog.

Run by hand when the demo content changes, then commit the files it writes:

    .venv/bin/python -m content.catalog_tools.make_media        (or run this file directly)

Output is deterministic for a given Pillow/ffmpeg version. Nothing here runs at import time.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

if __package__ in (None, ""):  # run as a plain script
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from content.programs.titlecard import load_font  # noqa: E402

CATALOG = Path(__file__).resolve().parents[1] / "catalog"
W, H = 960, 540
INK = (33, 37, 41)
CREAM = (250, 246, 236)
WHITE = (255, 255, 255)
GOLD = (244, 196, 48)
COLOURS = {
    "blue": (26, 82, 140),
    "green": (30, 110, 70),
    "red": (170, 40, 45),
    "brown": (130, 80, 30),
    "purple": (90, 60, 140),
    "teal": (20, 110, 120),
    "orange": (200, 90, 20),
}

# program slug → [(file name, icon, big keyword, subtitle, colour)]
IMAGES: dict[str, list[tuple[str, str, str, str, str]]] = {
    "xianfa-gongmin-quanli": [
        ("xianfa.jpg", "book", "宪法", "国家的根本大法", "red"),
        ("quanli.jpg", "people", "权利与义务", "人人平等 依法享有", "blue"),
    ],
    "hunyin-jiating": [
        ("jiehun.jpg", "rings", "结婚登记", "男22岁 女20岁", "red"),
        ("caichan.jpg", "house", "夫妻共同财产", "婚后所得一般归双方", "brown"),
        ("lihun.jpg", "clock", "离婚冷静期", "30天 想清楚再决定", "purple"),
    ],
    "yichan-jicheng": [
        ("shunxu.jpg", "tree", "继承顺序", "配偶 子女 父母在先", "green"),
        ("yizhu.jpg", "document", "立遗嘱", "写清楚 签名 写日期", "blue"),
    ],
    "taoxin-weiquan": [
        ("hetong.jpg", "document", "劳动合同", "一个月内要签书面合同", "blue"),
        ("zhengju.jpg", "coin", "保留证据", "工资条 考勤 转账记录", "orange"),
    ],
    "caoyuan-chengbao": [
        ("caoxu.jpg", "sheep", "草畜平衡", "以草定畜 不超载", "green"),
        ("jinmu.jpg", "stop", "禁牧休牧", "按规定时间 守护草场", "brown"),
    ],
    "caochang-liuzhuan": [
        ("hetong.jpg", "document", "书面流转合同", "期限 价款 载畜量写清楚", "teal"),
        ("dengji.jpg", "stamp", "五年以上可登记", "土地经营权登记", "red"),
    ],
    "fang-dianxin-zhapian": [
        ("anquanzhanghu.jpg", "stop", "没有安全账户", "公检法不会电话办案", "red"),
        ("96110.jpg", "phone", "96110", "反诈预警劝阻专线", "blue"),
    ],
    "falv-yuanzhu": [
        ("shenqing.jpg", "scale", "法律援助", "免费的律师帮助", "blue"),
        ("12348.jpg", "phone", "12348", "公共法律服务热线", "green"),
    ],
    "renmin-tiaojie": [
        ("tiaojie.jpg", "people", "人民调解", "不收费 就在家门口", "teal"),
        ("xieyi.jpg", "document", "调解协议", "可申请司法确认", "purple"),
    ],
    "gongzheng": [
        ("gongzheng.jpg", "stamp", "公证", "让证明更有力", "red"),
        ("cailiao.jpg", "document", "带齐材料", "身份证 户口簿 相关证明", "blue"),
    ],
    "nongcun-tudi-chengbao": [
        ("chengbaoqi.jpg", "sprout", "承包期三十年", "到期再延长三十年", "green"),
        ("funv.jpg", "people", "妇女同等权利", "出嫁不收回承包地", "purple"),
    ],
    "fan-jiating-baoli": [
        ("baohuling.jpg", "shield", "人身安全保护令", "向人民法院申请", "purple"),
        ("110.jpg", "phone", "遇到家暴打110", "告诫书 保护令", "red"),
    ],
    "laoren-shanyang": [
        ("shanyang.jpg", "heart", "赡养父母", "供养 照料 慰藉", "orange"),
        ("kanwang.jpg", "house", "常回家看看", "分开住也要常问候", "teal"),
    ],
    "jiaotong-shigu": [
        ("122.jpg", "car", "122", "交通事故报警", "blue"),
        ("xianchang.jpg", "stop", "保护现场 先救人", "不要私了后逃离", "red"),
    ],
    "nongzi-weiquan": [
        ("fapiao.jpg", "document", "留好票据", "发票 包装袋 样品", "brown"),
        ("12315.jpg", "phone", "12315", "市场监管投诉举报", "green"),
    ],
}

# program slug → (cover file, big keyword, subtitle, icon, colour)
COVERS: dict[str, tuple[str, str, str, str, str]] = {
    "xianfa-gongmin-quanli": ("cover.jpg", "宪法与我们", "公民的基本权利和义务", "book", "red"),
    "caoyuan-chengbao": ("cover.jpg", "守护好草原", "承包经营权 · 草畜平衡", "sheep", "green"),
    "falv-yuanzhu": ("cover.jpg", "法律援助", "打不起官司？找法律援助", "scale", "blue"),
}

VIDEO_PROGRAM = "fang-dianxin-zhapian"
VIDEO_SLIDES: list[tuple[str, str, str, str]] = [
    ("phone", "陌生来电要警惕", "自称公检法、客服、领导的，先挂断核实", "blue"),
    ("stop", "公检法没有安全账户", "让你转账到“安全账户”的，一定是骗子", "red"),
    ("coin", "不转账 不汇款", "刷单返利、先交保证金、代办贷款，都是圈套", "orange"),
    ("document", "不出租出借银行卡电话卡", "帮骗子“跑分”也要担法律责任", "purple"),
    ("shield", "拿不准 打96110", "被骗了立刻拨打110报警", "green"),
]
FPS = 25
SLIDE_SECONDS = 3.2
FADE_SECONDS = 0.5


# --------------------------------------------------------------------------- icons


def draw_icon(d: ImageDraw.ImageDraw, kind: str, cx: int, cy: int, r: int, fg, bg) -> None:
    """Flat icons from plain shapes, inside a circle of radius r centred at (cx, cy)."""
    u = r / 100  # icon units: the icon is drawn on a 200×200 grid around the centre

    def p(x: float, y: float) -> tuple[int, int]:
        return (round(cx + x * u), round(cy + y * u))

    def box(x0, y0, x1, y1):
        return [p(x0, y0), p(x1, y1)]

    lw = max(2, round(8 * u))
    if kind == "book":
        d.rounded_rectangle(box(-50, -60, 50, 60), radius=round(8 * u), fill=fg)
        d.rectangle(box(-40, -50, 40, 50), fill=bg)
        d.rectangle(box(-40, -50, -30, 50), fill=fg)
        for y in (-25, 0, 25):
            d.line([p(-18, y), p(30, y)], fill=fg, width=lw)
        d.ellipse(box(-2, -45, 14, -30), fill=GOLD)
    elif kind == "people":
        for x, s in ((-35, 1.0), (35, 1.0), (0, 1.2)):
            d.ellipse(box(x - 16 * s, -50 * s, x + 16 * s, -18 * s), fill=fg)
            d.pieslice(box(x - 30 * s, -10 * s, x + 30 * s, 50 * s), 180, 360, fill=fg)
            d.rectangle(box(x - 30 * s, 20 * s, x + 30 * s, 40 * s), fill=fg)
    elif kind == "rings":
        d.ellipse(box(-60, -30, 10, 40), outline=fg, width=lw * 2)
        d.ellipse(box(-10, -30, 60, 40), outline=GOLD, width=lw * 2)
    elif kind == "house":
        d.polygon([p(-65, -5), p(0, -65), p(65, -5)], fill=fg)
        d.rectangle(box(-48, -5, 48, 60), fill=fg)
        d.rectangle(box(-14, 20, 14, 60), fill=bg)
        d.rectangle(box(22, 5, 40, 22), fill=GOLD)
    elif kind == "clock":
        d.ellipse(box(-60, -60, 60, 60), outline=fg, width=lw * 2)
        d.line([p(0, 0), p(0, -40)], fill=fg, width=lw * 2)
        d.line([p(0, 0), p(30, 15)], fill=GOLD, width=lw * 2)
        d.ellipse(box(-8, -8, 8, 8), fill=fg)
    elif kind == "tree":
        pts = {"top": (0, -45), "l": (-45, 35), "m": (0, 35), "r": (45, 35)}
        for key in ("l", "m", "r"):
            d.line([p(*pts["top"]), p(*pts[key])], fill=fg, width=lw)
        for key, (x, y) in pts.items():
            d.ellipse(box(x - 20, y - 20, x + 20, y + 20), fill=GOLD if key == "top" else fg)
    elif kind == "document":
        d.polygon([p(-45, -60), p(25, -60), p(45, -40), p(45, 60), p(-45, 60)], fill=fg)
        for y in (-30, -10, 10, 30):
            d.line([p(-30, y), p(30, y)], fill=bg, width=lw)
        d.line([p(20, 55), p(60, 5)], fill=GOLD, width=lw * 2)
    elif kind == "coin":
        d.ellipse(box(-60, -60, 60, 60), fill=GOLD)
        d.ellipse(box(-48, -48, 48, 48), outline=fg, width=lw)
        f = load_font(max(10, round(70 * u)))
        d.text(p(0, 2), "¥", font=f, fill=fg, anchor="mm")
    elif kind == "phone":
        d.rounded_rectangle(box(-35, -65, 35, 65), radius=round(12 * u), fill=fg)
        d.rectangle(box(-26, -48, 26, 40), fill=bg)
        d.ellipse(box(-6, 46, 6, 58), fill=bg)
        for i in range(3):
            rr = 20 + i * 14
            d.arc(box(30 - rr, -50 - rr, 30 + rr, -50 + rr), 300, 360, fill=GOLD, width=lw)
    elif kind == "sheep":
        d.rectangle(box(-80, 45, 80, 60), fill=(120, 180, 80))
        for x in (-30, -10, 15, 35):
            d.rectangle(box(x - 5, 15, x + 5, 48), fill=INK)
        for x, y in ((-35, -5), (-10, -20), (15, -5), (30, -15), (0, 5), (-25, 10), (25, 10)):
            d.ellipse(box(x - 25, y - 22, x + 25, y + 22), fill=WHITE)
        d.ellipse(box(40, -40, 72, -8), fill=INK)
    elif kind == "stop":
        d.ellipse(box(-62, -62, 62, 62), outline=fg, width=lw * 2)
        d.line([p(-42, 42), p(42, -42)], fill=fg, width=lw * 2)
    elif kind == "scale":
        d.line([p(0, -55), p(0, 45)], fill=fg, width=lw)
        d.line([p(-55, -35), p(55, -35)], fill=fg, width=lw)
        d.rectangle(box(-30, 45, 30, 58), fill=fg)
        for x in (-55, 55):
            d.line([p(x, -35), p(x, 5)], fill=fg, width=max(1, lw // 2))
            d.chord(box(x - 25, -15, x + 25, 25), 0, 180, fill=GOLD)
        d.ellipse(box(-10, -65, 10, -45), fill=GOLD)
    elif kind == "stamp":
        d.ellipse(box(-60, -60, 60, 60), outline=fg, width=lw * 2)
        star = [
            p((40 if i % 2 == 0 else 17) * math.cos(a), (40 if i % 2 == 0 else 17) * math.sin(a))
            for i in range(10)
            for a in [(-90 + i * 36) * math.pi / 180]
        ]
        d.polygon(star, fill=GOLD)
    elif kind == "sprout":
        d.rectangle(box(-70, 45, 70, 60), fill=(140, 95, 50))
        d.line([p(0, 45), p(0, -20)], fill=fg, width=lw)
        d.ellipse(box(-55, -45, 0, -15), fill=fg)
        d.ellipse(box(0, -65, 55, -30), fill=(120, 180, 80))
    elif kind == "shield":
        d.polygon([p(0, -65), p(55, -45), p(50, 15), p(0, 65), p(-50, 15), p(-55, -45)], fill=fg)
        d.line([p(-22, 0), p(-5, 20), p(28, -22)], fill=GOLD, width=lw * 2)
    elif kind == "heart":
        d.ellipse(box(-55, -45, 5, 15), fill=fg)
        d.ellipse(box(-5, -45, 55, 15), fill=fg)
        d.polygon([p(-52, -2), p(52, -2), p(0, 58)], fill=fg)
    elif kind == "car":
        d.rounded_rectangle(box(-70, -10, 70, 30), radius=round(10 * u), fill=fg)
        d.polygon([p(-40, -10), p(-25, -45), p(30, -45), p(45, -10)], fill=fg)
        d.rectangle(box(-22, -38, 0, -14), fill=bg)
        d.rectangle(box(6, -38, 30, -14), fill=bg)
        for x in (-40, 40):
            d.ellipse(box(x - 17, 17, x + 17, 51), fill=INK)
            d.ellipse(box(x - 7, 27, x + 7, 41), fill=GOLD)
    else:
        raise ValueError(f"unknown icon {kind!r}")


# --------------------------------------------------------------------------- cards


def card(keyword: str, subtitle: str, icon: str, colour: str, size=(W, H)) -> Image.Image:
    """A flat illustrative card: a coloured disc with an icon, a big keyword, a subtitle."""
    w, h = size
    s = w / W
    accent = COLOURS[colour]
    im = Image.new("RGB", size, CREAM)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, w, round(18 * s)], fill=accent)
    d.rectangle([0, h - round(18 * s), w, h], fill=accent)
    cx, cy, r = round(220 * s), h // 2, round(150 * s)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=accent)
    draw_icon(d, icon, cx, cy, round(r * 0.8), WHITE, accent)

    left, right = round(420 * s), w - round(40 * s)
    size_px = round(96 * s)
    font = load_font(size_px)
    while font.getlength(keyword) > right - left and size_px > 30 * s:
        size_px = round(size_px * 0.92)
        font = load_font(size_px)
    d.text((left, h // 2 - round(20 * s)), keyword, font=font, fill=accent, anchor="ls")
    sub_px = round(38 * s)
    sub = load_font(sub_px, "Regular")
    while sub.getlength(subtitle) > right - left and sub_px > 18 * s:
        sub_px = round(sub_px * 0.92)
        sub = load_font(sub_px, "Regular")
    d.line(
        [left, h // 2 + round(10 * s), left + round(120 * s), h // 2 + round(10 * s)],
        fill=GOLD,
        width=round(8 * s),
    )
    d.text((left, h // 2 + round(40 * s)), subtitle, font=sub, fill=INK, anchor="lt")
    return im


def save_jpeg(im: Image.Image, path: Path, quality: int = 82) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, "JPEG", quality=quality, optimize=True, progressive=False)
    print(f"{path.relative_to(CATALOG)}  {path.stat().st_size // 1024} KB")


def make_images() -> None:
    for slug, items in IMAGES.items():
        for name, icon, keyword, subtitle, colour in items:
            save_jpeg(card(keyword, subtitle, icon, colour), CATALOG / slug / "images" / name)
    for slug, (name, keyword, subtitle, icon, colour) in COVERS.items():
        im = card(keyword, subtitle, icon, colour, size=(1280, 720))
        save_jpeg(im, CATALOG / slug / "images" / name)


# --------------------------------------------------------------------------- video


def slide(icon: str, caption: str, note: str, colour: str, index: int) -> Image.Image:
    w, h = 1280, 720
    accent = COLOURS[colour]
    im = Image.new("RGB", (w, h), accent)
    d = ImageDraw.Draw(im)
    d.rectangle([0, h - 200, w, h], fill=CREAM)
    d.ellipse([640 - 150, 60, 640 + 150, 360], fill=CREAM)
    draw_icon(d, icon, 640, 210, 120, accent, CREAM)
    d.text((640, 450), caption, font=load_font(64), fill=WHITE, anchor="mm")
    d.text((640, 590), note, font=load_font(36, "Regular"), fill=INK, anchor="mm")
    d.text((1240, 40), f"{index}/{len(VIDEO_SLIDES)}", font=load_font(28), fill=WHITE, anchor="rt")
    d.text((40, 40), "防范电信网络诈骗", font=load_font(28), fill=GOLD, anchor="lt")
    return im


def make_video() -> None:
    out_dir = CATALOG / VIDEO_PROGRAM / "media"
    out_dir.mkdir(parents=True, exist_ok=True)
    slides = [slide(*s, i + 1) for i, s in enumerate(VIDEO_SLIDES)]
    save_jpeg(slides[0], out_dir / "poster.jpg")
    video = out_dir / "video.mp4"
    cmd = [
        "ffmpeg", "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "1280x720", "-r", str(FPS), "-i", "-",
        "-an", "-c:v", "libx264", "-profile:v", "baseline", "-level", "3.1",
        "-pix_fmt", "yuv420p", "-preset", "slow", "-crf", "30", "-g", str(FPS * 4),
        "-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact",
        "-flags:v", "+bitexact", "-movflags", "+faststart", str(video),
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    per_slide = round(SLIDE_SECONDS * FPS)
    fade = round(FADE_SECONDS * FPS)
    for i, im in enumerate(slides):
        raw = im.tobytes()
        for _ in range(per_slide - (fade if i + 1 < len(slides) else 0)):
            proc.stdin.write(raw)
        if i + 1 < len(slides):
            for f in range(fade):
                proc.stdin.write(Image.blend(im, slides[i + 1], (f + 1) / (fade + 1)).tobytes())
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("ffmpeg failed")
    print(f"{video.relative_to(CATALOG)}  {video.stat().st_size // 1024} KB")


def main() -> None:
    make_images()
    make_video()


if __name__ == "__main__":
    main()
