"""Alembic environment: runs against the engine handed over by clearinghouse.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from clearinghouse.db.models import metadata

config = context.config


def run_migrations() -> None:
    """Run migrations online, on the caller's engine when there is one."""
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            # A caller may narrow the target (attributes["target_metadata"]) to write one program's revision.
            target_metadata=config.attributes.get("target_metadata", metadata),
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
