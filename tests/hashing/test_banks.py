"""Banks in the store: creating, listing, adding (idempotently), removing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import event

from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict, NotFound
from clearinghouse.hashing import service
from clearinghouse.hashing.models import BankKind
from clearinghouse.hashing.schemas import BankCreate, EntryIn

MD5_A = "9e107d9d372bb6826bd81d3542a419d6"
MD5_B = "e4d909c290d0fb1ca068ffaddf22cbd0"
SHA1_A = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def test_create_list_and_refuse_duplicates(store: Store) -> None:
    with store.unit_of_work() as session:
        service.create_bank(session=session, bank_in=BankCreate(name="Known", kind=BankKind.KNOWN_ABUSE, source="VIC"))
        service.create_bank(session=session, bank_in=BankCreate(name="Benign", kind=BankKind.ALLOW_LIST))
    with store.unit_of_work() as session, pytest.raises(Conflict, match="already exists"):
        service.create_bank(session=session, bank_in=BankCreate(name="Known", kind=BankKind.ALLOW_LIST))
    with store.unit_of_work() as session:
        banks = service.list_banks(session=session)
    assert [(bank.name, bank.kind, bank.entry_count) for bank in banks] == [
        ("Benign", BankKind.ALLOW_LIST, 0),
        ("Known", BankKind.KNOWN_ABUSE, 0),
    ]
    assert banks[1].source == "VIC"
    assert banks[1].created_at.tzinfo is not None


def test_get_or_create_refuses_another_kind(store: Store) -> None:
    with store.unit_of_work() as session:
        first = service.get_or_create_bank(session=session, name="Series", kind=BankKind.IDENTIFIED_SERIES)
        again = service.get_or_create_bank(session=session, name="Series", kind=BankKind.IDENTIFIED_SERIES)
        assert first.id == again.id
        with pytest.raises(Conflict, match="is a identified_series bank"):
            service.get_or_create_bank(session=session, name="Series", kind=BankKind.ALLOW_LIST)
        with pytest.raises(NotFound):
            service.get_bank(session=session, name="Nope")


def test_entries_are_added_once_and_updated_on_repeat(store: Store) -> None:
    added_at = dt.datetime(2023, 4, 5, 6, 7, 8, tzinfo=dt.UTC)
    entries = [
        EntryIn(hashes={"md5": MD5_A.upper(), "sha1": SHA1_A}, series="Blue", category="1", added_at=added_at),
        EntryIn(hashes={"md5": MD5_B, "pdq": PDQ_A}, pdq_quality=90, victim_identified=True),
        EntryIn(hashes={"sha1": SHA1_A}, series="Blue-2"),  # same file as the first, later in the import
    ]
    with store.unit_of_work() as session:
        bank = service.create_bank(session=session, bank_in=BankCreate(name="K", kind=BankKind.KNOWN_ABUSE))
        assert service.add_entries(session=session, bank=bank, entries=entries) == (2, 1)
    with store.unit_of_work() as session:
        bank = service.get_bank(session=session, name="K")
        assert service.add_entries(session=session, bank=bank, entries=entries[:2]) == (0, 2)
        stored = list(service.iter_entries(session=session, bank=bank))
        assert len(stored) == 2
        first = stored[0]
        assert first.series == "Blue"
        assert first.added_at == added_at
        assert {row.hash_type: row.value for row in first.hashes} == {"md5": MD5_A, "sha1": SHA1_A}
        assert {row.hash_type: row.quality for row in stored[1].hashes} == {"md5": None, "pdq": 90}
        assert service.list_banks(session=session)[0].hash_count == 4


def test_entries_are_validated_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="md5"):
        EntryIn(hashes={"md5": "abc"})
    with pytest.raises(ValidationError, match="at least one hash"):
        EntryIn(hashes={})
    with pytest.raises(ValidationError, match="time zone"):
        EntryIn(hashes={"md5": MD5_A}, added_at=dt.datetime(2024, 1, 1))
    with pytest.raises(ValidationError, match="unknown hash type"):
        EntryIn(hashes={"crc": "00"})


def test_removing_a_hash_removes_an_entry_left_without_hashes(store: Store) -> None:
    with store.unit_of_work() as session:
        bank = service.create_bank(session=session, bank_in=BankCreate(name="K", kind=BankKind.KNOWN_ABUSE))
        service.add_entries(
            session=session,
            bank=bank,
            entries=[EntryIn(hashes={"md5": MD5_A, "sha1": SHA1_A}), EntryIn(hashes={"md5": MD5_B})],
        )
    with store.unit_of_work() as session:
        bank = service.get_bank(session=session, name="K")
        removed = service.remove_hash(session=session, bank=bank, hash_type="md5", value=MD5_A)
        assert [(row.hash_type, row.value) for row in removed] == [("md5", MD5_A)]
        assert len(list(service.iter_entries(session=session, bank=bank))) == 2  # SHA-1 keeps the entry
        service.remove_hash(session=session, bank=bank, hash_type="md5", value=MD5_B)
        assert service.remove_hash(session=session, bank=bank, hash_type="md5", value=MD5_B) == []
    with store.unit_of_work() as session:
        bank = service.get_bank(session=session, name="K")
        assert len(list(service.iter_entries(session=session, bank=bank))) == 1
        service.delete_bank(session=session, bank=bank)
    with store.unit_of_work() as session:
        assert service.list_banks(session=session) == []


def test_hashes_are_read_back_with_their_bank(store: Store) -> None:
    with store.unit_of_work() as session:
        bank = service.create_bank(session=session, bank_in=BankCreate(name="S", kind=BankKind.IDENTIFIED_SERIES))
        service.add_entries(session=session, bank=bank, entries=[EntryIn(hashes={"pdq": PDQ_A}, series="Red")])
    with store.unit_of_work() as session:
        rows = list(service.hashes_after(session=session))
        assert [(row.bank, row.bank_kind, row.series, row.hash_type) for row in rows] == [
            ("S", BankKind.IDENTIFIED_SERIES, "Red", "pdq")
        ]
        assert service.hash_rows(session=session, ids=[rows[0].id, 99_999]).keys() == {rows[0].id}
        assert service.newest_hash_id(session=session) == rows[0].id
        assert list(service.hashes_after(session=session, after_id=rows[0].id)) == []


def test_adding_to_a_bank_finds_existing_hashes_through_their_index(store: Store) -> None:
    # Given the bank's id beside the values, SQLite's planner took the bank's index and read every hash of the
    # bank for each batch of 500: an import's time grew with the square of its size.
    statements: list[tuple[str, Any]] = []

    def capture(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "hash_bank_hashes.value IN" in statement:
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.unit_of_work() as session:
            bank = service.get_or_create_bank(session=session, name="Known", kind=BankKind.KNOWN_ABUSE)
            service.add_entries(session=session, bank=bank, entries=[EntryIn(hashes={"md5": MD5_A, "sha1": SHA1_A})])
            assert service.add_entries(session=session, bank=bank, entries=[EntryIn(hashes={"md5": MD5_A})]) == (0, 1)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert statements
    with store.engine.connect() as connection:
        for statement, parameters in statements:
            plan = " ".join(
                str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert "ix_hash_bank_hashes_type_value" in plan, plan
