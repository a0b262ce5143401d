"""Documentation that cannot fall behind: every command and option has help, and the README names every
command and every setting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from clearinghouse.cli import app
from clearinghouse.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def _is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    # Typer ships its own copy of click, so commands are recognised by shape, not by class.
    yield path, command
    if _is_group(command):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def test_every_command_and_option_has_help() -> None:
    missing: list[str] = []
    for path, command in _commands(typer.main.get_command(app)):
        if path and not (command.help or command.short_help):
            missing.append(" ".join(path))
        for parameter in command.params:
            if getattr(parameter, "param_type_name", "") == "option" and not parameter.help:
                missing.append(f"{' '.join(path)} {parameter.opts[0]}")
    assert missing == []


def test_no_help_is_taken_for_rich_markup() -> None:
    # Rich draws the help and drops "[anything]" as an unknown style: "[default: INFO]" vanished from it.
    bracketed = []
    for path, command in _commands(typer.main.get_command(app)):
        texts = [command.help or "", *(getattr(parameter, "help", None) or "" for parameter in command.params)]
        bracketed += [f"{' '.join(path)}: {text}" for text in texts if re.search(r"(?<!\\)\[[^\]]*\]", text)]
    assert bracketed == []


def test_readme_names_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    leaves = [
        " ".join(path) for path, command in _commands(typer.main.get_command(app)) if path and not _is_group(command)
    ]
    assert leaves
    undocumented = [leaf for leaf in leaves if f"clearinghouse {leaf}" not in readme]
    assert undocumented == []


def test_readme_names_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [f"CLEARINGHOUSE_{name.upper()}" for name in Settings.model_fields]
    assert [name for name in names if name not in readme] == []


def test_readme_starts_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make demo" in head
    assert "make test" in head
