"""Manifests: VICS and CSV read into file hashes, bad records listed by line, nothing stored on a bad file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import Store
from clearinghouse.errors import Conflict
from clearinghouse.geo.models import AgencyKind
from clearinghouse.hashing.kinds import FileFormat
from clearinghouse.hashing.schemas import MAX_LISTED
from clearinghouse.hashing.transfer import open_text
from clearinghouse.victim_id.manifest import (
    BATCH,
    ManifestError,
    ManifestFile,
    detect_format,
    parse_manifest,
    read_manifest,
    submit_manifest,
)
from clearinghouse.victim_id.models import Submission, SubmissionFile
from clearinghouse.victim_id.service import SUBMISSION
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


def _digest(n: int) -> str:
    return f"{n:032x}"


def _csv(count: int, bad: set[int]) -> str:
    """A CSV manifest of ``count`` files; those numbered in ``bad`` (0-based) have a broken MD5 (line n + 2)."""
    rows = (f"{'not-a-digest' if n in bad else _digest(n)},{n:040x}\n" for n in range(count))
    return "md5,sha1\n" + "".join(rows)


def _vics(count: int, bad: set[int]) -> str:
    """A VICS manifest of ``count`` files, one Media entry a line (file n on line n + 2)."""
    media = (json.dumps({"MediaID": n, "MD5": "not-a-digest" if n in bad else _digest(n)}) for n in range(count))
    return '{"value": [\n' + ",\n".join(media) + "\n]}\n"


MANIFESTS = {FileFormat.CSV: _csv, FileFormat.VICS: _vics}


def _submit_file(store: Store, path: Path, agency: int, case: str = "C-BIG") -> Submission:
    with open_text(path) as stream, store.unit_of_work() as session:
        files = read_manifest(stream, detect_format(stream.opening(), path.name))
        return submit_manifest(session=session, agency_id=agency, case_number=case, files=files, actor="portal")


@pytest.mark.parametrize("file_format", list(FileFormat))
def test_a_bad_record_near_the_end_of_a_large_manifest_refuses_it_whole(
    seeded: Store, agency_id: AgencyId, row_count: Any, tmp_path: Path, file_format: FileFormat
) -> None:
    # More files than a batch: some batches are stored before the bad record is read, and must be rolled back.
    count = 3 * BATCH + 10
    path = tmp_path / f"case.{'csv' if file_format is FileFormat.CSV else 'json'}"
    path.write_text(MANIFESTS[file_format](count, {count - 4}), encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        _submit_file(seeded, path, agency_id("WA", AgencyKind.ICAC_TASK_FORCE))
    assert [(error.line, error.reason.split(":")[0]) for error in caught.value.errors] == [(count - 2, "md5")]
    assert caught.value.count == 1
    assert (row_count(Submission), row_count(SubmissionFile), row_count(AuditEvent)) == (0, 0, 0)


@pytest.mark.parametrize("file_format", list(FileFormat))
def test_a_large_manifest_is_stored_in_order_and_the_same_again_is_the_same_submission(
    seeded: Store, agency_id: AgencyId, row_count: Any, tmp_path: Path, file_format: FileFormat
) -> None:
    count = 2 * BATCH + 3
    agency = agency_id("WA", AgencyKind.ICAC_TASK_FORCE)
    path = tmp_path / "manifest.txt"  # the format told by the content
    path.write_text(MANIFESTS[file_format](count, set()), encoding="utf-8")
    first = _submit_file(seeded, path, agency)
    assert first.file_count == count
    assert _submit_file(seeded, path, agency).id == first.id
    with seeded.unit_of_work() as session:
        last = session.scalars(sa.select(SubmissionFile).order_by(SubmissionFile.position.desc()).limit(1)).one()
        assert (last.position, last.md5) == (count, _digest(count - 1))
        details = session.scalars(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "received", AuditEvent.subject_type == SUBMISSION)
        ).all()
    assert details == [{"agency_id": agency, "case_number": "C-BIG", "file_count": count}]
    path.write_text(MANIFESTS[file_format](count + 1, set()), encoding="utf-8")
    with pytest.raises(Conflict, match=f"different manifest \\({count} files\\)"):
        _submit_file(seeded, path, agency)
    path.write_text(MANIFESTS[file_format](count, {count - 1}), encoding="utf-8")
    with pytest.raises(ManifestError):  # a bad manifest is refused as such, not as a different one
        _submit_file(seeded, path, agency)
    assert row_count(SubmissionFile) == count


def test_bad_records_past_the_listed_ones_are_counted() -> None:
    count = MAX_LISTED + 250
    with pytest.raises(ManifestError) as caught:
        parse_manifest(_csv(count, set(range(count))))
    assert (len(caught.value.errors), caught.value.count) == (MAX_LISTED, count)
    assert caught.value.errors[-1].line == MAX_LISTED + 1
    assert f"{count} bad record(s)" in str(caught.value)
    assert f"and {count - 10} more" in str(caught.value)


def test_a_manifest_streams_in_and_is_reviewed_in_batches_on_either_store(
    any_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clearinghouse.geo.agencies import seed_directory
    from clearinghouse.geo.models import Agency
    from clearinghouse.victim_id import review

    with any_store.unit_of_work() as session:
        seed_directory(session)
        query = sa.select(Agency.id).where(Agency.jurisdiction_code == "WA", Agency.kind == AgencyKind.ICAC_TASK_FORCE)
        agency = session.scalars(query).first()
    assert agency is not None
    count = BATCH + 3
    path = tmp_path / "case.csv"
    path.write_text(_csv(count, set()), encoding="utf-8")
    submitted = _submit_file(any_store, path, agency)
    assert _submit_file(any_store, path, agency).id == submitted.id
    path.write_text(_csv(count, {count - 1}), encoding="utf-8")
    with pytest.raises(ManifestError):
        _submit_file(any_store, path, agency, case="C-BAD")
    monkeypatch.setattr(review, "LOOKUP_CHUNK", 1_000)
    with any_store.unit_of_work() as session:
        summary = review.run_review(session=session, submission_id=submitted.id, actor="analyst")
        stored = session.scalar(sa.select(sa.func.count()).select_from(SubmissionFile))
        categorised = session.scalar(
            sa.select(sa.func.count()).select_from(SubmissionFile).where(SubmissionFile.category.is_not(None))
        )
    assert (summary.files, summary.queued, stored, categorised) == (count, count, count, count)
