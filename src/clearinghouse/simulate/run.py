"""Simulate one year on a store: raw inputs through the services and the tipline pipeline, with progress."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from faker import Faker
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from clearinghouse.access.service import get_or_create_platform
from clearinghouse.db.engine import Store
from clearinghouse.simulate.interface import (
    DRAFTS,
    ServedApplication,
    send_drafts,
    send_platform_reports,
    send_public_reports,
)
from clearinghouse.simulate.plan import YearPlan
from clearinghouse.simulate.programs import CaseWork, Directory
from clearinghouse.simulate.tipline_feed import PLATFORMS, PlatformBatchItem, TiplineTraffic, simulated_clock
from clearinghouse.tipline import pipeline
from clearinghouse.tipline.bulk import import_lines
from clearinghouse.tipline.lines import numbered_lines
from clearinghouse.tipline.onepass import Processing
from clearinghouse.tipline.service import expire_stale

BATCH = 5000
VIRAL_BUNDLES_PER_STATE = 3
"""Viral items each state gets, each a platform batch of several reports that counts once for the state."""
PUBLIC_SHARE = 265_542 / 36_210_368
"""The share of the year's reports that members of the public made (2023: 265,542 of 36,210,368 reports, in the
clearinghouse's transparency report): it shapes the simulated inputs, each state's figure is still counted."""
ONE_AT_A_TIME = 3
"""Reports per state a platform sends one call at a time through the platform interface (escalations, say)."""
BULK_PROCESSES = 2
"""Processes importing the exports, each parsing one chunk while the other stores its own (two cores)."""


@dataclass(frozen=True)
class SimulationSummary:
    """What the simulation sent in (inputs, not figures)."""

    tipline_inputs: int
    tipline_duplicates: int
    tipline_processed: int
    states: int
    seconds: dict[str, float]


@dataclass(frozen=True)
class TiplineSplit:
    """How each state's reports made available arrive: in the platforms' exports (the rest), as viral bundles,
    through the public report form, or one call at a time through the platform interface."""

    bundles: dict[str, int]
    public: dict[str, int]
    one_at_a_time: dict[str, int]


def split_tipline(plan: YearPlan) -> TiplineSplit:
    """Each state's share of public reports follows the national one; a few of its platform reports come one call
    at a time; a viral bundle is made available to its state once, in the place of one individual report."""
    bundles: dict[str, int] = {}
    public: dict[str, int] = {}
    one_at_a_time: dict[str, int] = {}
    for state, targets in sorted(plan.targets.items()):
        left = targets["tipline_reports_made_available"]
        bundles[state] = min(left, VIRAL_BUNDLES_PER_STATE)
        left -= bundles[state]
        public[state] = min(left, round(targets["tipline_reports_made_available"] * PUBLIC_SHARE))
        left -= public[state]
        one_at_a_time[state] = min(left, ONE_AT_A_TIME)
    return TiplineSplit(bundles=bundles, public=public, one_at_a_time=one_at_a_time)


def _tipline_traffic(plan: YearPlan, traffic: TiplineTraffic, split: TiplineSplit) -> Iterator[PlatformBatchItem]:
    for state, targets in sorted(plan.targets.items()):
        bundles = split.bundles[state]
        exported = targets["tipline_reports_made_available"] - bundles - split.public[state]
        yield from traffic.for_state(state, exported - split.one_at_a_time[state])
        yield from traffic.viral(state, bundles)
        yield from traffic.boundary_noise(state)
    yield from traffic.international(plan.international_reports)
    yield from traffic.unlocated(plan.unlocated_reports)


def _write_exports(
    plan: YearPlan, traffic: TiplineTraffic, split: TiplineSplit, rng: random.Random, folder: Path
) -> dict[str, Path]:
    """Each platform's batch export for the year, as an NDJSON file; part of a batch now and then twice (a
    platform that timed out sends it again). Returns the files by platform."""
    paths = {name: folder / f"{_slug(name)}.ndjson" for name in PLATFORMS}
    files = {name: path.open("wb") for name, path in paths.items()}
    recent: dict[str, list[bytes]] = {name: [] for name in PLATFORMS}
    try:
        for item in _tipline_traffic(plan, traffic, split):
            files[item.platform].write(item.line + b"\n")
            batch = recent[item.platform]
            batch.append(item.line)
            if len(batch) == BATCH:
                for line in rng.sample(batch, k=40):
                    files[item.platform].write(line + b"\n")
                batch.clear()
    finally:
        for stream in files.values():
            stream.close()
    return paths


def _slug(name: str) -> str:
    return "-".join(name.lower().split())


def _line_count(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in stream)


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
        sent = duplicates = processed = 0
        with tempfile.TemporaryDirectory(prefix="tipline-exports-") as folder:
            split = split_tipline(plan)
            exports = _write_exports(plan, traffic, split, rng, Path(folder))
            lines = {name: _line_count(path) for name, path in exports.items()}
            filing = progress.add_task("tipline: bulk exports through release", total=sum(lines.values()))
            # The platforms' exports go through bulk intake exactly as `tipline import` sends them: each chunk
            # filed and processed through release in one pass, at the simulated processing times.
            processing = Processing(clock=simulated_clock)
            for name, path in exports.items():
                with path.open("rb") as stream:
                    summary = import_lines(
                        store,
                        platform_id=platform_ids[name],
                        actor=f"platform:{_slug(name)}",
                        lines=numbered_lines(stream),
                        workers=BULK_PROCESSES,
                        on_chunk=lambda size: progress.update(filing, advance=size),
                        processing=processing,
                    )
                if summary.rejected:
                    first = summary.rejected[0]
                    raise RuntimeError(f"{name}: {len(summary.rejected)} simulated line(s) refused, first: {first}")
                sent += lines[name]
                duplicates += summary.already_on_file
                processed += summary.accepted
        # Reports that arrive one at a time: the public's, through the report form, and a few of a platform's,
        # through the platform interface. They wait in the pipeline's queue, which takes them through release.
        calls = sum(split.public.values()) + sum(split.one_at_a_time.values()) + DRAFTS
        one_by_one = progress.add_task("tipline: report form, one-call API", total=calls)
        served = ServedApplication(store, platform=PLATFORMS[0])
        public = send_public_reports(served, by_state=split.public, rng=rng, fake=fake, year=plan.year)
        progress.update(one_by_one, advance=public)
        single = send_platform_reports(served, by_state=split.one_at_a_time, rng=rng, year=plan.year)
        progress.update(one_by_one, advance=single)
        # Drafts come through the platform interface too: opened, never finished.
        progress.update(one_by_one, advance=send_drafts(served, year=plan.year, rng=rng))
        sent += public + single
        lap("tipline filing")
        processed += pipeline.run(store, batch_size=BATCH, clock=simulated_clock)
        with store.unit_of_work() as session:
            # The expiry sweep, as the served application runs it: drafts left open are expired.
            expire_stale(session=session, now=dt.datetime(plan.year + 1, 1, 1, tzinfo=dt.UTC))
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


def _long_term_cases(work: CaseWork, plan: YearPlan, rng: random.Random) -> None:
    """Cases open for years on which the team assisted during the year."""
    states = sorted(plan.targets)
    for _ in range(plan.long_term_cases):
        case = work.past_case(rng.choice(states), rng.randrange(1995, plan.year - 2))
        work.long_term_activation(case)
