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


def test_the_architecture_map_names_every_folder_and_package():
    """docs/architecture.md's map is where a newcomer finds their way: every top-level folder,
    every subpackage of the web layer and of content/, and the modules the layers rest on."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("## Map of the folders", 1)[1].split("```")[1]
    packages = ("*/__init__.py", "tv_server/*/__init__.py", "content/*/__init__.py")
    names = [f"{init.parent.name}/" for pattern in packages for init in ROOT.glob(pattern)]
    names += [f"{folder}/" for folder in ("bench", "deploy", "docs", "tests")]
    names += ["node.py", "pg.py", "dialect.py", "pgnodes.py", "connect.py", "clock.py",
              "sheets.py", "caches.py", "settings.py", "migrations.py"]  # fmt: skip
    missing = [n for n in names if not re.search(rf"(?<![\w/]){re.escape(n)}", block)]
    assert not missing, f"docs/architecture.md's map lacks: {', '.join(missing)}"


def test_every_file_the_docs_name_exists():
    """A doc naming a module that moved sends a newcomer to nothing (`content/subtitles.py` once
    the content packages were split): every `folder/…` path in README.md and docs/ exists."""
    path = re.compile(
        r"`((?:accounts|advisers|appointments|bench|callbacks|content|deploy|device_registry|docs"
        r"|feedback|storage|tests|tv_server|tv_ui)/[\w/.\-]*[\w/])`"
    )
    missing = [
        f"{doc.name}: {found}"
        for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for found in path.findall(doc.read_text(encoding="utf-8"))
        if not (ROOT / found).exists()
    ]
    assert not missing, "\n".join(missing)
