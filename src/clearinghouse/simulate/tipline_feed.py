"""Simulated tipline traffic: platforms' batch exports, one NDJSON line per report, with the mess real traffic has.

Every report carries only raw evidence (estimated locations, addresses, proxies, conflicting clues, nothing at
all); where it ends up is decided by the pipeline's locate step. Mess included: the same report sent twice
(a retried batch), reports from the year before, reports filed minutes before New Year that are released in
the next year, international and unlocatable reports, and viral items that a platform batches (bundled by the
pipeline and made available once), and memes going round the platforms (each platform reports one once; after
the first, its content has been seen before). Reports that arrive one call at a time, and drafts, are sent by
`simulate.interface`.

The lines are what a platform's export holds (`tipline.bulk.BulkLine`); they reach the store only through bulk
intake. Each distinct document shape is validated once against `ReportIntake`; later reports of the shape
reuse its JSON with their own dates, which keeps the simulated year fast without skipping validation of any
shape.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

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
VIRAL_REASON = "VIRAL_POTENTIAL_MEME"
_WHEN = "@@INCIDENT_AT@@"


# Reports the clearinghouse made available in 2023 and classed informational, by recipient (its transparency
# report): the state task forces 238,271 of 908,762, other countries 17,361,989 of 33,504,858. Informational is
# mostly content already circulating: here, memes each platform reports once and the first platform to report
# finds new (so three of every four meme reports are of content seen before, which the classify rule calls
# informational). The shares shape the simulated inputs; what is informational is decided by the pipeline.
SEEN_REPORTS_PER_MEME = len(PLATFORMS) - 1
MEME_SHARE_STATE = 238_271 / 908_762 * len(PLATFORMS) / SEEN_REPORTS_PER_MEME
MEME_SHARE_ABROAD = 17_361_989 / 33_504_858 * len(PLATFORMS) / SEEN_REPORTS_PER_MEME


def processing_delay(received_at: dt.datetime) -> dt.timedelta:
    """How long after receipt the simulated pipeline releases a report (20 to 59 minutes)."""
    return dt.timedelta(minutes=20 + received_at.second % 40)


def simulated_clock(received_at: dt.datetime) -> dt.datetime:
    """The simulated pipeline's clock: a report is processed shortly after it arrives."""
    return received_at + processing_delay(received_at)


@dataclass(frozen=True, slots=True)
class PlatformBatchItem:
    """One report as a platform exports it: which platform, its id there, and its NDJSON line."""

    platform: str
    platform_ref: str
    received_at: dt.datetime
    line: bytes


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TiplineTraffic:
    """Generates the year's platform reports deterministically from a seed."""

    def __init__(self, *, year: int, rng: random.Random) -> None:
        self.year = year
        self.rng = rng
        self._serial = 0
        self._templates: dict[str, str] = {}
        self.start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
        self._meme: tuple[str, list[str]] | None = None
        """The meme being passed around: its MD5 and the platforms that have yet to report it."""

    def _ref(self) -> str:
        self._serial += 1
        return f"SIM{self.year}-{self._serial:08d}"

    def _when(self, *, last: dt.datetime | None = None, first: dt.datetime | None = None) -> dt.datetime:
        first = first or self.start
        # Counted reports arrive early enough that their release (at most 59 minutes later) stays in the year.
        last = last or dt.datetime(self.year, 12, 31, 22, 0, tzinfo=dt.UTC)
        seconds = self.rng.randrange(int((last - first).total_seconds()))
        return first + dt.timedelta(seconds=seconds)

    def _files(self) -> list[dict[str, Any]]:
        count = self.rng.choices((0, 1, 2, 3, 5), weights=(5, 52, 25, 13, 5))[0]
        return [
            {
                "kind": self.rng.choices(("image", "video", "other"), weights=(70, 28, 2))[0],
                "md5": f"{self.rng.getrandbits(128):032x}",
                "sha1": f"{self.rng.getrandbits(160):040x}",
                "size": self.rng.randrange(20_000, 5_000_000),
            }
            for _ in range(count)
        ]

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

    def _template(self, document: dict[str, object]) -> str:
        """The document's JSON with a slot for its incident time, validated the first time its shape is seen."""
        key = json.dumps(document, sort_keys=True)
        template = self._templates.get(key)
        if template is None:
            sample = ReportIntake.model_validate({**document, "incident_at": _stamp(self.start)})
            text = sample.model_dump_json(exclude_none=True, exclude_defaults=True)
            template = self._templates[key] = text.replace(f'"{_stamp(self.start)}"', f'"{_WHEN}"', 1)
        return template

    def _document(self, evidence: dict[str, object], *, plain: bool = False) -> dict[str, object]:
        """An intake document around ``evidence``: a weighted incident type, and now and then an escalation or
        a sextortion annotation (never for ``plain`` reports, which must stay bundleable)."""
        incident = IncidentType.CHILD_PORNOGRAPHY
        escalated = sextortion = False
        if not plain:
            kinds, weights = zip(*INCIDENT_WEIGHTS, strict=True)
            incident = self.rng.choices(kinds, weights=weights)[0]
            escalated = self.rng.random() < 0.01
            sextortion = self.rng.random() < 0.03
        document: dict[str, object] = {
            "incident_type": incident.value,
            "reporter": {"reporting_person": {"first_name": "Trust", "last_name": "Safety"}},
            **evidence,
        }
        if escalated:
            document["escalation_reason"] = "child appears to be at imminent risk"
        if sextortion:
            document["annotations"] = ["sextortion"]
        return document

    def _item(
        self,
        document: dict[str, object],
        at: dt.datetime,
        *,
        platform: str | None = None,
        ref: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> PlatformBatchItem:
        incident_at = at - dt.timedelta(hours=self.rng.randrange(1, 72))
        report = self._template(document).replace(_WHEN, _stamp(incident_at), 1)
        ref = ref or self._ref()
        files = self._files() if files is None else files
        line = (
            f'{{"platform_report_id":"{ref}","received_at":"{_stamp(at)}",'
            f'"report":{report},"files":{json.dumps(files, separators=(",", ":"))}}}'
        )
        return PlatformBatchItem(platform or self.rng.choice(PLATFORMS), ref, at, line.encode())

    def _circulating(self) -> tuple[str, list[dict[str, Any]]]:
        """A platform and a meme it reports: each meme goes round every platform once (never twice on one
        platform, where two reports of it would be bundled), so only its first report is of new content."""
        if self._meme is None or not self._meme[1]:
            platforms = list(PLATFORMS)
            self.rng.shuffle(platforms)
            self._meme = (f"{self.rng.getrandbits(128):032x}", platforms)
        md5, platforms = self._meme
        return platforms.pop(), [{"kind": "image", "md5": md5, "annotations": ["potentialMeme"]}]

    def _located(self, evidence: dict[str, object], meme_share: float) -> PlatformBatchItem:
        if self.rng.random() < meme_share:
            platform, files = self._circulating()
            return self._item(self._document(evidence), self._when(), platform=platform, files=files)
        return self._item(self._document(evidence), self._when())

    def for_state(self, state: str, count: int) -> Iterator[PlatformBatchItem]:
        """``count`` reports located in ``state`` and released within the year, some of them circulating memes."""
        for _ in range(count):
            yield self._located(self._state_evidence(state), MEME_SHARE_STATE)

    def viral(self, state: str, bundles: int) -> Iterator[PlatformBatchItem]:
        """``bundles`` viral items of ``state``, each batched by its platform: 2 to 11 reports of one meme file,
        the first listing the others' ids and each of the others listing the first's. The pipeline bundles
        each into one report made available to the state once."""
        for _ in range(bundles):
            platform = self.rng.choice(PLATFORMS)
            meme: dict[str, Any] = {
                "kind": "image",
                "md5": f"{self.rng.getrandbits(128):032x}",
                "annotations": ["potentialMeme"],
            }
            refs = [self._ref() for _ in range(self.rng.randrange(2, 12))]
            first = self._when(last=dt.datetime(self.year, 12, 20, tzinfo=dt.UTC))
            for index, ref in enumerate(refs):
                grouped = refs[1:] if index == 0 else refs[:1]
                # Plain evidence and document: a victim, an escalation or a sextortion flag would rightly keep
                # a report out of its bundle, and the state would then count it on its own.
                here = {"region": state, "country_code": "US"}
                evidence: dict[str, object] = {"reported_persons": [{"estimated_location": here}]}
                document = {
                    **self._document(evidence, plain=True),
                    "batch": {"reason": VIRAL_REASON, "grouped_report_ids": grouped},
                }
                at = first + dt.timedelta(hours=index * self.rng.randrange(1, 20))
                yield self._item(document, at, platform=platform, ref=ref, files=[meme])

    def boundary_noise(self, state: str) -> Iterator[PlatformBatchItem]:
        """Reports of ``state`` outside the year: from the year before, and filed just before New Year."""
        before = dt.datetime(self.year - 1, 12, 1, tzinfo=dt.UTC)
        for _ in range(self.rng.randrange(1, 4)):
            at = self._when(first=before, last=self.start - dt.timedelta(hours=2))
            yield self._item(self._document(self._state_evidence(state)), at)
        new_year = dt.datetime(self.year + 1, 1, 1, tzinfo=dt.UTC)
        for _ in range(self.rng.randrange(1, 3)):
            # Received after 23:41 with a delay of at least 20 minutes: released in the next year.
            late = new_year - dt.timedelta(minutes=19, seconds=self.rng.randrange(0, 60))
            yield self._item(self._document(self._state_evidence(state)), late)

    def international(self, count: int) -> Iterator[PlatformBatchItem]:
        """Reports located outside the United States."""
        for _ in range(count):
            country = self.rng.choice(INTERNATIONAL_COUNTRIES)
            evidence: dict[str, object] = {"reported_persons": [{"estimated_location": {"country_code": country}}]}
            yield self._located(evidence, MEME_SHARE_ABROAD)

    def unlocated(self, count: int) -> Iterator[PlatformBatchItem]:
        """Reports with no usable location: none at all, or only an IP address and no database to read it."""
        for _ in range(count):
            evidence: dict[str, object] = {}
            if self.rng.random() < 0.5:
                ip = f"203.0.113.{self.rng.randrange(1, 255)}"
                evidence = {"reported_persons": [{"ip_capture_events": [{"ip_address": ip}]}]}
            yield self._item(self._document(evidence), self._when())
