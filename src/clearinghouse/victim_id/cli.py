"""`clearinghouse vid`: submissions of law enforcement, their review, the analyst queue, reports and exports."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clearinghouse.commandline import (
    check_output,
    check_year,
    command_store,
    echo_json,
    fail,
    output_format,
    write_output,
)
from clearinghouse.errors import ClearinghouseError, InputError
from clearinghouse.hashing.kinds import FileFormat

if TYPE_CHECKING:
    from clearinghouse.victim_id.manifest import ManifestError

# The program's services are imported by the commands that use them: `clearinghouse` starts without them
# (SQLAlchemy, pydantic), whichever command it runs.

vid_app = typer.Typer(
    help="Victim identification: law-enforcement submissions, their review, the analyst queue and the exports.",
    no_args_is_help=True,
)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
]
ActorOption = Annotated[str, typer.Option("--actor", help="Who is acting, as recorded in the audit log.")]
OutOption = Annotated[
    Path | None, typer.Option("--out", "-o", help="Write to this file instead of standard output.", dir_okay=False)
]


DEFAULT_QUEUE_LIMIT = 100
"""Waiting files `vid queue` lists unless told (`--limit`)."""


class ReportFormat(enum.StrEnum):
    """Formats of the agency's review report."""

    JSON = "json"
    PDF = "pdf"


class ExportFormat(enum.StrEnum):
    """Formats of the quarterly export."""

    CSV = "csv"
    JSON = "json"


class TableFormat(enum.StrEnum):
    """Formats of the national tables."""

    MD = "md"
    CSV = "csv"
    JSON = "json"


@contextmanager
def _unit_of_work(url: str | None) -> Iterator[Any]:
    """One unit of work on the store (`Store.unit_of_work`); a refusal ends the command with its message."""
    from pydantic import ValidationError

    try:
        with command_store(url) as store, store.unit_of_work() as session:
            yield session
    except ClearinghouseError as error:
        raise _fail(error) from error
    except ValidationError as error:  # an option's value, checked by the service's input model
        raise _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())) from None
    except OverflowError:  # an id beyond what the store holds: no such record
        raise _fail("an id given is larger than any record's (at most 2**63 - 1)") from None


def _fail(error: ClearinghouseError | str) -> typer.Exit:
    # 2 for input the user can correct, 1 for a request the records do not allow.
    return fail(error, 2 if isinstance(error, InputError | str) else 1)


@vid_app.callback()
def vid_commands() -> None:
    """Victim identification: law-enforcement submissions, their review, the analyst queue and the exports."""


@vid_app.command("submit")
def submit_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="The manifest: VICS JSON (.json) or CSV (.csv) of file hashes.", exists=True, dir_okay=False
        ),
    ],
    agency: Annotated[int, typer.Option("--agency", help="Id of the submitting law-enforcement agency.")],
    case: Annotated[str, typer.Option("--case", help="The agency's case number.")],
    file_format: Annotated[
        FileFormat | None, typer.Option("--format", help="vics or csv; default: from the file's name or content.")
    ] = None,
    actor: ActorOption = "cli",
    url: UrlOption = None,
) -> None:
    """Receive an agency's manifest of hashes for one case; a bad manifest is refused whole, by line."""
    from clearinghouse.hashing.schemas import ImportFormatError
    from clearinghouse.hashing.transfer import open_text
    from clearinghouse.victim_id.manifest import ManifestError, detect_format, read_manifest, submit_manifest

    try:
        with open_text(file) as stream:
            files = read_manifest(stream, file_format or detect_format(stream.opening(), file.name))
            with _unit_of_work(url) as session:
                try:
                    submission = submit_manifest(
                        session=session, agency_id=agency, case_number=case, files=files, actor=actor
                    )
                except ManifestError as error:
                    raise _Refused(error) from None  # out of the unit of work, which it rolls back
                result = {
                    "submission_id": submission.id,
                    "status": str(submission.status),
                    "files": submission.file_count,
                }
    except ImportFormatError as error:  # not UTF-8
        raise _fail(f"{file}: {error}; nothing was stored") from None
    except InputError as error:  # no permission, a read error, removed since it was named
        raise _fail(f"{error}; nothing was stored") from None
    except RecursionError:
        raise _fail(f"{file}: nested too deeply to be a manifest; nothing was stored") from None
    except _Refused as refused:
        bad = refused.error
        for row in bad.errors:
            typer.echo(f"{file}: line {row.line}: {row.reason}", err=True)
        if bad.count > len(bad.errors):
            typer.echo(f"{file}: {bad.count - len(bad.errors)} more bad record(s), not listed", err=True)
        raise _fail(f"{file}: {bad.count} bad record(s); nothing was stored") from None
    echo_json(result)


class _Refused(Exception):
    """A manifest refused, carried out of the unit of work (which would report it as any refusal) to be listed."""

    def __init__(self, error: ManifestError) -> None:
        self.error = error


@vid_app.command("review")
def review_command(
    submission_id: Annotated[int, typer.Argument(help="Id of the submission to review.")],
    actor: ActorOption = "cli",
    url: UrlOption = None,
) -> None:
    """Review a submission: sort every file into the four series categories, queue the unrecognised, complete it."""
    from clearinghouse.victim_id.review import run_review

    with _unit_of_work(url) as session:
        summary = run_review(session=session, submission_id=submission_id, actor=actor)
    echo_json(summary.model_dump(mode="json"))


@vid_app.command("report")
def report_command(
    submission_id: Annotated[int, typer.Argument(help="Id of the reviewed submission.")],
    report_format: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="json, or pdf (needs --out); default: from --out's extension, else json.",
            case_sensitive=False,
        ),
    ] = None,
    out: OutOption = None,
    actor: ActorOption = "cli",
    url: UrlOption = None,
) -> None:
    """Write the agency's review report: categories and identified series, no images and no names."""
    from clearinghouse.victim_id.report import build_report, report_json, report_pdf

    chosen = output_format(report_format, out, ReportFormat.JSON)
    if chosen is ReportFormat.PDF and out is None:
        raise _fail("a PDF needs --out FILE")
    check_output(out)
    with _unit_of_work(url) as session:
        report = build_report(session=session, submission_id=submission_id, actor=actor)
        # Written before the read is committed: a report that could not be written leaves no audit event.
        write_output(report_pdf(report) if chosen is ReportFormat.PDF else report_json(report), out)
    if out is not None:
        typer.echo(f"report of submission {submission_id} written to {out}", err=True)


@vid_app.command("queue")
def queue_command(
    open_series: Annotated[
        str | None, typer.Option("--open-series", help="Open a new series under this code from the --file files.")
    ] = None,
    attach_series: Annotated[
        str | None, typer.Option("--attach-series", help="Attach the --file files to this registered series.")
    ] = None,
    no_series: Annotated[
        str | None,
        typer.Option("--no-series", help="Close the --file files without a series, for this reason.", metavar="REASON"),
    ] = None,
    file_ids: Annotated[
        list[int] | None,
        typer.Option("--file", help="Id of a waiting file (repeatable), for --open/--attach/--no-series."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            max=1000,
            help=f"Waiting files listed at most (default {DEFAULT_QUEUE_LIMIT}); only for the listing.",
        ),
    ] = None,
    actor: ActorOption = "cli",
    url: UrlOption = None,
) -> None:
    """List the files waiting for an analyst, or resolve some: into a new or a registered series, or closed
    without one."""
    from clearinghouse.victim_id import queue

    if sum(choice is not None for choice in (open_series, attach_series, no_series)) > 1:
        raise _fail("give one of --open-series, --attach-series and --no-series")
    acting = bool(open_series or attach_series or no_series is not None)
    if acting and not file_ids:
        raise _fail("name the files with --file ID (repeatable)")
    if file_ids and not acting:  # a listing would ignore them: say so rather than list as if they had been read
        raise _fail("--file goes with --open-series, --attach-series or --no-series (without it, the queue is listed)")
    if limit is not None and acting:  # it bounds the listing; the files resolved are those named, all of them
        raise _fail(
            "--limit goes with the listing of the queue, not with --open-series, --attach-series or --no-series"
        )
    with _unit_of_work(url) as session:
        if open_series:
            series = queue.open_series_from_queue(
                session=session, code=open_series, file_ids=file_ids or [], actor=actor
            )
            result: Any = {"series": series.code, "opened": True, "waiting": queue.count_waiting(session=session)}
        elif attach_series:
            count = queue.attach_to_series(session=session, code=attach_series, file_ids=file_ids or [], actor=actor)
            result = {"series": attach_series, "files": count, "waiting": queue.count_waiting(session=session)}
        elif no_series is not None:
            count = queue.close_without_series(session=session, file_ids=file_ids or [], reason=no_series, actor=actor)
            result = {"series": None, "closed": count, "waiting": queue.count_waiting(session=session)}
        else:
            waiting = queue.list_waiting(session=session, limit=limit or DEFAULT_QUEUE_LIMIT)
            result = {
                "waiting": queue.count_waiting(session=session),
                "files": [item.model_dump(mode="json") for item in waiting],
            }
    echo_json(result)


@vid_app.command("identify")
def identify_command(
    reference: Annotated[str, typer.Argument(help="The identification's reference (no name of the child).")],
    series_code: Annotated[
        str | None, typer.Option("--series", help="Code of the registered series whose child this is (required).")
    ] = None,
    identified_at: Annotated[
        str | None,
        typer.Option("--at", help="When the child was identified (ISO 8601 with a time zone); default: now."),
    ] = None,
    agency: Annotated[int | None, typer.Option("--agency", help="Id of the identifying agency.")] = None,
    actor: ActorOption = "cli",
    url: UrlOption = None,
) -> None:
    """Record a child's identification; the series becomes identified, and so do its entries in the series bank."""
    import datetime as dt

    from pydantic import ValidationError

    from clearinghouse.victim_id import service
    from clearinghouse.victim_id.schemas import IdentificationCreate

    if series_code is None or not series_code.strip():
        # Recorded without its series, the reference could not be recorded again with it (references are unique).
        raise _fail("--series: name the series whose child was identified (its code); nothing was recorded")
    with _unit_of_work(url) as session:
        series = service.get_series_by_code(session=session, code=series_code)
        try:
            data = IdentificationCreate(
                reference=reference,
                identified_at=identified_at or dt.datetime.now(dt.UTC),
                series_id=series.id,
                identifying_agency_id=agency,
            )
        except ValidationError as error:
            problem = error.errors()[0]
            raise InputError(str(problem["loc"][0]), problem["msg"], problem.get("input")) from None
        identification = service.record_identification(session=session, data=data, actor=actor)
        result = {
            "identification_id": identification.id,
            "reference": identification.reference,
            "identified_at": identification.identified_at.isoformat(),
            "series": series.code,
            "series_status": str(series.status),
        }
    echo_json(result)


@vid_app.command("export")
def export_command(
    year: Annotated[int, typer.Option("--year", "-y", min=1900, max=9998, help="Calendar year (UTC) of the quarter.")],
    quarter: Annotated[int, typer.Option("--quarter", "-q", min=1, max=4, help="Quarter: 1 (January-March) to 4.")],
    export_format: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="csv: a line per series and agency. json: one document. Default: from --out's extension, else csv.",
            case_sensitive=False,
        ),
    ] = None,
    out: OutOption = None,
    actor: ActorOption = "cli",
    url: UrlOption = None,
) -> None:
    """Write where each identified series' files were found in a quarter, for victim-notification programs."""
    from clearinghouse.victim_id import export

    check_year(year)
    chosen = output_format(export_format, out, ExportFormat.CSV)
    check_output(out)
    with _unit_of_work(url) as session:
        lines = export.distribution(session=session, year=year, quarter=quarter, actor=actor)
        text = export.to_csv(lines) if chosen is ExportFormat.CSV else export.to_json(lines, year, quarter)
        write_output(text, out)  # before the export's audit event is committed: a failed write leaves none
    if out is not None:
        typer.echo(f"{len(lines)} series for {year} Q{quarter} written to {out}", err=True)


@vid_app.command("tables")
def tables_command(
    year: Annotated[
        int, typer.Option("--year", "-y", min=1900, max=9998, help="Calendar year (UTC) of the reviews counted.")
    ],
    table_format: Annotated[
        TableFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="md, csv (table,row,column,value) or json; default: from --out's extension, else md.",
            case_sensitive=False,
        ),
    ] = None,
    out: OutOption = None,
    url: UrlOption = None,
) -> None:
    """Print the victim-identification tables of a year: files per series category, new series."""
    from clearinghouse.impact import vid_tables
    from clearinghouse.impact.tables_cli import to_csv

    check_year(year)
    chosen = output_format(table_format, out, TableFormat.MD)
    check_output(out)
    with command_store(url) as store, store.session() as session:
        tables = vid_tables.vid_tables(session, year)
    if chosen is TableFormat.CSV:
        text = to_csv(tables)
    elif chosen is TableFormat.JSON:
        text = vid_tables.to_json(tables, year)
    else:
        text = vid_tables.to_markdown(tables, year)
    write_output(text, out)
    if out is not None:
        typer.echo(f"{len(tables)} table(s) for {year} written to {out}", err=True)
