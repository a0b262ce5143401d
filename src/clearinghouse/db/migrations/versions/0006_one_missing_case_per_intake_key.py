"""one missing case per intake key: the intake key's index becomes unique

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 16:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Fails if a store already holds two cases of one episode (the race this closes): merge them first.
    with op.batch_alter_table("missing_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_missing_cases_intake_key")
        batch_op.create_index("ix_missing_cases_intake_key", ["intake_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("missing_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_missing_cases_intake_key")
        batch_op.create_index("ix_missing_cases_intake_key", ["intake_key"], unique=False)
