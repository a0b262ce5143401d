"""Bank files read as they stream in: the same records, lines and refusals whatever the chunks the text comes in,
syntax errors placed as `json.loads` places them, bytes that are not UTF-8 found across chunks, and the
statistics SQLite plans bank lookups with."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from clearinghouse.db.engine import Store
from clearinghouse.hashing import csvio, jsonstream, service, transfer, vics
from clearinghouse.hashing.models import BankKind
from clearinghouse.hashing.schemas import EntryIn, ImportFormatError
from clearinghouse.hashing.transfer import import_file, open_text
from clearinghouse.victim_id import queue
from tests.hashing.test_vics import MEDIA, cases_document, media_document

MD5 = "9e107d9d372bb6826bd81d3542a419d6"
SHA1 = "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"


def _mixed_media() -> list[Any]:
    return [
        *copy.deepcopy(MEDIA),
        {"MediaID": 4, "MD5": "not-a-digest", "Note": 'caf\u00e9 \u20ac \U0001f600 \\ " \n'},
        {"MediaID": 5, "MD5": MD5.upper(), "MediaSize": 12345678901234567890, "Ratio": -1.5e-7},
        {"MediaID": 6, "Category": 100, "SHA1": SHA1},
        "not an object",
        {"MediaID": 7, "SHA1": SHA1, "Deep": [[[{"a": [1, 2, {"b": None}]}]]], "Flag": True},
    ]


DOCUMENTS = [
    json.dumps(media_document(_mixed_media()), indent=2),
    json.dumps(media_document(_mixed_media())),
    json.dumps(cases_document(_mixed_media()), indent=1),
    json.dumps({"value": [{"CaseID": 1, "Media": []}, {"CaseID": 2, "Media": [{"MD5": MD5}]}]}),
    '{\n "value": [\n  {"MD5": "' + MD5 + '", "MediaSize": NaN},\n  {"MD5": "' + MD5 + '", "X": -Infinity}\n ]\n}\n',
    '{"value": [{"MD5": "' + MD5 + '"}, {"Media": [], "MD5": "' + MD5 + '"}]}',
    '{"value": [\n  {"MD5": "' + MD5 + '"},\n  {"MD5": "' + MD5 + '" "SHA1": "x"}\n]}',
    '{"value": [{"CaseID": "a", "Media": [{"MD5": "' + MD5 + '"}]},\n {"CaseID": "b"}]}',
    '{"value": [], "value": []}',
    '{"value": 7}',
    "",
]


def outcome(text: str) -> Any:
    """What reading ``text`` gives: entries and refusals, or the refusal of the whole file."""
    try:
        entries, errors = vics.parse(text)
    except ImportFormatError as error:
        return error.line, error.reason
    return [entry.model_dump() for entry in entries], [(error.line, error.reason) for error in errors]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 64])
def test_any_chunking_of_the_text_gives_the_same_records_and_lines(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    expected = [outcome(text) for text in DOCUMENTS]
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    assert [outcome(text) for text in DOCUMENTS] == expected


def test_entries_and_lines_are_those_of_the_whole_document() -> None:
    text = DOCUMENTS[0]
    entries, errors = vics.parse(text)
    assert len(entries) == 5
    lines = text.splitlines()
    assert [(lines[error.line - 1].strip(), lines[error.line].strip()[:12]) for error in errors] == [
        ("{", '"MediaID": 4'),
        ("{", '"MediaID": 6'),
        ('"not an object",', "{"),
    ]
    assert entries[3].attributes["MediaSize"] == 12345678901234567890
    cases, case_errors = vics.parse(DOCUMENTS[2])
    assert [entry.model_dump() for entry in cases] == [entry.model_dump() for entry in entries]
    assert len(case_errors) == 3


BROKEN = [
    '{"value": [\n {"MD5": "' + MD5 + '"}\n {"MD5": "' + MD5 + '"}]}',
    '{"@odata.context": "x",\n "value": [{"MD5": "' + MD5 + '", "SHA1" "x"}]}',
    '{"value": [{"MD5": "' + MD5 + '"},\n  {"MD5": "' + MD5 + '",\n "x": tru}]}',
    '{"value": [{"CaseID": 1, "Media": [{"MD5": "' + MD5 + '"},\n]}]}',
    '{"value": [{"CaseID": 1, "Media": [{"MD5": "' + MD5 + '"}}]}',
    '{"value": [{"CaseID": 1, "Media": []},\n oops]}',
    '{"value": []}\n\n  x',
    '{"value": [],\n}',
    '{"value": [{"MD5": "' + MD5 + '"}]',
    '{"value": [{"MD5": "ab\ncd"}]}',
    '{"value": [{"MD5": "abc',
    '{\n\n  "value": [{"MD5": 12',
    "md5,sha1\n" + MD5 + ",\n",
]


@pytest.mark.parametrize("text", BROKEN)
@pytest.mark.parametrize("chunk", [3, jsonstream.CHUNK])
def test_a_syntax_error_is_placed_as_json_places_it(monkeypatch: pytest.MonkeyPatch, text: str, chunk: int) -> None:
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(ImportFormatError) as caught:
        vics.parse(text)
    place = expected.value
    assert (caught.value.line, caught.value.reason) == (
        place.lineno,
        f"not valid JSON: {place.msg} (column {place.colno})",
    )


def test_a_value_longer_than_the_limit_is_refused_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "MAX_VALUE", 1000)
    monkeypatch.setattr(jsonstream, "CHUNK", 100)
    text = '{"value": [{"MD5": "' + MD5 + '"},\n{"MD5": "' + MD5 + '", "Thumbnail": "' + "A" * 5000 + '"}]}'
    with pytest.raises(ImportFormatError, match="a value longer than") as caught:
        vics.parse(text)
    assert caught.value.line == 2


@pytest.mark.parametrize("scan", [1, 2, 3, 7, transfer._SCAN])
def test_the_first_byte_that_is_not_utf8_is_found_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scan: int
) -> None:
    monkeypatch.setattr(transfer, "_SCAN", scan)
    good = "md5,note\n" + f"{MD5},caf\u00e9\n{MD5},\u20ac\n{MD5},\U0001f600\n"
    for tail, line in [(b"\xff,x\n", 5), (b"\xe2\x82", 5), (b"\xc3(\n", 5)]:
        data = b"\xef\xbb\xbf" + good.encode() + MD5.encode() + b"," + tail
        path = tmp_path / "bank.csv"
        path.write_bytes(data)
        with pytest.raises(ImportFormatError) as caught, open_text(path) as stream:
            list(csvio.read(stream))
        offset = len(data) - len(tail)
        assert (caught.value.line, caught.value.reason) == (line, f"not UTF-8 text (byte {offset})")


def test_a_csv_line_longer_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvio, "MAX_LINE", 100)
    with pytest.raises(ImportFormatError, match="a line longer than") as caught:
        csvio.parse(f"md5\n{MD5}\n" + "x" * 500 + "\n")
    assert caught.value.line == 3


def _bank_file(tmp_path: Path, name: str, first: int, count: int) -> Path:
    path = tmp_path / f"{name}.csv"
    rows = "".join(f"{n:032x},{n:040x},series-{n % 7}\n" for n in range(first, first + count))
    path.write_text("md5,sha1,series\n" + rows, encoding="utf-8")
    return path


def _plans(store: Store, statements: list[tuple[str, Any]]) -> list[str]:
    with store.engine.connect() as connection:
        return [
            " ".join(str(row) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            for statement, parameters in statements
        ]


def test_an_import_leaves_statistics_and_lookups_of_one_bank_use_the_value_index(store: Store, tmp_path: Path) -> None:
    # Without statistics SQLite's planner took the bank's index for a value looked up in one bank, reading every
    # hash of the bank: removing a hash, or checking the series bank before an analyst's attachment.
    with store.unit_of_work() as session:
        for name, first in (("A", 0), ("B", 10_000)):
            bank = service.get_or_create_bank(session=session, name=name, kind=BankKind.KNOWN_ABUSE)
            report = import_file(session=session, bank=bank, path=_bank_file(tmp_path, name, first, 3_000))
            assert (report.added, report.refused) == (3_000, 0)
    with store.engine.connect() as connection:
        measured = {row[0] for row in connection.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
    assert "hash_bank_hashes" in measured
    statements: list[tuple[str, Any]] = []

    def capture(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "hash_bank_hashes.value" in statement:
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.unit_of_work() as session:
            bank = service.get_bank(session=session, name="B")
            assert len(service.remove_hash(session=session, bank=bank, hash_type="md5", value=f"{10_001:032x}")) == 1
            assert service.remove_hash(session=session, bank=bank, hash_type="md5", value=f"{1:032x}") == []
            code = f"series-{10_002 % 7}"  # its own series: no conflict
            queue._check_bank(session, bank, code, [EntryIn(hashes={"md5": f"{10_002:032x}"}, series=code)])
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert len(statements) == 3
    for plan in _plans(store, statements):
        assert "ix_hash_bank_hashes_type_value" in plan, plan
    with store.unit_of_work() as session:
        remaining = session.scalar(sa.select(sa.func.count()).select_from(sa.table("hash_bank_hashes")))
    assert remaining == 2 * 6_000 - 1
