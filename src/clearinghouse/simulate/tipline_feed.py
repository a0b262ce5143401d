"""Simulated tipline traffic: platform reports as intake documents, with the mess real traffic has.

Every report carries only raw evidence (estimated locations, addresses, proxies, conflicting clues, nothing at
all); where it ends up is decided by the pipeline's locate step. Mess included: the same report filed twice
(a retried batch), reports from the year before, reports filed minutes before New Year that are released in
the next year, drafts retracted or left to expire, international and unlocatable reports.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from clearinghouse.tipline.filing import FileDigest, FiledReport
from clearinghouse.tipline.models import FileKind
from clearinghouse.tipline.wire_schemas import IncidentType, ReportIntake

INTERNATIONAL_COUNTRIES = ("IN", "PH", "BD", "ID", "PK", "BR", "MX", "DZ", "IQ", "VN", "CO", "TH", "NG", "EG")
INCIDENT_WEIGHTS = (
    (IncidentType.CHILD_PORNOGRAPHY, 0.95),
    (IncidentType.ONLINE_ENTICEMENT, 0.03),
    (IncidentType.CHILD_SEX_TRAFFICKING, 0.005),
    (IncidentType.UNSOLICITED_OBSCENE_MATERIAL, 0.006),
    (IncidentType.MISLEADING_WORDS_OR_IMAGES, 0.004),
    (IncidentType.CHILD_SEXUAL_MOLESTATION, 0.003),
    (IncidentType.MISLEADING_DOMAIN_NAME, 0.001),
    (IncidentType.CHILD_SEX_TOURISM, 0.001),
)
PLATFORMS = ("Example Social Network", "Example Video Sharing", "Example Messaging", "Example Cloud Storage")


def processing_delay(received_at: dt.datetime) -> dt.timedelta:
    """How long after receipt the simulated pipeline releases a report (20 to 59 minutes)."""
    return dt.timedelta(minutes=20 + received_at.second % 40)


def simulated_clock(received_at: dt.datetime) -> dt.datetime:
    """The simulated pipeline's clock: a report is processed shortly after it arrives."""
    return received_at + processing_delay(received_at)


@dataclass(frozen=True, slots=True)
class PlatformBatchItem:
    """One report as a platform sends it, and which platform sent it."""

    platform: str
    report: FiledReport


class TiplineTraffic:
    """Generates the year's platform reports deterministically from a seed."""

    def __init__(self, *, year: int, rng: random.Random) -> None:
        self.year = year
        self.rng = rng
        self._serial = 0
        self._templates: dict[tuple[str, IncidentType, bool, bool], ReportIntake] = {}
        self.start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)

    def _ref(self) -> str:
        self._serial += 1
        return f"SIM{self.year}-{self._serial:08d}"

    def _when(self, *, last: dt.datetime | None = None, first: dt.datetime | None = None) -> dt.datetime:
        first = first or self.start
        # Counted reports arrive early enough that their release (at most 59 minutes later) stays in the year.
        last = last or dt.datetime(self.year, 12, 31, 22, 0, tzinfo=dt.UTC)
        seconds = self.rng.randrange(int((last - first).total_seconds()))
        return first + dt.timedelta(seconds=seconds)

    def _files(self) -> tuple[FileDigest, ...]:
        count = self.rng.choices((1, 2, 3, 5), weights=(55, 25, 15, 5))[0]
        return tuple(
            FileDigest(
                kind=self.rng.choices((FileKind.IMAGE, FileKind.VIDEO, FileKind.OTHER), weights=(70, 28, 2))[0],
                md5=f"{self.rng.getrandbits(128):032x}",
                sha1=f"{self.rng.getrandbits(160):040x}",
                size=self.rng.randrange(20_000, 5_000_000),
            )
            for _ in range(count)
        )

    def _state_evidence(self, state: str) -> dict[str, object]:
        """Reported-person (and victim) clues that the locate rule places in ``state``."""
        variant = self.rng.random()
        verified = self.rng.random() < 0.3
        here = {"region": state, "country_code": "US", "verified": verified}
        if variant < 0.55:
            return {"reported_persons": [{"estimated_location": here}]}
        if variant < 0.70:
            address = {"state": state, "country": "US", "city": "Springfield"}
            return {"reported_persons": [{"person": {"addresses": [address]}}]}
        if variant < 0.80:
            # Conflicting clues: an address in the state outweighs an estimated location elsewhere.
            elsewhere = "TX" if state != "TX" else "OK"
            return {
                "reported_persons": [
                    {
                        "person": {"addresses": [{"state": state, "country": "US"}]},
                        "estimated_location": {"region": elsewhere, "country_code": "US"},
                    }
                ]
            }
        if variant < 0.90:
            # A proxy IP (unresolvable without an IP database, and weak with one) beside the real clue.
            ip = f"198.51.100.{self.rng.randrange(1, 255)}"
            return {
                "reported_persons": [
                    {
                        "ip_capture_events": [{"ip_address": ip, "possible_proxy": True}],
                        "estimated_location": here,
                    }
                ]
            }
        return {"reported_persons": [{"estimated_location": here}], "victims": [{"estimated_location": here}]}

    def _intake(self, evidence: dict[str, object], at: dt.datetime) -> ReportIntake:
        incident = self.rng.choices([t for t, _ in INCIDENT_WEIGHTS], weights=[w for _, w in INCIDENT_WEIGHTS])[0]
        escalated = self.rng.random() < 0.01
        sextortion = self.rng.random() < 0.03
        key = (json.dumps(evidence, sort_keys=True), incident, escalated, sextortion)
        template = self._templates.get(key)
        if template is None:
            # Each distinct document shape is validated once; later reports of the same shape copy it with their
            # own dates, which keeps the simulated year fast without skipping validation of any shape.
            document: dict[str, object] = {
                "incident_type": incident.value,
                "incident_at": at.isoformat(),
                "reporter": {"reporting_person": {"first_name": "Trust", "last_name": "Safety"}},
                **evidence,
            }
            if escalated:
                document["escalation_reason"] = "child appears to be at imminent risk"
            if sextortion:
                document["annotations"] = ["sextortion"]
            template = self._templates[key] = ReportIntake.model_validate(document)
        return template.model_copy(update={"incident_at": at - dt.timedelta(hours=self.rng.randrange(1, 72))})

    def _report(self, evidence: dict[str, object], at: dt.datetime) -> PlatformBatchItem:
        return PlatformBatchItem(
            platform=self.rng.choice(PLATFORMS),
            report=FiledReport(
                intake=self._intake(evidence, at),
                received_at=at,
                platform_ref=self._ref(),
                files=self._files(),
            ),
        )

    def for_state(self, state: str, count: int) -> Iterator[PlatformBatchItem]:
        """``count`` reports located in ``state`` and released within the year."""
        for _ in range(count):
            yield self._report(self._state_evidence(state), self._when())

    def boundary_noise(self, state: str) -> Iterator[PlatformBatchItem]:
        """Reports of ``state`` outside the year: from the year before, and filed just before New Year."""
        before = dt.datetime(self.year - 1, 12, 1, tzinfo=dt.UTC)
        for _ in range(self.rng.randrange(1, 4)):
            yield self._report(
                self._state_evidence(state), self._when(first=before, last=self.start - dt.timedelta(hours=2))
            )
        new_year = dt.datetime(self.year + 1, 1, 1, tzinfo=dt.UTC)
        for _ in range(self.rng.randrange(1, 3)):
            # Received after 23:41 with a delay of at least 20 minutes: released in the next year.
            late = new_year - dt.timedelta(minutes=19, seconds=self.rng.randrange(0, 60))
            yield self._report(self._state_evidence(state), late)

    def international(self, count: int) -> Iterator[PlatformBatchItem]:
        """Reports located outside the United States."""
        for _ in range(count):
            country = self.rng.choice(INTERNATIONAL_COUNTRIES)
            abroad = {"country_code": country}
            evidence: dict[str, object] = {"reported_persons": [{"estimated_location": abroad}]}
            yield self._report(evidence, self._when())

    def unlocated(self, count: int) -> Iterator[PlatformBatchItem]:
        """Reports with no usable location: none at all, or only an IP address and no database to read it."""
        for _ in range(count):
            evidence: dict[str, object] = {}
            if self.rng.random() < 0.5:
                ip = f"203.0.113.{self.rng.randrange(1, 255)}"
                evidence = {"reported_persons": [{"ip_capture_events": [{"ip_address": ip}]}]}
            yield self._report(evidence, self._when())
