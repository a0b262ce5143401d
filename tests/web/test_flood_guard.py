"""The public form's flood guard counts in the store: one count for every worker of a store, on SQLite and on
PostgreSQL, kept as keyed hashes only, forgotten after an hour, and never a reason to lose a report."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from clearinghouse.db.engine import Store
from clearinghouse.tipline.models import Report
from clearinghouse.web.app import create_app, sweep_flood_guard
from clearinghouse.web.context import WebContext
from clearinghouse.web.models import FloodGuardUse
from clearinghouse.web.throttle import Throttle
from tests.web.live import captured_logs
from tests.web.test_public_form import GOOD

ADDRESS = "198.51.100.23"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def post(app: FastAPI, data: dict[str, str] = GOOD, *, address: str = ADDRESS) -> httpx.Response:
    """The form sent to `app` over HTTP (in process), from `address`."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://clearinghouse.test") as client:
            return await client.post("/report", data=data)

    return asyncio.run(send())


def context_of(app: FastAPI) -> WebContext:
    context: WebContext = app.state.context
    return context


def at(moment: dt.datetime, *apps: FastAPI) -> None:
    for app in apps:
        context_of(app).clock = lambda: moment


def count(store: Store, model: type[Report] | type[FloodGuardUse]) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


@pytest.fixture
def two_workers(any_store: Store) -> Iterator[tuple[FastAPI, FastAPI]]:
    """Two applications over one store, each with a store object (connections, write turn) of its own, as two
    worker processes have: 3 reports an hour from one address."""
    other = Store(any_store.url)
    try:
        yield create_app(any_store, public_reports_per_hour=3), create_app(other, public_reports_per_hour=3)
    finally:
        other.dispose()


def test_the_workers_of_one_store_share_one_count(two_workers: tuple[FastAPI, FastAPI], any_store: Store) -> None:
    first, second = two_workers
    filed = [post(app).status_code for app in (first, second, first)]
    held = [post(app) for app in (second, first)]
    assert filed == [201, 201, 201]
    assert [response.status_code for response in held] == [429, 429]
    assert all(3000 < int(response.headers["Retry-After"]) <= 3600 for response in held)
    assert "Your report has not been sent yet" in held[0].text
    # Another address has its own count.
    assert post(second, address="203.0.113.9").status_code == 201
    assert count(any_store, Report) == 4
    assert count(any_store, FloodGuardUse) == 4


def test_two_workers_racing_for_the_last_uses_take_no_more_than_the_limit(
    two_workers: tuple[FastAPI, FastAPI], any_store: Store
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda turn: post(two_workers[turn % 2]).status_code, range(8)))
    assert sorted(statuses) == [201] * 3 + [429] * 5
    assert count(any_store, Report) == 3


def test_only_filed_reports_are_counted(two_workers: tuple[FastAPI, FastAPI], any_store: Store) -> None:
    first, second = two_workers
    refused = [post(first, {**GOOD, "zip_code": "ABCDE"}).status_code for _ in range(4)]
    filed = [post(app).status_code for app in (first, second, first)]
    assert refused == [422] * 4
    assert filed == [201] * 3
    assert count(any_store, FloodGuardUse) == 3


REFUSE_REPORTS = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE INSERT ON tipline_reports BEGIN SELECT RAISE(ABORT, 'store is full'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'store is full'; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON tipline_reports FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}


def test_a_report_that_fails_to_be_stored_is_not_counted(any_store: Store) -> None:
    with any_store.engine.begin() as connection:
        for statement in REFUSE_REPORTS[any_store.dialect]:
            connection.exec_driver_sql(statement)
    app = create_app(any_store, public_reports_per_hour=3)
    failed = post(app)
    assert failed.status_code >= 500
    # The count was written in the report's transaction, and went with it.
    assert count(any_store, Report) == 0
    assert count(any_store, FloodGuardUse) == 0


def test_uses_older_than_an_hour_are_forgotten(two_workers: tuple[FastAPI, FastAPI], any_store: Store) -> None:
    first, second = two_workers
    for minutes, app in ((0, first), (10, second), (20, first)):
        at(T0 + dt.timedelta(minutes=minutes), first, second)
        assert post(app).status_code == 201
    at(T0 + dt.timedelta(minutes=30), first, second)
    held = post(second)
    assert held.status_code == 429
    assert held.headers["Retry-After"] == "1800"  # when the use of T0 leaves the hour
    at(T0 + dt.timedelta(minutes=60), first, second)
    assert post(second).status_code == 201
    assert count(any_store, FloodGuardUse) == 3  # the address's use of T0 went when it was counted again
    # The sweep forgets every address's old uses, used again or not.
    assert post(first, address="203.0.113.9").status_code == 201
    at(T0 + dt.timedelta(hours=3), first, second)
    assert sweep_flood_guard(context_of(first)) == 4
    assert count(any_store, FloodGuardUse) == 0


def test_the_store_holds_no_address(store: Store) -> None:
    app = create_app(store, public_reports_per_hour=2)
    statuses = [post(app).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    throttle = context_of(app).public_throttle
    assert throttle is not None
    with store.session() as session:
        kept = set(session.scalars(sa.select(FloodGuardUse.address_key)))
    assert kept == {throttle.address_key(ADDRESS)}
    store.dispose()  # the last connection closed: SQLite folds the write-ahead log into the file
    database = Path(str(store.engine.url.database))
    files = [path for path in database.parent.iterdir() if path.name.startswith(database.name)]
    assert database in files
    for path in files:
        assert ADDRESS.encode() not in path.read_bytes(), f"{path.name} holds the address"


def test_the_key_depends_on_the_secret() -> None:
    keys = {Throttle("public report", 3, secret=secret).address_key(ADDRESS) for secret in ("one", "two")}
    assert len(keys) == 2


FAILURES = {
    "table gone": {"sqlite": ["DROP TABLE flood_guard_uses"], "postgresql": ["DROP TABLE flood_guard_uses"]},
    "writes refused": {
        "sqlite": [
            "CREATE TRIGGER refuse BEFORE INSERT ON flood_guard_uses BEGIN SELECT RAISE(ABORT, 'guard is full'); END"
        ],
        "postgresql": [
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'guard is full'; END $$"
            " LANGUAGE plpgsql",
            "CREATE TRIGGER refuse BEFORE INSERT ON flood_guard_uses FOR EACH ROW EXECUTE FUNCTION refuse()",
        ],
    },
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failing_guard_lets_the_report_through(any_store: Store, failure: str) -> None:
    with any_store.engine.begin() as connection:
        for statement in FAILURES[failure][any_store.dialect]:
            connection.exec_driver_sql(statement)
    app = create_app(any_store, public_reports_per_hour=1)
    with captured_logs() as logs:
        statuses = [post(app).status_code for _ in range(2)]
    assert statuses == [201, 201]
    assert count(any_store, Report) == 2
    assert "flood guard failed; the report is let through" in logs.getvalue()
    assert ADDRESS not in logs.getvalue()
