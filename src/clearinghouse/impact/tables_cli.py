"""`clearinghouse tables`: the national tables of the tipline for one year, as CSV, JSON or Markdown."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from clearinghouse.impact.tables import NationalTable

TABLE_NAMES = (
    "reports_by_source",
    "reports_by_location",
    "reports_by_state",
    "reports_by_country",
    "reports_by_incident_type",
    "files_by_kind",
    "unique_files",
    "unique_files_grouped",
    "reports_by_content",
    "reports_by_platform",
    "reports_by_classification",
    "escalated_reports",
    "reports_by_recipient",
    "bundles",
    "vid_files_reviewed",
    "vid_new_series",
)
"""The names of `impact.tables.all_tables`, for `--table`'s help: written out, since the tables' module loads the
store's models (SQLAlchemy), which `clearinghouse` must not wait for on every start. A test keeps the two equal."""


class TableFormat(StrEnum):
    """How the tables are written."""

    CSV = "csv"
    JSON = "json"
    MD = "md"


CSV_COLUMNS = ("table", "row", "column", "value")
"""CSV is long: one line per figure, so that tables of any shape share one file."""


def to_csv(tables: Sequence[NationalTable]) -> str:
    """Every figure of ``tables`` as one CSV line (table, row, column, value)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for table in tables:
        for label, values in table.rows:
            for column, value in zip(table.columns, values, strict=True):
                writer.writerow((table.name, label, column, value))
    return buffer.getvalue()


def to_json(tables: Sequence[NationalTable], year: int) -> str:
    """The tables as one JSON document."""
    from clearinghouse.impact.tables import generated_at

    document = {
        "year": year,
        "generated_at": generated_at(),
        "definitions": "docs/metrics.md, National tables",
        "tables": {table.name: table.as_json() for table in tables},
    }
    return json.dumps(document, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(tables: Sequence[NationalTable], year: int, heading: str = "National tables") -> str:
    """The tables as Markdown, one section each, figures with thousands separators. ``heading`` is also the
    section of docs/metrics.md that defines them. A year with no records says so above its zeros: a reader must
    not take an empty store, or a year before it, for a year in which nothing happened."""
    from clearinghouse.impact.wording import not_over

    lines = [f"# {heading}, {year}", "", f'Definitions: docs/metrics.md, "{heading}".', ""]
    partial = not_over(year)
    if partial:
        lines += [partial, ""]
    if not any(value for table in tables for _, values in table.rows for value in values):
        lines += [f"No records of {year} were counted: every figure below is zero.", ""]
    for table in tables:
        lines += [f"## {table.title}", "", f"| {table.name} | " + " | ".join(table.columns) + " |"]
        lines.append("|---|" + "---:|" * len(table.columns))
        lines += [f"| {_cell(label)} | " + " | ".join(f"{v:,}" for v in values) + " |" for label, values in table.rows]
        lines.append("")
    return "\n".join(lines)


def tables_command(
    year: Annotated[
        int, typer.Option("--year", "-y", min=1900, max=9998, help="Calendar year (UTC) of the reports counted.")
    ],
    table_format: Annotated[
        TableFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="csv: one line per figure (table,row,column,value). json: one document. md: a section per table. "
            "Default: from --out's extension, else md.",
            case_sensitive=False,
        ),
    ] = None,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", "-t", help=f"Only this table (repeatable). Known: {', '.join(TABLE_NAMES)}."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of standard output.", dir_okay=False)
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
    ] = None,
) -> None:
    """Print the national tables for a year (tipline and victim identification), each counted from the records.

    The definitions of every table are in docs/metrics.md, under "National tables".
    """
    from clearinghouse.commandline import check_output, check_year, command_store, fail, output_format, write_output
    from clearinghouse.impact.tables import all_tables, national_tables

    check_year(year)
    unknown = [name for name in table or () if name not in all_tables()]
    if unknown:
        raise fail(f"--table {', '.join(unknown)}: no such table; known: {', '.join(all_tables())}")
    chosen = output_format(table_format, out, TableFormat.MD)
    check_output(out)
    with command_store(url) as store, store.session() as session:
        tables = national_tables(session, year, table)
    if chosen is TableFormat.CSV:
        text = to_csv(tables)
    elif chosen is TableFormat.JSON:
        text = to_json(tables, year)
    else:
        text = to_markdown(tables, year)
    write_output(text, out)
    if out is not None:
        typer.echo(f"{len(tables)} table(s) for {year} written to {out}", err=True)
