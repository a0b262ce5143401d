"""Inputs a fuzzer found that once stopped the pipeline for good (every later run failed on the stored row) or
were answered as server errors: each is now refused or harmless where it enters."""

from __future__ import annotations

import json
import math

import pytest

from clearinghouse.db.engine import Store
from clearinghouse.geo.jurisdictions import UnknownJurisdiction, state_from_zip
from clearinghouse.tipline.models import Report
from clearinghouse.tipline.onepass import Processing
from clearinghouse.tipline.wire_schemas import IncidentChannel, IncidentDetail
from clearinghouse.web.auth import Unauthenticated, basic_credentials
from tests.tipline.bulk_helpers import doc, image, line, ready, report_by_ref, send


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_coordinates_that_are_not_numbers_are_stored_as_null_in_valid_json(value: float) -> None:
    detail = IncidentDetail(channel=IncidentChannel.CELL_PHONE, latitude=value, longitude=1.0)
    assert json.loads(detail.model_dump_json())["latitude"] is None
    assert json.loads(json.dumps(detail.model_dump(mode="json"), allow_nan=False))["latitude"] is None


@pytest.mark.parametrize("zip_code", ["٢٧٦٠١", "２７６０１", "2760¹"])
def test_a_zip_code_in_other_digits_places_nothing_rather_than_crashing(zip_code: str) -> None:
    with pytest.raises(UnknownJurisdiction):
        state_from_zip(zip_code)


def test_a_report_with_such_a_zip_code_is_processed_and_the_rest_of_the_queue_too(store: Store) -> None:
    platform = ready(store)
    odd = doc()
    odd["reported_persons"] = [{"person": {"addresses": [{"zip_code": "٢٧٦٠١", "country": "US"}]}}]
    lines = [line("odd", odd, files=[image(1)]), line("next", doc(state="NY"), files=[image(2)])]
    summary = send(store, platform, lines, processing=Processing())
    assert summary.accepted == 2
    assert report_by_ref(store, platform, "next").state_code == "NY"
    with store.session() as session:
        assert all(r.processed_at is not None for r in session.query(Report))


@pytest.mark.parametrize("header", ["Basic \xe9", "Basic ²", "Basic " + "é" * 8])
def test_credentials_that_are_not_base64_text_are_unauthenticated(header: str) -> None:
    with pytest.raises(Unauthenticated):
        basic_credentials(header)
