"""partial indexes on tipline reports: only unprocessed reports in the queue and status indexes, only bundled
reports in the bundle index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 15:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPROCESSED = sa.text("processed_at IS NULL")
BUNDLED = sa.text("bundle_id IS NOT NULL")


def upgrade() -> None:
    # Processed reports (nearly all) leave the queue and status indexes; unbundled ones the bundle index. A report
    # filed already processed (bulk intake in one pass) then writes three index entries fewer.
    with op.batch_alter_table("tipline_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_tipline_reports_queue")
        batch_op.drop_index("ix_tipline_reports_status_changed")
        batch_op.drop_index("ix_tipline_reports_bundle_id")
        batch_op.create_index(
            "ix_tipline_reports_queue",
            ["status", "id"],
            unique=False,
            sqlite_where=UNPROCESSED,
            postgresql_where=UNPROCESSED,
        )
        batch_op.create_index(
            "ix_tipline_reports_status_changed",
            ["status", "last_changed_at"],
            unique=False,
            sqlite_where=UNPROCESSED,
            postgresql_where=UNPROCESSED,
        )
        batch_op.create_index(
            "ix_tipline_reports_bundle_id",
            ["bundle_id"],
            unique=False,
            sqlite_where=BUNDLED,
            postgresql_where=BUNDLED,
        )


def downgrade() -> None:
    with op.batch_alter_table("tipline_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_tipline_reports_bundle_id")
        batch_op.drop_index("ix_tipline_reports_status_changed")
        batch_op.drop_index("ix_tipline_reports_queue")
        batch_op.create_index("ix_tipline_reports_bundle_id", ["bundle_id"], unique=False)
        batch_op.create_index("ix_tipline_reports_status_changed", ["status", "last_changed_at"], unique=False)
        batch_op.create_index("ix_tipline_reports_queue", ["status", "processed_at"], unique=False)
