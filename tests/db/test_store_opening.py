"""Commands use a store as they find it: only `db upgrade` (and `demo`, on its own file) creates or migrates one.
A store that is missing, another application's, another version's or unreachable, a bad environment variable or
option, each stops the command with one line saying what is wrong and what to run; nothing is created."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from clearinghouse.cli import app
from clearinghouse.config import get_settings
from clearinghouse.db.engine import Store
from clearinghouse.db.migrate import current_revision, head_revision, upgrade
from clearinghouse.db.revisions import HEAD_REVISION
from tests.refusals import refused
from tests.web.live import free_port

runner = CliRunner()


def tables_of(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def revision_of(path: Path) -> str | None:
    store = Store(f"sqlite:///{path}")
    try:
        return current_revision(store.engine)
    finally:
        store.dispose()


@pytest.fixture
def clean_settings() -> Iterator[None]:
    """Settings read afresh from the environment the test sets, and forgotten after it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_another_applications_database_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "unrelated.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    url = f"sqlite:///{path}"
    refused(runner.invoke(app, ["banks", "list", "--url", url]), 1, str(path), "not a Clearinghouse store", "notes")
    refused(runner.invoke(app, ["db", "upgrade", "--url", url]), 1, "not a Clearinghouse store", "nothing was changed")
    assert tables_of(path) == {"notes"}
    with sqlite3.connect(path) as connection:  # not even switched to WAL, as the store's own connections do
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert [item.name for item in tmp_path.iterdir()] == ["unrelated.db"]


@pytest.mark.parametrize(
    "command",
    [["db", "current"], ["banks", "list"], ["tables", "--year", "2023"], ["platforms", "list"], ["serve"]],
)
def test_a_missing_store_is_named_and_not_created(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "nowhere" / "store.db"
    url = f"sqlite:///{path}"
    refused(
        runner.invoke(app, [*command, "--url", url]), 1, f"no store at {path}", f"clearinghouse db upgrade --url {url}"
    )
    assert not path.parent.exists()


def test_db_upgrade_makes_the_store_the_other_commands_then_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'store.db'}"
    made = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert made.exit_code == 0, made.output
    listed = runner.invoke(app, ["banks", "list", "--url", url])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.strip() == "[]"
    current = runner.invoke(app, ["db", "current", "--url", url])
    assert f"store: {head_revision()}" in current.stdout


def test_an_older_store_is_refused_until_db_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "older.db"
    store = Store(f"sqlite:///{path}")
    upgrade(store.engine, "0005")
    store.dispose()
    url = f"sqlite:///{path}"
    line = refused(runner.invoke(app, ["tables", "--year", "2023", "--url", url]), 1, "revision 0005", "older")
    assert f"clearinghouse db upgrade --url {url}" in line
    assert revision_of(path) == "0005"
    made = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert made.exit_code == 0, made.output
    assert revision_of(path) == head_revision()
    assert runner.invoke(app, ["tables", "--year", "2023", "--url", url]).exit_code == 0


def test_a_store_of_a_newer_version_is_refused_even_by_db_upgrade(made_url: str) -> None:
    path = Path(made_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    for command in (["banks", "list"], ["db", "upgrade"]):
        refused(runner.invoke(app, [*command, "--url", made_url]), 1, "revision 9999", "does not know")
    assert revision_of(path) == "9999"
    current = runner.invoke(app, ["db", "current", "--url", made_url])  # reading the revision is still allowed
    assert current.exit_code == 0
    assert "store: 9999" in current.stdout


def test_a_store_recording_two_revisions_is_refused_by_name(made_url: str) -> None:
    path = Path(made_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO alembic_version (version_num) VALUES ('0001')")
    for command in (["banks", "list"], ["db", "upgrade"]):
        refused(
            runner.invoke(app, [*command, "--url", made_url]),
            1,
            str(path),
            f"more than one revision recorded (0001, {HEAD_REVISION})",
        )


def test_urls_that_name_no_usable_database_are_refused_by_name(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("plain text, long enough to fill an SQLite header and more besides\n" * 4)
    port = free_port()  # nothing listens there
    cases = [
        ("store.db", "is not a database URL"),
        (f"sqlite:///{not_a_database}", "file is not a database"),
        (f"sqlite:///{tmp_path}", "is a folder, not a store"),
        ("sqlite://", "in-memory SQLite store starts empty"),
        ("mysql://someone@localhost/store", "an SQLite or a PostgreSQL database, not mysql"),
        ("postgresql+nodriver://someone@localhost/store", "no driver"),
        (f"postgresql+psycopg://someone:sekrit@127.0.0.1:{port}/store", "cannot open the store at"),
    ]
    for url, fragment in cases:
        for command in (["banks", "list"], ["db", "current"], ["db", "upgrade"]):
            line = refused(runner.invoke(app, [*command, "--url", url]), 1, fragment)
            assert "sekrit" not in line
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]
    assert not_a_database.read_text().startswith("plain text")


def test_a_refused_environment_variable_stops_every_command_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_settings: None
) -> None:
    monkeypatch.setenv("CLEARINGHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLEARINGHOUSE_ENVIRONMENT", "prod")
    refused(runner.invoke(app, ["db", "upgrade"]), 2, "CLEARINGHOUSE_ENVIRONMENT", "'production'", "given: 'prod'")
    monkeypatch.setenv("CLEARINGHOUSE_ENVIRONMENT", "production")
    monkeypatch.setenv("CLEARINGHOUSE_SECRET_KEY", "development-only-secret-change-me")
    refused(runner.invoke(app, ["banks", "list"]), 2, "CLEARINGHOUSE_SECRET_KEY must be set")
    assert list(tmp_path.iterdir()) == []


def test_a_home_folder_in_an_sqlite_url_is_the_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_settings: None
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # where SQLite would have made a folder named "~"
    url, path = "sqlite:///~/stores/x.db", home / "stores" / "x.db"
    refused(runner.invoke(app, ["banks", "list", "--url", url]), 1, f"no store at {path}")
    made = runner.invoke(app, ["db", "upgrade", "--url", url])
    assert made.exit_code == 0, made.output
    assert revision_of(path) == head_revision()
    assert runner.invoke(app, ["banks", "list", "--url", url]).stdout.strip() == "[]"
    monkeypatch.setenv("CLEARINGHOUSE_DATABASE_URL", url)
    get_settings.cache_clear()  # read once per process: as a new process would read it
    assert f"store: {head_revision()}" in runner.invoke(app, ["db", "current"]).stdout
    monkeypatch.delenv("CLEARINGHOUSE_DATABASE_URL")
    monkeypatch.setenv("CLEARINGHOUSE_DATA_DIR", "~/data")
    get_settings.cache_clear()
    made = runner.invoke(app, ["db", "upgrade"])
    assert made.exit_code == 0, made.output
    assert revision_of(home / "data" / "clearinghouse.db") == head_revision()
    assert sorted(item.name for item in tmp_path.iterdir()) == ["home"]


def test_a_bad_log_level_is_a_usage_error(made_url: str) -> None:
    result = runner.invoke(app, ["--log-level", "LOUD", "banks", "list", "--url", made_url])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "--log-level" in result.stderr
    assert "'LOUD' is not one of" in result.stderr
    assert runner.invoke(app, ["--log-level", "debug", "banks", "list", "--url", made_url]).exit_code == 0


@pytest.mark.parametrize("scale", ["-1", "0", "1.5", "nan"])
def test_demo_refuses_a_bad_scale_before_making_anything(tmp_path: Path, scale: str) -> None:
    out = tmp_path / "demo"
    refused(runner.invoke(app, ["demo", "--scale", scale, "--out", str(out)]), 2, "scale must be in (0, 1]")
    assert not out.exists()


def test_a_postgresql_store_is_checked_the_same_way(pg_store: Store) -> None:
    url = pg_store.engine.url.render_as_string(hide_password=False)
    listed = runner.invoke(app, ["banks", "list", "--url", url])
    assert listed.exit_code == 0, listed.output
    with pg_store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0005'")
    refused(runner.invoke(app, ["banks", "list", "--url", url]), 1, "revision 0005", "older")
    with pg_store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alembic_version")
    refused(runner.invoke(app, ["db", "upgrade", "--url", url]), 1, "not a Clearinghouse store")
    assert current_revision(pg_store.engine) is None


def test_the_log_level_comes_from_the_environment_unless_the_option_names_one(
    made_url: str, monkeypatch: pytest.MonkeyPatch, clean_settings: None
) -> None:
    monkeypatch.setenv("CLEARINGHOUSE_LOG_LEVEL", "loud")
    refused(runner.invoke(app, ["banks", "list", "--url", made_url]), 2, "CLEARINGHOUSE_LOG_LEVEL", "'CRITICAL'")
    monkeypatch.setenv("CLEARINGHOUSE_LOG_LEVEL", "error")
    assert runner.invoke(app, ["banks", "list", "--url", made_url]).exit_code == 0
    assert _structlog_level() == logging.ERROR
    assert runner.invoke(app, ["--log-level", "debug", "banks", "list", "--url", made_url]).exit_code == 0
    assert _structlog_level() == logging.DEBUG


def _structlog_level() -> int:
    """The minimum level structlog is configured to let through (its filtering logger class is made per level)."""
    wrapper = structlog.get_config()["wrapper_class"]
    levels = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
    return next(level for level in levels if structlog.make_filtering_bound_logger(level) is wrapper)
