"""The documented priority and classification rules, condition by condition."""

from __future__ import annotations

import datetime as dt

import pytest

from clearinghouse.tipline.models import Classification, IncidentType
from clearinghouse.tipline.priority import Priority, ReportFacts, classify, names_a_child, prioritise

CP = IncidentType.CHILD_PORNOGRAPHY
F = ReportFacts


@pytest.mark.parametrize(
    ("facts", "priority", "classification"),
    [
        (F(CP, escalated=True), Priority.URGENT, Classification.REFERRAL),  # urgent even with no location
        (F(CP, annotations=frozenset({"sextortion"}), location_known=True), Priority.URGENT, Classification.REFERRAL),
        (
            F(CP, annotations=frozenset({"sadisticOnlineExploitation", "spam"})),
            Priority.URGENT,
            Classification.REFERRAL,
        ),
        (F(IncidentType.ONLINE_ENTICEMENT, child_victim=True), Priority.URGENT, Classification.REFERRAL),
        (F(IncidentType.CHILD_SEX_TRAFFICKING, location_known=True), Priority.HIGH, Classification.REFERRAL),
        (
            F(CP, annotations=frozenset({"csamSolicitation"}), location_known=True),
            Priority.HIGH,
            Classification.REFERRAL,
        ),
        (F(CP, child_victim=True, location_known=True), Priority.HIGH, Classification.REFERRAL),
        (
            F(CP, annotations=frozenset({"spam"}), new_files=2, location_known=True),
            Priority.LOW,
            Classification.INFORMATIONAL,
        ),
        (F(CP, new_files=1, seen_files=3, viral=True, location_known=True), Priority.HIGH, Classification.REFERRAL),
        (F(CP, new_files=1), Priority.HIGH, Classification.INFORMATIONAL),  # no location: informational
        (F(CP, seen_files=2, viral=True, location_known=True), Priority.LOW, Classification.INFORMATIONAL),
        (F(CP, seen_files=2, location_known=True), Priority.NORMAL, Classification.REFERRAL),
        (F(IncidentType.MISLEADING_DOMAIN_NAME, location_known=True), Priority.NORMAL, Classification.REFERRAL),
    ],
)
def test_the_rule_table(facts: ReportFacts, priority: Priority, classification: Classification) -> None:
    level, why = prioritise(facts)
    assert level is priority
    assert why
    assert classify(facts, level)[0] is classification


INCIDENT = dt.datetime(2023, 6, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("victims", "child"),
    [
        (None, False),
        ([], False),
        ([{"person": {"age": 17}}], True),
        ([{"person": {"age": 18}}], False),
        ([{"person": {"date_of_birth": "2005-06-02"}}], True),  # turns 18 the day after the incident
        ([{"person": {"date_of_birth": "2005-06-01"}}], False),
        ([{"person": {"age": 30}}, {"screen_name": "no age given"}], True),
        ([{"person": {"date_of_birth": "not a date"}}], True),
    ],
)
def test_a_child_in_the_victim_section(victims: list[dict[str, object]] | None, child: bool) -> None:
    assert names_a_child(victims, INCIDENT) is child
