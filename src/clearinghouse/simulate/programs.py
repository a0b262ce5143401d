"""Simulated activity of the case-work programs, sent through each program's services.

Volumes come from the year plan; every record is a raw input (an intake, a contact, a registration), and
noise is mixed in on purpose: duplicate intakes and registrations, cases and contacts in the year before,
a case resolved and reopened, cancelled engagements and activations, declined referrals, reviews still open
at the end of the year, withdrawn submissions.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, field

import sqlalchemy as sa
from faker import Faker
from sqlalchemy.orm import Session

from clearinghouse.education import service as education
from clearinghouse.education.schemas import ProfessionalCreate
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.missing import service as missing
from clearinghouse.missing.indicators import Indicator
from clearinghouse.missing.models import CaseCategory, CaseType, MissingCase
from clearinghouse.missing.schemas import MissingCaseCreate
from clearinghouse.response import service as response
from clearinghouse.response.models import ActivationKind
from clearinghouse.response.schemas import ActivationCreate
from clearinghouse.support import service as support
from clearinghouse.support.models import ContactChannel, RecipientKind
from clearinghouse.support.schemas import PeerContactCreate, RecipientCreate, ReferralCreate
from clearinghouse.trafficking import service as trafficking
from clearinghouse.trafficking.models import EngagementService, TraffickingSource
from clearinghouse.trafficking.schemas import EngagementCreate, TraffickingReportCreate
from clearinghouse.victim_id import service as victim_id
from clearinghouse.victim_id.schemas import IdentificationCreate, SubmissionCreate

ACTOR = "simulation"
REFERENCES = itertools.count(1)
LIKELY_TRAFFICKING_SHARE = 0.19
"""Share of children missing from care given a strong trafficking indicator (shapes inputs only)."""


@dataclass
class Calendar:
    """Random instants inside (or just outside) the simulated year."""

    year: int
    rng: random.Random

    def within(self, *, first: dt.datetime | None = None, last: dt.datetime | None = None) -> dt.datetime:
        """A random instant in [first, last], by default the whole year."""
        first = first or dt.datetime(self.year, 1, 1, tzinfo=dt.UTC)
        last = last or dt.datetime(self.year, 12, 31, 23, 0, tzinfo=dt.UTC)
        span = max(int((last - first).total_seconds()), 1)
        return first + dt.timedelta(seconds=self.rng.randrange(span))

    def previous_december(self) -> dt.datetime:
        """An instant in the last December before the year."""
        return self.within(
            first=dt.datetime(self.year - 1, 12, 1, tzinfo=dt.UTC),
            last=dt.datetime(self.year - 1, 12, 31, 20, tzinfo=dt.UTC),
        )


@dataclass
class Directory:
    """The agencies of each state that the simulated activity involves."""

    law_enforcement: dict[str, list[int]] = field(default_factory=dict)
    social_services: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> Directory:
        """Read the agency directory from the store."""
        directory = cls()
        for agency_id, code, kind in session.execute(sa.select(Agency.id, Agency.jurisdiction_code, Agency.kind)):
            target = directory.social_services if kind is AgencyKind.SOCIAL_SERVICES else directory.law_enforcement
            target.setdefault(code, []).append(agency_id)
        return directory


class CaseWork:
    """Feeds one state's year of case work through the services."""

    def __init__(self, *, session: Session, year: int, rng: random.Random, fake: Faker, directory: Directory) -> None:
        self.session = session
        self.year = year
        self.rng = rng
        self.fake = fake
        self.calendar = Calendar(year, rng)
        self.directory = directory

    def _serial_ref(self, prefix: str) -> str:
        # One counter for the whole simulation: references must be unique across states and years.
        return f"{prefix}-{self.year}-{next(REFERENCES):07d}"

    # -- missing children -------------------------------------------------------------------------------------
    def _case_type(self, category: CaseCategory) -> CaseType:
        if category is CaseCategory.OTHER:
            return self.rng.choices(
                (
                    CaseType.FAMILY_ABDUCTION,
                    CaseType.ENDANGERED_RUNAWAY,
                    CaseType.LOST_INJURED_OTHERWISE_MISSING,
                    CaseType.NONFAMILY_ABDUCTION,
                    CaseType.CRITICALLY_MISSING_YOUNG_ADULT,
                ),
                weights=(40, 35, 12, 5, 8),
            )[0]
        return CaseType.ENDANGERED_RUNAWAY

    def _intake(self, state: str, category: CaseCategory, opened_at: dt.datetime) -> MissingCaseCreate:
        case_type = self._case_type(category)
        missing_since = opened_at - dt.timedelta(hours=self.rng.randrange(2, 96))
        age = (
            self.rng.randrange(18, 21)
            if case_type is CaseType.CRITICALLY_MISSING_YOUNG_ADULT
            else self.rng.randrange(3, 18)
        )
        # A birthday 1 to 299 days before the child went missing, ``age`` years back: exactly ``age`` years old.
        birthday = (missing_since - dt.timedelta(days=self.rng.randrange(1, 300))).date()
        birth = birthday.replace(year=birthday.year - age, day=min(birthday.day, 28))
        indicators: list[Indicator] = []
        if category is CaseCategory.SOCIAL_SERVICES and self.rng.random() < LIKELY_TRAFFICKING_SHARE:
            indicators.append(self.rng.choice((Indicator.ADVERTISED_ONLINE, Indicator.COMMERCIAL_SEX_DISCLOSED)))
        elif self.rng.random() < 0.3:
            indicators.append(Indicator.HISTORY_OF_RUNNING_AWAY)
        return MissingCaseCreate(
            state_code=state,
            category=category,
            case_type=case_type,
            child_given_name=self.fake.first_name(),
            child_family_name=self.fake.last_name(),
            child_birth_date=birth,
            missing_since=missing_since,
            opened_at=opened_at,
            reported_by={
                CaseCategory.SOCIAL_SERVICES: "social_services",
                CaseCategory.HHS_ORR: "hhs_orr",
                CaseCategory.OTHER: "law_enforcement",
            }[category],
            last_seen_city=self.fake.city(),
            indicators=indicators,
        )

    def missing_cases(self, state: str, targets: dict[str, int]) -> list[MissingCase]:
        """The state's cases of the year by category, plus duplicate intakes and last year's cases."""
        opened: list[MissingCase] = []
        for category, name in (
            (CaseCategory.SOCIAL_SERVICES, "missing_social_services"),
            (CaseCategory.OTHER, "missing_other"),
            (CaseCategory.HHS_ORR, "missing_hhs_orr"),
        ):
            for _ in range(targets[name]):
                data = self._intake(state, category, self.calendar.within())
                result = missing.open_case(session=self.session, data=data, actor=ACTOR)
                opened.append(result.case)
                if self.rng.random() < 0.02:  # the same child reported again by a second caller
                    repeat = data.model_copy(update={"opened_at": data.opened_at + dt.timedelta(hours=3)})  # type: ignore[operator]
                    missing.open_case(session=self.session, data=repeat, actor=ACTOR)
        if targets["missing_social_services"] + targets["missing_other"] > 0:
            # Last December's case, recovered, then missing again this year: reopened, not a new case.
            data = self._intake(state, CaseCategory.OTHER, self.calendar.previous_december())
            case = missing.open_case(session=self.session, data=data, actor=ACTOR).case
            recovered = case.opened_at + dt.timedelta(days=2)
            missing.resolve(session=self.session, case_id=case.id, at=recovered, resolution="recovered", actor=ACTOR)
            again = self.calendar.within(first=recovered + dt.timedelta(days=20))
            missing.reopen(session=self.session, case_id=case.id, at=again, actor=ACTOR)
        for case in opened:
            if self.rng.random() < 0.8:
                found = min(
                    case.opened_at + dt.timedelta(days=self.rng.randrange(1, 60)),
                    self.calendar.within(first=case.opened_at),
                )
                missing.resolve(session=self.session, case_id=case.id, at=found, resolution="recovered", actor=ACTOR)
        return opened

    def past_case(self, state: str, year: int) -> MissingCase:
        """A case opened in an earlier ``year`` (for long-term assistance); counted in that year, not this one."""
        calendar = Calendar(year, self.rng)
        data = self._intake(state, CaseCategory.OTHER, calendar.within())
        return missing.open_case(session=self.session, data=data, actor=ACTOR).case

    def long_term_activation(self, case: MissingCase) -> None:
        """The team assists on a long-term case during the year."""
        response.activate(
            session=self.session,
            data=ActivationCreate(
                missing_case_id=case.id, kind=ActivationKind.LONG_TERM, activated_at=self.calendar.within()
            ),
            actor=ACTOR,
        )

    # -- rapid response ---------------------------------------------------------------------------------------
    def critical_activations(self, cases: list[MissingCase], count: int) -> None:
        """Deploy the team on ``count`` critical cases (one twice), and cancel one request."""
        # Still missing when the team is deployed (within two days of the report) and when it is sent again five
        # days later: a case found sooner cannot take a deployment.
        deployable = dt.timedelta(days=8)
        eligible = [
            c
            for c in cases
            if c.category is CaseCategory.OTHER
            and c.opened_at.month < 12
            and (c.resolved_at is None or c.resolved_at > c.opened_at + deployable)
        ]
        chosen = self.rng.sample(eligible, min(count, len(eligible)))
        if len(chosen) < count:
            raise RuntimeError(f"only {len(eligible)} cases eligible for {count} critical activations")
        for index, case in enumerate(chosen):
            at = case.opened_at + dt.timedelta(hours=self.rng.randrange(1, 48))
            first = response.activate(
                session=self.session,
                data=ActivationCreate(missing_case_id=case.id, kind=ActivationKind.CRITICAL, activated_at=at),
                actor=ACTOR,
            )
            response.close_activation(
                session=self.session, activation_id=first.id, at=at + dt.timedelta(days=2), actor=ACTOR
            )
            if index == 0:  # deployed a second time on the same case: still one case assisted
                later = at + dt.timedelta(days=5)
                response.activate(
                    session=self.session,
                    data=ActivationCreate(missing_case_id=case.id, kind=ActivationKind.CRITICAL, activated_at=later),
                    actor=ACTOR,
                )
        spare = [c for c in eligible if c not in chosen]
        if spare:
            case = spare[0]
            activation = response.activate(
                session=self.session,
                data=ActivationCreate(
                    missing_case_id=case.id, kind=ActivationKind.CRITICAL, activated_at=case.opened_at
                ),
                actor=ACTOR,
            )
            response.cancel_activation(
                session=self.session,
                activation_id=activation.id,
                at=activation.activated_at + dt.timedelta(hours=2),
                actor=ACTOR,
            )

    # -- victim identification --------------------------------------------------------------------------------
    def submissions(self, state: str, count: int) -> None:
        """Submissions whose review completes in the year, plus a duplicate, an open review and a withdrawal."""
        agencies = self.directory.law_enforcement.get(state, [])
        if count and not agencies:
            raise RuntimeError(f"no law-enforcement agency in {state}")
        for index in range(count):
            submitted = self.calendar.within(last=dt.datetime(self.year, 12, 1, tzinfo=dt.UTC))
            data = SubmissionCreate(
                agency_id=self.rng.choice(agencies),
                case_number=self._serial_ref(f"{state}-LE"),
                submitted_at=submitted,
                file_count=self.rng.randrange(5, 20_000),
            )
            submission = victim_id.receive_submission(session=self.session, data=data, actor=ACTOR)
            if index == 0:  # the agency's portal retried: same case number, same submission
                victim_id.receive_submission(session=self.session, data=data, actor=ACTOR)
            victim_id.start_review(
                session=self.session, submission_id=submission.id, at=submitted + dt.timedelta(days=1), actor=ACTOR
            )
            done = submitted + dt.timedelta(days=self.rng.randrange(2, 25))
            victim_id.complete_review(session=self.session, submission_id=submission.id, at=done, actor=ACTOR)
        if agencies:
            late = SubmissionCreate(
                agency_id=agencies[0],
                case_number=self._serial_ref(f"{state}-LE"),
                submitted_at=dt.datetime(self.year, 12, 30, tzinfo=dt.UTC),
                file_count=40,
            )
            victim_id.receive_submission(session=self.session, data=late, actor=ACTOR)  # reviewed next year
            withdrawn = victim_id.receive_submission(
                session=self.session,
                data=late.model_copy(update={"case_number": self._serial_ref(f"{state}-LE")}),
                actor=ACTOR,
            )
            victim_id.withdraw(
                session=self.session,
                submission_id=withdrawn.id,
                at=withdrawn.submitted_at + dt.timedelta(hours=1),
                actor=ACTOR,
            )

    # -- trafficking ------------------------------------------------------------------------------------------
    def engagements(self, state: str, count: int) -> None:
        """Recovery-service engagements with the state's social-service agencies, plus a cancelled one."""
        agencies = self.directory.social_services.get(state, [])
        if count and not agencies:
            raise RuntimeError(f"no social-service agency in {state}")
        remaining = count
        while remaining > 0:
            report = trafficking.record_report(
                session=self.session,
                data=TraffickingReportCreate(
                    reference=self._serial_ref("TR"),
                    source=self.rng.choice(list(TraffickingSource)),
                    state_code=state,
                    received_at=self.calendar.within(last=dt.datetime(self.year, 11, 30, tzinfo=dt.UTC)),
                ),
            )
            agency = self.rng.choice(agencies)
            kinds = self.rng.sample(list(EngagementService), k=min(remaining, self.rng.randrange(1, 4)))
            for kind in kinds:  # one engagement per service with an agency on a report
                started = self.calendar.within(first=report.received_at + dt.timedelta(days=1))
                trafficking.start_engagement(
                    session=self.session,
                    data=EngagementCreate(
                        trafficking_report_id=report.id, agency_id=agency, service=kind, started_at=started
                    ),
                    actor=ACTOR,
                )
                remaining -= 1
        if count and agencies:
            report = trafficking.record_report(
                session=self.session,
                data=TraffickingReportCreate(
                    reference=self._serial_ref("TR"),
                    source=TraffickingSource.HOTLINE,
                    state_code=state,
                    received_at=self.calendar.within(),
                ),
            )
            cancelled = trafficking.start_engagement(
                session=self.session,
                data=EngagementCreate(
                    trafficking_report_id=report.id,
                    agency_id=agencies[0],
                    service=EngagementService.RECOVERY_PLANNING,
                    started_at=report.received_at,
                ),
                actor=ACTOR,
            )
            trafficking.cancel_engagement(
                session=self.session,
                engagement_id=cancelled.id,
                at=cancelled.started_at + dt.timedelta(days=3),
                actor=ACTOR,
            )

    def trafficking_reports(self, count: int, states: list[str]) -> None:
        """Trafficking reports that led to no engagement (most of them)."""
        for _ in range(count):
            trafficking.record_report(
                session=self.session,
                data=TraffickingReportCreate(
                    reference=self._serial_ref("TR"),
                    source=self.rng.choice(list(TraffickingSource)),
                    state_code=self.rng.choice(states),
                    received_at=self.calendar.within(),
                ),
            )

    # -- family support ---------------------------------------------------------------------------------------
    def family_support(self, state: str, peer: int, connected: int) -> None:
        """Peer support for ``peer`` people and mental-health connections for ``connected`` people."""
        people = []
        for _ in range(max(peer, connected) + 1):
            kind = self.rng.choice(list(RecipientKind))
            name = self.fake.last_name() + (" family" if kind is RecipientKind.FAMILY else "")
            people.append(
                support.register_recipient(
                    session=self.session, data=RecipientCreate(kind=kind, display_name=name, state_code=state)
                )
            )
        for person in people[:peer]:
            for _ in range(self.rng.randrange(1, 5)):  # several contacts, one person
                support.record_peer_contact(
                    session=self.session,
                    data=PeerContactCreate(
                        recipient_id=person.id,
                        volunteer_name=self.fake.name(),
                        channel=self.rng.choice(list(ContactChannel)),
                        contact_at=self.calendar.within(),
                        minutes=self.rng.randrange(10, 90),
                    ),
                )
        last_year = people[-1]  # supported only last December: not counted this year
        support.record_peer_contact(
            session=self.session,
            data=PeerContactCreate(
                recipient_id=last_year.id,
                volunteer_name=self.fake.name(),
                channel=ContactChannel.PHONE,
                contact_at=self.calendar.previous_december(),
                minutes=30,
            ),
        )
        for index, person in enumerate(people[:connected]):
            referred = self.calendar.within(last=dt.datetime(self.year, 12, 1, tzinfo=dt.UTC))
            referral = support.refer(
                session=self.session,
                data=ReferralCreate(recipient_id=person.id, provider_name=self.fake.company(), referred_at=referred),
            )
            support.mark_connected(
                session=self.session,
                referral_id=referral.id,
                at=referred + dt.timedelta(days=self.rng.randrange(1, 20)),
                actor=ACTOR,
            )
            if index == 0:  # a second referral for the same family, also connected: still one family
                again = support.refer(
                    session=self.session,
                    data=ReferralCreate(
                        recipient_id=person.id, provider_name=self.fake.company(), referred_at=referred
                    ),
                )
                support.mark_connected(
                    session=self.session, referral_id=again.id, at=referred + dt.timedelta(days=25), actor=ACTOR
                )
        declined = support.refer(
            session=self.session,
            data=ReferralCreate(
                recipient_id=last_year.id, provider_name=self.fake.company(), referred_at=self.calendar.within()
            ),
        )
        support.decline(
            session=self.session, referral_id=declined.id, at=declined.referred_at + dt.timedelta(days=2), actor=ACTOR
        )

    # -- education --------------------------------------------------------------------------------------------
    def registrations(self, state: str, count: int) -> None:
        """New professionals of the year, a repeated registration, and one from the year before."""
        for index in range(count):
            data = ProfessionalCreate(
                email=f"pro{self._serial_ref(state).lower()}@{self.fake.domain_name()}",
                full_name=self.fake.name(),
                profession=self.rng.choice(("law_enforcement", "child_serving")),
                organization=self.fake.company(),
                state_code=state,
                registered_at=self.calendar.within(),
            )
            education.register(session=self.session, data=data)
            if index == 0:
                education.register(session=self.session, data=data)  # signed up twice: one registration
        earlier = ProfessionalCreate(
            email=f"pro{self._serial_ref(state).lower()}@example.org",
            full_name=self.fake.name(),
            profession="child_serving",
            organization=self.fake.company(),
            state_code=state,
            registered_at=self.calendar.previous_december(),
        )
        education.register(session=self.session, data=earlier)

    # -- identifications --------------------------------------------------------------------------------------
    def identifications(self, count: int) -> None:
        """Children identified over the years up to the end of the simulated one."""
        for _ in range(count):
            year = self.rng.randrange(2003, self.year + 1)
            at = Calendar(year, self.rng).within()
            victim_id.record_identification(
                session=self.session, data=IdentificationCreate(reference=self._serial_ref("ID"), identified_at=at)
            )
