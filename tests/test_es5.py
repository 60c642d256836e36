"""tv_ui/static/tv.js must be strict ES5 (old set-top-box WebKit) and small.

pyjsparser is an ES5.1 parser, but it tolerates two later forms (``const`` / ``let`` declarations
default parameter values, shorthand properties); the syntax tree is walked to refuse those too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyjsparser import PyJsParser
from pyjsparser.pyjsparserdata import JsSyntaxError

TV_JS = Path(__file__).resolve().parents[1] / "tv_ui" / "static" / "tv.js"
# Leaves the screen budget (30 KB with CSS and HTML) room; +512 for scrolling vertical
# (Mongolian) reader pages across.
MAX_BYTES = 14 * 1024 + 512


class NotES5(Exception):
    pass


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def check_es5(source: str) -> dict:
    """Parse ``source`` as ES5.1; raise JsSyntaxError or NotES5 on anything newer."""
    tree = PyJsParser().parse(source)
    for node in _walk(tree):
        if node.get("type") == "VariableDeclaration" and node.get("kind") != "var":
            raise NotES5(f"{node['kind']} declaration")
        if node.get("defaults"):
            raise NotES5("default parameter value")
        if node.get("generator"):
            raise NotES5("generator function")
        if node.get("type") == "Property" and (
            node.get("shorthand") or node.get("method") or node.get("computed")
        ):
            raise NotES5("shorthand, method or computed property")
    return tree


def code_only(source: str) -> str:
    """The source without comments and string literals (for API name checks)."""
    return re.sub(
        r"/\*.*?\*/|//[^\n]*|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"", "''", source, flags=re.S
    )


@pytest.fixture(scope="module")
def source() -> str:
    return TV_JS.read_text("utf-8")


def test_tv_js_parses_as_es5(source):
    tree = check_es5(source)
    assert tree["type"] == "Program" and tree["body"]


@pytest.mark.parametrize(
    "snippet",
    [
        "let x = () => 1",
        "const a = 1;",
        "var f = (a) => a;",
        "var s = `x${1}`;",
        "class A {}",
        "var {a, b} = o;",
        "for (var x of xs) {}",
        "function f(a = 1) {}",
        "var o = {a, b};",
        "function f(...rest) {}",
    ],
)
def test_es6_snippets_fail_with_the_same_check(snippet):
    with pytest.raises((JsSyntaxError, NotES5)):
        check_es5(snippet)


def test_size_budget(source):
    assert len(source.encode("utf-8")) <= MAX_BYTES


def test_strict_iife(source):
    tree = check_es5(source)
    body = [n for n in tree["body"] if n["type"] != "EmptyStatement"]
    assert len(body) == 1, "one IIFE, nothing else at the top level"
    call = body[0]["expression"]
    assert call["type"] == "CallExpression" and call["callee"]["type"] == "FunctionExpression"
    first = call["callee"]["body"]["body"][0]
    assert first["expression"] == {"type": "Literal", "value": "use strict", "raw": "'use strict'"}


@pytest.mark.parametrize(
    "api",
    [
        "Promise",
        "fetch(",
        "Array.from",
        "Object.assign",
        ".includes(",
        ".startsWith(",
        ".endsWith(",
        ".forEach(",
        ".find(",
        "Symbol",
        "Map(",
        "Set(",
        "requestAnimationFrame",
    ],
)
def test_no_es2015_apis(source, api):
    # Library calls later than ES5 (or missing on old WebKit) that a parser cannot see.
    assert api not in code_only(source)


def test_player_js_is_strict_es5_and_small():
    """The video screen's player (tv_ui/static/player.js) follows the same rules as tv.js."""
    player = (TV_JS.parent / "player.js").read_text("utf-8")
    tree = check_es5(player)
    body = [n for n in tree["body"] if n["type"] != "EmptyStatement"]
    assert len(body) == 1 and body[0]["expression"]["type"] == "CallExpression"
    assert len(player.encode("utf-8")) <= 10 * 1024  # served trimmed, in tv-player.js


def test_the_video_screens_script_bundle_is_es5_and_small():
    """tv.js and player.js served as one trimmed script (tv_server/static.py): still ES5, the
    two scripts' statements all there."""
    from tv_server.static import StaticAssets

    bundle = StaticAssets().by_name["tv-player.js"].body.decode("utf-8")
    tree = check_es5(bundle)
    assert len([n for n in tree["body"] if n["type"] != "EmptyStatement"]) == 2
    sources = TV_JS.read_bytes() + (TV_JS.parent / "player.js").read_bytes()
    assert len(bundle.encode("utf-8")) <= min(20 * 1024, 0.8 * len(sources))  # trimmed
