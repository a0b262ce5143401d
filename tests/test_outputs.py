"""The commands' output files (`-o`): a file that cannot be written is refused with one line before any work and
nothing is left behind; without `--format` the file's extension chooses the format, and a `--format` that
contradicts it is refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearinghouse.cli import app
from clearinghouse.db.engine import Store
from tests.hashing.test_cli import write_bank
from tests.refusals import refused

runner = CliRunner()


@pytest.fixture
def url(seeded: Store, tmp_path: Path) -> str:
    """A seeded store holding one bank, "K"."""
    loaded = runner.invoke(
        app, ["banks", "import", str(write_bank(tmp_path)), "--bank", "K", "--kind", "known_abuse", "--url", seeded.url]
    )
    assert loaded.exit_code == 0, loaded.output
    return seeded.url


COMMANDS = {
    "banks export": ["banks", "export", "K"],
    "sheet render": ["sheet", "render", "NC", "--year", "2023"],
    "tables": ["tables", "--year", "2023"],
    "vid export": ["vid", "export", "--year", "2023", "--quarter", "1"],
    "vid tables": ["vid", "tables", "--year", "2023"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_in_no_folder_or_on_a_folder_is_refused(url: str, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "out.txt"
    refused(runner.invoke(app, [*COMMANDS[command], "--url", url, "-o", str(missing)]), 2, "there is no folder")
    assert not (tmp_path / "no").exists()
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    result = runner.invoke(app, [*COMMANDS[command], "--url", url, "-o", str(folder)])
    # `tables` and `vid` declare file-only options, which Click itself refuses (a usage error, no traceback).
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "folder" in result.stderr or "is a directory" in result.stderr
    assert list(folder.iterdir()) == []


def test_sheet_all_refuses_a_file_where_its_folder_should_be(url: str, tmp_path: Path) -> None:
    taken = tmp_path / "sheets"
    taken.write_text("not a folder\n")
    refused(runner.invoke(app, ["sheet", "all", "--year", "2023", "--url", url, "-o", str(taken)]), 2, "is a file")
    refused(
        runner.invoke(app, ["sheet", "all", "--year", "2023", "--url", url, "-o", str(taken / "2023")]),
        2,
        f"{taken} is a file, not a folder",
    )
    assert taken.read_text() == "not a folder\n"


def test_the_extension_chooses_the_format_when_none_is_given(url: str, tmp_path: Path) -> None:
    bank = tmp_path / "export.csv"
    assert runner.invoke(app, ["banks", "export", "K", "--url", url, "-o", str(bank)]).exit_code == 0
    assert next(csv.reader(bank.open()))[0] == "md5"
    vics = tmp_path / "export.json"
    assert runner.invoke(app, ["banks", "export", "K", "--url", url, "-o", str(vics)]).exit_code == 0
    assert "value" in json.loads(vics.read_text())
    sheet = tmp_path / "nc.html"
    assert runner.invoke(app, [*COMMANDS["sheet render"], "--url", url, "-o", str(sheet)]).exit_code == 0
    assert sheet.read_text().lstrip().lower().startswith("<!doctype html>")
    pdf = tmp_path / "nc.pdf"
    assert runner.invoke(app, [*COMMANDS["sheet render"], "--url", url, "-o", str(pdf)]).exit_code == 0
    assert pdf.read_bytes().startswith(b"%PDF")
    tables = tmp_path / "tables.json"
    assert runner.invoke(app, [*COMMANDS["tables"], "--url", url, "-o", str(tables)]).exit_code == 0
    assert json.loads(tables.read_text())["year"] == 2023
    plain = tmp_path / "export.txt"  # an extension that names no format: the command's default (VICS JSON)
    assert runner.invoke(app, ["banks", "export", "K", "--url", url, "-o", str(plain)]).exit_code == 0
    assert "value" in json.loads(plain.read_text())


@pytest.mark.parametrize(
    ("command", "given", "name", "implied"),
    [
        ("banks export", "csv", "bank.json", "vics"),
        ("banks export", "vics", "export.csv", "csv"),
        ("sheet render", "md", "nc.pdf", "pdf"),
        ("tables", "csv", "tables.json", "json"),
        ("vid export", "json", "series.csv", "csv"),
    ],
)
def test_a_format_that_contradicts_the_extension_is_refused(
    url: str, tmp_path: Path, command: str, given: str, name: str, implied: str
) -> None:
    out = tmp_path / name
    result = runner.invoke(app, [*COMMANDS[command], "--url", url, "--format", given, "-o", str(out)])
    refused(result, 2, f"--format {given} does not match {out}", f"means {implied}")
    assert not out.exists()


@pytest.mark.parametrize(
    ("command", "name", "given"),
    [
        ("tables", "tables.pdf", None),
        ("tables", "tables.html", "md"),
        ("vid tables", "tables.pdf", None),
        ("vid export", "series.md", None),
        ("banks export", "bank.md", None),
        ("sheet render", "nc.csv", None),
    ],
)
def test_an_extension_naming_a_format_the_command_does_not_write_is_refused(
    url: str, tmp_path: Path, command: str, name: str, given: str | None
) -> None:
    out = tmp_path / name
    chosen = ["--format", given] if given else []
    result = runner.invoke(app, [*COMMANDS[command], "--url", url, *chosen, "-o", str(out)])
    refused(result, 2, str(out), f"a {out.suffix} file")
    assert not out.exists()


@pytest.mark.parametrize(
    ("command", "given", "name"),
    [
        ("sheet render", "PDF", "nc.pdf"),
        ("tables", "JSON", "tables.json"),
        ("vid export", "JSON", "series.json"),
        ("vid tables", "Csv", "tables.csv"),
    ],
)
def test_a_format_is_taken_in_any_case(url: str, tmp_path: Path, command: str, given: str, name: str) -> None:
    out = tmp_path / name
    result = runner.invoke(app, [*COMMANDS[command], "--url", url, "--format", given, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0


def test_sheet_all_takes_its_formats_in_any_case(url: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["sheet", "all", "--year", "2023", "--url", url, "-o", str(tmp_path), "-f", "JSON"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "NC-2023.json").exists()


def test_sheet_all_refuses_an_empty_folder_name(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # `-o "$DIR"` with DIR unset: the sheets would land in the current folder
    result = runner.invoke(app, ["sheet", "all", "--year", "2023", "--url", url, "-o", "", "-f", "md"])
    refused(result, 2, "--out", "empty")
    assert list(work.iterdir()) == []
