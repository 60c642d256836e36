"""Mongolian versions of four demo programs — DRAFTS, not reviewed by a native speaker.

Written for the demo in scholarly transliteration (γ, č, ǰ, š, ö, ü; `-` the narrow no-break space
U+202F before a suffix, `_` the Mongolian vowel separator U+180E, `.` and `,` the Mongolian full
stop and comma) and turned into Mongolian script by `script()`, as the TV catalog was drafted
(docs/translation.md). Every version is loaded with review status `drafted`; a reviewer marks it
reviewed in the admin after a native speaker has checked the text.
"""

from __future__ import annotations

from pathlib import Path

from content.programs import versions as program_versions
from storage import Database

LETTERS = {
    "a": "\u1820", "e": "\u1821", "i": "\u1822", "o": "\u1823", "u": "\u1824",
    "ö": "\u1825", "ü": "\u1826", "n": "\u1828", "b": "\u182a", "p": "\u182b",
    "q": "\u182c", "k": "\u182c", "h": "\u182c", "γ": "\u182d", "g": "\u182d",
    "m": "\u182e", "l": "\u182f", "s": "\u1830", "š": "\u1831", "t": "\u1832",
    "d": "\u1833", "č": "\u1834", "ǰ": "\u1835", "y": "\u1836", "r": "\u1837",
    "w": "\u1838", "f": "\u1839", "z": "\u183d",
    "-": "\u202f", "_": "\u180e", ".": "\u1803", ",": "\u1802", ":": "\u1804",
}  # fmt: skip


def script(translit: str) -> str:
    """Transliteration to Mongolian script (`ng` is one letter, U+1829); digits and other
    characters pass unchanged."""
    out, i = [], 0
    while i < len(translit):
        if translit.startswith("ng", i):
            out.append("\u1829")
            i += 2
            continue
        ch = translit[i]
        out.append(LETTERS.get(ch, ch))
        i += 1
    return "".join(out)


# slug -> (title, summary, [(page title, page text)]), all in transliteration.
VERSIONS = {
    "xianfa-gongmin-quanli": (
        "ündüsün qauli ba bida",
        "irgen-ü ündüsün erke ba egürge",
        [
            (
                "ündüsün qauli",
                "ündüsün qauli bol ulus-un qamuγ-un degedü qauli mön. "
                "irgen bükün qauli-yin emün_e tegsi erke-tei.",
            ),
            (
                "ündüsüten-ü tegsi erke",
                "ündüsüten bükün tegsi erke-tei. ündüsüten bükün öbesüd-ün kele bičig-i "
                "kereglekü erke-tei. mongγol kele-ber üilečilge abqu bol sumu-yin "
                "qauli-yin γaǰar-tu kelegerei.",
            ),
        ],
    ),
    "caochang-liuzhuan": (
        "belčiger-i šilǰigülkü geree",
        "belčiger-i busud-tu türešilekü-dü bičig-ün geree baiγulqu kereg-tei.",
        [
            (
                "bičig-ün geree",
                "geree-dü qoyar tal-un ner_e, belčiger-ün qemǰiy_e, quγučaγ_a, "
                "türešil-ün tölbüri-yi todorqai bičikü.",
            ),
            (
                "asaγuqu",
                "asaγudal bui bolbal 12348 utasu-bar asaγurai.",
            ),
        ],
    ),
    "falv-yuanzhu": (
        "qauli-yin tusalamǰi",
        "ǰardal γarγaqu čidal ügei bol ulus tegin tusalamǰi üǰügülne.",
        [
            (
                "ken tusalamǰi abqu bui",
                "orulγ_a baγ_a, qauli-yin ǰöblegči ǰalaqu čidal ügei irgen "
                "qauli-yin tusalamǰi-yi γuyuǰu bolqu.",
            ),
            (
                "yaγakiǰu γuyuqu",
                "qošiγun-u qauli-yin tusalamǰi-yin töb-tü očiγarai, esebesü 12348 "
                "utasu-bar γuyuγarai.",
            ),
        ],
    ),
    # The demo program with a video: its Mongolian poster shows this title (tv.programs).
    "fang-dianxin-zhapian": (
        "utasu sülǰiy_e-yin ǰalilaγ_a-ača sergeilekü",
        "mönggü bu šilǰigül. banki-yin kart-iyan busud-tu bu ög. "
        "ile ügei bol 96110 utasu-bar asaγu.",
        [
            (
                "ǰalilaγ_a-yin arγ_a",
                "qauli-yin γaǰar-un kümün gejü qudal kelekü, tusalamǰi mönggü ögküy_e gejü "
                "mönggü šilǰigülküi-yi γuyuqu bol ǰalilaγ_a mön.",
            ),
            (
                "yaγakiqu bui",
                "mönggü bu šilǰigül. banki-yin kart-iyan busud-tu bu ög. "
                "ile ügei bol 96110 esebesü 12348 utasu-bar asaγu.",
            ),
        ],
    ),
}


async def load(db: Database, data_dir: Path | None = None) -> int:
    """Add the Mongolian drafts to the demo programs that exist and have none; how many."""
    added = 0
    for slug, (title, summary, pages) in VERSIONS.items():
        row = await db.fetchone("SELECT id FROM programs WHERE slug = ?", (slug,))
        if row is None:
            continue
        if await program_versions.get_versions(db, row[0]):
            continue
        await program_versions.save_version(
            db,
            row[0],
            "mn",
            {
                "title": script(title),
                "summary": script(summary),
                "pages": [(script(t), script(m)) for t, m in pages],
            },
            data_dir=data_dir,
        )
        added += 1
    return added
