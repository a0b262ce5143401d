"""What the commands share: a refusal is one line on standard error, a store is used as it is found, and an
output file is checked before any work and written without a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer.core import TyperGroup

from clearinghouse.errors import shortened

if TYPE_CHECKING:
    from clearinghouse.db.engine import Store

F = TypeVar("F", bound=StrEnum)

MAX_ID = 2**63 - 1
"""The largest id a store holds (a signed 64-bit integer): an id option bounded by it is refused as a usage error
instead of overflowing the database driver."""


def echo_json(value: Any) -> None:
    """``value`` as indented JSON on standard output, non-ASCII text as it is, other values (times) as text."""
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def fail(message: object, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on standard error; the exit to raise (2: input the user can correct)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


class PlainUsageErrors(TyperGroup):
    """The `clearinghouse` group: a usage error anywhere below it (an unknown option or command, a missing argument,
    a value an option refuses) is told as every refusal is (`fail`), in a plain line, with the command's ``--help``
    on a second; Typer would draw it in a box. ``--help`` itself is still drawn by Rich.

    Contexts are typed ``Any``: their class is in Typer's private copy of Click."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with _plain_usage_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _plain_usage_errors():
            return super().invoke(ctx)


# A word of the message that is longer than any of our names is a value the user typed (a mistyped command or
# option, a refused choice): it is repeated cut short, so that a pasted paragraph makes no paragraph of an error.
_LONG_WORD = re.compile(r"[^\s'\"]{61,}")


@contextmanager
def _plain_usage_errors() -> Iterator[None]:
    try:
        yield
    except typer.TyperException as error:  # the base of Click's errors (Typer's copy of Click)
        if type(error).__name__ == "NoArgsIsHelpError":  # a group given no command: its help is printed already
            raise  # (Typer's own test, as the class is not public)
        # Typer's coercion words a refused choice "Value error, ...", as pydantic does (config drops it too).
        message = error.format_message().replace(": Value error, ", ": ")
        typer.echo(f"error: {_LONG_WORD.sub(lambda word: shortened(word[0]), message)}", err=True)
        context = getattr(error, "ctx", None)
        if context is not None and context.command.get_help_option(context) is not None:
            typer.echo(f"Try '{context.command_path} {context.help_option_names[0]}' for help.", err=True)
        raise typer.Exit(error.exit_code) from None


def open_command_store(url: str | None, *, current: bool = True) -> Store:
    """The store a command works on, as it is (`db.engine.open_existing_store`): nothing created or migrated.

    A store that is missing, unreachable, another application's or another version's ends the command with
    exit code 1 and one line saying what to run.
    """
    from clearinghouse.db.engine import open_existing_store
    from clearinghouse.errors import StoreError

    try:
        return open_existing_store(url, current=current)
    except StoreError as error:
        raise fail(error, 1) from None


@contextmanager
def command_store(url: str | None) -> Iterator[Store]:
    """`open_command_store` for the block, its connections closed at the end (on an error too)."""
    store = open_command_store(url)
    try:
        yield store
    finally:
        store.dispose()


def check_year(year: int) -> None:
    """Refuse a year of figures that has not begun (UTC): nothing can be counted for it, and a figure "to date"
    (children identified, professionals registered) would be printed as the end of a year nobody has seen."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC).year
    if year > now:
        raise fail(f"--year {year} has not begun (it is {now} in UTC): there is nothing to count for it")


def check_output(out: Path | None) -> None:
    """Refuse, before any work, an output file that cannot be created: a folder, or one in no existing folder."""
    if out is None:
        return
    if out.is_dir():
        raise fail(f"cannot write {out}: it is a folder; give a file name")
    if not out.parent.is_dir():
        raise fail(f"cannot write {out}: there is no folder {out.parent}")


def make_folder(out: Path) -> None:
    """The output folder ``out``, made (with its parents) when missing; a file in its place is refused."""
    nearest = next((folder for folder in (out, *out.absolute().parents) if folder.exists()), None)
    if nearest is not None and not nearest.is_dir():
        raise fail(f"cannot write into {out}: {'it' if nearest == out else nearest} is a file, not a folder")
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)


@contextmanager
def writing(out: Path) -> Iterator[None]:
    """Writes to ``out`` (a file or a folder) that fail (permissions, a full disk) end the command with one line."""
    try:
        yield
    except OSError as error:
        raise fail(f"cannot write {out}: {error.strerror or error}") from None


def write_output(data: str | bytes, out: Path | None) -> None:
    """``data`` to the file ``out``, or to standard output (text only: a PDF needs a file)."""
    if out is None:
        if isinstance(data, bytes):
            raise fail("a PDF needs --out FILE")
        typer.echo(data, nl=False)
        return
    with writing(out):
        if isinstance(data, bytes):
            out.write_bytes(data)
        else:
            out.write_text(data, encoding="utf-8")


OUTPUT_SUFFIXES = frozenset({".csv", ".json", ".md", ".html", ".pdf"})
"""The extensions that name an output format (README, "The command"). An output file with one of them that the
command cannot write (Markdown into `tables.pdf`) is refused: its name would misstate what it holds."""


def output_format(given: F | None, out: Path | None, default: F, by_suffix: Mapping[str, F] | None = None) -> F:
    """The format of ``--format``, else the one the output file's extension names, else ``default``.

    ``by_suffix``: the format of each extension; default: each format's name is its extension (``.md``: md). A
    ``--format`` that contradicts the extension (``--format csv -o x.json``) is refused rather than writing a file
    whose name misstates what it holds, and so is an extension of `OUTPUT_SUFFIXES` naming a format the command
    does not write (``-o tables.pdf``); an extension that names no format (``.txt``) leaves ``--format`` free.
    """
    if by_suffix is None:
        by_suffix = {f".{member.value}": member for member in type(default)}
    suffix = out.suffix.lower() if out is not None else ""
    if suffix in OUTPUT_SUFFIXES and suffix not in by_suffix:
        written = ", ".join(sorted(by_suffix))
        raise fail(f"cannot write {out}: a {suffix} file is not what this command writes; name it {written}")
    implied = by_suffix.get(suffix)
    if given is None:
        return implied or default
    if implied is not None and implied is not given:
        raise fail(f"--format {given.value} does not match {out}, whose extension means {implied.value}")
    return given
