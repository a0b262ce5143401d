"""The `sheet` sub-commands: read published or rendered sheets into figures, and write rendered sheets to
files.

`render` and `all` need the store and live with the metrics; they call :func:`write_sheet` from here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from clearinghouse.impact.figures import StateSheet
    from clearinghouse.impact.reader import ReadResult
    from clearinghouse.impact.render import SheetFormat

# The reader and the renderer (pydantic, Jinja, WeasyPrint) are imported where they are used: `clearinghouse`
# starts without them, whichever command it runs.

sheet_app = typer.Typer(
    help="State data sheets: read published or rendered sheets back into figures.",
    no_args_is_help=True,
)


class ReadFormat(StrEnum):
    """How `sheet read` prints what it read."""

    JSON = "json"
    CSV = "csv"


def csv_columns() -> tuple[str, ...]:
    """Columns of `sheet read --format csv`: one row per sheet; empty cells for figures a sheet does not state."""
    from clearinghouse.impact.figures import STATE_FIGURE_NAMES
    from clearinghouse.impact.reader import NATIONAL_FIGURE_NAMES

    national = (f"national_{name}" for name in NATIONAL_FIGURE_NAMES)
    return ("source", "state", "state_name", "year", *STATE_FIGURE_NAMES, *national, "problems")


@sheet_app.callback()
def sheet_commands() -> None:
    """State data sheets: read published or rendered sheets back into figures."""


@sheet_app.command("read")
def read_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Sheets to read: published or rendered, as .txt, .md, .html, .pdf or .json (a rendered sheet).",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ],
    output_format: Annotated[
        ReadFormat,
        typer.Option(
            "--format",
            "-f",
            help="json: a list with each sheet's state, year, figures, national figures and problems. "
            "csv: one row per sheet, a column per figure, problems in the last column.",
            case_sensitive=False,
        ),
    ] = ReadFormat.JSON,
) -> None:
    """Read sheets into figures and list each one's problems (the exit code is 0 even with problems)."""
    from clearinghouse.impact.reader import read_sheet

    results = [read_sheet(path) for path in files]
    typer.echo(results_as_csv(results) if output_format is ReadFormat.CSV else results_as_json(results), nl=False)


def results_as_json(results: Iterable[ReadResult]) -> str:
    """Read results as a JSON list, one object per sheet."""
    return json.dumps([result.model_dump(mode="json") for result in results], indent=2) + "\n"


def results_as_csv(results: Iterable[ReadResult]) -> str:
    """Read results as CSV with a header row: one row per sheet, columns as :func:`csv_columns`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=csv_columns(), lineterminator="\n")
    writer.writeheader()
    for result in results:
        row: dict[str, object] = {
            "source": result.source,
            "state": result.state or "",
            "state_name": result.state_name or "",
            "year": result.year or "",
            "problems": "; ".join(str(problem) for problem in result.problems),
        }
        for name, value in result.figures.model_dump().items():
            row[name] = "" if value is None else value
        for name, value in result.national.model_dump().items():
            row[f"national_{name}"] = "" if value is None else value
        writer.writerow(row)
    return buffer.getvalue()


def write_sheet(sheet: StateSheet, fmt: SheetFormat, out_path: Path) -> Path:
    """Render a sheet and write it to ``out_path`` (folders created); returns the path written.

    The file is written beside its final name and then renamed into place, so an interrupted run never leaves
    a half-written sheet where a published one is expected. Raises :class:`~clearinghouse.impact.render.
    SheetCheckError` (and writes nothing) when the rendered sheet fails its check.
    """
    from clearinghouse.impact.render import render_sheet_bytes

    data = render_sheet_bytes(sheet, fmt)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        # mkstemp makes the file private; a sheet is for publishing.
        Path(temporary).chmod(0o644)
        Path(temporary).replace(out_path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return out_path
