"""location clues of each file: stored when the platform describes the file, so that finishing only gathers them

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # autogenerate writes JSONB(astext_type=Text())
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL on the files described before: finishing their reports computes their clues from the details instead.
    with op.batch_alter_table("tipline_files", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "location_evidence",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("tipline_files", schema=None) as batch_op:
        batch_op.drop_column("location_evidence")
