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


OURS = {
    "accounts", "advisers", "appointments", "bench", "callbacks", "content", "device_registry",
    "feedback", "storage", "tv_server", "tv_ui",
}  # fmt: skip


def _our_modules(tree: ast.Module) -> set[str]:
    """Local names bound to our own modules or to names imported from them."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names
                      if a.name.split(".")[0] in OURS}  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in OURS:
            bound |= {a.asname or a.name for a in node.names}
    return bound


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


PATCHERS = {
    "monkeypatch.setattr", "monkeypatch.setitem", "patch", "patch.object", "mock.patch",
    "mock.patch.object", "unittest.mock.patch", "unittest.mock.patch.object",
}  # fmt: skip


def test_tests_do_not_patch_our_own_code():
    """Tests go through the real code with real inputs and real settings: a limit that must be
    small in a test is a setting or a parameter the product uses too. Patching the standard
    library to watch it (a spy that calls the real function) is not patching our code."""
    found = []
    for path, tree in _modules():
        ours = _our_modules(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            if ast.unparse(node.func) not in PATCHERS:
                continue
            target = node.args[0]
            if isinstance(target, ast.Constant) and isinstance(target.value, str):
                hit = target.value.split(".")[0] in OURS
            else:
                hit = _root(target) in ours
            if hit:
                found.append(f"{path.relative_to(TESTS)}:{node.lineno} {ast.unparse(node)}")
    assert not found, "\n".join(found)
