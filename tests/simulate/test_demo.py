"""The main job: a simulated year on a fresh store gives every published state figure of the five seeds.

The expected figures are read from the seed sheets in ../shared/seeds by the sheet reader, not copied; the
generated figures are counted from the store. Runs the full volume of the five states (about 150,000 tipline
reports) with the rest of the country at a small scale.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from clearinghouse.access.models import AuditEvent
from clearinghouse.db.engine import open_store
from clearinghouse.impact.figures import STATE_FIGURE_NAMES
from clearinghouse.impact.publish import build_sheet
from clearinghouse.impact.reader import read_sheet
from clearinghouse.impact.render import render_sheet_bytes
from clearinghouse.simulate.interface import DRAFTS
from clearinghouse.simulate.plan import plan_year
from clearinghouse.simulate.run import simulate_year, split_tipline
from clearinghouse.tipline.models import Classification, Release, Report, ReportSource, ReportStatus


@pytest.mark.slow
def test_simulated_year_reproduces_every_seeded_state_figure(tmp_path: Path, shared_dir: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}")
    plan = plan_year(year=2023, scale=0.0005)
    split = split_tipline(plan)
    simulate_year(store, plan, seed=7, show_progress=False)
    seeds = sorted((shared_dir / "seeds").glob("*.txt"))
    assert len(seeds) == 5
    compared = 0
    with store.unit_of_work() as session:
        for seed in seeds:
            published = read_sheet(seed)
            assert published.state is not None
            sheet = build_sheet(session, published.state, 2023)
            for name in STATE_FIGURE_NAMES:
                expected = getattr(published.figures, name)
                # A figure the published sheet leaves out is zero by its zero-figure rule.
                expected = 0 if expected is None else expected
                assert getattr(sheet.state, name) == expected, f"{published.state} {name}"
                compared += 1
            # The sheet we publish reads back to the figures we counted.
            pdf = render_sheet_bytes(sheet, "pdf")
            assert read_sheet(pdf).state_figures() == sheet.state
        # The year's drafts came through the platform interface: a third retracted, the rest expired at the
        # year's end sweep, none released.
        drafts = session.execute(
            sa.select(Report.status, sa.func.count())
            .where(Report.status.in_([ReportStatus.RETRACTED, ReportStatus.EXPIRED]))
            .group_by(Report.status)
        ).all()
        assert dict(drafts) == {ReportStatus.RETRACTED: DRAFTS // 3, ReportStatus.EXPIRED: DRAFTS - DRAFTS // 3}
        # Reports opened one call at a time: by the platform the simulation gave a secret to, or by the public.
        opened = sa.select(AuditEvent.actor, sa.func.count()).where(AuditEvent.action == "report.opened")
        opened_by = dict(session.execute(opened.group_by(AuditEvent.actor)).all())
        assert opened_by == {
            "platform:example-social-network": DRAFTS + sum(split.one_at_a_time.values()),
            "public": sum(split.public.values()),
        }
        # The public's reports came through the report form, and were made available like the platforms'.
        public = session.scalars(sa.select(Report.id).where(Report.source == ReportSource.PUBLIC)).all()
        assert len(public) == sum(split.public.values()) > 0
        # Content already circulating makes reports informational in about the published shares (a quarter of
        # the state task forces' reports, half of other countries'): the inputs are shaped, the rule decides.
        in_us = (Report.country_code == "US").label("in_us")
        mix = sa.select(in_us, Report.classification, sa.func.count()).where(Report.country_code.is_not(None))
        counts = session.execute(mix.group_by(in_us, Report.classification)).all()
        share = {
            where: sum(n for us, kind, n in counts if us == where and kind == Classification.INFORMATIONAL)
            / sum(n for us, _, n in counts if us == where)
            for where in (True, False)
        }
        assert 0.18 < share[True] < 0.35, share
        assert 0.40 < share[False] < 0.65, share
        released = session.scalar(
            sa.select(sa.func.count(sa.distinct(Release.report_id))).where(Release.report_id.in_(public))
        )
        assert released == len(public)
        never_filed = sa.select(Release.report_id).where(
            Release.report_id.in_(
                sa.select(Report.id).where(Report.status.in_([ReportStatus.RETRACTED, ReportStatus.EXPIRED]))
            )
        )
        assert session.execute(never_filed).first() is None
    store.dispose()
    assert compared == 5 * len(STATE_FIGURE_NAMES)
