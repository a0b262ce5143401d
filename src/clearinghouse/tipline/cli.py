"""`clearinghouse tipline`: import a platform's batch export (NDJSON), run the processing pipeline, show a report and
release it to another jurisdiction."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clearinghouse.commandline import MAX_ID

tipline_app = typer.Typer(
    help="Tipline reports: import platforms' batch exports, run the processing pipeline, show and release reports.",
    no_args_is_help=True,
)
console = Console(stderr=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
]
SHOWN_ERRORS = 20
MAX_ACTOR = 200
"""The longest name the audit log keeps for who did something (its column's width)."""
READ_BLOCK = 1 << 20
"""Bytes read from an export at a time."""


def _progress() -> Progress:
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=False)


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            count, last = count + block.count(b"\n"), block[-1:]
    return count + (last != b"\n")


GZIP_MAGIC = b"\x1f\x8b"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _refuse_unreadable(file: Path, head: bytes) -> None:
    """Refuse, whole, an export in a form no line of it can be read in: read line by line, each was refused as
    "UTF-16?" (a gzip file too). `head` is its first bytes, peeked at, since a pipe can be read only once."""
    from clearinghouse.commandline import fail

    if head.startswith(GZIP_MAGIC):
        raise fail(f"{file} is gzip-compressed: decompress it first (gunzip)")
    if head.startswith(UTF16_BOMS):
        raise fail(f"{file} is UTF-16 text: export it as UTF-8")


@tipline_app.callback()
def tipline_commands() -> None:
    """Tipline reports: import platforms' batch exports, run the processing pipeline, show and release reports."""


@tipline_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="NDJSON file: one report per line (platform_report_id, received_at, report, files).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    platform: Annotated[
        str, typer.Option("--platform", "-p", help="The platform account the reports come from (name or user name).")
    ],
    url: UrlOption = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help="Processes that parse the lines and, when processing, store them in turn (0: this one).",
        ),
    ] = 2,
    chunk: Annotated[int, typer.Option("--chunk", min=1, help="Lines stored per transaction.")] = 5000,
    process: Annotated[
        bool,
        typer.Option(
            "--process/--no-process",
            help="Process each chunk through release as it is stored (else the reports wait in the pipeline's queue).",
        ),
    ] = True,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every line's outcome as JSON on standard output.")
    ] = False,
) -> None:
    """Import a platform's batch export (NDJSON), idempotent on the platform's report ids.

    Lines already on file (same platform report id) are not stored again, so an interrupted import can simply be
    run again. Refused lines are listed with their line number and reasons; the exit code is then 1.
    """
    from clearinghouse.access.service import find_platform
    from clearinghouse.commandline import command_store, fail
    from clearinghouse.errors import shortened
    from clearinghouse.tipline.bulk import import_lines
    from clearinghouse.tipline.lines import numbered_lines
    from clearinghouse.tipline.onepass import Processing

    with command_store(url) as store:
        with store.session() as session:
            account = find_platform(session=session, name=platform)
        if account is None:
            raise fail(
                f"no platform account named {shortened(platform)!r}; create it with: clearinghouse platforms add NAME"
            )
        # A pipe or a terminal can be read only once: its lines are not counted ahead (no total on the bar).
        total = _count_lines(file) if file.is_file() else None
        # Processed in the same pass (onepass), or left in the pipeline's queue with --no-process.
        processing = Processing(ip_database=_ip_database()) if process else None
        with file.open("rb") as stream:
            _refuse_unreadable(file, stream.peek(len(GZIP_MAGIC)))
            with _progress() as progress:
                task = progress.add_task(f"import {file.name}"[:22], total=total)
                summary = import_lines(
                    store,
                    platform_id=account.id,
                    actor=f"import:{account.username}",
                    # In blocks, not line by line: a file's line iterator holds a whole line, however long it runs.
                    lines=numbered_lines(iter(partial(stream.read, READ_BLOCK), b"")),
                    chunk_lines=chunk,
                    workers=workers,
                    on_chunk=lambda size: progress.update(task, advance=size),
                    processing=processing,
                )
                if total is not None:
                    progress.update(task, completed=total)
            processed = summary.accepted if process else 0
    if as_json:
        typer.echo(json.dumps(summary.as_json()))
    typer.echo(
        f"{summary.accepted:,} report(s) stored, {summary.already_on_file:,} already on file, "
        f"{len(summary.rejected):,} line(s) refused" + (f"; {processed:,} processed by the pipeline" if process else "")
    )
    if summary.rejected:
        table = Table("line", "platform report id", "field", "problem", title="Refused lines")
        for problem in summary.rejected[:SHOWN_ERRORS]:
            for error in problem.errors:
                table.add_row(
                    str(problem.line), escape(problem.platform_report_id or ""), error.field, escape(error.message)
                )
        console.print(table)
        if len(summary.rejected) > SHOWN_ERRORS:
            console.print(f"... and {len(summary.rejected) - SHOWN_ERRORS:,} more (--json lists them all)")
        raise typer.Exit(code=1)


def _ip_database() -> Path | None:
    """The configured IP database (``CLEARINGHOUSE_MAXMIND_DB``), checked to open, or None when there is none; a
    clear exit when it cannot be opened."""
    from clearinghouse.config import get_settings
    from clearinghouse.geo.ipgeo import MaxMindResolver

    path = get_settings().maxmind_db
    if path is not None:
        try:
            MaxMindResolver(path).close()
        except ValueError as error:
            console.print(f"[red]CLEARINGHOUSE_MAXMIND_DB:[/] {escape(str(error))}")
            raise typer.Exit(code=2) from None
    return path


@tipline_app.command("process")
def process_command(
    url: UrlOption = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Reports per transaction.")] = 5000,
) -> None:
    """Run the pipeline (bundle, match, locate, prioritise, classify, release) over every queued report."""
    import sqlalchemy as sa

    from clearinghouse.commandline import command_store
    from clearinghouse.geo.ipgeo import configured_resolver
    from clearinghouse.tipline import pipeline
    from clearinghouse.tipline.models import Report, ReportStatus

    with command_store(url) as store:
        with store.session() as session:
            queued = session.scalar(
                sa.select(sa.func.count()).where(Report.status == ReportStatus.FINISHED, Report.processed_at.is_(None))
            )
        with _progress() as progress, configured_resolver(_ip_database()) as resolver:
            task = progress.add_task("pipeline", total=queued or 0)
            processed = pipeline.run(
                store,
                batch_size=batch,
                ip_resolver=resolver,
                on_batch=lambda outcome: progress.update(task, advance=outcome.processed),
            )
    typer.echo(f"{processed:,} report(s) processed", err=True)


def _actor(by: str) -> str:
    """The audit log's name for the person a command acts for (``--by``): named, shown as given."""
    from clearinghouse.errors import visible_text

    return "cli:" + visible_text("by", by, MAX_ACTOR - len("cli:"))


@tipline_app.command("release")
def release_command(
    report_id: Annotated[int, typer.Argument(help="The report's id.", min=1, max=MAX_ID)],
    to: Annotated[str, typer.Option("--to", help="The jurisdiction to make it available to (NY, DC, PR, FED, INTL).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the release, at most 200 characters).")],
    agency: Annotated[
        list[int] | None,
        typer.Option(
            "--agency",
            min=1,
            max=MAX_ID,
            help="Release to this agency of the jurisdiction (repeatable); default: the "
            "agencies the pipeline releases to there (its task forces).",
        ),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who releases it, for the audit log.")] = "cli",
    url: UrlOption = None,
) -> None:
    """Make a processed report available to another jurisdiction too (or again to more agencies of one)."""
    from clearinghouse.commandline import command_store, fail
    from clearinghouse.errors import Conflict, InputError, NotFound
    from clearinghouse.geo.models import Agency
    from clearinghouse.geo.service import require_jurisdiction, task_forces_for
    from clearinghouse.tipline.availability import release_to_jurisdiction

    try:
        actor = _actor(by)
        with command_store(url) as store, store.unit_of_work() as session:
            code = require_jurisdiction(session=session, code=to).code
            if agency:
                chosen = [session.get(Agency, agency_id) for agency_id in agency]
                unknown = [i for i, found in zip(agency, chosen, strict=True) if found is None]
                if unknown:
                    raise InputError("agency", "is no agency's id", unknown)
                agencies = [found for found in chosen if found is not None]
            else:
                # Only the jurisdiction's own: where it has none active, the pipeline's fallback is FED's liaisons.
                found = task_forces_for(session=session, jurisdiction_code=code)
                agencies = [a for a in found if a.jurisdiction_code == code]
            releases = release_to_jurisdiction(
                session=session,
                report_id=report_id,
                jurisdiction_code=code,
                agencies=agencies,
                actor=actor,
                reason=reason,
            )
            names = [found.name for found in agencies if found.id in {r.agency_id for r in releases}]
    except (NotFound, Conflict, ValueError) as error:  # InputError and an unknown jurisdiction are ValueErrors
        raise fail(error, 1) from None
    if names:
        typer.echo(f"report {report_id} made available to {code}: " + "; ".join(names))
    else:
        typer.echo(f"report {report_id} was already available to those agencies of {code}; nothing changed")


@tipline_app.command("show")
def show_command(
    report_id: Annotated[int, typer.Argument(help="The report's id.", min=1, max=MAX_ID)],
    by: Annotated[str, typer.Option("--by", help="Who reads it, for the audit log (every read is recorded).")] = "cli",
    url: UrlOption = None,
) -> None:
    """Print one report in full as JSON (staff view: every release, the bundle, the files' hashes); the read is
    recorded."""
    from clearinghouse.commandline import command_store, fail
    from clearinghouse.errors import InputError, NotFound
    from clearinghouse.tipline.agency_api import full_report
    from clearinghouse.tipline.availability import read_report

    try:
        reader = _actor(by)
        with command_store(url) as store, store.unit_of_work() as session:
            report = read_report(session=session, report_id=report_id, reader=reader)
            shown = full_report(session, report).model_dump_json(indent=2)
    except (NotFound, InputError) as error:
        raise fail(error, 1) from None
    typer.echo(shown)
