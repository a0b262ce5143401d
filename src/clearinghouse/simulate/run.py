"""Simulate one year on a store: raw inputs through the services and the tipline pipeline, with progress."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from faker import Faker
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from clearinghouse.access.service import get_or_create_platform
from clearinghouse.db.engine import Store
from clearinghouse.simulate.plan import YearPlan
from clearinghouse.simulate.programs import ACTOR, CaseWork, Directory
from clearinghouse.simulate.tipline_feed import PLATFORMS, PlatformBatchItem, TiplineTraffic, simulated_clock
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.filing import file_reports
from clearinghouse.tipline.models import IncidentType as ModelIncidentType
from clearinghouse.tipline.models import ReportSource
from clearinghouse.tipline.service import open_report, retract_report

BATCH = 5000


@dataclass(frozen=True)
class SimulationSummary:
    """What the simulation sent in (inputs, not figures)."""

    tipline_inputs: int
    tipline_duplicates: int
    tipline_processed: int
    states: int
    seconds: dict[str, float]


def _batches(items: Iterable[PlatformBatchItem], size: int) -> Iterator[list[PlatformBatchItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _tipline_traffic(plan: YearPlan, traffic: TiplineTraffic, rng: random.Random) -> Iterator[PlatformBatchItem]:
    for state, targets in sorted(plan.targets.items()):
        yield from traffic.for_state(state, targets["tipline_reports_made_available"])
        yield from traffic.boundary_noise(state)
    yield from traffic.international(plan.international_reports)
    yield from traffic.unlocated(plan.unlocated_reports)


def _tipline_volume(plan: YearPlan) -> int:
    located = sum(t["tipline_reports_made_available"] for t in plan.targets.values())
    return located + 4 * len(plan.targets) + plan.international_reports + plan.unlocated_reports


def simulate_year(store: Store, plan: YearPlan, *, seed: int = 2023, show_progress: bool = True) -> SimulationSummary:
    """Feed the year's raw activity through the services; the figures are counted afterwards."""
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 1)
        clock = now

    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    columns = (TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        with store.unit_of_work() as session:
            platform_ids = {name: get_or_create_platform(session=session, name=name).id for name in PLATFORMS}
        traffic = TiplineTraffic(year=plan.year, rng=rng)
        filing = progress.add_task("tipline: platforms file reports", total=_tipline_volume(plan))
        sent = duplicates = 0
        retry: list[PlatformBatchItem] = []
        for batch in _batches(_tipline_traffic(plan, traffic, rng), BATCH):
            with store.unit_of_work() as session:
                by_platform: dict[str, list[PlatformBatchItem]] = {}
                for item in batch + retry:
                    by_platform.setdefault(item.platform, []).append(item)
                for name, items in by_platform.items():
                    result = file_reports(
                        session=session, platform_id=platform_ids[name], reports=[i.report for i in items], actor=name
                    )
                    duplicates += len(result.duplicates)
            sent += len(batch) + len(retry)
            # A platform that timed out re-sends part of its last batch with the next one.
            retry = rng.sample(batch, k=min(len(batch), 40))
            progress.update(filing, advance=len(batch))
        with store.unit_of_work() as session:
            _drafts(session, plan.year, rng)
        lap("tipline filing")
        processing = progress.add_task("tipline: locate and release", total=sent - duplicates)
        processed = pipeline.run(
            store,
            batch_size=BATCH,
            clock=simulated_clock,
            on_batch=lambda outcome: progress.update(processing, advance=outcome.processed),
        )
        lap("tipline pipeline")
        casework = progress.add_task("case work: every program, by state", total=len(plan.targets))
        with store.unit_of_work() as session:
            directory = Directory.load(session)
        for state, targets in sorted(plan.targets.items()):
            with store.unit_of_work() as session:
                work = CaseWork(session=session, year=plan.year, rng=rng, fake=fake, directory=directory)
                cases = work.missing_cases(state, targets)
                work.critical_activations(cases, targets["rapid_response_cases"])
                work.submissions(state, targets["vid_submissions_reviewed"])
                work.engagements(state, targets["trafficking_engagements"])
                work.family_support(state, targets["peer_support"], targets["mental_health_connections"])
                work.registrations(state, targets["new_professionals"])
            progress.update(casework, advance=1)
        lap("case work")
        national = progress.add_task("national: long-term cases, identifications", total=1)
        with store.unit_of_work() as session:
            work = CaseWork(session=session, year=plan.year, rng=rng, fake=fake, directory=directory)
            work.trafficking_reports(plan.trafficking_reports_elsewhere, sorted(plan.targets))
            work.identifications(plan.identifications_to_date)
            _long_term_cases(work, plan, rng)
        progress.update(national, advance=1)
        lap("national")
    return SimulationSummary(
        tipline_inputs=sent,
        tipline_duplicates=duplicates,
        tipline_processed=processed,
        states=len(plan.targets),
        seconds=seconds,
    )


def _drafts(session: Session, year: int, rng: random.Random) -> None:
    """Reports opened and never filed: some retracted by the platform, the others left to expire."""
    for index in range(6):
        at = dt.datetime(year, rng.randrange(1, 12), rng.randrange(1, 28), tzinfo=dt.UTC)
        report = open_report(
            session=session,
            incident_type=ModelIncidentType.CHILD_PORNOGRAPHY,
            source=ReportSource.PLATFORM,
            body={},
            actor=ACTOR,
            at=at,
        )
        if index % 2 == 0:
            retract_report(session=session, report_id=report.id, actor=ACTOR, at=at + dt.timedelta(minutes=5))


def _long_term_cases(work: CaseWork, plan: YearPlan, rng: random.Random) -> None:
    """Cases open for years on which the team assisted during the year."""
    states = sorted(plan.targets)
    for _ in range(plan.long_term_cases):
        case = work.past_case(rng.choice(states), rng.randrange(1995, plan.year - 2))
        work.long_term_activation(case)
