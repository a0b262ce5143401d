"""`clearinghouse demo`: simulate a year on a fresh embedded store and publish the seeded states' sheets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from clearinghouse.impact.figures import StateSheet

console = Console()


def _published(sheet: StateSheet, published: dict[str, int]) -> list[tuple[str, int, int]]:
    from clearinghouse.impact.figures import STATE_FIGURE_NAMES

    generated = sheet.state
    rows = []
    for name in STATE_FIGURE_NAMES:
        if name == "missing_total":
            expected = published["missing_social_services"] + published["missing_other"] + published["missing_hhs_orr"]
        else:
            expected = published[name]
        rows.append((name, expected, int(getattr(generated, name))))
    return rows


def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo store and the sheets.")] = Path(
        "demo-out"
    ),
    year: Annotated[
        int, typer.Option("--year", min=1900, max=9998, help="Year to simulate (calibrated for 2023).")
    ] = 2023,
    scale: Annotated[
        float,
        typer.Option("--scale", help="Volume of the rest of the country, as a share of the full year (1.0 = all)."),
    ] = 0.001,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation (same seed, same store).")] = 2023,
) -> None:
    """Simulate a year on a fresh SQLite store, publish the five seeded states' sheets, compare every figure.

    The simulation sends raw activity through the services; the sheets (md, html, pdf) are counted from the
    store and printed beside the published figures.
    """
    from clearinghouse.commandline import fail, make_folder, writing
    from clearinghouse.db.engine import open_store
    from clearinghouse.impact.cli import write_sheet
    from clearinghouse.impact.publish import build_sheet
    from clearinghouse.simulate.plan import plan_year, published_state_figures
    from clearinghouse.simulate.run import simulate_year

    started = time.perf_counter()
    try:  # planned first: a refused option leaves no folder and no store behind
        plan = plan_year(year=year, scale=scale)
    except ValueError as error:
        raise fail(error) from None
    database = out / "demo.db"
    make_folder(out)
    with writing(out):
        for leftover in (database, database.with_name("demo.db-wal"), database.with_name("demo.db-shm")):
            leftover.unlink(missing_ok=True)
    store = open_store(f"sqlite:///{database}")
    console.print(f"simulating {year} on a fresh store at {database} (rest of the country at scale {scale})")
    summary = simulate_year(store, plan, seed=seed)
    published = published_state_figures()
    table = Table(title=f"Published vs generated, {year}", show_lines=False)
    for column in ("state", "figure", "published", "generated", "match"):
        table.add_column(column, justify="right" if column in ("published", "generated") else "left")
    mismatches = 0
    with store.unit_of_work() as session:
        sheets = {state: build_sheet(session, state, year) for state in sorted(published)}
    for state, sheet in sheets.items():
        for fmt in ("md", "html", "pdf"):
            write_sheet(sheet, fmt, out / f"{state}-{year}.{fmt}")
        for name, expected, generated in _published(sheet, published[state]):
            ok = expected == generated
            mismatches += not ok
            table.add_row(state, name, f"{expected:,}", f"{generated:,}", "yes" if ok else "[red]NO[/]")
    national = next(iter(sheets.values())).national
    for name, value in national.model_dump().items():
        if name != "year":
            table.add_row("US", f"national: {name}", "", f"{value:,}", "(store)")
    console.print(table)
    console.print(
        f"{summary.tipline_inputs:,} platform reports sent ({summary.tipline_duplicates:,} retried duplicates "
        f"refused), {summary.tipline_processed:,} located and released; sheets in {out}/ "
        f"({time.perf_counter() - started:.0f} s: {_timings(summary.seconds)})"
    )
    store.dispose()
    if mismatches:
        console.print(f"[red]{mismatches} figure(s) differ from the published sheets[/]")
        raise typer.Exit(code=1)
    console.print("every state figure matches the published sheets")


def _timings(seconds: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.0f} s" for name, value in seconds.items())
