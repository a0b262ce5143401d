"""Tables of hash banks: named sets of known content, their entries (one per file) and the entries' hashes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clearinghouse.db.base import Base, BigId, CreatedMixin, IdMixin, JSONType, UTCDateTime, utcnow
from clearinghouse.hashing.kinds import BankKind as BankKind  # re-exported: it was defined here once


class HashBank(IdMixin, CreatedMixin, Base):
    """A named set of hashes from one source."""

    __tablename__ = "hash_banks"

    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[BankKind] = mapped_column(sa.Enum(BankKind, native_enum=False, length=24), index=True)
    source: Mapped[str] = mapped_column(sa.String(200), default="")
    description: Mapped[str | None] = mapped_column(sa.Text)

    entries: Mapped[list[BankEntry]] = relationship(
        back_populates="bank", cascade="all, delete-orphan", passive_deletes=True
    )


class BankEntry(IdMixin, CreatedMixin, Base):
    """One known file in a bank: its metadata, and (in :class:`BankHash`) every hash it is known by.

    ``attributes`` keeps the fields of the imported record that have no column here (a VICS Media entry's
    MediaID, MediaSize, DateUpdated, ...), so that exporting gives back what was imported.
    """

    __tablename__ = "hash_bank_entries"

    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("hash_banks.id", ondelete="CASCADE"), index=True)
    series: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    category: Mapped[str | None] = mapped_column(sa.String(40))
    victim_identified: Mapped[bool | None]
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    bank: Mapped[HashBank] = relationship(back_populates="entries")
    hashes: Mapped[list[BankHash]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", passive_deletes=True, order_by="BankHash.id"
    )


class BankHash(Base):
    """One hash value of a bank entry. Deleting the row removes it from matching at the next lookup.

    ``bank_id`` repeats the entry's bank so that lookups and per-bank listings need no join.
    """

    __tablename__ = "hash_bank_hashes"
    __table_args__ = (
        sa.Index("ix_hash_bank_hashes_type_value", "hash_type", "value"),
        sa.UniqueConstraint("entry_id", "hash_type", name="uq_hash_bank_hashes_entry_type"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("hash_bank_entries.id", ondelete="CASCADE"), index=True)
    bank_id: Mapped[int] = mapped_column(sa.ForeignKey("hash_banks.id", ondelete="CASCADE"), index=True)
    hash_type: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[str] = mapped_column(sa.String(300))
    quality: Mapped[int | None] = mapped_column(sa.SmallInteger)

    entry: Mapped[BankEntry] = relationship(back_populates="hashes")
