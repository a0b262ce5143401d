"""The pipeline in its own process follows the queue while bulk intake fills it, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from clearinghouse.db.engine import Store
from clearinghouse.tipline.background import BackgroundPipeline
from clearinghouse.tipline.models import Release, Report
from tests.tipline.bulk_helpers import doc, image, line, ready, send


def test_the_follower_processes_everything_filed_before_it_finishes(store: Store, tmp_path: Path) -> None:
    platform = ready(store)
    follower = BackgroundPipeline(store.url, batch_size=50)
    follower.start()
    for batch in range(4):
        lines = [line(f"r-{batch}-{i}", doc(state="NY"), files=[image(batch * 1000 + i)]) for i in range(120)]
        assert send(store, platform, lines, chunk_lines=60).accepted == 120
    processed = follower.finish()
    assert processed == 480
    with store.session() as session:
        queued = session.scalar(sa.select(sa.func.count()).where(Report.processed_at.is_(None)))
        released = session.scalar(sa.select(sa.func.count(sa.distinct(Release.report_id))))
    assert (queued, released) == (0, 480)
