"""The README is where a newcomer starts: its command table names every `legaltv` command of the
real argument parser, and its documentation list every page in docs/."""

from __future__ import annotations

import argparse
import re

from tests.helpers import ROOT
from tv_server import cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(parser: argparse.ArgumentParser, path=()):
    """Every runnable command as its words: ("serve",), ("devices", "import"), …"""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path
    for action in subs:
        for name, child in action.choices.items():
            yield from commands(child, (*path, name))


def documented() -> set[tuple[str, ...]]:
    """The commands the README's table rows name: "`legaltv devices import FILE` / `token
    SERIAL` / `accept\\|reject SERIAL…`" names devices import, token, accept and reject."""
    found = set()
    for row in README.splitlines():
        if not row.startswith("| `legaltv "):
            continue
        first_cell = row.split(" | ")[0]
        command = ""
        for span in re.findall(r"`([^`]+)`", first_cell):
            words = span.replace("\\|", "|").split()
            if words[0] == "legaltv":
                command, words = words[1], words[2:]
            elif words[0] == command:
                words = words[1:]
            found.add((command,))
            if words:
                found.update((command, action) for action in words[0].split("|"))
    return found


def test_the_command_table_names_every_command():
    missing = [" ".join(c) for c in commands(cli.build_parser()) if c not in documented()]
    assert not missing, f"README.md's command table lacks: {', '.join(missing)}"


def test_the_documentation_list_names_every_doc():
    docs = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    missing = [name for name in docs if f"](docs/{name})" not in README]
    assert not missing, f"README.md's documentation list lacks: {', '.join(missing)}"
