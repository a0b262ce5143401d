"""The platform interface's XML: request documents into intake models, and the response documents we send.

`parse_report` and `parse_file_details` take a raw body, run it through xmlsafe (size, DTD, well-formedness,
schema) and convert the validated tree into the intake models of wire_schemas. `report_response` and
`report_done_response` build the answers; tests check them against the XSD.

Conversions that the schema cannot express are decided here:
- xs:string values are stripped, and an empty value counts as absent (the schema's country and state
  enumerations even allow "" for "not given").
- A date-time without an offset is taken as UTC, and one outside the years intake keeps is refused, naming
  its element (see `xmlsafe.xs_datetime`).
- An element repeated more than `MAX_ENTRIES` times (victims, IP events, ...) is refused before any of them
  is converted, as the intake model would refuse the list (see `xmlsafe.children`); so is a document of more
  than `MAX_REPORT_ENTRIES` repeated elements in all, nested ones included (see `xmlsafe.parse_document`).
- `escalateToHighPriority` present means escalated, even when empty: a missed child at risk costs more than
  one report handled urgently by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from lxml import etree
from pydantic import ValidationError

from clearinghouse.errors import validation_message
from clearinghouse.tipline.wire_schemas import (
    NOBODY,
    Address,
    AssociatedAccount,
    DeviceId,
    Email,
    EstimatedLocation,
    FileDetailsIntake,
    FileHash,
    FileMetadata,
    IncidentChannel,
    IncidentDetail,
    IntakeModel,
    IpCaptureEvent,
    LawEnforcementContact,
    MetadataPair,
    Party,
    Person,
    Phone,
    Reporter,
    ReportIntake,
)
from clearinghouse.tipline.xmlsafe import (
    DEFAULT_MAX_XML_BYTES,
    ResponseCode,
    WireError,
    attribute,
    attribute_datetime,
    child_date,
    child_datetime,
    child_text,
    child_texts,
    children,
    clean_text,
    joined_texts,
    parse_document,
    xs_boolean,
    xs_double,
    xs_int,
)

Element = etree._Element
ModelT = TypeVar("ModelT", bound=IntakeModel)


def _validated(model: type[ModelT], **fields: object) -> ModelT:
    """Build a model from converted values, letting pydantic check the ones typed as enumerations."""
    return model.model_validate(fields)


def _each(element: Element, name: str, convert: Callable[[Element], ModelT]) -> list[ModelT]:
    return [convert(child) for child in children(element, name)]


def _maybe(element: Element, name: str, convert: Callable[[Element], ModelT]) -> ModelT | None:
    child = element.find(name)
    return None if child is None else convert(child)


def _phone(element: Element) -> Phone:
    return Phone(
        number=clean_text(element.text) or "",
        type=attribute(element, "type"),
        verified=xs_boolean(attribute(element, "verified")),
        country_calling_code=attribute(element, "countryCallingCode"),
        extension=attribute(element, "extension"),
    )


def _email(element: Element) -> Email:
    return Email(
        address=clean_text(element.text) or "",
        type=attribute(element, "type"),
        verified=xs_boolean(attribute(element, "verified")),
    )


def _address(element: Element) -> Address:
    return Address(
        type=attribute(element, "type"),
        street=child_text(element, "address"),
        city=child_text(element, "city"),
        zip_code=child_text(element, "zipCode"),
        state=child_text(element, "state"),
        non_usa_state=child_text(element, "nonUsaState"),
        country=child_text(element, "country"),
    )


def _person(element: Element, *, age_tag: str = "age") -> Person:
    """A `person` or `contactPerson` (which has no age or birth date), or the person part of an account."""
    return Person(
        first_name=child_text(element, "firstName"),
        last_name=child_text(element, "lastName"),
        phones=_each(element, "phone", _phone),
        emails=_each(element, "email", _email),
        addresses=_each(element, "address", _address),
        age=xs_int(child_text(element, age_tag)),
        date_of_birth=child_date(element, "dateOfBirth"),
    )


def _ip(element: Element) -> IpCaptureEvent:
    return _validated(
        IpCaptureEvent,
        ip_address=child_text(element, "ipAddress") or "",
        event=child_text(element, "eventName"),
        at=child_datetime(element, "dateTime"),
        possible_proxy=xs_boolean(child_text(element, "possibleProxy")),
        port=xs_int(child_text(element, "port")),
    )


def _device(element: Element) -> DeviceId:
    return _validated(
        DeviceId,
        id_type=child_text(element, "idType") or "",
        id_value=child_text(element, "idValue") or "",
        event=child_text(element, "eventName"),
        at=child_datetime(element, "dateTime"),
    )


def _estimated_location(element: Element) -> EstimatedLocation:
    return EstimatedLocation(
        city=child_text(element, "city"),
        region=child_text(element, "region"),
        country_code=child_text(element, "countryCode"),
        verified=xs_boolean(attribute(element, "verified")),
        at=attribute_datetime(element, "timestamp"),
    )


def _associated_account(element: Element) -> AssociatedAccount:
    return AssociatedAccount(
        type=attribute(element, "type") or "Other",
        person=_person(element, age_tag="approximateAge"),
        esp_service=child_text(element, "espService"),
        esp_identifier=child_text(element, "espIdentifier"),
        screen_name=child_text(element, "screenName"),
        ip_capture_events=_each(element, "ipCaptureEvent", _ip),
        device_ids=_each(element, "deviceId", _device),
    )


def _party(element: Element, person_tag: str) -> Party:
    """A personOrUserReported, intendedRecipient or victim; `person_tag` names its person element."""
    person = element.find(person_tag)
    return Party(
        person=NOBODY if person is None else _person(person),
        esp_identifier=child_text(element, "espIdentifier"),
        esp_service=child_text(element, "espService"),
        screen_name=child_text(element, "screenName"),
        display_names=child_texts(element, "displayName"),
        profile_urls=child_texts(element, "profileUrl"),
        ip_capture_events=_each(element, "ipCaptureEvent", _ip),
        device_ids=_each(element, "deviceId", _device),
        estimated_location=_maybe(element, "estimatedLocation", _estimated_location),
        associated_accounts=_each(element, "associatedAccount", _associated_account),
        prior_report_ids=[int(value) for value in child_texts(element, "priorCTReports")],
        school_name=child_text(element, "schoolName"),
        vehicle_description=child_text(element, "vehicleDescription"),
        additional_info=joined_texts(element, "additionalInfo"),
    )


def _parties(root: Element, tag: str, person_tag: str) -> list[Party]:
    return [_party(element, person_tag) for element in children(root, tag)]


def _incident_detail(element: Element) -> IncidentDetail:
    """One internetDetails entry: exactly one child, whose tag names the channel."""
    detail = next(iter(element))
    return IncidentDetail(
        channel=IncidentChannel(etree.QName(detail).localname),
        urls=child_texts(detail, "url"),
        email_addresses=_each(detail, "emailAddress", _email),
        name=child_text(detail, "name"),
        content=child_text(detail, "content"),
        chat_client=child_text(detail, "chatClient"),
        chat_room_name=child_text(detail, "chatRoomName"),
        game_name=child_text(detail, "gameName"),
        console=child_text(detail, "console"),
        phone=_maybe(detail, "phoneNumber", _phone),
        latitude=xs_double(child_text(detail, "latitude")),
        longitude=xs_double(child_text(detail, "longitude")),
        location_name=child_text(detail, "locationName"),
        addresses=_each(detail, "incidentAddress", _address),
        client=child_text(detail, "client"),
        ip_capture_events=_each(detail, "ipCaptureEvent", _ip),
        file_names=child_text(detail, "fileNames"),
        additional_info=child_text(detail, "additionalInfo"),
    )


def _law_enforcement(element: Element) -> LawEnforcementContact:
    international = element.find("servedLegalProcessInternational")
    return LawEnforcementContact(
        agency_name=child_text(element, "agencyName") or "",
        case_number=child_text(element, "caseNumber"),
        officer=_maybe(element, "officerContact", _person),
        reported_to_law_enforcement=xs_boolean(child_text(element, "reportedToLe")),
        served_legal_process_domestic=xs_boolean(child_text(element, "servedLegalProcessDomestic")),
        served_legal_process_international=xs_boolean(child_text(element, "servedLegalProcessInternational")),
        international_process_country=None if international is None else attribute(international, "fleaCountry"),
    )


def _reporter(element: Element) -> Reporter:
    reporting = element.find("reportingPerson")
    return Reporter(
        reporting_person=Person() if reporting is None else _person(reporting),
        contact_person=_maybe(element, "contactPerson", _person),
        company_template=child_text(element, "companyTemplate"),
        terms_of_service=child_text(element, "termsOfService"),
        legal_url=child_text(element, "legalURL"),
    )


def _flags(element: Element | None) -> list[str]:
    """The flags present in reportAnnotations or fileAnnotations.

    Each flag is declared with the fixed value true, so an empty `<sextortion/>` means true as well: presence
    is the whole signal.
    """
    return [] if element is None else [etree.QName(flag).localname for flag in element]


@contextmanager
def _refusals_as_wire_errors(root: Element) -> Iterator[None]:
    """A value the schema let through but an intake model refuses becomes a 4000 naming the field."""
    try:
        yield
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join([error.title, *(str(part) for part in first["loc"])])
        raise WireError(
            ResponseCode.INVALID_REQUEST, f"<{etree.QName(root).localname}> {where}: {validation_message(first)}"
        ) from None


def report_from_element(root: Element) -> ReportIntake:
    """Convert a schema-valid `report` element into the intake model."""
    with _refusals_as_wire_errors(root):
        summary = root.find("incidentSummary")
        if summary is None:  # only reachable when a caller skipped the schema check
            raise WireError(ResponseCode.SCHEMA_VALIDATION_FAILED, "<report> needs an <incidentSummary>")
        escalation = summary.find("escalateToHighPriority")
        batched = root.find("batchedReport")
        return _validated(
            ReportIntake,
            incident_type=child_text(summary, "incidentType"),
            incident_at=child_datetime(summary, "incidentDateTime"),
            incident_time_description=child_text(summary, "incidentDateTimeDescription"),
            platform=child_text(summary, "platform"),
            escalation_reason=None if escalation is None else (clean_text(escalation.text) or ""),
            annotations=_flags(summary.find("reportAnnotations")),
            batch=None if batched is None else {"reason": batched.get("reason")},
            incident_details=_each(root, "internetDetails", _incident_detail),
            law_enforcement=_maybe(root, "lawEnforcement", _law_enforcement),
            reporter=_maybe(root, "reporter", _reporter),
            reported_persons=_parties(root, "personOrUserReported", "personOrUserReportedPerson"),
            intended_recipients=_parties(root, "intendedRecipient", "intendedRecipientPerson"),
            victims=_parties(root, "victim", "victimPerson"),
            additional_info=child_text(root, "additionalInfo"),
        )


_HEX = re.compile(r"^[0-9A-Fa-f]+$")


def _file_hash(element: Element) -> FileHash:
    """Hash types are compared without case or separators (SHA-1, sha1, SHA_1); hex digests in lower case."""
    value = clean_text(element.text) or ""
    hash_type = re.sub(r"[\s_-]", "", element.get("hashType", "")).upper()
    return FileHash(hash_type=hash_type, value=value.lower() if _HEX.match(value) else value)


def _metadata(element: Element) -> FileMetadata:
    pairs = [
        MetadataPair(name=child_text(pair, "name") or "", value=child_text(pair, "value") or "")
        for pair in children(element, "nameValuePair")
    ]
    return FileMetadata.model_validate({"type": attribute(element, "type"), "pairs": pairs})


def file_details_from_element(root: Element) -> FileDetailsIntake:
    """Convert a schema-valid `fileDetails` element into the intake model."""
    with _refusals_as_wire_errors(root):
        annotations = _flags(root.find("fileAnnotations"))
        # The older interface flagged memes with a bare potentialMeme element instead of fileAnnotations.
        if xs_boolean(child_text(root, "potentialMeme")):
            annotations.append("potentialMeme")
        return _validated(
            FileDetailsIntake,
            report_id=xs_int(child_text(root, "reportId")),
            file_id=child_text(root, "fileId"),
            file_name=child_text(root, "fileName"),
            original_file_name=child_text(root, "originalFileName"),
            uploaded_to_platform_at=child_datetime(root, "uploadedToEspTimestamp"),
            location_of_file=child_text(root, "locationOfFile"),
            viewed_by_platform=xs_boolean(child_text(root, "fileViewedByEsp")),
            exif_viewed_by_platform=xs_boolean(child_text(root, "exifViewedByEsp")),
            publicly_available=xs_boolean(child_text(root, "publiclyAvailable")),
            relevance=child_text(root, "fileRelevance") or "Reported",
            annotations=annotations,
            industry_classification=child_text(root, "industryClassification"),
            original_hashes=_each(root, "originalFileHash", _file_hash),
            upload_ip=_maybe(root, "ipCaptureEvent", _ip),
            device_ids=_each(root, "deviceId", _device),
            metadata=_each(root, "details", _metadata),
            additional_info=child_texts(root, "additionalInfo"),
        )


def parse_report(body: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> ReportIntake:
    """A `POST /submit` body as an intake model, or a `WireError` with the code to answer."""
    return report_from_element(parse_document(body, expected_root="report", max_bytes=max_bytes))


def parse_file_details(body: bytes, *, max_bytes: int = DEFAULT_MAX_XML_BYTES) -> FileDetailsIntake:
    """A `POST /fileinfo` body as an intake model, or a `WireError` with the code to answer."""
    return file_details_from_element(parse_document(body, expected_root="fileDetails", max_bytes=max_bytes))


def _sub(parent: Element, name: str, text: str) -> None:
    etree.SubElement(parent, name).text = text


def report_response(
    *,
    code: ResponseCode = ResponseCode.SUCCESS,
    description: str | None = None,
    report_id: int | None = None,
    file_id: str | None = None,
    md5: str | None = None,
) -> bytes:
    """A `reportResponse` document; the description defaults to the code's label ("Success" for 0)."""
    root = etree.Element("reportResponse")
    _sub(root, "responseCode", str(int(code)))
    _sub(root, "responseDescription", code.default_description if description is None else description)
    if report_id is not None:
        _sub(root, "reportId", str(report_id))
    if file_id is not None:
        _sub(root, "fileId", file_id)
    if md5 is not None:
        _sub(root, "hash", md5)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def error_response(error: WireError, *, report_id: int | None = None) -> bytes:
    """The `reportResponse` answering a refused request."""
    return report_response(code=error.code, description=error.description, report_id=report_id)


def report_done_response(
    *, report_id: int, file_ids: Sequence[str], code: ResponseCode = ResponseCode.SUCCESS
) -> bytes:
    """The `reportDoneResponse` that confirms a finished report and lists its files."""
    root = etree.Element("reportDoneResponse")
    _sub(root, "responseCode", str(int(code)))
    _sub(root, "reportId", str(report_id))
    files = etree.SubElement(root, "files")
    for file_id in file_ids:
        _sub(files, "fileId", file_id)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
