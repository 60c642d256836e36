"""Every UI string goes through gettext, so a Mongolian catalog can follow."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from tests.helpers import ROOT

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")
GETTEXT_CALL = re.compile(r"""_\(\s*(["'])(?:(?!\1).)*\1""", re.S)
TEMPLATES = sorted(
    [
        *(ROOT / "tv_ui" / "templates").rglob("*.html"),
        *(ROOT / "tv_server" / "admin" / "templates").rglob("*.html"),
    ]
)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_have_no_chinese_outside_gettext(template: Path):
    source = template.read_text(encoding="utf-8")
    source = re.sub(r"{#.*?#}", "", source, flags=re.S)
    stripped = GETTEXT_CALL.sub("_()", source)
    leftovers = [line.strip() for line in stripped.splitlines() if CJK.search(line)]
    assert leftovers == []


def test_python_ui_labels_are_marked_for_translation():
    for path in [*(ROOT / "tv_server").rglob("*.py"), ROOT / "tv_ui" / "labels.py"]:
        if path.name == "demo.py":  # demo data, not UI text
            continue
        source = path.read_text(encoding="utf-8")
        stripped = re.sub(r"""N_\(\s*"[^"]*"\s*\)""", "N_()", source)
        stripped = re.sub(r"^\s*#.*$", "", stripped, flags=re.M)
        stripped = re.sub(r'""".*?"""', "", stripped, flags=re.S)
        assert not CJK.search(stripped), f"unmarked Chinese text in {path.relative_to(ROOT)}"


def test_extraction_finds_the_ui_strings_and_the_template_is_current():
    method_map = [
        ("tv_ui/templates/**.html", "jinja2"),
        ("tv_ui/**.py", "python"),
        ("tv_server/**.py", "python"),
    ]
    options = {"tv_ui/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(ROOT), method_map, options, keywords={"_": None, "N_": None, "gettext": None}
        )
    }
    for text in ("普法节目", "服务指南", "申请回电", "我的申请", "法律咨询", "已办结"):
        assert text in found
    pot = (ROOT / "tv_ui" / "locale" / "messages.pot").read_text(encoding="utf-8")
    catalogued = set(re.findall(r'^msgid "(.+)"$', pot, flags=re.M))
    missing = sorted(found - catalogued)
    assert not missing, f"run `make i18n`: messages.pot lacks {missing[:5]}"
