"""Synthetic, realistic request data for the reporting interface, keyed by the XSD's element names.

Everything is made up by Faker from a fixed seed; the shapes follow the schema, not our intake models, so a
round trip through our parser really tests the conversion.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from faker import Faker
from PIL import Image

INCIDENT_TYPES = (
    "Child Pornography (possession, manufacture, and distribution)",
    "Child Sex Trafficking",
    "Child Sex Tourism",
    "Child Sexual Molestation",
    "Misleading Domain Name",
    "Misleading Words or Digital Images on the Internet",
    "Online Enticement of Children for Sexual Acts",
    "Unsolicited Obscene Material Sent to a Child",
)


def make_faker(seed: int = 20240611) -> Faker:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return fake


def _state(fake: Faker) -> str:
    return str(fake.state_abbr(include_territories=False, include_freely_associated_states=False))


def address(fake: Faker, kind: str = "Home") -> dict[str, Any]:
    return {
        "@type": kind,
        "address": fake.street_address(),
        "city": fake.city(),
        "zipCode": fake.zipcode(),
        "state": _state(fake),
        "country": "US",
    }


def phone(fake: Faker, kind: str = "Mobile") -> dict[str, Any]:
    return {"#text": fake.numerify("###-###-####"), "@type": kind, "@verified": True, "@countryCallingCode": "+1"}


def ip_event(fake: Faker, event: str, *, proxy: bool = False, at: datetime | None = None) -> dict[str, Any]:
    window = (datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 5, 17, tzinfo=UTC))
    moment = at or fake.date_time_between(*window, tzinfo=UTC)
    return {"ipAddress": fake.ipv4_public(), "eventName": event, "dateTime": moment, "possibleProxy": proxy}


def person(fake: Faker, *, age: int | None = None, with_contact: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"firstName": fake.first_name(), "lastName": fake.last_name()}
    if with_contact:
        data["phone"] = [phone(fake)]
        data["email"] = [{"#text": fake.email(), "@type": "Home", "@verified": True}]
        data["address"] = [address(fake)]
    if age is not None:
        data["age"] = age
        data["dateOfBirth"] = fake.date_of_birth(minimum_age=age, maximum_age=age)
    return data


def reporter(fake: Faker) -> dict[str, Any]:
    company = {
        "firstName": fake.first_name(),
        "lastName": fake.last_name(),
        "email": [{"#text": fake.company_email(), "@type": "Business"}],
        "address": [address(fake, "Business")],
    }
    return {"reportingPerson": company, "legalURL": fake.url()}


def crowd(
    entries: int, per_list: int = 1000, *, accounts_key: str = "associatedAccount", account: Any = None
) -> list[dict[str, Any]]:
    """Reported persons with linked accounts, `entries` entries in all (each person and each account is one),
    none repeated more than `per_list` times in one place: `personOrUserReported` elements by default, or in
    another shape by naming its accounts' key and an account (the JSON intake's, say)."""
    one = {"@type": "Other"} if account is None else account
    persons = []
    while entries > 0:
        accounts = min(entries - 1, per_list)
        persons.append({accounts_key: [one] * accounts})
        entries -= 1 + accounts
    return persons


def minimal_report(fake: Faker, incident_type: str = INCIDENT_TYPES[0]) -> dict[str, Any]:
    """The smallest report the schema accepts."""
    return {
        "incidentSummary": {
            "incidentType": incident_type,
            "incidentDateTime": datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
        },
        "reporter": reporter(fake),
    }


def realistic_report(fake: Faker) -> dict[str, Any]:
    """A report carrying every kind of location evidence, a batch reason, an escalation and annotations."""
    at = datetime(2024, 5, 17, 22, 15, 3, tzinfo=UTC)
    return {
        "batchedReport": {"@reason": "VIRAL_POTENTIAL_MEME"},
        "incidentSummary": {
            "incidentType": "Online Enticement of Children for Sexual Acts",
            "platform": "Example Chat",
            "escalateToHighPriority": "Reported user arranged to meet the child tonight.",
            "reportAnnotations": {"sextortion": True, "minorToMinorInteraction": True},
            "incidentDateTime": at,
            "incidentDateTimeDescription": "Time of the last message",
        },
        "internetDetails": [
            {"chatImIncident": {"chatClient": "Example Chat", "content": "synthetic message text"}},
            {"cellPhoneIncident": {"phoneNumber": phone(fake), "latitude": 30.2672, "longitude": -97.7431}},
            {"nonInternetIncident": {"locationName": "Mall", "incidentAddress": [address(fake, "Business")]}},
            {"peer2peerIncident": {"client": "ExampleP2P", "ipCaptureEvent": [ip_event(fake, "Upload")]}},
        ],
        "reporter": reporter(fake),
        "personOrUserReported": [
            {
                "personOrUserReportedPerson": person(fake, age=34),
                "espIdentifier": fake.uuid4(),
                "screenName": fake.user_name(),
                "displayName": [fake.name()],
                "ipCaptureEvent": [ip_event(fake, "Login"), ip_event(fake, "Registration", proxy=True)],
                "estimatedLocation": {
                    "@verified": True,
                    "@timestamp": at - timedelta(days=1),
                    "city": fake.city(),
                    "region": _state(fake),
                    "countryCode": "US",
                },
                "associatedAccount": [
                    {
                        "@type": "Billing",
                        "firstName": fake.first_name(),
                        "phone": [phone(fake, "Home")],
                        "ipCaptureEvent": [ip_event(fake, "Purchase")],
                    },
                ],
            }
        ],
        "victim": [
            {
                "victimPerson": person(fake, age=13),
                "screenName": fake.user_name(),
                "ipCaptureEvent": [ip_event(fake, "Login")],
                "schoolName": "Example Middle School",
            }
        ],
        "additionalInfo": "Synthetic test report.",
    }


def file_details(fake: Faker, report_id: int, file_id: str) -> dict[str, Any]:
    return {
        "reportId": report_id,
        "fileId": file_id,
        "fileName": "upload.png",
        "originalFileName": fake.file_name(extension="png"),
        "uploadedToEspTimestamp": datetime(2024, 5, 17, 21, 0, tzinfo=UTC),
        "fileViewedByEsp": True,
        "publiclyAvailable": False,
        "fileRelevance": "Supplemental Reported",
        "fileAnnotations": {"viral": True, "generativeAi": True},
        "industryClassification": "A1",
        "originalFileHash": [
            {"#text": "D41D8CD98F00B204E9800998ECF8427E", "@hashType": "MD5"},
            {"#text": "da39a3ee5e6b4b0d3255bfef95601890afd80709", "@hashType": "SHA-1"},
        ],
        "ipCaptureEvent": ip_event(fake, "Upload"),
        "details": [{"@type": "EXIF", "nameValuePair": [{"name": "Model", "value": "Synthetic"}]}],
        "additionalInfo": ["viral video"],
    }


def synthetic_image(seed: int = 7, size: int = 256) -> Image.Image:
    """Blocky random noise: plenty of structure for PDQ, and obviously nothing but a test pattern."""
    blocks = np.random.default_rng(seed).integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
    return Image.fromarray(np.kron(blocks, np.ones((16, 16, 1), dtype=np.uint8)))


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()
