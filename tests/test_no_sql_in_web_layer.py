"""The web layer (tv_server/) holds no SQL: every query is a named function of a domain package
(content/, device_registry/, callbacks/, accounts/, appointments/, advisers/, feedback/,
storage/). Only the migration list (tv_server/migrations.py) states SQL, as data."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import tv_server

ROOT = Path(tv_server.__file__).parent
QUERY_METHODS = {"fetchall", "fetchone", "fetchval", "execute", "executemany", "transaction"}
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.S)
ALLOWED = {"migrations.py"}  # the schema of the installation's own tables, as data


def sql_sites() -> list[str]:
    sites = []
    for path in sorted(ROOT.rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in QUERY_METHODS
            ):
                sites.append(f"tv_server/{name}:{node.lineno} .{node.func.attr}()")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and SQL.search(node.value)
            ):
                sites.append(f"tv_server/{name}:{node.lineno} SQL text")
    return sites


def test_the_web_layer_runs_no_query_of_its_own():
    sites = sql_sites()
    assert not sites, "move these queries into a domain package:\n" + "\n".join(sites)
