"""The *prioritise* and *classify* steps: how urgent a report is, and whether it is a referral or informational.

Pure functions of a report's facts (`ReportFacts`); the pipeline gathers the facts and stores the answers.
The rules, also written in docs/intake.md ("Priority", "Classification"); change both together:

Priority: the conditions are tried in this order and the first that holds decides.

1. **urgent** (1): the platform asked for urgent handling (``escalateToHighPriority``); the report is
   annotated sextortion or sadistic online exploitation; or a contact offence (enticement, trafficking,
   molestation, sex tourism) names a child in the victim section.
2. **high** (2): a contact offence; a ``csamSolicitation`` annotation; a child in the victim section.
3. **low** (4): the platform flagged the report as spam.
4. **high** (2): any file not seen before (new content may show abuse that is happening now).
5. **low** (4): viral content (a platform's viral batch, or a file the platform marked ``potentialMeme`` or
   ``viral``) of which every file was seen before.
6. **normal** (3): everything else (previously seen content, misleading names or words, obscene material).

Classification: an urgent report is always a **referral**. Otherwise it is **informational** when the
platform flagged it as spam, when its location could not be determined at all, or when it is viral content
that was all seen before; every other report is a **referral**.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clearinghouse.tipline.models import Classification, IncidentType

CONTACT_OFFENCES = frozenset(
    {
        IncidentType.ONLINE_ENTICEMENT,
        IncidentType.CHILD_SEX_TRAFFICKING,
        IncidentType.CHILD_SEXUAL_MOLESTATION,
        IncidentType.CHILD_SEX_TOURISM,
    }
)
"""Incident types where an offender reaches a child directly, rather than content circulating."""

URGENT_ANNOTATIONS = frozenset({"sextortion", "sadisticOnlineExploitation"})
HIGH_ANNOTATIONS = frozenset({"csamSolicitation"})
VIRAL_FILE_ANNOTATIONS = frozenset({"potentialMeme", "viral"})
ADULT_AGE = 18


class Priority(enum.IntEnum):
    """Urgency of a report; 1 is handled first."""

    URGENT = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """What the priority and classification rules look at."""

    incident_type: IncidentType
    escalated: bool = False
    annotations: frozenset[str] = frozenset()
    child_victim: bool = False
    new_files: int = 0
    """Files whose content was not seen before (the match step's ``previously_seen`` is False)."""
    seen_files: int = 0
    viral: bool = False
    location_known: bool = False
    """Whether the locate step found at least a country."""


def prioritise(facts: ReportFacts) -> tuple[Priority, str]:
    """The report's priority and the condition that set it."""
    if facts.escalated:
        return Priority.URGENT, "platform asked for urgent handling"
    urgent = sorted(facts.annotations & URGENT_ANNOTATIONS)
    if urgent:
        return Priority.URGENT, f"annotated {', '.join(urgent)}"
    contact = facts.incident_type in CONTACT_OFFENCES
    if contact and facts.child_victim:
        return Priority.URGENT, "contact offence against a child named in the victim section"
    if contact:
        return Priority.HIGH, "contact offence"
    if facts.annotations & HIGH_ANNOTATIONS:
        return Priority.HIGH, "annotated csamSolicitation"
    if facts.child_victim:
        return Priority.HIGH, "a child named in the victim section"
    if "spam" in facts.annotations:
        return Priority.LOW, "flagged spam by the platform"
    if facts.new_files:
        return Priority.HIGH, f"{facts.new_files} file(s) not seen before"
    if facts.viral and facts.seen_files:
        return Priority.LOW, "viral content, all seen before"
    return Priority.NORMAL, "no condition of a higher or lower priority"


def classify(facts: ReportFacts, priority: Priority) -> tuple[Classification, str]:
    """Referral or informational, and why."""
    if priority is Priority.URGENT:
        return Classification.REFERRAL, "urgent reports are always referred"
    if "spam" in facts.annotations:
        return Classification.INFORMATIONAL, "flagged spam by the platform"
    if not facts.location_known:
        return Classification.INFORMATIONAL, "no location could be determined"
    if facts.viral and facts.seen_files and not facts.new_files:
        return Classification.INFORMATIONAL, "viral content, all seen before"
    return Classification.REFERRAL, "actionable: located, not spam, not circulating viral content"


def _age_at(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def names_a_child(victims: Iterable[Mapping[str, Any]] | None, incident_at: dt.datetime | None) -> bool:
    """Whether the victim section (as stored in the report's body) names a child.

    A victim counts as a child when the given age is under 18, or the date of birth makes them under 18 on the
    day of the incident, or neither is given: the victim section is where a platform describes the child, and
    an adult there has to be said to be one.
    """
    for victim in victims or ():
        person = victim.get("person") or {}
        age = person.get("age")
        if isinstance(age, int):
            if age < ADULT_AGE:
                return True
            continue
        born = person.get("date_of_birth")
        if isinstance(born, str):
            try:
                birth = dt.date.fromisoformat(born)
            except ValueError:
                return True
            on = incident_at.date() if incident_at is not None else dt.datetime.now(dt.UTC).date()
            if _age_at(birth, on) < ADULT_AGE:
                return True
            continue
        return True
    return False
