"""Publishing sheets from the store: `clearinghouse sheet render` and `clearinghouse sheet all`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from clearinghouse.impact.cli import sheet_app, write_sheet

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from clearinghouse.impact.figures import StateSheet
    from clearinghouse.impact.render import SheetFormat

# The store's models and the metrics are imported where they are used: `clearinghouse` starts without them
# (SQLAlchemy), whichever command it runs.

console = Console(stderr=True)


class OutputFormat(StrEnum):
    """The formats a sheet is published in."""

    MD = "md"
    HTML = "html"
    PDF = "pdf"
    JSON = "json"


def build_sheet(session: Session, state: str, year: int) -> StateSheet:
    """The sheet of ``state`` for ``year``, every figure counted from the store."""
    from clearinghouse.impact.figures import StateSheet
    from clearinghouse.impact.metrics import national_figures, state_figures

    return StateSheet(state=state_figures(session, state, year), national=national_figures(session, year))


def sheet_states(session: Session) -> list[str]:
    """Every jurisdiction that gets a sheet: the states, DC and the territories."""
    import sqlalchemy as sa

    from clearinghouse.geo.models import Jurisdiction, JurisdictionKind

    kinds = (JurisdictionKind.STATE, JurisdictionKind.DISTRICT, JurisdictionKind.TERRITORY)
    query = sa.select(Jurisdiction.code).where(Jurisdiction.kind.in_(kinds)).order_by(Jurisdiction.code)
    return list(session.scalars(query))


def _resolve_state(text: str) -> str:
    from clearinghouse.geo.jurisdictions import UnknownJurisdiction, find_state

    try:
        return find_state(text).code
    except UnknownJurisdiction as error:
        raise typer.BadParameter(str(error), param_hint="STATE") from error


YearOption = Annotated[
    int, typer.Option("--year", "-y", min=1900, max=9998, help="Calendar year of the figures (UTC).")
]
UrlOption = Annotated[
    str | None, typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file.")
]


@sheet_app.command("render")
def render_command(
    state: Annotated[str, typer.Argument(help="State or territory: name or postal abbreviation, any case.")],
    year: YearOption,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format", "-f", help="Output format; default: from --out's extension, else md.", case_sensitive=False
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write; default: standard output.")] = None,
    url: UrlOption = None,
) -> None:
    """Render one state's sheet for a year from the records in the store."""
    from clearinghouse.commandline import check_output, check_year, command_store, output_format, writing
    from clearinghouse.impact.render import render_sheet_bytes

    code = _resolve_state(state)
    check_year(year)
    chosen = output_format(fmt, out, OutputFormat.MD)
    if out is None and chosen is OutputFormat.PDF:
        raise typer.BadParameter("a PDF goes to a file: add --out FILE.pdf", param_hint="--out")
    check_output(out)
    with command_store(url) as store, store.unit_of_work() as session:
        sheet = build_sheet(session, code, year)
    if out is not None:
        with writing(out):
            write_sheet(sheet, chosen.value, out)
        console.print(f"wrote {out}")
        return
    typer.echo(render_sheet_bytes(sheet, chosen.value).decode("utf-8"), nl=False)


@sheet_app.command("all")
def all_command(
    year: YearOption,
    out: Annotated[str, typer.Option("--out", "-o", help="Folder to write the sheets into.", metavar="DIR")],
    formats: Annotated[
        list[OutputFormat] | None,
        typer.Option(
            "--format", "-f", help="Formats to write (repeatable); default md, html, pdf.", case_sensitive=False
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Write every state's, DC's and every territory's sheet for a year into a folder."""
    from rich.progress import track

    from clearinghouse.commandline import check_year, command_store, fail, make_folder, writing

    check_year(year)
    if not out.strip():  # `-o "$DIR"` with DIR unset; a path would take it for the current folder
        raise fail("--out is empty: name the folder to write the sheets into (. for the current one)")
    folder = Path(out)
    chosen: list[SheetFormat] = [f.value for f in formats] if formats else ["md", "html", "pdf"]
    with command_store(url) as store:
        make_folder(folder)
        with store.unit_of_work() as session:
            sheets = [build_sheet(session, code, year) for code in sheet_states(session)]
    with writing(folder):
        for sheet in track(sheets, description="writing sheets", console=console):
            for fmt in chosen:
                write_sheet(sheet, fmt, folder / f"{sheet.state.state}-{year}.{fmt}")
    console.print(f"wrote {len(sheets) * len(chosen)} files to {folder}")
