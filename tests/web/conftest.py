"""Fixtures of the web tests: the application served over real HTTP on a fresh SQLite store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clearinghouse.db.engine import Store
from tests.web.live import LiveServer, add_platform, serve_store


@pytest.fixture
def live(store: Store) -> Iterator[LiveServer]:
    with serve_store(store) as server:
        yield server


@pytest.fixture
def credentials(store: Store) -> tuple[str, str]:
    return add_platform(store, "Example Chat")
