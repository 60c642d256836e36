"""Rules of the test suite a newcomer (or a merge) could break without noticing."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _modules():
    for path in sorted(TESTS.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_tests_use_our_front_fixtures_not_the_bare_pytest_aiohttp_ones():
    """`front_client`/`front_server` serve the app through the front as `legaltv serve` does;
    pytest-aiohttp's `aiohttp_client`/`aiohttp_server` would skip it without anyone noticing."""
    bare = {"aiohttp_client", "aiohttp_server"}
    found = []
    for path, tree in _modules():
        if path == TESTS / "conftest.py":
            continue  # where front_client wraps pytest-aiohttp's client
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [f"{path.relative_to(TESTS)}:{node.name}" for a in node.args.args
                          if a.arg in bare]  # fmt: skip
    assert not found, "use front_client / front_server: " + ", ".join(found)
