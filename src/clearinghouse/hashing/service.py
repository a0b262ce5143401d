"""Operations on hash banks: create and list banks, add and remove entries, read hashes for the matcher.

Every function takes the caller's session and never commits: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from clearinghouse.db.base import utcnow
from clearinghouse.errors import Conflict, NotFound
from clearinghouse.hashing.models import BankEntry, BankHash, BankKind, HashBank
from clearinghouse.hashing.schemas import BankCreate, BankRead, EntryIn

T = TypeVar("T")
_CHUNK = 500
"""Rows per IN (...) list and per insert batch: well under SQLite's and PostgreSQL's parameter limits."""


@dataclass(frozen=True)
class HashRow:
    """One bank hash as the matcher needs it, with where it comes from."""

    id: int
    hash_type: str
    value: str
    quality: int | None
    entry_id: int
    bank_id: int
    bank: str
    bank_kind: BankKind
    series: str | None
    category: str | None
    victim_identified: bool | None


def _chunks(items: Iterable[T], size: int = _CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def create_bank(*, session: Session, bank_in: BankCreate) -> HashBank:
    """Create a bank; a bank of the same name is a conflict."""
    if session.scalar(sa.select(HashBank.id).where(HashBank.name == bank_in.name)) is not None:
        raise Conflict(f"a bank named {bank_in.name!r} already exists")
    bank = HashBank(name=bank_in.name, kind=bank_in.kind, source=bank_in.source, description=bank_in.description)
    session.add(bank)
    session.flush()
    return bank


def get_bank(*, session: Session, name: str) -> HashBank:
    """The bank called ``name``."""
    bank = session.scalar(sa.select(HashBank).where(HashBank.name == name))
    if bank is None:
        raise NotFound("bank", name)
    return bank


def get_or_create_bank(*, session: Session, name: str, kind: BankKind, source: str = "") -> HashBank:
    """The bank called ``name``, created with ``kind`` if missing; an existing bank of another kind conflicts."""
    bank = session.scalar(sa.select(HashBank).where(HashBank.name == name))
    if bank is None:
        return create_bank(session=session, bank_in=BankCreate(name=name, kind=kind, source=source))
    if bank.kind != kind:
        raise Conflict(f"bank {name!r} is a {bank.kind.value} bank, not {kind.value}")
    return bank


def list_banks(*, session: Session) -> list[BankRead]:
    """Every bank with its number of entries and hashes, by name."""
    entries = sa.select(BankEntry.bank_id, sa.func.count().label("n")).group_by(BankEntry.bank_id).subquery()
    hashes = sa.select(BankHash.bank_id, sa.func.count().label("n")).group_by(BankHash.bank_id).subquery()
    rows = session.execute(
        sa.select(HashBank, sa.func.coalesce(entries.c.n, 0), sa.func.coalesce(hashes.c.n, 0))
        .outerjoin(entries, entries.c.bank_id == HashBank.id)
        .outerjoin(hashes, hashes.c.bank_id == HashBank.id)
        .order_by(HashBank.name)
    ).all()
    return [
        BankRead.model_validate(bank).model_copy(update={"entry_count": entry_count, "hash_count": hash_count})
        for bank, entry_count, hash_count in rows
    ]


def add_entries(*, session: Session, bank: HashBank, entries: Iterable[EntryIn]) -> tuple[int, int]:
    """Add entries to ``bank``; returns (added, updated).

    An entry sharing any hash with an entry already in the bank updates that entry instead (its metadata is
    replaced by the values given, its attributes merged, missing hashes added), so importing the same file
    twice changes nothing. ``entries`` is consumed a chunk at a time, so it may be a file being read.
    """
    added = updated = 0
    for chunk in _chunks(entries):
        existing = _entries_by_hash(session, bank.id, chunk)
        fresh: list[EntryIn] = []
        claimed: dict[tuple[str, str], int] = {}
        for entry in chunk:
            keys = list(entry.hashes.items())
            found = next((existing[key] for key in keys if key in existing), None)
            duplicate = next((claimed[key] for key in keys if key in claimed), None)
            if found is not None:
                _update_entry(session, found, entry)
                updated += 1
            elif duplicate is not None:
                fresh[duplicate] = _merged(fresh[duplicate], entry)
                claimed.update(dict.fromkeys(keys, duplicate))
                updated += 1
            else:
                for key in keys:
                    claimed[key] = len(fresh)
                fresh.append(entry)
        _insert_entries(session, bank.id, fresh)
        added += len(fresh)
        session.flush()  # the entries updated are then let go: an import holds one chunk at a time
    return added, updated


def _entries_by_hash(session: Session, bank_id: int, batch: Sequence[EntryIn]) -> dict[tuple[str, str], BankEntry]:
    """The entries of the bank holding any hash of ``batch``, by (hash type, value).

    Looked up by hash type and value alone, whose index finds each value at once, and kept to the bank here:
    given the bank too, SQLite's planner takes the bank's index and reads every hash of the bank for each batch,
    so that an import took time growing with the square of its size."""
    names = sorted({name for entry in batch for name in entry.hashes})
    values = sorted({value for entry in batch for value in entry.hashes.values()})
    if not values:
        return {}
    found = session.execute(
        sa.select(BankHash.hash_type, BankHash.value, BankHash.entry_id, BankHash.bank_id).where(
            BankHash.hash_type.in_(names), BankHash.value.in_(values)
        )
    ).all()
    owners = {(hash_type, value): entry_id for hash_type, value, entry_id, owner in found if owner == bank_id}
    if not owners:
        return {}
    entries = session.scalars(
        sa.select(BankEntry).where(BankEntry.id.in_(set(owners.values()))).options(selectinload(BankEntry.hashes))
    ).all()
    by_id = {entry.id: entry for entry in entries}
    return {key: by_id[entry_id] for key, entry_id in owners.items()}


def _update_entry(session: Session, entry: BankEntry, update: EntryIn) -> None:
    entry.series = update.series
    entry.category = update.category
    entry.victim_identified = update.victim_identified
    if update.added_at is not None:
        entry.added_at = update.added_at
    entry.attributes = {**(entry.attributes or {}), **update.attributes}
    present = {row.hash_type: row for row in entry.hashes}
    for hash_type, value in update.hashes.items():
        quality = update.pdq_quality if hash_type == "pdq" else None
        if hash_type in present:
            if present[hash_type].value == value and quality is not None:
                present[hash_type].quality = quality
            continue
        session.add(
            BankHash(entry_id=entry.id, bank_id=entry.bank_id, hash_type=hash_type, value=value, quality=quality)
        )


def _merged(target: EntryIn, other: EntryIn) -> EntryIn:
    """A later record of the same file in one import: its values win, hashes and attributes accumulate."""
    return other.model_copy(
        update={
            "hashes": {**other.hashes, **target.hashes},
            "attributes": {**target.attributes, **other.attributes},
        }
    )


def _insert_entries(session: Session, bank_id: int, entries: list[EntryIn]) -> None:
    if not entries:
        return
    now = utcnow()
    entry_ids = session.scalars(
        sa.insert(BankEntry).returning(BankEntry.id, sort_by_parameter_order=True),
        [
            {
                "bank_id": bank_id,
                "series": entry.series,
                "category": entry.category,
                "victim_identified": entry.victim_identified,
                "added_at": entry.added_at or now,
                "attributes": entry.attributes,
                "created_at": now,
            }
            for entry in entries
        ],
    ).all()
    session.execute(
        sa.insert(BankHash),
        [
            {
                "entry_id": entry_id,
                "bank_id": bank_id,
                "hash_type": hash_type,
                "value": value,
                "quality": entry.pdq_quality if hash_type == "pdq" else None,
            }
            for entry_id, entry in zip(entry_ids, entries, strict=True)
            for hash_type, value in entry.hashes.items()
        ],
    )


def remove_hash(*, session: Session, bank: HashBank, hash_type: str, value: str) -> list[HashRow]:
    """Remove a hash value from ``bank`` (an entry left without hashes goes too); returns what was removed.

    The matcher resolves every hit in the store, so the removal holds from the next lookup on, in every
    process; passing the returned rows to ``Matcher.forget`` also frees them from the in-memory index.
    """
    # Found by hash type and value alone, and kept to the bank here: given the bank too, SQLite's planner may take
    # the bank's index and read every hash of the bank (see `_entries_by_hash`).
    condition = sa.and_(BankHash.hash_type == hash_type, BankHash.value == value)
    rows = [row for row in _hash_rows(session, condition) if row.bank_id == bank.id]
    if not rows:
        return []
    session.execute(sa.delete(BankHash).where(BankHash.id.in_([row.id for row in rows])))
    emptied = sa.select(BankHash.id).where(BankHash.entry_id == BankEntry.id).exists()
    session.execute(sa.delete(BankEntry).where(BankEntry.id.in_({row.entry_id for row in rows}), ~emptied))
    session.flush()
    session.expire_all()
    return rows


def delete_bank(*, session: Session, bank: HashBank) -> None:
    """Delete a bank with all its entries and hashes."""
    session.execute(sa.delete(BankHash).where(BankHash.bank_id == bank.id))
    session.execute(sa.delete(BankEntry).where(BankEntry.bank_id == bank.id))
    session.delete(bank)
    session.flush()


def iter_entries(*, session: Session, bank: HashBank) -> Iterator[BankEntry]:
    """Every entry of ``bank`` with its hashes, oldest first."""
    statement = (
        sa.select(BankEntry)
        .where(BankEntry.bank_id == bank.id)
        .order_by(BankEntry.id)
        .options(selectinload(BankEntry.hashes))
        .execution_options(yield_per=_CHUNK)
    )
    yield from session.scalars(statement)


def _hash_rows(session: Session, condition: sa.ColumnElement[bool]) -> Iterator[HashRow]:
    statement = (
        sa.select(
            BankHash.id,
            BankHash.hash_type,
            BankHash.value,
            BankHash.quality,
            BankHash.entry_id,
            HashBank.id,
            HashBank.name,
            HashBank.kind,
            BankEntry.series,
            BankEntry.category,
            BankEntry.victim_identified,
        )
        .join(BankEntry, BankEntry.id == BankHash.entry_id)
        .join(HashBank, HashBank.id == BankHash.bank_id)
        .where(condition)
        .order_by(BankHash.id)
    )
    for row in session.execute(statement.execution_options(yield_per=10_000)):
        yield HashRow(*row)


def hash_rows(*, session: Session, ids: Iterable[int]) -> dict[int, HashRow]:
    """The bank hashes with these ids that still exist, by id."""
    found: dict[int, HashRow] = {}
    for chunk in _chunks(sorted(set(ids))):
        for row in _hash_rows(session, BankHash.id.in_(chunk)):
            found[row.id] = row
    return found


def hashes_after(*, session: Session, after_id: int = 0, hash_types: Sequence[str] | None = None) -> Iterator[HashRow]:
    """Every bank hash with an id above ``after_id`` (all of them by default), in id order."""
    condition = BankHash.id > after_id
    if hash_types is not None:
        condition = sa.and_(condition, BankHash.hash_type.in_(list(hash_types)))
    yield from _hash_rows(session, condition)


def index_entries_after(*, session: Session, after_id: int = 0) -> Iterator[tuple[int, str, str, int | None]]:
    """(id, hash type, value, quality) of every bank hash with an id above ``after_id``, in id order.

    The lean read the matcher is built from: no join, no objects.
    """
    statement = (
        sa.select(BankHash.id, BankHash.hash_type, BankHash.value, BankHash.quality)
        .where(BankHash.id > after_id)
        .order_by(BankHash.id)
        .execution_options(yield_per=50_000)
    )
    for row in session.execute(statement):
        yield row.id, row.hash_type, row.value, row.quality


def newest_hash_id(*, session: Session) -> int:
    """The highest bank-hash id so far (0 when there are none)."""
    return int(session.scalar(sa.select(sa.func.coalesce(sa.func.max(BankHash.id), 0))) or 0)
