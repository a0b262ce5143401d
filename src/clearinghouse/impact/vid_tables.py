"""National tables of victim identification for one year, counted by SQL over the review records.

Definitions: docs/metrics.md, "Victim-identification tables". Files are those of the submissions whose review
completed in the year (UTC); a file counts in each category the review placed it in (see
`victim_id.counts`), and the total counts each file once. New series are series opened in the year. The
tables have the shape of the tipline's (`impact.tables.NationalTable`) so they print and export alike. Nothing
here writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.impact import tables_cli
from clearinghouse.impact.metrics import year_bounds
from clearinghouse.impact.tables import NationalTable, generated_at
from clearinghouse.victim_id.counts import category_counts
from clearinghouse.victim_id.models import Series


def vid_files_reviewed(session: Session, year: int) -> NationalTable:
    """Files reviewed and unique files (MD5) per series category, for reviews completed in ``year``."""
    start, end = year_bounds(year)
    counts = category_counts(session, reviewed_from=start, reviewed_to=end)
    rows = [(str(count.category or "total"), (count.files, count.unique_md5)) for count in counts]
    title = "Files reviewed for victim identification, by series category"
    return NationalTable("vid_files_reviewed", title, ("files", "unique_md5"), rows)


def vid_new_series(session: Session, year: int) -> NationalTable:
    """Series opened in ``year`` (each starts with its child not yet identified)."""
    start, end = year_bounds(year)
    opened = session.scalar(
        sa.select(sa.func.count()).select_from(Series).where(Series.opened_at >= start, Series.opened_at < end)
    )
    rows = [("series_opened", (int(opened or 0),))]
    return NationalTable("vid_new_series", "New series of children not yet identified", ("series",), rows)


VID_TABLES: dict[str, Callable[[Session, int], NationalTable]] = {
    "vid_files_reviewed": vid_files_reviewed,
    "vid_new_series": vid_new_series,
}
"""Every victim-identification table, by name, in published order."""


def vid_tables(session: Session, year: int, names: Iterable[str] | None = None) -> list[NationalTable]:
    """The named tables (all by default) for ``year``."""
    wanted = list(names) if names else list(VID_TABLES)
    unknown = [name for name in wanted if name not in VID_TABLES]
    if unknown:
        raise KeyError(f"no victim-identification table named {', '.join(unknown)}; known: {', '.join(VID_TABLES)}")
    return [VID_TABLES[name](session, year) for name in wanted]


def to_json(tables: Sequence[NationalTable], year: int) -> str:
    """The tables as one JSON document."""
    document = {
        "year": year,
        "generated_at": generated_at(),
        "definitions": "docs/metrics.md, Victim-identification tables",
        "tables": {table.name: table.as_json() for table in tables},
    }
    return json.dumps(document, indent=2) + "\n"


def to_markdown(tables: Sequence[NationalTable], year: int) -> str:
    """The tables as Markdown, laid out as the tipline's (`impact.tables_cli.to_markdown`)."""
    return tables_cli.to_markdown(tables, year, "Victim-identification tables")
