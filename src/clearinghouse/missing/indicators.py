"""Risk and trafficking indicators of a missing-child case, and the rule that flags likely trafficking.

The rule, applied whenever a case's indicators change (at intake, on a merged duplicate intake, on
``add_indicator``):

    A case is *likely child sex trafficking* when it carries at least one STRONG indicator, or at least
    three SUPPORTING indicators.

STRONG indicators each point at commercial sexual exploitation on their own: the child was advertised for sex
online, bears a branding tattoo or mark, or disclosed (or law enforcement reported) commercial sex.

SUPPORTING indicators are common among children who run away and only suggest trafficking in combination:
a history of running away, an older companion, unexplained money or gifts, sightings at hotels or motels,
travel out of the child's usual area, new phones or online accounts, and substance use.

The flag is a screening aid for case managers and feeds the published share of social-services cases that are
likely trafficking; it never replaces an investigator's judgement, and indicators are never removed by it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Indicator(enum.StrEnum):
    """One observation about a missing child that bears on risk or on trafficking."""

    ADVERTISED_ONLINE = "advertised_online"
    BRANDING_TATTOO = "branding_tattoo"
    COMMERCIAL_SEX_DISCLOSED = "commercial_sex_disclosed"
    HISTORY_OF_RUNNING_AWAY = "history_of_running_away"
    OLDER_COMPANION = "older_companion"
    UNEXPLAINED_MONEY_OR_GIFTS = "unexplained_money_or_gifts"
    HOTEL_SIGHTINGS = "hotel_sightings"
    TRAVEL_OUT_OF_AREA = "travel_out_of_area"
    NEW_PHONE_OR_ACCOUNTS = "new_phone_or_accounts"
    SUBSTANCE_USE = "substance_use"


STRONG: frozenset[Indicator] = frozenset(
    {Indicator.ADVERTISED_ONLINE, Indicator.BRANDING_TATTOO, Indicator.COMMERCIAL_SEX_DISCLOSED}
)
"""Indicators that flag a case on their own."""

SUPPORTING: frozenset[Indicator] = frozenset(set(Indicator) - STRONG)
"""Indicators that flag a case only together."""

SUPPORTING_THRESHOLD = 3
"""How many supporting indicators flag a case. Two is too low: running away together with substance use
describes many endangered runaways who are not trafficked, and would inflate the published share."""


def likely_trafficking(indicators: Iterable[Indicator | str]) -> bool:
    """Whether a case with these indicators is likely trafficking (see the module docstring for the rule)."""
    present = {Indicator(value) for value in indicators}
    return bool(present & STRONG) or len(present & SUPPORTING) >= SUPPORTING_THRESHOLD
