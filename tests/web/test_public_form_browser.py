"""The public report form in a real headless Chromium: filled in and sent with the mouse and keyboard,
without JavaScript of ours, then sent wrong to see the field named."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clearinghouse.db.engine import Store
from clearinghouse.tipline.models import Report, ReportSource
from tests.web.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SCREENSHOTS = os.environ.get("CLEARINGHOUSE_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        if IN_CI:
            pytest.fail(f"Chromium is required in CI and is missing at {CHROMIUM} (apt-get install chromium)")
        print(f"skipping the browser test: no Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("the playwright package is required in CI (pip install playwright; no browser download)")
        print("skipping the browser test: the playwright package is not installed")
        pytest.skip("playwright is not installed")

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _shot(page: object, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_person_files_a_report_in_a_browser(browser: object, live: LiveServer, store: Store) -> None:
    page = browser.new_page(java_script_enabled=False)  # type: ignore[attr-defined]
    page.goto(f"{live.url}/report")
    assert page.title() == "Report the sexual exploitation of a child"
    _shot(page, "form")
    page.get_by_label("Someone online is pressuring a child").check()
    page.get_by_label("Tell us about it").fill("Someone in a game chat asks a child for photos every day.")
    page.get_by_label("When it happened").fill("2024-05-01")
    page.get_by_label("State or territory where the child is").select_option("ND")
    page.get_by_label("ZIP code").fill("58102")
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_load_state()
    assert page.title() == "Report received"
    reference = page.locator("#reference").inner_text().strip()
    _shot(page, "received")
    with store.session() as session:
        report = session.scalars(sa.select(Report)).one()
    assert str(report.id) == reference
    assert report.source is ReportSource.PUBLIC
    assert report.state_code is None  # located later by the pipeline, from the clue below
    assert report.location_evidence
    assert report.location_evidence[0]["region"] == "ND"
    page.close()


def test_a_mistake_is_named_and_what_was_typed_is_kept(browser: object, live: LiveServer, store: Store) -> None:
    page = browser.new_page(java_script_enabled=False)  # type: ignore[attr-defined]
    page.goto(f"{live.url}/report")
    page.get_by_label("Tell us about it").fill("Sexual pictures of a child on a public forum.")
    page.get_by_label("When it happened").fill("2024-05-01")
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error:")
    alert = page.get_by_role("alert").inner_text()
    assert "What happened is needed" in alert
    assert page.get_by_label("Tell us about it").input_value() == "Sexual pictures of a child on a public forum."
    _shot(page, "problem")
    page.get_by_role("link", name="What happened is needed: choose the one that fits best").click()
    page.get_by_label("Sexual pictures or videos of a child").check()
    page.get_by_role("button", name="Send the report").click()
    page.wait_for_load_state()
    assert page.title() == "Report received"
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Report)) == 1
    page.close()
