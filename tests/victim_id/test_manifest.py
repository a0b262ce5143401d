"""Manifests: VICS and CSV read into file hashes, bad records listed by line, nothing stored on a bad file."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict
from clearinghouse.geo.models import AgencyKind
from clearinghouse.hashing.transfer import FileFormat
from clearinghouse.victim_id.manifest import ManifestError, ManifestFile, detect_format, parse_manifest
from clearinghouse.victim_id.models import Submission, SubmissionFile
from tests.victim_id import world
from tests.victim_id.world import md5, sha1

AgencyId = Callable[[str, AgencyKind], int]


def test_vics_manifest_keeps_only_the_hashes() -> None:
    files = parse_manifest(world.vics_manifest((1, 11)))
    assert files == [ManifestFile(md5=md5(1), sha1=sha1(1)), ManifestFile(sha1=sha1(11))]


def test_vics_cases_shape_is_read_too() -> None:
    text = json.dumps({"value": [{"CaseID": 1, "Media": [{"MD5": md5(1)}, {"MD5": md5(2)}]}]})
    assert [file.md5 for file in parse_manifest(text)] == [md5(1), md5(2)]


def test_csv_manifest_with_pdq() -> None:
    pdq = "f" * 64
    text = f"md5,sha1,pdq,pdq_quality,file_name\n{md5(1).upper()},,{pdq},90,a.jpg\n,{sha1(2)},,,b.jpg\n"
    assert detect_format(text) is FileFormat.CSV
    files = parse_manifest(text)
    assert files == [ManifestFile(md5=md5(1), pdq=pdq, pdq_quality=90), ManifestFile(sha1=sha1(2))]
    assert files[0].query().pdq_quality == 90


def test_format_from_the_name_wins_over_the_content() -> None:
    assert detect_format("{", "hashes.csv") is FileFormat.CSV
    assert detect_format("md5\n", "hashes.JSON") is FileFormat.VICS
    assert detect_format('  {"value": []}', "manifest.txt") is FileFormat.VICS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("md5,sha1\n" + md5(1) + ",\nnot-a-hash,\n,\n" + md5(2) + ",zz\n", [(3, "md5"), (5, "sha1")]),
        ("md5\n" + md5(1) + "\n" + md5(2) + ",extra\n", [(3, "expected 1 fields, found 2")]),
        ("name,size\na.jpg,10\n", [(1, "names no hash column")]),
        ("", [(1, "empty file")]),
        (
            '{"value": [\n  {"MD5": "' + md5(1) + '"},\n  {"MD5": "12"},\n  {"Category": 1}\n]}',
            [(3, "md5: expected 32"), (4, "MD5 or a SHA1")],
        ),
        ('{"value": [\n  {"MD5": "' + md5(1) + '",}\n]}', [(2, "not valid JSON")]),
        ('{"media": []}', [(1, "'value' list")]),
        ('{"value": []}', [(1, "lists no file")]),
    ],
)
def test_bad_records_are_listed_by_line(text: str, expected: list[tuple[int, str]]) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    errors = caught.value.errors
    assert [error.line for error in errors] == [line for line, _ in expected]
    for error, (_, fragment) in zip(errors, expected, strict=True):
        assert fragment in error.reason
    assert caught.value.field == "manifest"
    assert f"line {expected[0][0]}" in str(caught.value)


def test_many_bad_records_are_summarised() -> None:
    text = "md5\n" + "bad\n" * 15
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    assert len(caught.value.errors) == 15
    assert "and 5 more" in str(caught.value)


def test_submission_stores_the_files_in_order(seeded: Store, agency_id: AgencyId, row_count: Any) -> None:
    submission = world.submit(seeded, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    assert submission.file_count == 12
    with seeded.unit_of_work() as session:
        stored = session.query(SubmissionFile).filter_by(submission_id=submission.id).order_by(SubmissionFile.position)
        assert [(f.position, f.md5, f.category) for f in stored][:2] == [(1, md5(1), None), (2, md5(1), None)]
    assert row_count(SubmissionFile) == 12


def test_the_same_manifest_again_is_the_same_submission(seeded: Store, agency_id: AgencyId, row_count: Any) -> None:
    agency = agency_id("WA", AgencyKind.ICAC_TASK_FORCE)
    first = world.submit(seeded, agency)
    again = world.submit(seeded, agency)
    assert again.id == first.id
    assert (row_count(Submission), row_count(SubmissionFile)) == (1, 12)
    with pytest.raises(Conflict, match="different manifest"):
        world.submit(seeded, agency, numbers=(1, 2))
    assert row_count(SubmissionFile) == 12


def test_a_bad_agency_stores_nothing(seeded: Store, agency_id: AgencyId, row_count: Any) -> None:
    from clearinghouse.errors import InputError

    with pytest.raises(InputError, match="expected a law-enforcement agency"):
        world.submit(seeded, agency_id("WA", AgencyKind.SOCIAL_SERVICES))
    assert (row_count(Submission), row_count(SubmissionFile)) == (0, 0)
