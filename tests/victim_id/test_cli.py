"""`clearinghouse vid ...` run as a user would: submit, review, report, queue, export, tables."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from clearinghouse.db.engine import Store
from clearinghouse.geo.models import AgencyKind
from clearinghouse.victim_id import cli
from tests.victim_id import world
from tests.victim_id.world import md5

runner = CliRunner()
AgencyId = Callable[[str, AgencyKind], int]


@pytest.fixture
def app(seeded: Store, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    # The commands work on the test's store (SQLite or PostgreSQL) whatever --url they are given.
    monkeypatch.setattr(cli, "command_store", lambda url: nullcontext(seeded))
    world.build(seeded)
    return cli.vid_app


def run(app: typer.Typer, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def test_submit_review_report_queue_export_tables(app: typer.Typer, agency_id: AgencyId, tmp_path: Path) -> None:
    manifest = tmp_path / "case.json"
    manifest.write_text(world.vics_manifest(), encoding="utf-8")
    agency = str(agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    submitted = json.loads(run(app, "submit", str(manifest), "--agency", agency, "--case", "C-1").stdout)
    assert (submitted["status"], submitted["files"]) == ("received", 12)
    summary = json.loads(run(app, "review", str(submitted["submission_id"])).stdout)
    assert summary["categories"] == {
        "identified_series": 4,
        "tracked_series": 2,
        "not_determinable": 3,
        "no_series": 4,
    }
    report = json.loads(run(app, "report", str(submitted["submission_id"]), "--format", "json").stdout)
    assert report["identified_series"][0]["code"] == "SER-ID-1"
    pdf = tmp_path / "report.pdf"
    run(app, "report", str(submitted["submission_id"]), "--format", "pdf", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    run(app, "report", str(submitted["submission_id"]), "--format", "pdf", code=2)
    waiting = json.loads(run(app, "queue").stdout)
    assert waiting["waiting"] == 3
    file_id = next(item["file_id"] for item in waiting["files"] if item["md5"] == md5(9))
    opened = json.loads(run(app, "queue", "--open-series", "SER-CLI", "--file", str(file_id)).stdout)
    assert (opened["series"], opened["waiting"]) == ("SER-CLI", 2)
    run(app, "queue", "--attach-series", "SER-CLI", code=2)
    run(app, "queue", "--attach-series", "SER-CLI", "--file", str(file_id), code=1)
    year, quarter = summary["completed_at"][:4], str((int(summary["completed_at"][5:7]) + 2) // 3)
    exported = run(app, "export", "--year", year, "--quarter", quarter).stdout
    assert exported.splitlines()[0] == ",".join(cli_export_columns())
    assert "SER-ID-1" in exported
    tables = json.loads(run(app, "tables", "--year", year, "--format", "json").stdout)
    assert tables["tables"]["vid_files_reviewed"]["rows"][-1] == {"row": "total", "files": 12, "unique_md5": 10}


def reviewed_queue(app: typer.Typer, agency_id: AgencyId, tmp_path: Path, case: str) -> Any:
    """Submit the fixture manifest under `case`, review it, and list the analyst queue (as `vid queue` prints it)."""
    manifest = tmp_path / "case.json"
    manifest.write_text(world.vics_manifest(), encoding="utf-8")
    agency = str(agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    submitted = json.loads(run(app, "submit", str(manifest), "--agency", agency, "--case", case).stdout)
    run(app, "review", str(submitted["submission_id"]))
    return json.loads(run(app, "queue").stdout)


def cli_export_columns() -> tuple[str, ...]:
    from clearinghouse.victim_id.export import CSV_COLUMNS

    return CSV_COLUMNS


def test_a_bad_manifest_is_refused_by_line(app: typer.Typer, agency_id: AgencyId, tmp_path: Path) -> None:
    manifest = tmp_path / "case.csv"
    manifest.write_text(f"md5\n{md5(1)}\nnot-a-digest\n", encoding="utf-8")
    agency = str(agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    result = run(app, "submit", str(manifest), "--agency", agency, "--case", "C-2", code=2)
    assert "line 3: md5" in result.stderr
    assert "nothing was stored" in result.stderr


def test_review_of_an_unknown_submission_fails(app: typer.Typer) -> None:
    result = run(app, "review", "4242", code=1)
    assert "4242" in result.stderr


def test_identify_marks_the_series_and_its_entries_in_the_series_bank(
    app: typer.Typer, seeded: Store, agency_id: AgencyId, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from clearinghouse.access.models import AuditEvent
    from clearinghouse.hashing.models import BankEntry, HashBank
    from clearinghouse.victim_id.models import SERIES_BANK

    waiting = reviewed_queue(app, agency_id, tmp_path, "C-3")
    file_id = next(item["file_id"] for item in waiting["files"] if item["md5"] == md5(9))
    run(app, "queue", "--open-series", "SER-NEW", "--file", str(file_id))

    def flags(series: str) -> dict[str, list[bool | None]]:
        with seeded.session() as session:
            rows = session.execute(
                sa.select(HashBank.name, BankEntry.victim_identified)
                .join(HashBank, HashBank.id == BankEntry.bank_id)
                .where(BankEntry.series == series)
                .order_by(HashBank.name)
            )
            found: dict[str, list[bool | None]] = {}
            for bank, flag in rows:
                found.setdefault(bank, []).append(flag)
            return found

    assert flags("SER-NEW") == {SERIES_BANK: [False]}
    answer = json.loads(run(app, "identify", "REF-77", "--series", "SER-NEW").stdout)
    assert (answer["series"], answer["series_status"]) == ("SER-NEW", "identified")
    assert flags("SER-NEW") == {SERIES_BANK: [True]}
    with seeded.session() as session:
        detail = session.scalars(
            sa.select(AuditEvent.detail)
            .where(AuditEvent.subject_type == "vid_series", AuditEvent.action == "identified")
            .order_by(AuditEvent.id)
        ).all()[-1]
    assert detail is not None
    assert detail["bank_entries_marked"] == 1
    # Other banks' flags are their sources' to set: identifying SER-TR-1 leaves the "Known" and "Series" banks be.
    before = flags("SER-TR-1")
    run(app, "identify", "REF-78", "--series", "SER-TR-1")
    assert flags("SER-TR-1") == before
    # Refusals: a reference recorded twice, an unknown series, a time that is not a time or not yet past.
    run(app, "identify", "REF-77", "--series", "SER-NEW", code=1)
    run(app, "identify", "REF-79", "--series", "SER-NONE", code=1)
    assert "identified_at" in run(app, "identify", "REF-80", "--series", "SER-TR-1", "--at", "yesterday", code=2).stderr
    future = run(app, "identify", "REF-81", "--series", "SER-TR-1", "--at", "2999-01-01T00:00:00Z", code=2)
    assert "identified_at: is in the future" in future.stderr


def test_identify_needs_a_series_and_a_time_after_it_was_opened(app: typer.Typer, seeded: Store) -> None:
    import sqlalchemy as sa

    from clearinghouse.victim_id.models import Identification

    def references() -> list[str]:
        with seeded.session() as session:
            return list(session.scalars(sa.select(Identification.reference).order_by(Identification.reference)))

    before = references()
    for series in ([], ["--series", "  "]):
        refused = run(app, "identify", "REF-90", *series, code=2)
        assert refused.stderr == (
            "error: --series: name the series whose child was identified (its code); nothing was recorded\n"
        )
    early = run(app, "identify", "REF-90", "--series", "SER-TR-1", "--at", "2023-01-14T23:59:59Z", code=2)
    assert "identified_at: comes before series 'SER-TR-1' was opened (2023-01-15T00:00:00+00:00)" in early.stderr
    assert references() == before
    # Nothing was used up: the same reference is then recorded with its series.
    answer = json.loads(run(app, "identify", "REF-90", "--series", "SER-TR-1", "--at", "2023-01-15T00:00:00Z").stdout)
    assert (answer["reference"], answer["series"], answer["series_status"]) == ("REF-90", "SER-TR-1", "identified")


def test_queue_refuses_files_without_an_action(app: typer.Typer, agency_id: AgencyId, tmp_path: Path) -> None:
    waiting = reviewed_queue(app, agency_id, tmp_path, "C-5")
    file_id = str(waiting["files"][0]["file_id"])
    refused = run(app, "queue", "--file", file_id, code=2)
    assert refused.stdout == ""
    assert refused.stderr == (
        "error: --file goes with --open-series, --attach-series or --no-series (without it, the queue is listed)\n"
    )
    assert json.loads(run(app, "queue").stdout) == waiting


def test_queue_limit_bounds_the_listing_and_is_refused_with_an_action(
    app: typer.Typer, agency_id: AgencyId, tmp_path: Path
) -> None:
    waiting = reviewed_queue(app, agency_id, tmp_path, "C-6")
    assert len(waiting["files"]) > 1
    first = json.loads(run(app, "queue", "--limit", "1").stdout)
    assert first == {"waiting": waiting["waiting"], "files": waiting["files"][:1]}
    file_id = str(waiting["files"][0]["file_id"])
    for action in (["--open-series", "SER-LIMIT"], ["--attach-series", "SER-TR-1"], ["--no-series", "adult"]):
        result = run(app, "queue", *action, "--file", file_id, "--limit", "1", code=2)
        assert result.stdout == ""
        assert result.stderr == (
            "error: --limit goes with the listing of the queue, not with --open-series, --attach-series or "
            "--no-series\n"
        )
    assert json.loads(run(app, "queue").stdout) == waiting  # nothing was resolved


def test_queue_closes_files_without_a_series(app: typer.Typer, agency_id: AgencyId, tmp_path: Path) -> None:
    waiting = reviewed_queue(app, agency_id, tmp_path, "C-4")
    file_id = str(waiting["files"][0]["file_id"])
    closed = json.loads(run(app, "queue", "--no-series", "not a child: verified adult", "--file", file_id).stdout)
    assert closed == {"series": None, "closed": 1, "waiting": waiting["waiting"] - 1}
    run(app, "queue", "--no-series", "again", "--file", file_id, code=1)
    run(app, "queue", "--no-series", "", "--file", str(waiting["files"][1]["file_id"]), code=2)
    run(app, "queue", "--no-series", "why", "--open-series", "SER-X", "--file", file_id, code=2)


def test_bad_values_and_unwritable_outputs_are_refused_cleanly_and_leave_no_trace(
    app: typer.Typer, agency_id: AgencyId, tmp_path: Path, seeded: Store
) -> None:
    import sqlalchemy as sa

    from clearinghouse.access.models import AuditEvent

    def events() -> int:
        with seeded.session() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0

    agency = str(agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    manifest = tmp_path / "case.json"
    manifest.write_text(world.vics_manifest(), encoding="utf-8")
    wide = tmp_path / "wide.csv"
    wide.write_text(f"md5\n{md5(1)}\n", encoding="utf-16")
    deep = tmp_path / "deep.json"
    deep.write_text('{"value": [{"MD5": "' + md5(1) + '", "X": ' + "[" * 5000 + "]" * 5000 + "}]}")
    before = events()
    for arguments, message in [
        (["submit", str(wide), "--agency", agency, "--case", "C-9"], "not UTF-8"),
        (["submit", str(deep), "--agency", agency, "--case", "C-9"], "nested too deeply"),
        (["submit", str(manifest), "--agency", agency, "--case", ""], "case"),
        (["submit", str(manifest), "--agency", "99999999999999999999", "--case", "C-9"], "larger than any"),
        (["review", "99999999999999999999"], "larger than any"),
        (["export", "--year", "2023", "--quarter", "1", "--out", str(tmp_path / "no" / "x.csv")], "cannot write"),
    ]:
        result = runner.invoke(app, arguments)
        assert result.exit_code in (1, 2), (arguments, result.output)
        assert message in result.stderr, (arguments, result.stderr)
        assert "Traceback" not in result.output
    assert events() == before  # the export that could not be written recorded nothing


def test_an_unreadable_manifest_is_refused_in_one_line(
    app: typer.Typer, agency_id: AgencyId, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.hashing.test_cli import make_unreadable

    manifest = tmp_path / "case.csv"
    manifest.write_text(f"md5\n{md5(1)}\n", encoding="utf-8")
    make_unreadable(monkeypatch, manifest)
    agency = str(agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    result = run(app, "submit", str(manifest), "--agency", agency, "--case", "C-U", code=2)
    assert result.stderr.strip().splitlines() == [f"error: {manifest}: Permission denied; nothing was stored"]


def test_a_manifest_that_is_not_utf8_is_refused_naming_the_line(
    app: typer.Typer, agency_id: AgencyId, tmp_path: Path
) -> None:
    agency = str(agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(f"md5,note\r\n{md5(1)},ok\r\n{md5(2)},Ren\xe9e\r\n".encode("latin-1"))
    wide = tmp_path / "wide.csv"
    wide.write_text(f"md5\n{md5(1)}\n", encoding="utf-16")
    for path, reason in [
        (latin, "line 3: not UTF-8 text (byte 83)"),
        (wide, "line 1: UTF-16 text, not UTF-8: save it as UTF-8"),
    ]:
        result = run(app, "submit", str(path), "--agency", agency, "--case", "C-L", code=2)
        assert result.stderr.strip().splitlines() == [f"error: {path}: {reason}; nothing was stored"]


def test_export_takes_the_first_year_its_option_allows(app: typer.Typer) -> None:
    document = json.loads(run(app, "export", "--year", "1900", "--quarter", "1", "--format", "json").stdout)
    assert (document["year"], document["quarter"], document["series"]) == (1900, 1, [])


def test_the_export_service_bounds_the_years_of_the_option() -> None:
    import datetime as dt

    from clearinghouse.errors import InputError
    from clearinghouse.victim_id.export import quarter_bounds

    assert quarter_bounds(9998, 4)[1] == dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(InputError, match="1900 to 9998"):
        quarter_bounds(9999, 4)


def test_tables_and_export_written_to_a_file_say_so(app: typer.Typer, tmp_path: Path) -> None:
    tables, export = tmp_path / "tables.json", tmp_path / "series.csv"
    said = run(app, "tables", "--year", "2023", "-o", str(tables)).stderr
    assert said == f"2 table(s) for 2023 written to {tables}\n"
    said = run(app, "export", "--year", "2023", "--quarter", "2", "-o", str(export)).stderr
    assert said == f"0 series for 2023 Q2 written to {export}\n"
    assert json.loads(tables.read_text())["year"] == 2023
    assert export.read_text().startswith("series,identified_on,")


def test_a_manifest_of_many_bad_records_lists_the_first_and_counts_the_rest(
    app: typer.Typer, agency_id: AgencyId, tmp_path: Path
) -> None:
    from clearinghouse.hashing.schemas import MAX_LISTED

    manifest = tmp_path / "case.csv"
    manifest.write_text("md5\n" + "not-a-digest\n" * (MAX_LISTED + 5), encoding="utf-8")
    agency = str(agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    lines = run(app, "submit", str(manifest), "--agency", agency, "--case", "C-M", code=2).stderr.splitlines()
    assert len(lines) == MAX_LISTED + 2
    assert lines[0].startswith(f"{manifest}: line 2: md5: ")
    assert lines[-2:] == [
        f"{manifest}: 5 more bad record(s), not listed",
        f"error: {manifest}: {MAX_LISTED + 5} bad record(s); nothing was stored",
    ]
