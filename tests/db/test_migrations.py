"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from clearinghouse.db.engine import Store
from clearinghouse.db.migrate import current_revision, head_revision
from clearinghouse.db.models import metadata
from clearinghouse.db.revisions import HEAD_REVISION


def test_migrations_reach_head_and_match_models(tmp_path: object, any_store: Store) -> None:
    assert current_revision(any_store.engine) == head_revision()
    with any_store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], f"models and migrations disagree: {differences}"


def test_upgrade_creates_an_empty_sqlite_store_from_nothing(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "nested" / "folder" / "store.db"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    assert path.exists()
    assert current_revision(store.engine) == head_revision()
    store.upgrade()  # a second upgrade is a no-op
    store.dispose()


def test_every_migration_downgrades_and_upgrades_again(any_store: Store) -> None:
    from alembic import command

    from clearinghouse.db.migrate import alembic_config

    config = alembic_config(any_store.engine)
    command.downgrade(config, "base")
    assert current_revision(any_store.engine) is None
    command.upgrade(config, "head")
    assert current_revision(any_store.engine) == head_revision()


def test_the_newest_revision_written_out_is_the_newest_migration() -> None:
    # Opening a store compares its revision with HEAD_REVISION, not with Alembic's (which takes loading Alembic).
    assert head_revision() == HEAD_REVISION
