"""The store's schema version, read and compared without Alembic.

Every command opens a store and checks that it is at this version's newest revision; loading Alembic for that
took a fifth of a second of each command's start. The newest revision is therefore written out here, and
`tests/db/test_migrations.py` keeps it equal to the newest migration shipped (`db.migrate.head_revision`): a new
migration fails that test until this line names it.
"""

from __future__ import annotations

import sqlalchemy as sa

HEAD_REVISION = "0008"
"""The id of the newest migration in `db/migrations/versions`."""

VERSION_TABLE = "alembic_version"
"""Where Alembic records the revision a store is at (its default table)."""

_RECORDED = sa.select(sa.column("version_num", sa.String)).select_from(sa.table(VERSION_TABLE))


class SeveralRevisions(Exception):
    """The store records more than one revision: a store of branched migrations, not one of ours."""

    def __init__(self, revisions: list[str]) -> None:
        super().__init__(f"more than one revision recorded ({', '.join(sorted(revisions))})")


def recorded_revision(connection: sa.Connection) -> str | None:
    """The revision the store at ``connection`` is at, or None when it records none (an empty or foreign store)."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    revisions = list(connection.execute(_RECORDED).scalars())
    if len(revisions) > 1:
        raise SeveralRevisions(revisions)
    return revisions[0] if revisions else None
