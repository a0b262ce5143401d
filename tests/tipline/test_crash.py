"""Crash test: the server is killed (SIGKILL) in the middle of bulk intake and started again. Every report that
was acknowledged is on file exactly once and reaches release; none is half-stored; a retry duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from clearinghouse.access.models import AuditEvent
from clearinghouse.access.service import create_platform
from clearinghouse.db.engine import open_store
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.models import Release, Report, ReportFile
from tests.tipline.bulk_helpers import image, line
from tests.web.live import all_gone, descendants, free_port

pytestmark = pytest.mark.slow

PATH = "/api/v1/reports:bulk"

BATCH = 6000
"""Lines per request: more than one chunk (5,000 lines per transaction), so a kill can fall between commits."""
ROOT = Path(__file__).resolve().parents[2]


def _command(url: str, port: int) -> list[str]:
    cli = str(Path(sys.executable).with_name("clearinghouse"))
    return [cli, "serve", "--url", url, "--port", str(port), "--no-access-log"]


@contextmanager
def server(url: str, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    environment = {**os.environ, "CLEARINGHOUSE_DATABASE_URL": url}
    with log.open("ab") as output:
        process = subprocess.Popen(_command(url, port), cwd=ROOT, env=environment, stdout=output, stderr=output)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/api/v1/nothing", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"the server did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)
    try:
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _batch(number: int) -> tuple[list[str], bytes]:
    refs = [f"b{number}-{i}" for i in range(BATCH)]
    lines = [line(ref, files=[image(number * 100_000 + i)]) for i, ref in enumerate(refs)]
    return refs, b"\n".join(lines)


def test_acknowledged_reports_survive_a_kill_mid_intake(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    store = open_store(url)
    with store.unit_of_work() as session:
        issued = create_platform(session=session, name="Crash Test Platform")
    auth = (issued.username, issued.secret)
    acknowledged: set[str] = set()
    sent: dict[int, bytes] = {}
    stop = threading.Event()
    failures: list[BaseException] = []

    def keep_sending(base: str) -> None:
        number = 0
        with httpx.Client(base_url=base, auth=auth, timeout=120) as client:
            while not stop.is_set():
                body = _batch(number)[1]
                sent[number] = body
                try:
                    answer = client.post(PATH, content=body)
                except httpx.TransportError:
                    return  # the server died under this request: it was never acknowledged
                if answer.status_code != 200:
                    failures.append(AssertionError(f"{answer.status_code}: {answer.text[:500]}"))
                    return
                acknowledged.update(r["platform_report_id"] for r in answer.json()["reports"])
                number += 1

    log = tmp_path / "server.log"
    with server(url, log) as (process, base):
        sender = threading.Thread(target=keep_sending, args=(base,))
        sender.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 2 * BATCH and time.monotonic() < deadline and sender.is_alive():
            time.sleep(0.02)
        # Kill once the next request has committed its first chunk but not answered (or after a few seconds).
        until = time.monotonic() + 5
        while time.monotonic() < until:
            with store.session() as session:
                if (session.scalar(sa.select(sa.func.count()).select_from(Report)) or 0) > len(acknowledged):
                    break
            time.sleep(0.01)
        helpers = descendants(process.pid)  # the pipeline process the server runs beside it
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert helpers
        assert all_gone(helpers), "the pipeline process outlived the killed server"
        stop.set()
        sender.join(timeout=60)
    assert not failures, failures
    assert len(acknowledged) >= 2 * BATCH
    assert len(sent) * BATCH > len(acknowledged)  # a request was in flight when the server died
    with store.session() as session:
        on_file = set(session.scalars(sa.select(Report.platform_ref)))
    assert acknowledged <= on_file
    print(f"acknowledged {len(acknowledged)}, on file {len(on_file)}, sent {len(sent) * BATCH}")

    # The platform retries everything it sent.
    with server(url, log) as (_process, base), httpx.Client(base_url=base, auth=auth, timeout=120) as client:
        for body in sent.values():
            answer = client.post(PATH, content=body)
            assert answer.status_code == 200, answer.text[:500]
            assert answer.json()["rejected"] == 0
    pipeline.run(store)
    expected = len(sent) * BATCH
    with store.session() as session:
        refs = session.execute(sa.select(Report.platform_ref, sa.func.count()).group_by(Report.platform_ref)).all()
        incomplete = session.scalar(
            sa.select(sa.func.count())
            .select_from(Report)
            .where(
                Report.file_count
                != sa.select(sa.func.count()).where(ReportFile.report_id == Report.id).scalar_subquery()
            )
        )
        filed_events = session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == "report.filed"))
        unprocessed = session.scalar(sa.select(sa.func.count()).where(Report.processed_at.is_(None)))
        released = session.scalar(sa.select(sa.func.count(sa.distinct(Release.report_id))))
        integrity = session.execute(sa.text("PRAGMA integrity_check")).scalar()
    assert len(refs) == expected
    assert all(count == 1 for _, count in refs)
    assert {ref for ref, _ in refs} >= acknowledged
    assert (incomplete, filed_events, unprocessed, released) == (0, expected, 0, expected)
    assert integrity == "ok"
    store.dispose()
