"""Realistic platform documents become intake models, and our response documents satisfy the XSD."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from lxml import etree

from clearinghouse.tipline.wire import (
    error_response,
    parse_file_details,
    parse_report,
    report_done_response,
    report_response,
)
from clearinghouse.tipline.wire_schemas import (
    FileAnnotation,
    FileDetailsIntake,
    IncidentChannel,
    IncidentType,
    LocationEvidence,
    ReportAnnotation,
    ReportIntake,
)
from clearinghouse.tipline.xmlsafe import ResponseCode, WireError
from tests.tipline.factories import (
    INCIDENT_TYPES,
    file_details,
    make_faker,
    minimal_report,
    realistic_report,
)
from tests.tipline.ispws_client import SchemaBuilder


@pytest.fixture(scope="module")
def builder() -> SchemaBuilder:
    return SchemaBuilder()


@pytest.fixture
def realistic(builder: SchemaBuilder) -> tuple[dict[str, Any], ReportIntake]:
    data = realistic_report(make_faker())
    return data, parse_report(builder.document("report", data))


def _report(builder: SchemaBuilder, data: dict[str, Any]) -> ReportIntake:
    return parse_report(builder.document("report", data))


def test_the_summary_of_a_realistic_report(realistic: tuple[dict[str, Any], ReportIntake]) -> None:
    _, report = realistic
    assert report.incident_type is IncidentType.ONLINE_ENTICEMENT
    assert report.incident_at == datetime(2024, 5, 17, 22, 15, 3, tzinfo=UTC)
    assert report.platform == "Example Chat"
    assert report.escalated
    assert report.escalation_reason == "Reported user arranged to meet the child tonight."
    assert report.annotations == [ReportAnnotation.SEXTORTION, ReportAnnotation.MINOR_TO_MINOR_INTERACTION]
    assert report.batch is not None
    assert report.batch.reason == "VIRAL_POTENTIAL_MEME"
    assert [d.channel for d in report.incident_details] == [
        IncidentChannel.CHAT_IM,
        IncidentChannel.CELL_PHONE,
        IncidentChannel.NON_INTERNET,
        IncidentChannel.PEER_TO_PEER,
    ]
    assert report.incident_details[0].content == "synthetic message text"


def test_the_parties_keep_ages_and_birth_dates(realistic: tuple[dict[str, Any], ReportIntake]) -> None:
    data, report = realistic
    (reported,) = report.reported_persons
    (victim,) = report.victims
    assert reported.person.age == 34
    assert victim.person.age == 13
    assert victim.person.date_of_birth == data["victim"][0]["victimPerson"]["dateOfBirth"]
    assert isinstance(victim.person.date_of_birth, date)
    assert victim.school_name == "Example Middle School"
    assert reported.screen_name == data["personOrUserReported"][0]["screenName"]
    assert reported.associated_accounts[0].type == "Billing"
    assert report.reporter.reporting_person.addresses[0].type == "Business"


def test_every_kind_of_location_evidence_is_flattened_with_its_party(
    realistic: tuple[dict[str, Any], ReportIntake],
) -> None:
    data, report = realistic
    found = {(e.party, e.kind, e.source) for e in report.location_evidence()}
    assert found == {
        ("reported_person", "ip", "reported_persons[0].ip_capture_events[0]"),
        ("reported_person", "ip", "reported_persons[0].ip_capture_events[1]"),
        ("reported_person", "estimated_location", "reported_persons[0].estimated_location"),
        ("reported_person", "address", "reported_persons[0].person.addresses[0]"),
        ("reported_person", "phone", "reported_persons[0].person.phones[0]"),
        ("reported_person", "ip", "reported_persons[0].associated_accounts[0].ip_capture_events[0]"),
        ("reported_person", "phone", "reported_persons[0].associated_accounts[0].person.phones[0]"),
        ("victim", "ip", "victims[0].ip_capture_events[0]"),
        ("victim", "address", "victims[0].person.addresses[0]"),
        ("victim", "phone", "victims[0].person.phones[0]"),
        ("incident", "phone", "incident_details[1].phone"),
        ("incident", "coordinates", "incident_details[1]"),
        ("incident", "address", "incident_details[2].addresses[0]"),
        ("incident", "ip", "incident_details[3].ip_capture_events[0]"),
    }
    by_source = {e.source: e for e in report.location_evidence()}
    proxy = by_source["reported_persons[0].ip_capture_events[1]"].ip
    assert proxy is not None
    assert proxy.possible_proxy is True
    assert proxy.event == "Registration"
    assert proxy.ip_address == data["personOrUserReported"][0]["ipCaptureEvent"][1]["ipAddress"]
    estimated = by_source["reported_persons[0].estimated_location"].estimated_location
    assert estimated is not None
    assert estimated.verified is True
    assert estimated.country_code == "US"
    assert estimated.at is not None
    assert estimated.at.tzinfo is not None
    home = by_source["victims[0].person.addresses[0]"].address
    expected = data["victim"][0]["victimPerson"]["address"][0]
    assert home is not None
    assert (home.state, home.zip_code, home.country) == (expected["state"], expected["zipCode"], "US")
    coordinates = by_source["incident_details[1]"].coordinates
    assert coordinates is not None
    assert (coordinates.latitude, coordinates.longitude) == (30.2672, -97.7431)
    phone = by_source["incident_details[1].phone"].phone
    assert phone is not None
    assert phone.country_calling_code == "+1"


def test_the_reporters_own_address_is_not_location_evidence(realistic: tuple[dict[str, Any], ReportIntake]) -> None:
    _, report = realistic
    assert not [e for e in report.location_evidence() if e.source.startswith("reporter")]


@pytest.mark.parametrize("incident_type", INCIDENT_TYPES)
def test_each_of_the_eight_incident_types(builder: SchemaBuilder, incident_type: str) -> None:
    report = _report(builder, minimal_report(make_faker(), incident_type))
    assert report.incident_type.value == incident_type
    assert not report.escalated
    assert report.batch is None
    assert report.location_evidence() == []


def test_an_empty_escalation_still_escalates(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    data["incidentSummary"]["escalateToHighPriority"] = ""
    report = _report(builder, data)
    assert report.escalated
    assert report.escalation_reason == ""


def test_an_empty_flag_element_means_true(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    data["incidentSummary"]["reportAnnotations"] = {"spam": "", "sadisticOnlineExploitation": True}
    report = _report(builder, data)
    assert report.annotations == [ReportAnnotation.SPAM, ReportAnnotation.SADISTIC_ONLINE_EXPLOITATION]


def test_a_time_without_offset_is_utc(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    data["incidentSummary"]["incidentDateTime"] = "2024-02-29T23:59:59"
    assert _report(builder, data).incident_at == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(("latitude", "longitude"), [(200, 10), ("INF", 10), ("NaN", "NaN"), (45, None)])
def test_unusable_coordinates_are_kept_but_not_used_as_evidence(
    builder: SchemaBuilder, latitude: object, longitude: object
) -> None:
    data = minimal_report(make_faker())
    incident: dict[str, Any] = {"latitude": latitude}
    if longitude is not None:
        incident["longitude"] = longitude
    data["internetDetails"] = [{"cellPhoneIncident": incident}]
    report = _report(builder, data)
    assert report.incident_details[0].latitude is not None
    assert report.location_evidence() == []


def test_a_date_time_python_cannot_hold_is_refused_with_its_path(builder: SchemaBuilder) -> None:
    data = minimal_report(make_faker())
    data["incidentSummary"]["incidentDateTime"] = "12024-01-01T00:00:00Z"
    with pytest.raises(WireError) as caught:
        _report(builder, data)
    assert caught.value.code == ResponseCode.INVALID_REQUEST
    assert "/report/incidentSummary/incidentDateTime" in caught.value.description


def test_the_intake_survives_a_json_round_trip(realistic: tuple[dict[str, Any], ReportIntake]) -> None:
    _, report = realistic
    assert ReportIntake.model_validate_json(report.model_dump_json()) == report
    for item in report.location_evidence():
        assert LocationEvidence.model_validate_json(item.model_dump_json()) == item


def test_location_evidence_must_carry_exactly_its_own_clue() -> None:
    with pytest.raises(ValueError, match="exactly its own clue"):
        LocationEvidence.model_validate({"party": "victim", "party_index": 0, "source": "x", "kind": "ip"})


def test_file_details_round_trip(builder: SchemaBuilder) -> None:
    details = parse_file_details(builder.document("fileDetails", file_details(make_faker(), 4242, "f-1")))
    assert (details.report_id, details.file_id) == (4242, "f-1")
    assert details.relevance == "Supplemental Reported"
    assert details.annotations == [FileAnnotation.VIRAL, FileAnnotation.GENERATIVE_AI]
    assert details.industry_classification == "A1"
    assert [(h.hash_type, h.value) for h in details.original_hashes] == [
        ("MD5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("SHA1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ]
    assert details.uploaded_to_platform_at == datetime(2024, 5, 17, 21, 0, tzinfo=UTC)
    assert details.metadata[0].type == "EXIF"
    assert details.metadata[0].pairs[0].value == "Synthetic"
    assert details.additional_info == ["viral video"]
    (upload,) = details.location_evidence()
    assert (upload.party, upload.kind, upload.source) == ("file", "ip", "upload_ip")
    assert FileDetailsIntake.model_validate_json(details.model_dump_json()) == details


def test_file_details_defaults_and_the_older_meme_flag(builder: SchemaBuilder) -> None:
    body = builder.document("fileDetails", {"reportId": 1, "fileId": "f", "potentialMeme": True})
    details = parse_file_details(body)
    assert details.relevance == "Reported"
    assert details.annotations == [FileAnnotation.POTENTIAL_MEME]
    assert details.location_evidence() == []


def test_a_report_sent_to_fileinfo_is_refused(builder: SchemaBuilder) -> None:
    with pytest.raises(WireError) as caught:
        parse_file_details(builder.document("report", minimal_report(make_faker())))
    assert caught.value.code == ResponseCode.INVALID_REQUEST


def _valid(builder: SchemaBuilder, body: bytes) -> etree._Element:
    assert body.startswith(b"<?xml")
    root = etree.fromstring(body)
    builder.schema.assertValid(root)
    return root


def test_report_responses_are_schema_valid(builder: SchemaBuilder) -> None:
    success = _valid(builder, report_response(report_id=123))
    assert (success.findtext("responseCode"), success.findtext("responseDescription")) == ("0", "Success")
    assert success.findtext("reportId") == "123"
    upload = _valid(builder, report_response(report_id=1, file_id="abc-1", md5="d41d8cd98f00b204e9800998ecf8427e"))
    assert upload.findtext("hash") == "d41d8cd98f00b204e9800998ecf8427e"
    for code in ResponseCode:
        _valid(builder, report_response(code=code))


def test_error_responses_carry_code_and_description(builder: SchemaBuilder) -> None:
    root = _valid(builder, error_response(WireError(ResponseCode.MALFORMED_XML, "malformed XML: <&>"), report_id=9))
    assert root.findtext("responseCode") == "4110"
    assert root.findtext("responseDescription") == "malformed XML: <&>"


@pytest.mark.parametrize("file_ids", [[], ["a"], ["a", "b", "c"]])
def test_report_done_responses_are_schema_valid(builder: SchemaBuilder, file_ids: list[str]) -> None:
    root = _valid(builder, report_done_response(report_id=77, file_ids=file_ids))
    assert root.findtext("reportId") == "77"
    assert [e.text for e in root.findall("files/fileId")] == file_ids
