"""The application shell: unexpected errors never become a bare 500, every response has a Request-ID, the
credential cache spares argon2 without weakening authentication, and the commands that run it all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from clearinghouse.access import service as access_service
from clearinghouse.access.models import AuditEvent, PlatformAccount
from clearinghouse.cli import app as cli_app
from clearinghouse.db.engine import Store
from clearinghouse.tipline import intake
from clearinghouse.tipline.models import Release
from clearinghouse.web.auth import CredentialCache, PlatformPrincipal
from tests.tipline.bulk_helpers import doc, line
from tests.tipline.factories import make_faker, minimal_report
from tests.tipline.ispws_client import IspwsClient, SchemaBuilder
from tests.web.live import LiveServer, add_platform, all_gone, captured_logs, descendants, free_port, serve_store

SECRET_CONTENT = "MARKER-of-report-content-93c1"


def test_an_unexpected_error_is_code_1000_and_logged_without_content(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: object) -> None:
        raise RuntimeError(f"something went wrong with {SECRET_CONTENT}")

    monkeypatch.setattr(intake, "open_report", broken)
    credentials = add_platform(store, "Example Chat")
    with captured_logs() as logs, serve_store(store) as live:
        with httpx.Client(base_url=live.ispws, auth=credentials) as http:
            answer = IspwsClient(http, SchemaBuilder()).submit(minimal_report(make_faker()))
        problem = httpx.post(f"{live.url}/api/v1/reports", auth=credentials, json={"report": {}})
    assert (answer.http_status, answer.code) == (200, 1000)
    assert answer.request_id
    assert problem.status_code == 422
    text = logs.getvalue()
    assert "RuntimeError" in text
    assert answer.request_id in text
    assert SECRET_CONTENT not in text


def test_an_unexpected_api_error_is_a_problem_document(
    live: LiveServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: object) -> None:
        raise RuntimeError(SECRET_CONTENT)

    monkeypatch.setattr(intake, "file_public_report", broken)
    form = {
        "incident_type": "Child Sex Tourism",
        "description": "A long enough description.",
        "incident_date": "2024-01-02",
    }
    response = httpx.post(f"{live.url}/report", data=form)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Request-ID"]
    assert SECRET_CONTENT not in response.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/report", 200),
        ("GET", "/api/v1/reports/1", 401),
        ("GET", "/nowhere", 404),
        ("GET", "/ispws/status", 401),
    ],
)
def test_every_response_has_a_request_id(live: LiveServer, method: str, path: str, status: int) -> None:
    response = httpx.request(method, live.url + path)
    assert response.status_code == status
    assert len(response.headers["Request-ID"]) == 32


def test_successful_credentials_are_cached_failures_never(
    live: LiveServer, credentials: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = access_service.authenticate_platform

    def counting(**kwargs: object) -> PlatformAccount | None:
        calls.append(str(kwargs["username"]))
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("clearinghouse.web.deps.authenticate_platform", counting)
    with httpx.Client(base_url=live.ispws, auth=credentials) as http:
        assert [http.get("status").status_code for _ in range(5)] == [200] * 5
    with httpx.Client(base_url=live.ispws, auth=(credentials[0], "wrong")) as http:
        assert [http.get("status").status_code for _ in range(2)] == [401] * 2
    assert calls == [credentials[0]] * 3  # one verification for five calls; every wrong secret verified again


def test_the_cache_forgets_after_its_ttl_and_evicts_least_recent() -> None:
    now = [0.0]
    cache: CredentialCache[PlatformPrincipal] = CredentialCache(ttl=300, max_entries=2, clock=lambda: now[0])
    principal = PlatformPrincipal(id=1, username="a", name="A")
    cache.put("a", "secret", principal)
    assert cache.get("a", "secret") == principal
    assert cache.get("a", "other") is None
    now[0] = 299.9
    assert cache.get("a", "secret") == principal
    now[0] = 300.0
    assert cache.get("a", "secret") is None
    for name in ("x", "y", "z"):
        cache.put(name, "s", principal)
    assert len(cache) == 2
    assert cache.get("x", "s") is None


def test_platforms_add_prints_the_secret_once_and_stores_only_its_hash(made_url: str) -> None:
    url = made_url
    runner = CliRunner()
    added = runner.invoke(cli_app, ["platforms", "add", "Example Chat", "--url", url])
    assert added.exit_code == 0, added.output
    secret = next(line.split()[-1] for line in added.output.splitlines() if line.startswith("secret:"))
    assert "username: example-chat" in added.output
    again = runner.invoke(cli_app, ["platforms", "add", "Example Chat", "--url", url])
    assert again.exit_code == 1
    listed = runner.invoke(cli_app, ["platforms", "list", "--url", url])
    assert "example-chat" in listed.output
    assert secret not in listed.output
    store = Store(url)
    with store.session() as session:
        account = session.scalars(sa.select(PlatformAccount)).one()
        assert secret not in account.secret_hash
        assert access_service.authenticate_platform(session=session, username="example-chat", secret=secret)
    store.dispose()
    assert secret.encode() not in Path(store.engine.url.database or "").read_bytes()


def test_platforms_new_secret_replaces_the_secret(made_url: str) -> None:
    url = made_url
    runner = CliRunner()
    added = runner.invoke(cli_app, ["platforms", "add", "Example Chat", "--url", url])
    old = next(line.split()[-1] for line in added.output.splitlines() if line.startswith("secret:"))
    replaced = runner.invoke(cli_app, ["platforms", "new-secret", "example-chat", "--url", url])
    assert replaced.exit_code == 0, replaced.output
    new = next(line.split()[-1] for line in replaced.output.splitlines() if line.startswith("secret:"))
    assert new != old
    missing = runner.invoke(cli_app, ["platforms", "new-secret", "No Such Platform", "--url", url])
    assert missing.exit_code == 1
    assert "no platform account" in missing.output
    store = Store(url)
    with store.session() as session:
        assert access_service.authenticate_platform(session=session, username="example-chat", secret=new)
        assert access_service.authenticate_platform(session=session, username="example-chat", secret=old) is None
        replaced_events = session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "platform.secret_replaced")
        )
        assert replaced_events == 1
    store.dispose()
    assert new.encode() not in Path(store.engine.url.database or "").read_bytes()


def store_with_platform(tmp_path: Path) -> tuple[str, str]:
    """A store URL in `tmp_path` with the platform "Example Chat" added by the CLI, and its secret."""
    url = f"sqlite:///{tmp_path / 'served.db'}"
    made = CliRunner().invoke(cli_app, ["db", "upgrade", "--url", url])  # the documented first step
    assert made.exit_code == 0, made.output
    added = CliRunner().invoke(cli_app, ["platforms", "add", "Example Chat", "--url", url])
    secret = next(line.split()[-1] for line in added.output.splitlines() if line.startswith("secret:"))
    return url, secret


def test_clearinghouse_serve_runs_the_application(tmp_path: Path) -> None:
    url, secret = store_with_platform(tmp_path)
    port = free_port()
    command = Path(sys.executable).with_name("clearinghouse")
    # The store named by --url, served by the one worker built in the command's own process, whose settings
    # (naming another store, in another folder) were read before the command ran.
    env = {key: value for key, value in os.environ.items() if key != "CLEARINGHOUSE_DATABASE_URL"}
    env["CLEARINGHOUSE_DATA_DIR"] = str(tmp_path / "another-folder")
    server = subprocess.Popen(
        [str(command), "serve", "--url", url, "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ispws/status", auth=("example-chat", secret))
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        assert response.status_code == 200
        assert b"<responseCode>0</responseCode>" in response.content
        assert httpx.get(f"http://127.0.0.1:{port}/report").status_code == 200
        # A report sent in is taken through release by the pipeline the server runs beside it.
        sent = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/reports:bulk",
            content=line("served-1", doc(state="NC")),
            auth=("example-chat", secret),
        )
        assert sent.status_code == 200, sent.text
        store = Store(url)
        try:
            deadline = time.monotonic() + 30
            while True:
                with store.session() as session:
                    released = session.scalars(sa.select(Release.jurisdiction_code)).all()
                if released or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            store.dispose()
        assert set(released) == {"NC"}
        helpers = descendants(server.pid)
        assert helpers  # the pipeline process (and the fork server that started it)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert all_gone(helpers), "the pipeline process outlived the server"


def listening_processes(port: int) -> set[int]:
    """The processes holding a TCP socket that listens on `port` (Linux ``/proc``)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    holders: set[int] = set()
    for descriptor in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            holders.add(int(descriptor.parent.parent.name))
    return holders


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreading is Linux's")
def test_serve_with_two_workers_gives_each_its_own_socket_and_they_die_with_it(tmp_path: Path) -> None:
    url, secret = store_with_platform(tmp_path)
    port = free_port()
    command = Path(sys.executable).with_name("clearinghouse")
    server = subprocess.Popen(
        [str(command), "serve", "--url", url, "--port", str(port), "--workers", "2", "--no-access-log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(listening_processes(port)) < 2:
            assert server.poll() is None, "the server exited during start-up"
            assert time.monotonic() < deadline, "two workers did not start listening"
            time.sleep(0.2)
        workers = listening_processes(port)
        helpers = descendants(server.pid)
        # Each worker listens on a socket of its own; the parent only holds the port.
        assert len(workers) == 2
        assert workers <= set(helpers)
        assert server.pid not in workers
        for _ in range(20):  # a new connection each time: the kernel spreads them over the workers
            response = httpx.get(f"http://127.0.0.1:{port}/ispws/status", auth=("example-chat", secret))
            assert b"<responseCode>0</responseCode>" in response.content
    finally:
        server.kill()  # even a killed parent takes its workers and its pipeline with it
        server.wait(timeout=30)
    assert all_gone(helpers), "a worker or the pipeline outlived the server"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreading is Linux's")
def test_serve_with_workers_gives_up_on_workers_that_cannot_start() -> None:
    from uvicorn.config import STARTUP_FAILURE

    from clearinghouse.web.workers import serve_workers

    options = {"app": "tests.web.no_such_module:app", "host": "127.0.0.1", "port": 0, "log_level": "critical"}
    started = time.monotonic()
    with pytest.raises(SystemExit) as stopped:
        serve_workers(options, 2)
    assert stopped.value.code == STARTUP_FAILURE
    assert time.monotonic() - started < 60
