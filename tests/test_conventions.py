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


def test_only_the_browser_conftest_launches_chromium():
    """One launch (tests/browser/conftest.py `chromium`), so the CI=true rule holds everywhere."""
    launching = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("*.py")
        if path not in (TESTS / "browser" / "conftest.py", Path(__file__))
        and ".chromium.launch(" in path.read_text(encoding="utf-8")
    ]
    assert not launching, "use the `chromium` fixture: " + ", ".join(launching)


def test_tests_import_helpers_from_tests_helpers_only():
    """Shared helpers are in tests/helpers.py: a test module never imports from another test
    module or from a conftest.py (whose fixtures pytest provides by name)."""
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            target = module.rsplit(".", 1)[-1]
            if node.level or (module.startswith("tests.") and module != "tests.helpers"):
                if target.startswith("test_") or target == "conftest" or node.level:
                    found.append(f"{path.relative_to(TESTS)}: from {'.' * node.level}{module}")
    assert not found, "\n".join(found)


def test_no_two_test_files_share_a_name():
    """pytest tells same-named test modules apart only by their package; people do not."""
    names = [path.name for path in TESTS.rglob("test_*.py")]
    assert sorted(set(names)) == sorted(names), [n for n in set(names) if names.count(n) > 1]


def test_the_registry_bench_runs_the_servers_own_heartbeat_statement():
    """The bench's raw-SQLite baseline is only a baseline if it runs what the server runs."""
    from bench import registry_bench
    from device_registry import heartbeats

    assert registry_bench.HEARTBEAT_UPDATE is heartbeats.HEARTBEAT_UPDATE
    assert "UPDATE devices" not in (TESTS.parent / "bench" / "registry_bench.py").read_text()
