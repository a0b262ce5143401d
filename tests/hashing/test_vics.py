"""Project VIC (VICS) files: a round trip keeps every field, bad entries are reported by line, bad files refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from clearinghouse.db.engine import Store
from clearinghouse.hashing import service, vics
from clearinghouse.hashing.kinds import FileFormat
from clearinghouse.hashing.models import BankKind
from clearinghouse.hashing.schemas import ImportFormatError
from clearinghouse.hashing.transfer import export_text, import_file

MEDIA: list[dict[str, Any]] = [
    {
        "odata.id": "Media(1)",
        "MediaID": 1,
        "Category": 1,
        "MD5": "ADEBF3FA3C9BE7F73825E1CB9E2DEA09",
        "SHA1": "2B037F69C566DFDB3A5A79E5360D085959BDDE4C",
        "MediaSize": 2835,
        "DateUpdated": "2023-06-07T02:31:49.8300Z",
        "IsPrecategorized": "true",
        "Series": "Sunflower",
        "VictimIdentified": True,
        "MediaFiles": [{"FileName": "a.jpg", "FilePath": "/DCIM/a.jpg"}],
    },
    {
        "MediaID": 2,
        "Category": 0,
        "MD5": "9E107D9D372BB6826BD81D3542A419D6",
        "SHA1": "",
        "VictimIdentified": False,
        "Series": None,
        "Tags": ["t1", "t2"],
    },
    {"MediaID": 3, "Category": None, "SHA1": "DE9F2C7FD25E1B3AFAD3E85A0BD17D9B100DB4B3", "OffenderIdentified": False},
]


def media_document(media: list[dict[str, Any]]) -> dict[str, Any]:
    return {"@odata.context": vics.MEDIA_CONTEXT, "value": media}


def cases_document(media: list[dict[str, Any]]) -> dict[str, Any]:
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Cases"
    return {
        "@odata.context": context,
        "value": [{"CaseID": "c-1", "Media": media[:2]}, {"CaseID": "c-2", "Media": media[2:]}],
    }


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def load(store: Store, path: Path, bank: str = "VIC") -> Any:
    with store.unit_of_work() as session:
        target = service.get_or_create_bank(session=session, name=bank, kind=BankKind.KNOWN_ABUSE)
        return import_file(session=session, bank=target, path=path)


def exported(store: Store, bank: str = "VIC") -> dict[str, Any]:
    with store.unit_of_work() as session:
        text, skipped = export_text(
            session=session, bank=service.get_bank(session=session, name=bank), file_format=FileFormat.VICS
        )
    assert skipped == 0
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.mark.parametrize("shape", [media_document, cases_document])
def test_round_trip_keeps_every_field(store: Store, tmp_path: Path, shape: Any) -> None:
    original = copy.deepcopy(MEDIA)
    report = load(store, write(tmp_path / "in.json", shape(original)))
    assert (report.added, report.updated, report.errors) == (3, 0, [])
    first = exported(store)
    assert first["value"] == MEDIA  # every field and value, digests in Project VIC's upper case
    load(store, write(tmp_path / "again.json", first), bank="Copy")
    assert exported(store, bank="Copy")["value"] == MEDIA
    again = load(store, write(tmp_path / "same.json", first))
    assert (again.added, again.updated) == (0, 3)  # importing the same file twice changes nothing
    assert exported(store)["value"] == MEDIA


def test_columns_are_read_from_the_media_fields() -> None:
    entries, errors = vics.parse(json.dumps(media_document(MEDIA)))
    assert errors == []
    first = entries[0]
    assert first.hashes == {"md5": MEDIA[0]["MD5"].lower(), "sha1": MEDIA[0]["SHA1"].lower()}
    assert (first.category, first.series, first.victim_identified) == ("1", "Sunflower", True)
    assert first.attributes["MediaSize"] == 2835
    assert "MD5" not in first.attributes
    assert entries[1].hashes == {"md5": MEDIA[1]["MD5"].lower()}
    assert entries[1].attributes["SHA1"] == ""


def test_bad_entries_are_reported_by_line_and_good_ones_load(store: Store, tmp_path: Path) -> None:
    media: list[Any] = [
        *copy.deepcopy(MEDIA),
        {"MediaID": 4, "MD5": "not-a-digest"},
        {"MediaID": 5, "Category": "one", "MD5": "E4D909C290D0FB1CA068FFADDF22CBD0"},
        {"MediaID": 6, "VictimIdentified": "maybe", "MD5": "E4D909C290D0FB1CA068FFADDF22CBD1"},
        {"MediaID": 7},
        "not an object",
    ]
    path = write(tmp_path / "mixed.json", media_document(media))
    report = load(store, path)
    assert report.added == 3
    lines = path.read_text(encoding="utf-8").splitlines()
    reasons = {error.line: error.reason for error in report.errors}
    assert len(reasons) == 5
    for line, fragment in zip(
        sorted(reasons), ["md5", "Category", "VictimIdentified", "MD5 or a SHA1", "JSON object"], strict=True
    ):
        assert fragment in reasons[line]
    assert '"MediaID": 4' in lines[sorted(reasons)[0]]  # the reported line opens the entry; the next names it
    assert lines[sorted(reasons)[-1] - 1].strip().startswith('"not an object"')


def test_categories_outside_project_vic_are_refused_by_line(store: Store, tmp_path: Path) -> None:
    media: list[Any] = [
        {"MediaID": 1, "Category": 2, "MD5": "E4D909C290D0FB1CA068FFADDF22CBD0"},
        {"MediaID": 2, "Category": -1, "MD5": "E4D909C290D0FB1CA068FFADDF22CBD1"},
        {"MediaID": 3, "Category": 10**30, "MD5": "E4D909C290D0FB1CA068FFADDF22CBD2"},
        {"MediaID": 4, "Category": "100", "MD5": "E4D909C290D0FB1CA068FFADDF22CBD3"},
        {"MediaID": 5, "Category": "", "MD5": "E4D909C290D0FB1CA068FFADDF22CBD4"},
        {"MediaID": 6, "Category": 99, "MD5": "E4D909C290D0FB1CA068FFADDF22CBD5"},
    ]
    path = write(tmp_path / "categories.json", media_document(media))
    report = load(store, path)
    assert report.added == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [lines[error.line].strip() for error in report.errors] == [f'"MediaID": {n},' for n in (2, 3, 4, 5)]
    for error in report.errors:
        assert error.reason.startswith("Category: expected a Project VIC category: a whole number from 0 to 99")
    assert "1000000000000000000000000000000" in report.errors[1].reason
    assert [media["Category"] for media in exported(store)["value"]] == [2, 99]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('{\n  "value": [\n    {"MD5": "00"},\n    oops\n  ]\n}', 4, "not valid JSON"),
        ('{"odata.metadata": "x"}', 1, "'value' list"),
        ("[1, 2]", 1, "'value' list"),
        ('{\n "value": [\n  {"CaseID": "a", "Media": []},\n  {"CaseID": "b", "Media": 5}\n ]\n}', 4, "'Media' list"),
    ],
)
def test_a_malformed_file_is_refused_with_its_line_and_the_banks_are_unchanged(
    store: Store, tmp_path: Path, text: str, line: int, reason: str
) -> None:
    load(store, write(tmp_path / "good.json", media_document(copy.deepcopy(MEDIA))))
    before = exported(store)
    bad = tmp_path / "bad.json"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFormatError) as caught:
        load(store, bad)
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert exported(store) == before
    with store.unit_of_work() as session:
        assert [bank.entry_count for bank in service.list_banks(session=session)] == [3]


def test_entries_without_md5_or_sha1_are_left_out_of_a_vics_export(store: Store) -> None:
    from clearinghouse.hashing.schemas import EntryIn

    with store.unit_of_work() as session:
        bank = service.get_or_create_bank(session=session, name="P", kind=BankKind.KNOWN_ABUSE)
        service.add_entries(session=session, bank=bank, entries=[EntryIn(hashes={"pdq": "0" * 64})])
        text, skipped = export_text(session=session, bank=bank, file_format=FileFormat.VICS)
    assert skipped == 1
    assert json.loads(text)["value"] == []


def test_numbers_json_does_not_have_are_refused_by_line(store: Store, tmp_path: Path) -> None:
    # Python's reader takes NaN and Infinity; stored, they made every export of the bank invalid JSON.
    path = tmp_path / "constants.json"
    path.write_text(
        '{"value": [\n'
        ' {"MD5": "9E107D9D372BB6826BD81D3542A419D6", "MediaSize": 10},\n'
        ' {"MD5": "E4D909C290D0FB1CA068FFADDF22CBD0", "MediaSize": NaN},\n'
        ' {"MD5": "E4D909C290D0FB1CA068FFADDF22CBD1", "MediaFiles": [{"Size": -Infinity}]},\n'
        ' {"MD5": "E4D909C290D0FB1CA068FFADDF22CBD2", "Category": Infinity}\n'
        "]}\n",
        encoding="utf-8",
    )
    report = load(store, path)
    assert report.added == 1
    assert [(error.line, error.reason) for error in report.errors] == [
        (3, "MediaSize: NaN is not a JSON value"),
        (4, "MediaFiles: -Infinity is not a JSON value"),
        (5, "Category: Infinity is not a JSON value"),
    ]
    json.loads(json.dumps(exported(store)), parse_constant=pytest.fail)
