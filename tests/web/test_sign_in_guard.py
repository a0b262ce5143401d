"""Failed sign-ins are bounded: past the limit for a name at an address, or for an address, the attempt is answered
429 with Retry-After and no argon2 runs; the account's owner elsewhere still signs in; the window passes; the count
is shared by the workers of a store, on SQLite and on PostgreSQL; a broken guard locks nobody out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from lxml import etree

from clearinghouse.access import service as access_service
from clearinghouse.access.models import PlatformAccount, User
from clearinghouse.db.engine import Store
from clearinghouse.web.app import create_app, sweep_flood_guard
from clearinghouse.web.models import FloodGuardUse
from clearinghouse.web.signin import client_of
from tests.tipline.agency_helpers import officer
from tests.web.live import LiveServer, add_platform, captured_logs, serve

ATTACKER = "198.51.100.66"
OWNER = "203.0.113.10"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names whose secret was verified with argon2, in order (the real verification runs)."""
    names: list[str] = []
    platform, user = access_service.authenticate_platform, access_service.authenticate_user

    def counted_platform(**kwargs: Any) -> PlatformAccount | None:
        names.append(str(kwargs["username"]))
        return platform(**kwargs)

    def counted_user(**kwargs: Any) -> User | None:
        names.append(str(kwargs["email"]))
        return user(**kwargs)

    monkeypatch.setattr("clearinghouse.web.deps.authenticate_platform", counted_platform)
    monkeypatch.setattr("clearinghouse.web.deps.authenticate_user", counted_user)
    return names


@contextmanager
def guarded(store: Store, per_name: int = 10, per_address: int = 50) -> Iterator[LiveServer]:
    """The application over `store` with these limits, served, its clock at T0."""
    app = create_app(store, sign_in_failures_per_name=per_name, sign_in_failures_per_address=per_address)
    with serve(app) as live:
        at(T0, live)
        yield live


def at(moment: dt.datetime, *servers: LiveServer) -> None:
    for server in servers:
        server.context.clock = lambda: moment


def status(live: LiveServer, auth: tuple[str, str], *, address: str = ATTACKER) -> httpx.Response:
    """`GET /ispws/status` from `address` (uvicorn takes it from X-Forwarded-For, as behind a proxy)."""
    return httpx.get(live.ispws + "status", auth=auth, headers={"X-Forwarded-For": address}, timeout=30)


def counted(store: Store) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(FloodGuardUse)) or 0


def test_past_the_limit_a_name_is_refused_without_argon2_and_its_owner_still_signs_in(
    store: Store, verifications: list[str]
) -> None:
    username, secret = add_platform(store, "Example Chat")
    with guarded(store) as live:
        failed = [status(live, (username, f"guess-{n}")).status_code for n in range(10)]
        held = status(live, (username, "guess-10"))
        right_but_held = status(live, (username, secret))
        owner = status(live, (username, secret), address=OWNER)
    assert failed == [401] * 10
    assert verifications == [username] * 11  # ten failures and the owner's success; nothing past the limit
    for answer in (held, right_but_held):
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "900"
        document = etree.fromstring(answer.content)
        assert document.findtext("responseCode") == "2000"
        assert "Too many failed sign-ins for this account from this address" in str(
            document.findtext("responseDescription")
        )
    assert owner.status_code == 200
    assert counted(store) == 20  # each failure under both counts; the refusals and the success wrote nothing


def test_the_window_passes(store: Store, verifications: list[str]) -> None:
    username, secret = add_platform(store, "Example Chat")
    with guarded(store, per_name=3) as live:
        assert [status(live, (username, "wrong")).status_code for _ in range(3)] == [401] * 3
        at(T0 + dt.timedelta(minutes=14), live)
        held = status(live, (username, secret))
        at(T0 + dt.timedelta(minutes=15), live)
        again = status(live, (username, secret))
    assert held.status_code == 429
    assert held.headers["Retry-After"] == "60"  # when the failures of T0 leave the 15 minutes
    assert again.status_code == 200
    assert len(verifications) == 4


def test_an_address_that_failed_too_often_is_refused_for_every_name(store: Store, verifications: list[str]) -> None:
    username, secret = add_platform(store, "Example Chat")
    with guarded(store, per_name=10, per_address=4) as live:
        assert status(live, (username, secret)).status_code == 200  # verified, and cached in the worker
        failed = [status(live, (f"nobody-{n}", "whatever")).status_code for n in range(4)]
        held = status(live, ("somebody-else", "whatever"))
        cached = status(live, (username, secret))
        elsewhere = status(live, ("somebody-else", "whatever"), address=OWNER)
    assert failed == [401] * 4
    assert held.status_code == 429
    assert "Too many failed sign-ins from this address" in held.text
    assert cached.status_code == 200  # credentials the worker verified pass untouched
    assert elsewhere.status_code == 401
    assert len(verifications) == 1 + 4 + 1


def test_the_api_answers_a_problem_document_and_officers_are_guarded_too(
    seeded: Store, verifications: list[str]
) -> None:
    email, password = officer(seeded, "NY")
    agency = "/api/v1/agency/reports"
    with guarded(seeded, per_name=2) as live:

        def reports(auth: tuple[str, str], address: str) -> httpx.Response:
            headers = {"X-Forwarded-For": address}
            return httpx.get(live.url + agency, auth=auth, headers=headers, timeout=30)

        failed = [reports((email.upper(), "wrong"), ATTACKER).status_code for _ in range(2)]
        held = reports((email, password), ATTACKER)
        owner = reports((email, password), OWNER)
        platform = httpx.get(
            live.url + "/api/v1/reports/1", auth=("example-chat", "wrong"), headers={"X-Forwarded-For": ATTACKER}
        )
    assert failed == [401, 401]
    assert held.status_code == 429  # another spelling of the address is the same name
    assert held.headers["Content-Type"] == "application/problem+json"
    assert held.headers["Retry-After"] == "900"
    problem = held.json()
    assert problem["title"] == "Too many failed sign-ins"
    assert "for this account from this address in 15 minutes" in problem["detail"]
    assert owner.status_code == 200
    assert platform.status_code == 401  # another name from the same address is still verified
    assert len(verifications) == 4


def test_failures_sent_at_once_run_argon2_no_more_than_the_limit(store: Store, verifications: list[str]) -> None:
    username, secret = add_platform(store, "Example Chat")
    with guarded(store, per_name=5) as live, ThreadPoolExecutor(max_workers=20) as pool:
        wrong = list(pool.map(lambda n: status(live, (username, f"guess-{n}")).status_code, range(20)))
        right = list(pool.map(lambda _: status(live, (username, secret), address=OWNER).status_code, range(20)))
    assert sorted(wrong) == [401] * 5 + [429] * 15
    assert right == [200] * 20
    # Five failures, then one verification for twenty right sign-ins sent at once: the others found it cached.
    assert verifications == [username] * 6


@pytest.fixture
def two_workers(any_store: Store) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two served applications over one store, each with a store object of its own, as two worker processes."""
    other = Store(any_store.url)
    try:
        with ExitStack() as stack:
            yield stack.enter_context(guarded(any_store, per_name=4)), stack.enter_context(guarded(other, per_name=4))
    finally:
        other.dispose()


def test_the_workers_of_one_store_share_the_count_and_the_sweep_forgets_it(
    two_workers: tuple[LiveServer, LiveServer], any_store: Store
) -> None:
    first, second = two_workers
    username, secret = add_platform(any_store, "Example Chat")
    failed = [status(worker, (username, "wrong")).status_code for worker in (first, second, first, second)]
    held = [status(worker, (username, secret)).status_code for worker in (first, second)]
    assert failed == [401] * 4
    assert held == [429, 429]
    assert counted(any_store) == 8
    at(T0 + dt.timedelta(hours=1), first, second)
    assert sweep_flood_guard(first.context) == 8
    assert status(second, (username, secret)).status_code == 200


def test_a_failing_guard_lets_verification_run(any_store: Store, verifications: list[str]) -> None:
    with any_store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE flood_guard_uses")
    username, secret = add_platform(any_store, "Example Chat")
    with captured_logs() as logs, guarded(any_store, per_name=1, per_address=1) as live:
        failed = [status(live, (username, "wrong")).status_code for _ in range(3)]
        right = status(live, (username, secret))
    assert failed == [401] * 3
    assert right.status_code == 200
    assert len(verifications) == 4
    warnings = [line for line in logs.getvalue().splitlines() if "sign-in guard failed" in line]
    assert warnings
    assert all("the credentials are verified" in line for line in warnings)
    assert not any(ATTACKER in line or username in line for line in warnings)  # the access log has the address


def test_ipv6_addresses_count_by_their_64_network() -> None:
    assert client_of("2001:db8:1:2::1") == client_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:3::1") != client_of("2001:db8:1:2::1")
    assert client_of("::ffff:192.0.2.7") == client_of("192.0.2.7") == "192.0.2.7"
    assert client_of("testclient") == "testclient"
