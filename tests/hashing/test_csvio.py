"""CSV hash sets: every column read and written back, bad rows reported by line, unusable files refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from clearinghouse.db.engine import Store
from clearinghouse.hashing import csvio, service
from clearinghouse.hashing.kinds import FileFormat
from clearinghouse.hashing.models import BankKind
from clearinghouse.hashing.schemas import ImportFormatError
from clearinghouse.hashing.transfer import export_text, import_file

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
GOOD = (
    "MD5,sha1,pdq,pdq_quality,series,category,victim_identified,added_at,attributes,Case Ref\n"
    f'9E107D9D372BB6826BD81D3542A419D6,,{PDQ},87,Sunflower,1,yes,2024-03-01T10:00:00+02:00,"{{""k"": [1, 2]}}",C-9\n'
    ",2fd4e1c67a2d28fced849ee1bb76e7391b93eb12,,,,,,,,\n"
)


def test_rows_are_read_into_entries() -> None:
    entries, errors = csvio.parse(GOOD)
    assert errors == []
    first, second = entries
    assert first.hashes == {"md5": "9e107d9d372bb6826bd81d3542a419d6", "pdq": PDQ}
    assert (first.pdq_quality, first.series, first.category, first.victim_identified) == (87, "Sunflower", "1", True)
    assert first.added_at == dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert first.attributes == {"k": [1, 2], "Case Ref": "C-9"}
    assert second.hashes == {"sha1": "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"}
    assert second.victim_identified is None


def test_round_trip_through_a_bank(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(GOOD, encoding="utf-8")
    with store.unit_of_work() as session:
        bank = service.get_or_create_bank(session=session, name="C", kind=BankKind.KNOWN_ABUSE)
        assert import_file(session=session, bank=bank, path=path).added == 2
        text, _ = export_text(session=session, bank=bank, file_format=FileFormat.CSV)
    exported_path = tmp_path / "out.csv"
    exported_path.write_text(text, encoding="utf-8")
    with store.unit_of_work() as session:
        copy = service.get_or_create_bank(session=session, name="Copy", kind=BankKind.KNOWN_ABUSE)
        import_file(session=session, bank=copy, path=exported_path)
        again, _ = export_text(session=session, bank=copy, file_format=FileFormat.CSV)
    assert again == text
    assert text.splitlines()[0] == ",".join(csvio.COLUMNS)
    first, second = csvio.parse(text)[0]
    assert first.attributes == {"k": [1, 2], "Case Ref": "C-9"}
    assert first.added_at == dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert second.added_at is not None


def test_bad_rows_are_reported_by_line_and_good_rows_load() -> None:
    text = (
        "md5,victim_identified,added_at,pdq_quality,attributes\n"
        "9e107d9d372bb6826bd81d3542a419d6,no,,,\n"
        "zzz,,,,\n"
        "e4d909c290d0fb1ca068ffaddf22cbd0,perhaps,,,\n"
        "e4d909c290d0fb1ca068ffaddf22cbd1,,2024-01-01T00:00:00,,\n"
        "e4d909c290d0fb1ca068ffaddf22cbd2,,,50,\n"
        '"e4d909c290d0fb1ca068ffaddf22cbd3",,,,"[1,\n2]"\n'
        "e4d909c290d0fb1ca068ffaddf22cbd4,,,\n"
        ",,,,\n"
        "e4d909c290d0fb1ca068ffaddf22cbd5,true,,,\n"
    )
    entries, errors = csvio.parse(text)
    assert [entry.hashes["md5"][-1] for entry in entries] == ["6", "5"]
    assert [(error.line, error.reason.split(":")[0]) for error in errors] == [
        (3, "md5"),
        (4, "victim_identified"),
        (5, "added_at"),
        (6, "pdq_quality"),
        (7, "attributes"),
        (9, "expected 5 fields, found 4"),
    ]
    assert "time zone" in errors[2].reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty file"), ("series,category\nx,y\n", "no hash column"), ("md5,MD5\n", "repeated column")],
)
def test_unusable_files_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ImportFormatError, match=reason) as caught:
        csvio.parse(text)
    assert caught.value.line == 1


@pytest.mark.parametrize(
    ("cells", "field", "fragment"),
    [
        (",9999-01-01T00:00:00+00:00", "added_at", "is in the future"),
        (",2100-06-01T12:00:00+02:00", "added_at", "is in the future"),
        (",1970-01-01T00:00:00+00:00", "added_at", "before 1990-01-01"),
        ("-1,", "category", "0 to 99"),
        ("100,", "category", "0 to 99"),
        (f"{10**30},", "category", "0 to 99"),
        ("one,", "category", "0 to 99"),
        ("\u00b2,", "category", "0 to 99"),  # a superscript two is no category
    ],
)
def test_implausible_dates_and_categories_are_refused_by_line(cells: str, field: str, fragment: str) -> None:
    text = f"md5,category,added_at\n9e107d9d372bb6826bd81d3542a419d6,1,\ne4d909c290d0fb1ca068ffaddf22cbd0,{cells}\n"
    entries, errors = csvio.parse(text)
    assert len(entries) == 1
    assert [(error.line, error.reason.split(":")[0]) for error in errors] == [(3, field)]
    assert fragment in errors[0].reason


def test_a_category_is_stored_as_its_number_and_a_recent_time_loads() -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    text = f"md5,category,added_at\n9e107d9d372bb6826bd81d3542a419d6, 02 ,{now.isoformat()}\n"
    entries, errors = csvio.parse(text)
    assert errors == []
    assert (entries[0].category, entries[0].added_at) == ("2", now)


@pytest.mark.parametrize("quality", ["abc", "50.0", "\uff11\uff12", "1e2", "-"])
def test_a_quality_that_is_not_a_whole_number_is_refused_naming_its_column(quality: str) -> None:
    entries, errors = csvio.parse(f"pdq,pdq_quality\n{PDQ},{quality}\n")
    assert entries == []
    assert [(error.line, error.reason.split(":")[0]) for error in errors] == [(2, "pdq_quality")]
    assert "whole number from 0 to 100" in errors[0].reason


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_attributes_with_a_number_json_does_not_have_are_refused(constant: str) -> None:
    entries, errors = csvio.parse(f'md5,attributes\n9e107d9d372bb6826bd81d3542a419d6,"{{""size"": {constant}}}"\n')
    assert entries == []
    assert [(error.line, error.reason.split(":")[0]) for error in errors] == [(2, "attributes")]
    assert f"{constant} is not a JSON value" in errors[0].reason


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolons_and_tabs_separate_columns_as_the_header_does(separator: str) -> None:
    # Spreadsheets save "CSV" with semicolons where the decimal mark is a comma; tab-separated exports are common.
    text = (
        separator.join(["MD5", "category", "attributes"])
        + "\r\n"
        + separator.join(["9E107D9D372BB6826BD81D3542A419D6", "1", '"{""k"": [1, 2]}"'])
        + "\r\n"
        + separator.join(["zz", "", ""])
        + "\r\n"
    )
    entries, errors = csvio.parse(text)
    assert [(entry.hashes, entry.category, entry.attributes) for entry in entries] == [
        ({"md5": "9e107d9d372bb6826bd81d3542a419d6"}, "1", {"k": [1, 2]})
    ]
    assert [(error.line, error.reason.split(":")[0]) for error in errors] == [(3, "md5")]


def test_an_import_lists_the_first_bad_rows_and_counts_them_all(store: Store, tmp_path: Path) -> None:
    from clearinghouse.hashing.schemas import MAX_LISTED

    path = tmp_path / "many.csv"
    bad = MAX_LISTED + 7
    path.write_text("md5\n" + "zz\n" * bad + "9e107d9d372bb6826bd81d3542a419d6\n", encoding="utf-8")
    with store.unit_of_work() as session:
        bank = service.get_or_create_bank(session=session, name="M", kind=BankKind.KNOWN_ABUSE)
        report = import_file(session=session, bank=bank, path=path)
    assert (report.added, report.refused, len(report.errors)) == (1, bad, MAX_LISTED)
    assert [error.line for error in report.errors[:2]] == [2, 3]
    assert report.errors[-1].line == MAX_LISTED + 1
