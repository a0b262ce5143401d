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


def test_the_follower_builds_the_banks_once_and_the_matcher_keeps_up(store: Store) -> None:
    from clearinghouse.hashing import service
    from clearinghouse.hashing.models import BankKind
    from clearinghouse.hashing.schemas import BankCreate, EntryIn
    from clearinghouse.tipline.background import _Banks
    from clearinghouse.tipline.matching import FileHashes

    banks = _Banks(store)
    try:
        assert banks.current() == []  # no bank holds a hash: nothing to ask
        with store.unit_of_work() as session:
            bank = service.create_bank(session=session, bank_in=BankCreate(name="K", kind=BankKind.KNOWN_ABUSE))
            service.add_entries(session=session, bank=bank, entries=[EntryIn(hashes={"md5": "ab" * 16})])
        first = banks.current()
        assert len(first) == 1
        with store.unit_of_work() as session:
            bank = service.get_bank(session=session, name="K")
            service.add_entries(session=session, bank=bank, entries=[EntryIn(hashes={"md5": "cd" * 16})])
        assert banks.current()[0] is first[0]  # not built again
        files = [FileHashes(1, 1, md5="ab" * 16), FileHashes(2, 1, md5="cd" * 16), FileHashes(3, 1, md5="ef" * 16)]
        with store.session() as session:
            assert first[0].lookup(session, files) == [True, True, False]  # the later hash is matched too
    finally:
        banks.close()


def test_close_stops_the_follower_after_the_batch_in_progress(store: Store) -> None:
    import time

    platform = ready(store)
    send(store, platform, [line(f"q-{i}", doc(state="NY"), files=[image(i)]) for i in range(3000)])
    follower = BackgroundPipeline(store.url, batch_size=50)
    follower.start()
    deadline = time.monotonic() + 60
    while follower.processed == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    follower.close(timeout=30)
    assert time.monotonic() - started < 10  # it did not drain the queue first
    with store.session() as session:
        queued = session.scalar(sa.select(sa.func.count()).where(Report.processed_at.is_(None)))
    assert 0 < (queued or 0) < 3000
    assert follower.processed == 3000 - (queued or 0)
