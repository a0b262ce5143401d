"""flood guard uses: the public form's count of uses per address, shared by every worker of the server

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 23:44:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearinghouse.db.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only keyed hashes of addresses, never an address; rows older than an hour are deleted (`web.throttle`).
    op.create_table(
        "flood_guard_uses",
        sa.Column("address_key", sa.LargeBinary(length=16), nullable=False),
        sa.Column("used_at", clearinghouse.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flood_guard_uses")),
    )
    with op.batch_alter_table("flood_guard_uses", schema=None) as batch_op:
        batch_op.create_index("ix_flood_guard_uses_address_key_used_at", ["address_key", "used_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_flood_guard_uses_used_at"), ["used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flood_guard_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flood_guard_uses_used_at"))
        batch_op.drop_index("ix_flood_guard_uses_address_key_used_at")
    op.drop_table("flood_guard_uses")
