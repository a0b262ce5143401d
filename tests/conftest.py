"""Shared fixtures: fresh, migrated stores on a real SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from faker import Faker

from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.geo.models import Agency, AgencyKind
from tests.pgserver import PostgresServer, PostgresUnavailable, start_server

SHARED = Path(__file__).resolve().parents[2] / "shared"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once to the newest schema; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.dispose()
    return path


@pytest.fixture
def store(tmp_path: Path, sqlite_template: Path) -> Iterator[Store]:
    """A fresh, migrated store on an SQLite file in the test's own folder."""
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server started for this test run (never skipped in CI)."""
    external = os.environ.get("CLEARINGHOUSE_TEST_POSTGRES")
    if external:
        pytest.fail("CLEARINGHOUSE_TEST_POSTGRES is not supported; the harness starts its own server")
    try:
        server = start_server()
    except PostgresUnavailable as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {error}")
        pytest.skip(f"PostgreSQL server binaries unavailable: {error}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated once to the newest schema, used as the template of each test's database."""
    admin = sa.create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("CREATE DATABASE ch_template"))
    admin.dispose()
    store = Store(postgres_server.url("ch_template"))
    store.upgrade()
    store.dispose()
    return "ch_template"


@pytest.fixture
def pg_store(postgres_server: PostgresServer, postgres_template: str) -> Iterator[Store]:
    """A fresh, migrated store in its own database on the PostgreSQL server."""
    name = f"ch_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    store = Store(postgres_server.url(name))
    yield store
    store.dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest) -> Store:
    """The same test on both stores: the embedded SQLite file and PostgreSQL."""
    fixture = "store" if request.param == "sqlite" else "pg_store"
    result: Store = request.getfixturevalue(fixture)
    return result


@pytest.fixture
def shared_dir() -> Path:
    """The ../shared folder beside the checkout (seeds, specs, data)."""
    if not SHARED.is_dir():
        pytest.fail(f"../shared is missing beside the checkout (looked at {SHARED})")
    return SHARED


@pytest.fixture
def seeded(store: Store) -> Store:
    """The test's store with every jurisdiction and the shipped agency directory."""
    with store.unit_of_work() as session:
        seed_directory(session)
    return store


@pytest.fixture
def row_count(seeded: Store) -> Callable[[type[Any]], int]:
    """Counts the rows of one table in the seeded store (to prove nothing was stored half-way)."""

    def count(table: type[Any]) -> int:
        with seeded.unit_of_work() as session:
            return session.scalar(sa.select(sa.func.count()).select_from(table)) or 0

    return count


@pytest.fixture
def agency_id(seeded: Store) -> Callable[[str, AgencyKind], int]:
    """The id of the first seeded agency of one kind in one state."""

    def find(state_code: str, kind: AgencyKind) -> int:
        with seeded.unit_of_work() as session:
            query = sa.select(Agency.id).where(Agency.jurisdiction_code == state_code, Agency.kind == kind)
            found = session.scalars(query.order_by(Agency.id)).first()
        assert found is not None, f"the directory has no {kind.value} agency in {state_code}"
        return found

    return find


@pytest.fixture
def fake() -> Faker:
    """Synthetic people only, reproducible from run to run."""
    faker = Faker("en_US")
    faker.seed_instance(20230611)
    return faker


@pytest.fixture
def made_url(tmp_path: Path) -> str:
    """The URL of a store made as a user makes one, with `clearinghouse db upgrade` (the other commands never
    create or migrate the store they are pointed at)."""
    from typer.testing import CliRunner

    from clearinghouse.cli import app

    url = f"sqlite:///{tmp_path / 'made.db'}"
    made = CliRunner().invoke(app, ["db", "upgrade", "--url", url])
    assert made.exit_code == 0, made.output
    return url
