"""Command-line commands of hash matching: `hash`, `match` and `banks ...` (mounted on `clearinghouse`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from clearinghouse.commandline import check_output, command_store, echo_json, fail, output_format, write_output
from clearinghouse.errors import ClearinghouseError, InputError
from clearinghouse.hashing.kinds import SUFFIXES, BankKind, FileFormat

if TYPE_CHECKING:
    from clearinghouse.hashing.schemas import HashQuery, ImportReport

# The hashing, the store and the matcher are imported by the commands that use them: `clearinghouse` starts
# without them (NumPy, PDQ, SQLAlchemy), whichever command it runs.

banks_app = typer.Typer(help="Manage hash banks: import, export, list and snapshot.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
]


def hash_command(
    files: Annotated[list[Path], typer.Argument(help="Files to hash (read into memory, never copied).")],
) -> None:
    """Print each file's MD5, SHA-1, SHA-256 and PDQ with its quality, as JSON."""
    from clearinghouse.hashing.image import hash_content

    output = []
    for path in files:
        try:
            content = path.read_bytes()
        except OSError as error:
            raise fail(f"{path}: {error.strerror or error}", 1) from error
        output.append({"file": str(path), **hash_content(content).as_dict()})
    echo_json(output)


def _query_for(item: str) -> tuple[HashQuery, dict[str, Any]]:
    """A lookup for a file path, ``type:value``, or a bare value whose length tells its type."""
    from clearinghouse.hashing import types
    from clearinghouse.hashing.image import hash_content
    from clearinghouse.hashing.schemas import HashQuery

    path = Path(item)
    if path.is_dir():
        raise InputError(item, "is a folder; give files or hash values")
    if path.is_file():
        try:
            content = path.read_bytes()
        except OSError as error:
            raise InputError(item, error.strerror or str(error)) from error
        hashes = hash_content(content)
        query = HashQuery(
            ref=item,
            md5=hashes.md5,
            sha1=hashes.sha1,
            sha256=hashes.sha256,
            pdq=hashes.pdq,
            pdq_quality=hashes.pdq_quality,
        )
        return query, {"file": item, **hashes.as_dict()}
    name, _, value = item.partition(":")
    if value:
        chosen = [types.get(name)]
    else:
        value = item
        chosen = types.guess(value)
        if not chosen:
            raise InputError("input", "neither a file nor a hash (md5, sha1, sha256 or pdq; or TYPE:VALUE)", item)
    fields: dict[str, str] = {}
    for hash_type in chosen:
        if hash_type.name not in ("md5", "sha1", "sha256", "pdq"):
            raise InputError("input", f"{hash_type.name} values cannot be looked up", item)
        fields[hash_type.name] = hash_type.normalise(value)
    query = HashQuery(ref=item, **fields)
    return query, {"hash": item, **fields}


def match_command(
    items: Annotated[list[str], typer.Argument(help="Files, or hashes as TYPE:VALUE or a bare MD5/SHA-1/SHA-256/PDQ.")],
    url: UrlOption = None,
    snapshot: Annotated[
        Path | None,
        typer.Option("--snapshot", help="Start from this matcher snapshot instead of reading every bank hash."),
    ] = None,
) -> None:
    """Print every match of each file or hash (bank, series, distance) as JSON; allow-lists suppress matches.

    A bare 64-digit value is looked up both as SHA-256 and as PDQ.
    """
    from clearinghouse.hashing.matcher import Matcher
    from clearinghouse.hashing.snapshot import SnapshotError

    try:
        pairs = [_query_for(item) for item in items]
    except InputError as error:
        raise fail(str(error)) from error
    try:
        with command_store(url) as store, store.unit_of_work() as session:
            matcher = Matcher.load(snapshot) if snapshot else Matcher.from_store(session=session)
            results = matcher.lookup_many(session=session, queries=[query for query, _ in pairs])
            matcher.close()
    except SnapshotError as error:
        raise fail(str(error)) from error
    output = []
    for (_, described), result in zip(pairs, results, strict=True):
        output.append(
            {
                **described,
                "matches": [match.model_dump(mode="json") for match in result.matches],
                "allow_listed": [match.model_dump(mode="json") for match in result.allow_listed],
                "suppressed": result.suppressed,
                "pdq_skipped": result.pdq_skipped,
            }
        )
    echo_json(output)


@banks_app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(help="A VICS JSON (.json) or CSV (.csv) hash set.", exists=True, dir_okay=False)
    ],
    bank: Annotated[str, typer.Option("--bank", help="Bank to load into; created when missing.")],
    kind: Annotated[BankKind, typer.Option("--kind", help="What the bank's hashes are (needed to create it).")],
    source: Annotated[str, typer.Option("--source", help="Who provided the hashes (recorded on a new bank).")] = "",
    file_format: Annotated[
        FileFormat | None, typer.Option("--format", help="vics or csv; default: from the file's extension.")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Load a hash set into a bank; bad records are listed with their line, good ones still load (the exit code
    is then 1). When no record loads, nothing is stored: not even a new bank."""
    from pydantic import ValidationError

    from clearinghouse.hashing import service
    from clearinghouse.hashing.schemas import ImportFormatError
    from clearinghouse.hashing.transfer import import_file

    if bank.strip() in RESERVED_BANKS:
        raise fail(f"bank: {bank.strip()!r} is the victim-identification analysts' own bank; choose another name", 1)
    try:
        with command_store(url) as store, store.unit_of_work() as session:
            target = service.get_or_create_bank(session=session, name=bank, kind=kind, source=source)
            report = import_file(session=session, bank=target, path=file, file_format=file_format)
            if not (report.added or report.updated):
                raise _NothingLoaded(report)  # rolls the unit of work back, a bank created for it included
    except _NothingLoaded as refused:
        if not refused.report.errors:  # a header row or an empty list: a mistaken file more likely than a wish
            raise fail(f"{file}: lists no record; nothing was stored", 1) from None
        echo_json(refused.report.model_dump(mode="json"))
        raise fail(f"{file}: no record could be loaded; nothing was stored", 1) from None
    except ImportFormatError as error:
        raise fail(f"{file}: line {error.line}: {error.reason}; nothing was loaded", 1) from error
    except ClearinghouseError as error:
        raise fail(str(error), 1) from error
    except ValidationError as error:  # the bank's name or source
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False))
        raise fail(f"bank: {problems}", 1) from None
    except RecursionError:
        raise fail(f"{file}: nested too deeply to be a hash set; nothing was loaded", 1) from None
    echo_json(report.model_dump(mode="json"))
    if report.errors:
        raise typer.Exit(1)


RESERVED_BANKS = frozenset({"vid-series"})
"""Banks the application keeps itself (`victim_id.models.SERIES_BANK`: the analysts' series bank)."""


class _NothingLoaded(Exception):
    def __init__(self, report: ImportReport) -> None:
        self.report = report


@banks_app.command("list")
def list_command(url: UrlOption = None) -> None:
    """Print every bank with its kind, source and numbers of entries and hashes, as JSON."""
    from clearinghouse.hashing import service

    with command_store(url) as store, store.unit_of_work() as session:
        banks = service.list_banks(session=session)
    echo_json([bank.model_dump(mode="json") for bank in banks])


@banks_app.command("export")
def export_command(
    bank: Annotated[str, typer.Argument(help="Name of the bank to export.")],
    file_format: Annotated[
        FileFormat | None,
        typer.Option("--format", help="vics or csv; default: from --output's extension (.json, .csv), else vics."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default: standard output.")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Write a bank as VICS JSON or CSV."""
    from clearinghouse.hashing import service
    from clearinghouse.hashing.transfer import export_text

    chosen = output_format(file_format, output, FileFormat.VICS, SUFFIXES)
    check_output(output)
    try:
        with command_store(url) as store, store.unit_of_work() as session:
            text, skipped = export_text(
                session=session, bank=service.get_bank(session=session, name=bank), file_format=chosen
            )
    except ClearinghouseError as error:
        raise fail(str(error), 1) from error
    write_output(text, output)
    if skipped:
        typer.echo(f"{skipped} entries have no MD5 or SHA-1 and are not in the VICS file", err=True)


@banks_app.command("snapshot")
def snapshot_command(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder to write the snapshot to: a new or empty folder, or an earlier snapshot (replaced in one "
            "step). A folder holding anything else is refused and left alone."
        ),
    ],
    url: UrlOption = None,
) -> None:
    """Build the matcher from every bank and write its snapshot, for workers to start from (`match --snapshot`)."""
    from clearinghouse.hashing.matcher import Matcher
    from clearinghouse.hashing.snapshot import SnapshotError

    with command_store(url) as store, store.unit_of_work() as session:
        matcher = Matcher.from_store(session=session)
    try:
        matcher.save(directory)
    except (SnapshotError, OSError) as error:
        raise fail(str(error), 1) from error
    finally:
        matcher.close()
    echo_json({"directory": str(directory), "hashes": len(matcher), "high_water": matcher.high_water})
