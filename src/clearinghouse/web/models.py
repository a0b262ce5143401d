"""The web application's own table: the public form's flood guard counts uses here, shared by every worker."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, IdMixin

ADDRESS_KEY_BYTES = 16
"""Length of the keyed hash kept instead of an address (`web.throttle`): 128 bits, no two addresses alike."""


class FloodGuardUse(IdMixin, Base):
    """One use of a guarded form within the last hour: when, and by whom as a keyed hash, never the address."""

    __tablename__ = "flood_guard_uses"
    __table_args__ = (sa.Index("ix_flood_guard_uses_address_key_used_at", "address_key", "used_at"),)

    address_key: Mapped[bytes] = mapped_column(sa.LargeBinary(ADDRESS_KEY_BYTES), nullable=False)
    used_at: Mapped[dt.datetime] = mapped_column(nullable=False, index=True)
    """Also indexed alone, for forgetting the uses of every address at once."""
