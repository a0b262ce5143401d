"""The web application's own table: the guards count here, shared by every worker: the public form's uses
(`web.throttle`) and failed sign-ins (`web.signin`)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clearinghouse.db.base import Base, IdMixin

ADDRESS_KEY_BYTES = 16
"""Length of the keyed hash kept instead of an address (`web.throttle`): 128 bits, no two addresses alike."""


class FloodGuardUse(IdMixin, Base):
    """One counted event of the last hour (a use of the public form, a failed sign-in): when, and by whom as a
    keyed hash of the guard's scope and the address (and name), never the address or name itself."""

    __tablename__ = "flood_guard_uses"
    __table_args__ = (sa.Index("ix_flood_guard_uses_address_key_used_at", "address_key", "used_at"),)

    address_key: Mapped[bytes] = mapped_column(sa.LargeBinary(ADDRESS_KEY_BYTES), nullable=False)
    used_at: Mapped[dt.datetime] = mapped_column(nullable=False, index=True)
    """Also indexed alone, for forgetting the uses of every address at once."""
