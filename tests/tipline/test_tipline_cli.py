"""`clearinghouse tipline import` and `tipline process` through Typer's runner, on an SQLite file."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from clearinghouse.access.service import create_platform
from clearinghouse.db.engine import open_store
from clearinghouse.tipline.cli import tipline_app
from clearinghouse.tipline.lines import MAX_LINE_BYTES
from clearinghouse.tipline.models import Release, Report
from tests.refusals import refused
from tests.tipline.bulk_helpers import image, line

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    location = f"sqlite:///{tmp_path / 'cli.db'}"
    store = open_store(location)
    with store.unit_of_work() as session:
        create_platform(session=session, name="Example Video")
    store.dispose()
    return location


def _export(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "export.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _counts(url: str) -> tuple[int, int]:
    store = open_store(url, upgrade=False)
    with store.session() as session:
        reports = session.scalar(sa.select(sa.func.count()).select_from(Report)) or 0
        released = session.scalar(sa.select(sa.func.count(sa.distinct(Release.report_id)))) or 0
    store.dispose()
    return reports, released


def test_import_stores_processes_and_can_be_run_again(tmp_path: Path, url: str) -> None:
    export = _export(tmp_path, [line(f"v-{i}", files=[image(i)]) for i in range(12)] + [b'{"bad": true}'])
    first = runner.invoke(
        tipline_app, ["import", str(export), "--platform", "Example Video", "--url", url, "--chunk", "5"]
    )
    assert first.exit_code == 1, first.output
    assert "12 report(s) stored, 0 already on file, 1 line(s) refused; 12 processed by the pipeline" in first.output
    assert "13" in first.output  # the refused line's number
    assert _counts(url) == (12, 12)
    again = runner.invoke(
        tipline_app, ["import", str(export), "-p", "example-video", "--url", url, "--json", "--workers", "0"]
    )
    assert again.exit_code == 1
    answer = json.loads(again.stdout.splitlines()[0])
    assert (answer["accepted"], answer["already_on_file"], answer["rejected"]) == (0, 12, 1)
    assert _counts(url) == (12, 12)


def test_an_unknown_platform_is_refused(tmp_path: Path, url: str) -> None:
    export = _export(tmp_path, [line("x")])
    result = runner.invoke(tipline_app, ["import", str(export), "--platform", "Nobody", "--url", url])
    refused(result, 2, "no platform account named 'Nobody'", "clearinghouse platforms add NAME")
    assert _counts(url) == (0, 0)


def test_an_unknown_platform_is_named_shortened(tmp_path: Path, url: str) -> None:
    export = _export(tmp_path, [line("x")])
    name = "Unknown Platform " + "x" * 10_000
    result = runner.invoke(tipline_app, ["import", str(export), "--platform", name, "--url", url])
    message = refused(result, 2, f"no platform account named {name[:60]!r}"[:-1] + "…'")
    assert len(message) < 200, message
    assert _counts(url) == (0, 0)


def test_process_runs_the_queue(tmp_path: Path, url: str) -> None:
    export = _export(tmp_path, [line("a"), line("b")])
    imported = runner.invoke(tipline_app, ["import", str(export), "-p", "Example Video", "--url", url, "--no-process"])
    assert imported.exit_code == 0, imported.output
    assert _counts(url) == (2, 0)
    processed = runner.invoke(tipline_app, ["process", "--url", url])
    assert processed.exit_code == 0, processed.output
    assert "2 report(s) processed" in processed.output
    assert _counts(url) == (2, 2)


def test_every_option_has_help() -> None:
    for command in ("import", "process"):
        result = runner.invoke(tipline_app, [command, "--help"])
        assert result.exit_code == 0
    import typer.main

    group = typer.main.get_command(tipline_app)
    for command in group.commands.values():  # type: ignore[attr-defined]
        for parameter in command.params:
            assert getattr(parameter, "help", None) or parameter.name == "help", (command.name, parameter.name)


def _tiny_ip_database(path: Path) -> Path:
    mmdb_writer = pytest.importorskip("mmdb_writer")
    netaddr = pytest.importorskip("netaddr")
    writer = mmdb_writer.MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    writer.insert_network(
        netaddr.IPSet(["192.0.2.0/24"]), {"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "NC"}]}
    )
    writer.to_db_file(str(path))
    return path


@pytest.mark.parametrize("process_in", ["import", "process"])
def test_the_configured_ip_database_places_reports(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, process_in: str
) -> None:
    from clearinghouse.config import get_settings
    from tests.tipline.bulk_helpers import doc

    monkeypatch.setenv("CLEARINGHOUSE_MAXMIND_DB", str(_tiny_ip_database(tmp_path / "tiny.mmdb")))
    get_settings.cache_clear()
    try:
        by_ip = doc(reported_persons=[{"ip_capture_events": [{"ip_address": "192.0.2.10"}]}])
        export = _export(tmp_path, [line("ip-1", by_ip)])
        options = ["--no-process"] if process_in == "process" else []
        imported = runner.invoke(tipline_app, ["import", str(export), "-p", "Example Video", "--url", url, *options])
        assert imported.exit_code == 0, imported.output
        if process_in == "process":
            processed = runner.invoke(tipline_app, ["process", "--url", url])
            assert processed.exit_code == 0, processed.output
    finally:
        get_settings.cache_clear()
    store = open_store(url, upgrade=False)
    with store.session() as session:
        assert set(session.scalars(sa.select(Release.jurisdiction_code))) == {"NC"}
    store.dispose()


def test_an_ip_database_that_cannot_be_read_is_named(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from clearinghouse.config import get_settings

    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    monkeypatch.setenv("CLEARINGHOUSE_MAXMIND_DB", str(broken))
    get_settings.cache_clear()
    try:
        result = runner.invoke(
            tipline_app, ["import", str(_export(tmp_path, [line("x")])), "-p", "Example Video", "--url", url]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "CLEARINGHOUSE_MAXMIND_DB" in result.output
    assert _counts(url) == (0, 0)


def test_an_export_read_from_a_pipe_is_imported_whole(tmp_path: Path, url: str) -> None:
    """A pipe can be read only once: counting its lines first once left nothing to import."""
    export = _export(tmp_path, [line(f"p-{i}", files=[image(i)]) for i in range(7)])
    fifo = tmp_path / "export.pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(export.read_bytes()))
    writer.start()
    result = runner.invoke(tipline_app, ["import", str(fifo), "--platform", "Example Video", "--url", url])
    writer.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert "7 report(s) stored" in result.output
    assert _counts(url) == (7, 7)


def _peak_kib_of_import(export: Path, url: str) -> int:
    """The peak resident size of `clearinghouse tipline import` run as its own process (kibibytes): a wrapper
    process runs it and reports the peak of its only child."""
    cli = str(Path(sys.executable).with_name("clearinghouse"))
    command = [cli, "tipline", "import", str(export), "-p", "Example Video", "--url", url, "--workers", "0"]
    wrapper = (
        "import resource, subprocess, sys\n"
        f"done = subprocess.run({command!r}, capture_output=True)\n"
        "sys.stderr.buffer.write(done.stdout + done.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    result = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, check=True)
    assert b"Traceback" not in result.stderr, result.stderr[-2000:]
    return int(result.stdout)


def test_an_endless_line_is_never_held_whole(tmp_path: Path, url: str) -> None:
    """The file is read in blocks: read line by line, a 150 MB line was held whole (and copied) before it was
    refused, where the documented bound is the line limit."""
    small = _export(tmp_path, [line("before")])
    baseline = _peak_kib_of_import(small, url)
    huge = tmp_path / "huge.ndjson"
    with huge.open("wb") as stream:
        stream.write(line("first") + b"\n")
        block = b"x" * (1 << 20)
        for _ in range(150):
            stream.write(block)
        stream.write(b"\n" + line("after") + b"\n")
    peak = _peak_kib_of_import(huge, url)
    assert peak - baseline < (MAX_LINE_BYTES * 4) // 1024, (baseline, peak)
    assert _counts(url)[0] == 3  # "before", "first" and "after": the long line alone is refused


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (gzip.compress(line("gz-1") + b"\n"), "is gzip-compressed: decompress it first"),
        ((line("u16-1").decode() + "\n").encode("utf-16"), "is UTF-16 text: export it as UTF-8"),
    ],
    ids=["gzip", "utf-16"],
)
def test_an_export_in_the_wrong_form_is_refused_whole(tmp_path: Path, url: str, content: bytes, named: str) -> None:
    """Each line of it was refused with 'UTF-16?' (a gzip file too), in a table of garbled lines."""
    export = tmp_path / "export.ndjson"
    export.write_bytes(content)
    result = runner.invoke(tipline_app, ["import", str(export), "-p", "Example Video", "--url", url])
    refused(result, 2, f"{export} {named}")
    assert _counts(url) == (0, 0)
