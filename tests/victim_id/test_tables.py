"""The victim-identification tables of a year, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from clearinghouse.db.engine import Store
from clearinghouse.geo.agencies import seed_directory
from clearinghouse.geo.models import Agency, AgencyKind
from clearinghouse.impact.tables_cli import to_csv
from clearinghouse.impact.vid_tables import to_json, to_markdown, vid_tables
from clearinghouse.victim_id import queue
from clearinghouse.victim_id.review import run_review
from tests.victim_id import world
from tests.victim_id.world import REVIEWED, md5


def _agency(store: Store, state: str) -> int:
    with store.unit_of_work() as session:
        query = sa.select(Agency.id).where(Agency.jurisdiction_code == state, Agency.kind == AgencyKind.ICAC_TASK_FORCE)
        found = session.scalars(query.order_by(Agency.id)).first()
    assert found is not None
    return found


def test_tables_count_the_reviews_of_the_year(any_store: Store) -> None:
    with any_store.unit_of_work() as session:
        seed_directory(session)
    world.build(any_store)
    washington, oregon = _agency(any_store, "WA"), _agency(any_store, "OR")
    first = world.submit(any_store, washington)
    # Reviewed in 2024: counted in 2024 only, though submitted in 2023.
    late = world.submit(any_store, oregon, case="OR-1", numbers=(1, 9))
    with any_store.unit_of_work() as session:
        run_review(session=session, submission_id=first.id, actor="analyst", at=REVIEWED)
        run_review(session=session, submission_id=late.id, actor="analyst", at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    with any_store.unit_of_work() as session:
        file_id = next(item.file_id for item in queue.list_waiting(session=session) if item.md5 == md5(10))
        queue.open_series_from_queue(
            session=session, code="SER-NEW", file_ids=[file_id], actor="analyst", at=REVIEWED + dt.timedelta(days=1)
        )
    with any_store.session() as session:
        year_2023 = {table.name: table for table in vid_tables(session, 2023)}
        year_2024 = {table.name: table for table in vid_tables(session, 2024)}
    assert list(year_2023["vid_files_reviewed"].rows) == [
        ("identified_series", (4, 3)),
        ("tracked_series", (2, 2)),
        ("not_determinable", (3, 3)),
        ("no_series", (4, 3)),
        ("total", (12, 10)),
    ]
    assert list(year_2024["vid_files_reviewed"].rows) == [
        ("identified_series", (1, 1)),
        ("tracked_series", (0, 0)),
        ("not_determinable", (0, 0)),
        ("no_series", (1, 1)),
        ("total", (2, 2)),
    ]
    # SER-TR-1 (January) and SER-NEW (from the queue) opened in 2023; the identified ones earlier.
    assert list(year_2023["vid_new_series"].rows) == [("series_opened", (2,))]
    assert list(year_2024["vid_new_series"].rows) == [("series_opened", (0,))]
    tables = list(year_2023.values())
    assert "vid_files_reviewed,identified_series,unique_md5,3" in to_csv(tables)
    document = json.loads(to_json(tables, 2023))
    assert document["tables"]["vid_files_reviewed"]["rows"][4] == {"row": "total", "files": 12, "unique_md5": 10}
    markdown = to_markdown(tables, 2023)
    assert "| total | 12 | 10 |" in markdown
    assert "# Victim-identification tables, 2023" in markdown


def test_every_table_and_the_category_rule_are_documented() -> None:
    from pathlib import Path

    from clearinghouse.impact.vid_tables import VID_TABLES
    from clearinghouse.victim_id.review import UNDETERMINABLE_CATEGORIES

    docs = Path(__file__).resolve().parents[2] / "docs"
    metrics = (docs / "metrics.md").read_text(encoding="utf-8")
    section = metrics.split("\n## Victim-identification tables\n", 1)[1].split("\n## ", 1)[0]
    defined = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert defined == set(VID_TABLES)
    matching = (docs / "matching.md").read_text(encoding="utf-8")
    rule = matching.split("\n## Victim identification\n", 1)[1]
    assert all(f"category {code}" in rule for code in UNDETERMINABLE_CATEGORIES)
