"""Fixtures of the platform-interface tests: a served application and two platform accounts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from clearinghouse.db.engine import Store
from tests.tipline.ispws_client import IspwsClient, SchemaBuilder
from tests.web.live import LiveServer, add_platform, serve_store


@pytest.fixture(scope="session")
def schema_builder() -> SchemaBuilder:
    return SchemaBuilder()


@pytest.fixture
def live(store: Store) -> Iterator[LiveServer]:
    with serve_store(store) as server:
        yield server


@pytest.fixture
def credentials(store: Store) -> tuple[str, str]:
    return add_platform(store, "Example Chat")


@pytest.fixture
def other_credentials(store: Store) -> tuple[str, str]:
    return add_platform(store, "Other Photos")


@pytest.fixture
def http(live: LiveServer, credentials: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.ispws, auth=credentials, timeout=30) as client:
        yield client


@pytest.fixture
def client(http: httpx.Client, schema_builder: SchemaBuilder) -> IspwsClient:
    return IspwsClient(http, schema_builder)


@pytest.fixture
def other_client(
    live: LiveServer, other_credentials: tuple[str, str], schema_builder: SchemaBuilder
) -> Iterator[IspwsClient]:
    with httpx.Client(base_url=live.ispws, auth=other_credentials, timeout=30) as http:
        yield IspwsClient(http, schema_builder)
