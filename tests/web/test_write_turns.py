"""Write work of concurrent requests: taking turns with other worker processes, and run together in one turn.

On SQLite a worker queues each request's write work and runs what is queued in one transaction per turn
(`WebContext.write`), each request's work in a savepoint of its own. These tests hold the turn the way another
worker process would, with a `flock` on the database file, queue requests over real HTTP meanwhile, and then let
go: every request gets the answer it would have had alone, and every change is stored exactly once, also when one
of the queued requests is refused or fails, and when SQLite gives up the whole transaction.
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
from clearinghouse.errors import InputError
from clearinghouse.tipline import service
from clearinghouse.tipline.models import IncidentType, Report, ReportFile, ReportSource, ReportStatus
from clearinghouse.tipline.xmlsafe import ResponseCode
from clearinghouse.web.context import Limits, WebContext
from tests.tipline.factories import file_details, make_faker, minimal_report, realistic_report
from tests.tipline.ispws_client import SchemaBuilder
from tests.tipline.test_finish_clues import through_the_models
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
    # The turn ran its work together: the refused finish was undone alone, the rest committed at once.
    assert log.turns == [(5, True)]
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
    stores nothing, and the finish queued in the same turn still files its report, once, in that turn."""
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
    assert log.turns == [(3, True)]
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


def file_id_of(response: httpx.Response) -> str:
    assert code_of(response) == 0, response.text
    return response.text.split("<fileId>")[1].split("</fileId>")[0]


def statuses(store: Store) -> dict[int, ReportStatus]:
    with store.session() as session:
        return {report_id: status for report_id, status in session.execute(sa.select(Report.id, Report.status))}


def test_a_shared_turn_answers_each_request_as_alone_and_stores_the_others_once(
    live: LiveServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refusals of every kind in one turn, each undone alone, the rest committed at once and stored once.

    The requests reach the queue in any order: a file described in the turn of its report's finish is among the
    clues stored if the fileinfo came first, and refused if it came after, never half of either.
    """
    auth, other = add_platform(store, "Shared Chat"), add_platform(store, "Other Chat")
    with httpx.Client(base_url=live.ispws, auth=auth) as http:
        document = SCHEMA.document("report", realistic_report(make_faker()))
        mine, kept = (
            report_id_of(http.post("submit", content=body, headers=XML)) for body in (document, report_document())
        )
        files = [
            file_id_of(http.post("upload", data={"id": str(mine)}, files={"file": (f"{i}.bin", f"bytes {i}".encode())}))
            for i in range(2)
        ]
        details = SCHEMA.document("fileDetails", file_details(make_faker(), mine, files[0]))
        assert code_of(http.post("fileinfo", content=details, headers=XML)) == 0
    with httpx.Client(base_url=live.ispws, auth=other) as http:
        theirs = report_id_of(http.post("submit", content=report_document(), headers=XML))
    log = TurnLog(live, monkeypatch)
    described = SCHEMA.document("fileDetails", file_details(make_faker(5), mine, files[1]))
    calls: list[tuple[str, dict[str, Any]]] = [
        ("fileinfo", {"content": described, "headers": XML}),
        ("finish", {"data": {"id": str(theirs)}}),
        ("finish", {"data": {"id": str(mine)}}),
        ("finish", {"data": {"id": str(mine)}}),
        ("submit", {"content": report_document(), "headers": XML}),
        ("finish", {"data": {"id": str(theirs + 1000)}}),
        ("retract", {"data": {"id": str(kept)}}),
    ]
    responses = queue_while_held(live, store, auth, calls)
    codes = [code_of(response) for response in responses]
    assert codes[1] == ResponseCode.NOT_AUTHORIZED_TO_UPDATE
    assert sorted(codes[2:4]) == [0, ResponseCode.REPORT_ALREADY_FINISHED]
    assert codes[4:] == [0, ResponseCode.REPORT_DOES_NOT_EXIST, 0]
    assert codes[0] in (0, ResponseCode.REPORT_ALREADY_FINISHED)
    described_first = codes[0] == 0
    assert log.turns == [(7, True)]
    new = report_id_of(responses[4])
    assert statuses(store) == {
        mine: ReportStatus.FINISHED,
        kept: ReportStatus.RETRACTED,
        theirs: ReportStatus.OPEN,
        new: ReportStatus.OPEN,
    }
    assert audited(store, "report.finished") == [str(mine)]
    assert audited(store, "report.retracted") == [str(kept)]
    assert audited(store, "report.file_described") == [str(mine)] * (2 if described_first else 1)
    assert sorted(audited(store, "report.opened")) == sorted(str(report_id) for report_id in (mine, kept, theirs, new))
    with store.session() as session:
        stored = session.scalar(sa.select(ReportFile.details).where(ReportFile.file_ref == files[1]))
        evidence = session.scalar(sa.select(Report.location_evidence).where(Report.id == mine))
    assert (stored is not None) == described_first
    assert evidence == through_the_models(store, mine)
    assert evidence is not None
    assert [clue.get("party") for clue in evidence].count("file") == (2 if described_first else 1)


def test_a_piece_the_store_fails_after_it_wrote_is_undone_alone(
    live: LiveServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submit whose report row is written but whose audit event cannot be (a trigger stands in for the store's
    failure): its report is undone with it, and the other requests of the turn are committed in the turn."""
    auth = add_platform(store, "Half Written Chat")
    with httpx.Client(base_url=live.ispws, auth=auth) as http:
        first, second = (report_id_of(http.post("submit", content=report_document(), headers=XML)) for _ in range(2))
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER no_openings BEFORE INSERT ON audit_events"
            " WHEN NEW.action = 'report.opened' BEGIN SELECT RAISE(ABORT, 'full'); END"
        )
    log = TurnLog(live, monkeypatch)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("retract", {"data": {"id": str(first)}}),
        ("submit", {"content": report_document(), "headers": XML}),
        ("finish", {"data": {"id": str(second)}}),
    ]
    responses = queue_while_held(live, store, auth, calls)
    assert [code_of(response) for response in responses] == [0, ResponseCode.SAVE_FAILED, 0]
    assert log.turns == [(3, True)]
    assert statuses(store) == {first: ReportStatus.RETRACTED, second: ReportStatus.FINISHED}
    assert audited(store, "report.retracted") == [str(first)]
    assert audited(store, "report.finished") == [str(second)]


def test_a_turn_whose_transaction_sqlite_gives_up_runs_each_piece_again_alone(
    live: LiveServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite rolls back the whole transaction, not one statement (`RAISE(ROLLBACK)` stands in for a full disk):
    the work run before in the turn is gone too, so every piece runs again alone, and each is stored once."""
    auth = add_platform(store, "Rolled Back Chat")
    with httpx.Client(base_url=live.ispws, auth=auth) as http:
        first, second = (report_id_of(http.post("submit", content=report_document(), headers=XML)) for _ in range(2))
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER gone BEFORE INSERT ON tipline_reports BEGIN SELECT RAISE(ROLLBACK, 'gone'); END"
        )
    log = TurnLog(live, monkeypatch)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("finish", {"data": {"id": str(first)}}),
        ("submit", {"content": report_document(), "headers": XML}),
        ("finish", {"data": {"id": str(second)}}),
    ]
    responses = queue_while_held(live, store, auth, calls)
    assert [code_of(response) for response in responses] == [0, ResponseCode.SAVE_FAILED, 0]
    assert log.turns == [(3, False)]
    assert statuses(store) == {first: ReportStatus.FINISHED, second: ReportStatus.FINISHED}
    assert sorted(audited(store, "report.finished")) == sorted([str(first), str(second)])


def test_savepoints_undo_a_refused_piece_alone_on_either_store(any_store: Store) -> None:
    """The turn's savepoints on PostgreSQL too, although only SQLite runs requests together (PostgreSQL runs
    them concurrently, each in its own transaction)."""
    context = WebContext(store=any_store, limits=Limits(xml_max_bytes=1024))

    def opening(refuse: bool) -> int:
        with context.write_session() as session:
            report = service.open_report(
                session=session,
                incident_type=IncidentType.CHILD_SEX_TOURISM,
                source=ReportSource.PLATFORM,
                body={},
                actor="test",
            )
            if refuse:
                raise InputError("report", "refused after it was written")
            return report.id

    def flushing() -> None:
        with context.write_session() as session:
            session.add(AuditEvent(actor=None, action="refused at the flush", subject_type="report", subject_id="1"))

    context._turn_holder = threading.get_ident()  # as `_drain` sets it while the turn is held
    outcomes = context._together([lambda: opening(False), lambda: opening(True), lambda: opening(False)])
    assert outcomes is not None
    first, refused, third = outcomes
    assert isinstance(refused.error, InputError)
    assert statuses(any_store) == {first: ReportStatus.OPEN, third: ReportStatus.OPEN}
    assert sorted(audited(any_store, "report.opened")) == sorted([str(first), str(third)])
    # A failed flush rolls back the session's whole transaction, the first piece's work too: the turn is given
    # up, with nothing written, for its pieces to run again alone.
    assert context._together([lambda: opening(False), flushing, lambda: opening(False)]) is None
    assert sorted(audited(any_store, "report.opened")) == sorted([str(first), str(third)])
