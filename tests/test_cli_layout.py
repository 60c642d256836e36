"""The `legaltv` command is a package a newcomer can find their way in: each top-level command
lives in tv_server/cli/<command>.py, and what the commands share is public in context.py."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from tv_server import cli

CLI_DIR = Path(cli.__file__).parent


def top_level_commands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_each_command_is_registered_by_the_module_named_for_it():
    commands = top_level_commands()
    modules = {m.__name__.rsplit(".", 1)[1]: m for m in cli.COMMANDS}
    assert set(modules) == set(commands)
    for name, module in modules.items():
        sub = argparse.ArgumentParser().add_subparsers()
        module.register(sub)
        assert list(sub.choices) == [name], module.__name__


def test_no_cli_module_imports_a_private_name_of_another():
    for path in CLI_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tv_server"):
                private = [
                    a.name for a in node.names if a.name.startswith("_") and a.name[1] != "_"
                ]
                assert not private, f"{path.name} imports {private} from {node.module}"


def test_every_parser_has_a_handler():
    def leaves(parser, path):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield path, parser
        for action in subs:
            for name, child in action.choices.items():
                yield from leaves(child, [*path, name])

    for path, parser in leaves(cli.build_parser(), []):
        assert parser.get_default("handler") is not None, " ".join(path)
