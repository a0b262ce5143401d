"""Write work of concurrent requests: taking turns with other worker processes, and run together in one turn.

On SQLite a worker queues each request's write work and runs what is queued in one transaction per turn
(`WebContext.write`). These tests hold the turn the way another worker process would, with a `flock` on the
database file, queue requests over real HTTP meanwhile, and then let go: every request gets the answer it would
have had alone, and every change is stored exactly once, also when one of the queued requests is refused.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.tipline.models import Report, ReportStatus
from clearinghouse.tipline.xmlsafe import ResponseCode
from tests.tipline.factories import make_faker, minimal_report
from tests.tipline.ispws_client import SchemaBuilder
from tests.web.live import LiveServer, add_platform, serve_store

XML = {"Content-Type": "text/xml; charset=utf-8"}
SCHEMA = SchemaBuilder()


def report_document() -> bytes:
    return SCHEMA.document("report", minimal_report(make_faker()))


def code_of(response: httpx.Response) -> int:
    text = response.text
    assert response.status_code == 200, text
    return int(text.split("<responseCode>")[1].split("</responseCode>")[0])


def report_id_of(response: httpx.Response) -> int:
    assert code_of(response) == 0, response.text
    return int(response.text.split("<reportId>")[1].split("</reportId>")[0])


@contextmanager
def other_worker_writing(store: Store) -> Iterator[None]:
    """Hold the worker processes' write turn (the `flock` on the SQLite file) until the block ends."""
    database = store.engine.url.database
    assert database is not None
    descriptor = os.open(database, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


class TurnLog:
    """The size and outcome of every turn that ran work together."""

    def __init__(self, live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
        self.turns: list[tuple[int, bool]] = []
        context = live.context
        together = context._together

        def recorded(works: list[Callable[[], Any]]) -> list[Any] | None:
            results = together(works)
            self.turns.append((len(works), results is not None))
            return results

        monkeypatch.setattr(context, "_together", recorded)


async def post_all(live: LiveServer, auth: tuple[str, str], calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    async with httpx.AsyncClient(base_url=live.ispws, auth=auth, timeout=30) as http:
        return list(await asyncio.gather(*(http.post(path, **arguments) for path, arguments in calls)))


def audited(store: Store, action: str) -> list[str]:
    with store.session() as session:
        return list(session.scalars(sa.select(AuditEvent.subject_id).where(AuditEvent.action == action)))


def queue_while_held(
    live: LiveServer,
    store: Store,
    auth: tuple[str, str],
    calls: list[tuple[str, dict[str, Any]]],
    holder: AbstractContextManager[Any] | None = None,
) -> list[httpx.Response]:
    """Send `calls` at once while the turn is held elsewhere; let go once all of them wait in the queue."""
    outcome: list[Any] = []
    with holder if holder is not None else other_worker_writing(store):
        sender = asyncio.new_event_loop()
        task = sender.create_task(post_all(live, auth, calls))
        thread = threading.Thread(target=lambda: outcome.append(sender.run_until_complete(task)))
        thread.start()
        wait_until(lambda: len(live.context._queued) == len(calls), f"{len(calls)} requests wait for the turn")
    thread.join(timeout=30)
    sender.close()
    assert outcome, "the requests did not complete"
    responses: list[httpx.Response] = outcome[0]
    return responses


def test_work_queued_while_another_worker_writes_runs_in_one_turn(
    live: LiveServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = add_platform(store, "Queued Chat")
    log = TurnLog(live, monkeypatch)
    calls = [("submit", {"content": report_document(), "headers": XML}) for _ in range(12)]
    responses = queue_while_held(live, store, auth, calls)
    report_ids = [report_id_of(response) for response in responses]
    assert len(set(report_ids)) == 12
    assert log.turns == [(12, True)]
    with store.session() as session:
        stored = session.scalars(sa.select(Report.id).where(Report.status == ReportStatus.OPEN)).all()
    assert sorted(stored) == sorted(report_ids)
    assert sorted(audited(store, "report.opened")) == sorted(str(report_id) for report_id in report_ids)


def test_work_waits_for_a_request_thread_of_its_own_worker_that_writes(live: LiveServer, store: Store) -> None:
    """A synchronous endpoint (JSON API, public form) writing in a pooled thread holds the worker's own lock."""
    auth = add_platform(store, "Threaded Chat")
    calls = [("submit", {"content": report_document(), "headers": XML}) for _ in range(3)]
    responses = queue_while_held(live, store, auth, calls, holder=live.context.store.turn.thread_lock)
    assert len({report_id_of(response) for response in responses}) == 3


def test_a_refusal_among_queued_work_undoes_nothing_else_and_stores_nothing_twice(
    live: LiveServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = add_platform(store, "Refused Chat")
    with httpx.Client(base_url=live.ispws, auth=auth) as http:
        first = report_id_of(http.post("submit", content=report_document(), headers=XML))
        second = report_id_of(http.post("submit", content=report_document(), headers=XML))
    log = TurnLog(live, monkeypatch)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("submit", {"content": report_document(), "headers": XML}),
        ("finish", {"data": {"id": str(first)}}),
        ("finish", {"data": {"id": str(first)}}),
        ("retract", {"data": {"id": str(second)}}),
        ("submit", {"content": report_document(), "headers": XML}),
    ]
    responses = queue_while_held(live, store, auth, calls)
    codes = [code_of(response) for response in responses]
    # One of the two finishes of the same report files it; the other, run after it, is refused.
    assert sorted(codes[1:3]) == [0, ResponseCode.REPORT_ALREADY_FINISHED]
    assert [codes[0], codes[3], codes[4]] == [0, 0, 0]
    # The turn ran its work together, was undone when the refusal came, and ran each piece alone.
    assert log.turns == [(5, False)]
    new = {report_id_of(responses[0]), report_id_of(responses[4])}
    assert sorted(audited(store, "report.opened")) == sorted(str(i) for i in {first, second} | new)
    assert audited(store, "report.finished") == [str(first)]
    assert audited(store, "report.retracted") == [str(second)]
    with store.session() as session:
        statuses = {report_id: status for report_id, status in session.execute(sa.select(Report.id, Report.status))}
    assert statuses == {
        first: ReportStatus.FINISHED,
        second: ReportStatus.RETRACTED,
        **{report_id: ReportStatus.OPEN for report_id in new},
    }


def test_concurrent_lifecycle_calls_on_either_store(any_store: Store) -> None:
    """Many platforms' calls at once: each report filed once, whatever the store (PostgreSQL runs them in threads)."""
    auth = add_platform(any_store, "Busy Chat")
    with serve_store(any_store) as live:
        submits = [("submit", {"content": report_document(), "headers": XML}) for _ in range(16)]
        report_ids = [report_id_of(response) for response in asyncio.run(post_all(live, auth, submits))]
        finishes = [("finish", {"data": {"id": str(report_id)}}) for report_id in report_ids]
        codes = [code_of(response) for response in asyncio.run(post_all(live, auth, finishes))]
    assert codes == [0] * 16
    assert sorted(audited(any_store, "report.finished")) == sorted(str(report_id) for report_id in report_ids)
    with any_store.session() as session:
        finished = session.scalar(
            sa.select(sa.func.count()).select_from(Report).where(Report.status == ReportStatus.FINISHED)
        )
    assert finished == 16


def test_a_store_failure_in_a_turn_fails_only_the_calls_it_touches(
    live: LiveServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New reports cannot be stored (a trigger stands in for a failing disk): each submit is answered 1100 and
    stores nothing, and the finish queued in the same turn still files its report, once."""
    auth = add_platform(store, "Failing Chat")
    with httpx.Client(base_url=live.ispws, auth=auth) as http:
        existing = report_id_of(http.post("submit", content=report_document(), headers=XML))
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER no_new_reports BEFORE INSERT ON tipline_reports BEGIN SELECT RAISE(ABORT, 'full'); END"
        )
    log = TurnLog(live, monkeypatch)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("submit", {"content": report_document(), "headers": XML}),
        ("finish", {"data": {"id": str(existing)}}),
        ("submit", {"content": report_document(), "headers": XML}),
    ]
    responses = queue_while_held(live, store, auth, calls)
    assert [code_of(response) for response in responses] == [ResponseCode.SAVE_FAILED, 0, ResponseCode.SAVE_FAILED]
    assert "<reportId>" not in responses[0].text
    assert log.turns == [(3, False)]
    with store.session() as session:
        assert session.scalars(sa.select(Report.id)).all() == [existing]
    assert audited(store, "report.finished") == [str(existing)]
    assert audited(store, "report.opened") == [str(existing)]


def test_a_turn_that_cannot_be_had_answers_each_waiting_call_and_the_next_turn_runs(
    live: LiveServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = add_platform(store, "Unlucky Chat")

    def broken(*, blocking: bool = True) -> bool:
        raise OSError(24, "Too many open files")

    with monkeypatch.context() as patch:
        patch.setattr(store.turn, "take_file", broken)
        calls = [("submit", {"content": report_document(), "headers": XML}) for _ in range(3)]
        responses = asyncio.run(post_all(live, auth, calls))
    # The application's answer to the unexpected (code 1000), never a bare 500; nothing stored.
    assert [code_of(response) for response in responses] == [1000, 1000, 1000]
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0
    with httpx.Client(base_url=live.ispws, auth=auth) as http:
        assert report_id_of(http.post("submit", content=report_document(), headers=XML)) > 0
