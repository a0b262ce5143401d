"""Intake models for platform reports and file details, shared by the XML interface, the JSON API and NDJSON.

wire.py converts a schema-valid `report` into `ReportIntake` and a `fileDetails` into `FileDetailsIntake`; the
JSON API and the NDJSON bulk intake validate the same models directly, so the service sees one shape. Models
are frozen, refuse unknown fields, hold only timezone-aware timestamps, and no list holds more than
`MAX_ENTRIES` entries; a report holds at most `MAX_REPORT_ENTRIES` in all its lists together (counted before
validation by `validate_bounded`, and in XML by `xmlsafe.parse_document`).

Location clues stay inside their party; `location_evidence()` flattens them into one list naming each clue's
party. The reporter's and law enforcement's addresses are left out on purpose: they locate the platform's
office or the police, not the child or the reported person.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_serializer,
    model_validator,
)
from pydantic_core import from_json

EARLIEST_YEAR = 1900
"""Times before this year are refused: no report concerns them, and arithmetic near year 1 overflows."""
LATEST_YEAR = 9998
"""Times after this year are refused: a day added to a time of year 9999 overflows."""
OUT_OF_RANGE = f"is out of range (a time from {EARLIEST_YEAR} to {LATEST_YEAR} is expected)"

MAX_ENTRIES = 1000
"""Most entries any list of a report or file's details may hold (victims, reported persons, IP events, ...).

Real reports list a handful; without a bound, a 3 MB body of a million empty victims costs half a minute to
file. The XML interface counts repeated elements against the same bound before it converts any of them."""

MAX_REPORT_ENTRIES = 10_000
"""Most entries one report (or file's details) may hold in all its lists together, nested lists included.

`MAX_ENTRIES` bounds each list, but lists nest: 300 reported persons of 1,000 linked accounts each keep every
list within it, and cost a worker 9 s of CPU as 6 MB of JSON, 13 s as 10 MB of XML. Real reports list a handful of
parties, each with a few phones, addresses and accounts, and at most a few thousand IP events or file hashes
between them: ten thousand leaves room for the largest, and filing that many takes a fraction of a second.
JSON is counted before it is validated (`validate_bounded`), XML before it is converted
(`xmlsafe.parse_document`), both stopping once past the bound."""

TOO_MANY_ENTRIES = (
    f"holds more than {MAX_REPORT_ENTRIES} entries in all its lists together (parties, accounts, IP events, "
    f"phones, ...); at most {MAX_REPORT_ENTRIES} are accepted"
)

CLOCK_TOLERANCE = timedelta(minutes=5)
"""How far a platform's clock may run ahead of ours (or of the report it sends): how far an incident may seem to
lie after its report was received, and a bulk line's received time after our clock."""


def in_range(value: datetime) -> bool:
    """Whether the time lies in the years intake accepts (`EARLIEST_YEAR` to `LATEST_YEAR`, in UTC)."""
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        return False
    return EARLIEST_YEAR <= year <= LATEST_YEAR


def _plausible(value: datetime) -> datetime:
    if not in_range(value):
        raise ValueError(OUT_OF_RANGE)
    return value


def _entries(description: str | None = None) -> Any:
    """A list field, empty by default, of at most `MAX_ENTRIES` entries."""
    return Field(default_factory=list, max_length=MAX_ENTRIES, description=description)


NOT_A_TEXT_TIME = "must be a date and time with a time zone, such as 2023-05-01T14:30:00Z, not a number"


def _written_out(value: object) -> object:
    """A time given as a number is refused: pydantic would read it as seconds since 1970, or as milliseconds
    once it passes 2e10, so one slip of a digit moves a report by decades, and the number carries no time zone
    the sender chose."""
    if isinstance(value, int | float):
        raise ValueError(NOT_A_TEXT_TIME)
    return value


Moment = Annotated[AwareDatetime, BeforeValidator(_written_out), AfterValidator(_plausible)]
"""A timezone-aware time, written out (never a number), in a plausible range (see EARLIEST_YEAR)."""


class IncidentType(StrEnum):
    """The eight incident types, spelled exactly as the interface spells them."""

    CHILD_PORNOGRAPHY = "Child Pornography (possession, manufacture, and distribution)"
    CHILD_SEX_TRAFFICKING = "Child Sex Trafficking"
    CHILD_SEX_TOURISM = "Child Sex Tourism"
    CHILD_SEXUAL_MOLESTATION = "Child Sexual Molestation"
    MISLEADING_DOMAIN_NAME = "Misleading Domain Name"
    MISLEADING_WORDS_OR_IMAGES = "Misleading Words or Digital Images on the Internet"
    ONLINE_ENTICEMENT = "Online Enticement of Children for Sexual Acts"
    UNSOLICITED_OBSCENE_MATERIAL = "Unsolicited Obscene Material Sent to a Child"


# Small value sets stay Literal types: why reports were grouped (one reason so far), how a file relates to
# its report ("Reported" unless the platform says otherwise), the industry hash-sharing scale, and what the
# account was doing when the platform recorded an IP address or device id.
BatchReason = Literal["VIRAL_POTENTIAL_MEME"]
FileRelevance = Literal["Reported", "Supplemental Reported"]
IndustryClassification = Literal["A1", "A2", "B1", "B2"]
CaptureEvent = Literal["Login", "Registration", "Purchase", "Upload", "Other", "Unknown"]


class ReportAnnotation(StrEnum):
    """Flags a platform sets on a whole report."""

    SEXTORTION = "sextortion"
    CSAM_SOLICITATION = "csamSolicitation"
    MINOR_TO_MINOR_INTERACTION = "minorToMinorInteraction"
    SPAM = "spam"
    SADISTIC_ONLINE_EXPLOITATION = "sadisticOnlineExploitation"


class FileAnnotation(StrEnum):
    """Flags a platform sets on one file."""

    ANIME_DRAWING_VIRTUAL_HENTAI = "animeDrawingVirtualHentai"
    POTENTIAL_MEME = "potentialMeme"
    VIRAL = "viral"
    POSSIBLE_SELF_PRODUCTION = "possibleSelfProduction"
    PHYSICAL_HARM = "physicalHarm"
    VIOLENCE_GORE = "violenceGore"
    BESTIALITY = "bestiality"
    LIVE_STREAMING = "liveStreaming"
    INFANT = "infant"
    GENERATIVE_AI = "generativeAi"


class IncidentChannel(StrEnum):
    """Where the incident happened: the eight kinds of incident detail."""

    WEB_PAGE = "webPageIncident"
    EMAIL = "emailIncident"
    NEWSGROUP = "newsgroupIncident"
    CHAT_IM = "chatImIncident"
    ONLINE_GAMING = "onlineGamingIncident"
    CELL_PHONE = "cellPhoneIncident"
    NON_INTERNET = "nonInternetIncident"
    PEER_TO_PEER = "peer2peerIncident"


# Whose location evidence an item is.
PartyRole = Literal["reported_person", "intended_recipient", "victim", "incident", "file"]


class IntakeModel(BaseModel):
    """Base of every intake model: immutable, and unknown fields are an error rather than silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TooManyEntries(Exception):
    """A report holds more than `MAX_REPORT_ENTRIES` entries in all its lists together."""

    def __init__(self) -> None:
        super().__init__(TOO_MANY_ENTRIES)


ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_bounded(model: type[ModelT], document: bytes) -> ModelT:
    """Validate a JSON document (a submission, a bulk line) whose `report` holds at most `MAX_REPORT_ENTRIES`.

    The entries are counted first, in the document as parsed (by pydantic's own parser, so whatever validation
    accepts is counted), stopping once past the bound: refusing a crowded report costs a parse, not the models
    of all its entries. A document of at most twice the bound in bytes is not counted: every entry takes at
    least two (its value and a comma or bracket), so it cannot hold too many. Raises `TooManyEntries`, or
    `pydantic.ValidationError` as `model_validate_json` does.
    """
    if len(document) > 2 * MAX_REPORT_ENTRIES:
        try:
            parsed = from_json(document)
        except ValueError:
            parsed = None  # not JSON: validation says what is wrong with it
        if isinstance(parsed, dict) and _entries_over(parsed.get("report"), MAX_REPORT_ENTRIES):
            raise TooManyEntries
    return model.model_validate_json(document)


def _entries_over(value: object, bound: int) -> bool:
    """Whether the lists in parsed JSON hold more than `bound` entries together (counting no further).

    A list is counted, and looked into, up to one entry past `MAX_ENTRIES`: validation stops there and refuses
    the list by its own bound, naming it, so the entries after it cost nothing.
    """
    count = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            validated = item[: MAX_ENTRIES + 1]
            count += len(validated)
            if count > bound:
                return True
            pending.extend(validated)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return False


class Phone(IntakeModel):
    number: str
    type: str | None = None
    verified: bool | None = None
    country_calling_code: str | None = None
    extension: str | None = None


class Email(IntakeModel):
    address: str
    type: str | None = None
    verified: bool | None = None


class Address(IntakeModel):
    type: str | None = None
    street: str | None = None
    city: str | None = None
    zip_code: str | None = None
    state: str | None = Field(default=None, description="US state or territory code, e.g. TX.")
    non_usa_state: str | None = None
    country: str | None = Field(default=None, description="ISO 3166 alpha-2 code, e.g. US.")


class IpCaptureEvent(IntakeModel):
    ip_address: str
    event: CaptureEvent | None = None
    at: Moment | None = None
    possible_proxy: bool | None = None
    port: int | None = None


class DeviceId(IntakeModel):
    id_type: str
    id_value: str
    event: CaptureEvent | None = None
    at: Moment | None = None


class EstimatedLocation(IntakeModel):
    city: str | None = None
    region: str | None = None
    country_code: str | None = None
    verified: bool | None = None
    at: Moment | None = None


class Person(IntakeModel):
    first_name: str | None = None
    last_name: str | None = None
    phones: list[Phone] = _entries()
    emails: list[Email] = _entries()
    addresses: list[Address] = _entries()
    age: int | None = Field(default=None, description="As the platform gave it; approximate for accounts.")
    date_of_birth: date | None = None


NOBODY = Person()
"""The person of a party or account that names none, shared by all of them.

Pydantic copies a model given as a field's default for every instance (a model holding lists is unhashable),
but not what a `default_factory` returns; and it calls the factory again to compare each person with it when
serialising without defaults. Built per account, a default person cost most of the CPU of filing a report of
many accounts. Sharing it is safe as intake models are frozen and never changed in place.
"""


def _nobody() -> Person:
    return NOBODY


class AssociatedAccount(IntakeModel):
    """Another account the platform links to a party (billing, linked, parent or guardian, ...)."""

    type: str
    person: Person = Field(default_factory=_nobody)
    esp_service: str | None = None
    esp_identifier: str | None = None
    screen_name: str | None = None
    ip_capture_events: list[IpCaptureEvent] = _entries()
    device_ids: list[DeviceId] = _entries()


class Party(IntakeModel):
    """A reported person or user, an intended recipient, or a victim."""

    person: Person = Field(default_factory=_nobody)
    esp_identifier: str | None = None
    esp_service: str | None = None
    screen_name: str | None = None
    display_names: list[str] = _entries()
    profile_urls: list[str] = _entries()
    ip_capture_events: list[IpCaptureEvent] = _entries()
    device_ids: list[DeviceId] = _entries()
    estimated_location: EstimatedLocation | None = None
    associated_accounts: list[AssociatedAccount] = _entries()
    prior_report_ids: list[int] = _entries()
    school_name: str | None = None
    vehicle_description: str | None = None
    additional_info: str | None = None


class IncidentDetail(IntakeModel):
    """One `internetDetails` entry (or its JSON equivalent); only the fields of its channel are set."""

    channel: IncidentChannel
    urls: list[str] = _entries()
    email_addresses: list[Email] = _entries()
    name: str | None = Field(default=None, description="Newsgroup name.")
    content: str | None = Field(default=None, description="Text of the message, post or chat, as given.")
    chat_client: str | None = None
    chat_room_name: str | None = None
    game_name: str | None = None
    console: str | None = None
    phone: Phone | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_name: str | None = None
    addresses: list[Address] = _entries()
    client: str | None = Field(default=None, description="Peer-to-peer client.")
    ip_capture_events: list[IpCaptureEvent] = _entries()
    file_names: str | None = None
    additional_info: str | None = None

    @field_serializer("latitude", "longitude")
    def _finite_or_null(self, value: float | None) -> float | None:
        # xs:double admits NaN and INF; kept in the model (and never used as evidence), they are stored as null:
        # written as NaN, the stored body would be text no JSON reader accepts.
        return value if value is None or math.isfinite(value) else None


class Reporter(IntakeModel):
    reporting_person: Person
    contact_person: Person | None = None
    company_template: str | None = None
    terms_of_service: str | None = None
    legal_url: str | None = None


class LawEnforcementContact(IntakeModel):
    agency_name: str
    case_number: str | None = None
    officer: Person | None = None
    reported_to_law_enforcement: bool | None = None
    served_legal_process_domestic: bool | None = None
    served_legal_process_international: bool | None = None
    international_process_country: str | None = None


PLATFORM_REF_MAX_CHARS = 120
"""Longest platform id of a report the store keeps (`Report.platform_ref`, `BundleRef.platform_ref`)."""

GroupedRef = Annotated[str, Field(min_length=1, max_length=PLATFORM_REF_MAX_CHARS)]
"""A platform's id of a grouped report: stored as a platform id when the report is bundled. A longer one was
filed, and on PostgreSQL failed the pipeline's batch at every run, holding up every report queued after it."""


class BatchedReport(IntakeModel):
    reason: BatchReason
    grouped_report_ids: list[GroupedRef] = _entries(
        "The platform's ids of the grouped reports (JSON, NDJSON; XML carries only the reason)."
    )


class Coordinates(IntakeModel):
    latitude: float = Field(ge=-90.0, le=90.0)
    longitude: float = Field(ge=-180.0, le=180.0)


EvidenceKind = Literal["ip", "estimated_location", "address", "phone", "coordinates"]


class LocationEvidence(IntakeModel):
    """One location clue with its party; the field named by `kind` holds the clue, the others stay empty.

    One flat shape stores and serialises without the ambiguity of a union of look-alike models.
    """

    party: PartyRole
    party_index: int = Field(description="Position of the party in its list (0-based); 0 for a file.")
    source: str = Field(description="Where the clue sits in the intake, e.g. victims[0].person.addresses[1].")
    kind: EvidenceKind
    ip: IpCaptureEvent | None = None
    estimated_location: EstimatedLocation | None = None
    address: Address | None = None
    phone: Phone | None = None
    coordinates: Coordinates | None = None

    @model_validator(mode="after")
    def _exactly_the_named_clue(self) -> LocationEvidence:
        filled = [name for name in get_args(EvidenceKind) if getattr(self, name) is not None]
        if filled != [self.kind]:
            raise ValueError(f"kind {self.kind!r} needs exactly its own clue field set, got {filled}")
        return self


class _Flattener:
    """Collects the location clues of one party, incident detail or file under its role and index."""

    def __init__(self, role: PartyRole, index: int) -> None:
        self.role, self.index = role, index
        self.items: list[LocationEvidence] = []

    def add(self, source: str, kind: EvidenceKind, clue: IntakeModel) -> None:
        evidence = {"party": self.role, "party_index": self.index, "source": source, "kind": kind, kind: clue}
        self.items.append(LocationEvidence.model_validate(evidence))

    def ips(self, events: list[IpCaptureEvent], where: str) -> None:
        for i, event in enumerate(events):
            self.add(f"{where}[{i}]", "ip", event)

    def person(self, person: Person, where: str) -> None:
        for i, address in enumerate(person.addresses):
            self.add(f"{where}.addresses[{i}]", "address", address)
        for i, phone in enumerate(person.phones):
            self.add(f"{where}.phones[{i}]", "phone", phone)

    def party(self, party: Party, where: str) -> None:
        self.ips(party.ip_capture_events, f"{where}.ip_capture_events")
        if party.estimated_location is not None:
            self.add(f"{where}.estimated_location", "estimated_location", party.estimated_location)
        self.person(party.person, f"{where}.person")
        for i, account in enumerate(party.associated_accounts):
            self.ips(account.ip_capture_events, f"{where}.associated_accounts[{i}].ip_capture_events")
            self.person(account.person, f"{where}.associated_accounts[{i}].person")

    def incident(self, detail: IncidentDetail, where: str) -> None:
        if detail.phone is not None:
            self.add(f"{where}.phone", "phone", detail.phone)
        coordinates = _usable_coordinates(detail.latitude, detail.longitude)
        if coordinates is not None:
            self.add(where, "coordinates", coordinates)
        for i, address in enumerate(detail.addresses):
            self.add(f"{where}.addresses[{i}]", "address", address)
        self.ips(detail.ip_capture_events, f"{where}.ip_capture_events")


def _usable_coordinates(latitude: float | None, longitude: float | None) -> Coordinates | None:
    """Both present, finite and on the globe; the schema allows any double, including INF and NaN."""
    if latitude is None or longitude is None or not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    if -90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0:
        return Coordinates(latitude=latitude, longitude=longitude)
    return None


class ReportIntake(IntakeModel):
    """A platform's report as intake receives it, before it is stored."""

    incident_type: IncidentType
    incident_at: Moment
    incident_time_description: str | None = None
    platform: str | None = Field(default=None, description="The application where the content was found.")
    escalation_reason: str | None = Field(
        default=None,
        description="Set (possibly empty) when the platform asks for urgent handling (a child at risk now).",
    )
    annotations: list[ReportAnnotation] = _entries()
    batch: BatchedReport | None = None
    incident_details: list[IncidentDetail] = _entries()
    law_enforcement: LawEnforcementContact | None = None
    reporter: Reporter
    reported_persons: list[Party] = _entries()
    intended_recipients: list[Party] = _entries()
    victims: list[Party] = _entries()
    additional_info: str | None = None

    @property
    def escalated(self) -> bool:
        """Whether the platform asked for urgent handling."""
        return self.escalation_reason is not None

    def incident_after(self, received_at: datetime) -> str | None:
        """Why `incident_at` cannot be right for a report received at `received_at`, or None when it can.

        An incident is reported after it happened; beyond `CLOCK_TOLERANCE` a later time is a wrong clock or
        a wrong field, and filed as it is it would mislead every age and delay computed from it.
        """
        if self.incident_at <= received_at + CLOCK_TOLERANCE:
            return None
        when = received_at.astimezone(UTC).isoformat(timespec="seconds")
        return f"is after the report was received ({when}): give the time the incident happened"

    def location_evidence(self) -> list[LocationEvidence]:
        """Every location clue in the report, flattened, each naming the party it came from."""
        items: list[LocationEvidence] = []
        groups: tuple[tuple[PartyRole, str, list[Party]], ...] = (
            ("reported_person", "reported_persons", self.reported_persons),
            ("intended_recipient", "intended_recipients", self.intended_recipients),
            ("victim", "victims", self.victims),
        )
        for role, field, parties in groups:
            for index, party in enumerate(parties):
                flattener = _Flattener(role, index)
                flattener.party(party, f"{field}[{index}]")
                items.extend(flattener.items)
        for index, detail in enumerate(self.incident_details):
            flattener = _Flattener("incident", index)
            flattener.incident(detail, f"incident_details[{index}]")
            items.extend(flattener.items)
        return items


class FileHash(IntakeModel):
    hash_type: str = Field(description="Upper case without separators: MD5, SHA1, SHA256, PDQ, ...")
    value: str


class MetadataPair(IntakeModel):
    name: str
    value: str


class FileMetadata(IntakeModel):
    type: Literal["EXIF", "HASH"] | None = None
    pairs: list[MetadataPair] = Field(max_length=MAX_ENTRIES)


class FileDetailsIntake(IntakeModel):
    """What a platform tells us about one uploaded file."""

    report_id: int
    file_id: str
    file_name: str | None = None
    original_file_name: str | None = None
    uploaded_to_platform_at: Moment | None = None
    location_of_file: str | None = None
    viewed_by_platform: bool | None = None
    exif_viewed_by_platform: bool | None = None
    publicly_available: bool | None = None
    relevance: FileRelevance = "Reported"
    annotations: list[FileAnnotation] = _entries()
    industry_classification: IndustryClassification | None = None
    original_hashes: list[FileHash] = _entries()
    upload_ip: IpCaptureEvent | None = None
    device_ids: list[DeviceId] = _entries()
    metadata: list[FileMetadata] = _entries()
    additional_info: list[str] = _entries()

    def location_evidence(self) -> list[LocationEvidence]:
        """The upload IP address, if given, as location evidence of the file."""
        if self.upload_ip is None:
            return []
        flattener = _Flattener("file", 0)
        flattener.add("upload_ip", "ip", self.upload_ip)
        return flattener.items
