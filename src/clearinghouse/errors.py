"""Errors users can act on: which field, what was expected, what was given."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from typing import Any

_JOINERS = frozenset("\u200c\u200d")
"""Zero-width non-joiner and joiner: invisible, but part of how Persian, Indic scripts and emoji are spelt."""


def hidden_character(text: str) -> str | None:
    """The first control, format (other than a joiner), line or paragraph separator, private-use or unassigned
    character of ``text``, or None: none shows as itself in a list, and a newline or a direction override would
    let one name pass for another."""
    for char in text:
        category = unicodedata.category(char)
        if (category[0] == "C" and char not in _JOINERS) or category in ("Zl", "Zp"):
            return char
    return None


def visible_text(field: str, given: str, longest: int) -> str:
    """``given`` trimmed, for a name or a reason shown in lists and kept in the audit log: 1 to ``longest``
    characters, none of them hidden (:func:`hidden_character`); else an InputError naming ``field``."""
    text = given.strip()
    if not text or len(text) > longest:
        raise InputError(field, f"must be 1 to {longest} characters", shortened(given))
    refuse_hidden(field, text)
    return text


def refuse_hidden(field: str, text: str, given: object = None) -> None:
    """An InputError naming ``field`` and the first hidden character (:func:`hidden_character`) of ``text``, if
    it has one; ``given``: the value the message repeats, if any."""
    hidden = hidden_character(text)
    if hidden is not None:
        problem = f"must not contain control or invisible characters (U+{ord(hidden):04X} found)"
        raise InputError(field, problem, given)


def shortened(text: str, limit: int = 60) -> str:
    """``text`` as a message repeats it: cut after ``limit`` characters, with an ellipsis, so that a long value
    given (a name of ten thousand characters) makes no message of that length."""
    return text if len(text) <= limit else text[:limit] + "…"


def validation_message(item: Mapping[str, Any]) -> str:
    """The message of one of pydantic's errors as we tell it: a refusal of our own validators without the "Value
    error, " pydantic puts before it."""
    return str(item.get("msg", "is not valid")).removeprefix("Value error, ")


class ClearinghouseError(Exception):
    """Base of every error the application raises on purpose."""


class InputError(ClearinghouseError, ValueError):
    """Input that cannot be accepted; nothing was stored."""

    def __init__(self, field: str, problem: str, given: object = None) -> None:
        self.field = field
        self.problem = problem
        self.given = given
        suffix = "" if given is None else f" (given: {given!r})"
        super().__init__(f"{field}: {problem}{suffix}")


class NotFound(ClearinghouseError, LookupError):
    """A record that does not exist (or is not visible to the caller)."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} does not exist")


class Conflict(ClearinghouseError):
    """A change that the record's current state does not allow."""


class StoreError(ClearinghouseError):
    """A store that cannot be used as asked (none there, unreachable, another application's, another version's);
    the message names it and says what to run. Nothing was created or changed."""


def require_aware(field: str, value: dt.datetime) -> dt.datetime:
    """A timezone-aware value, or an InputError naming the field."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(field, "must carry a time zone (UTC recommended)", value.isoformat())
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # within hours of year 1 or year 9999
        raise InputError(field, "is out of range", value.isoformat()) from None


def require_past(field: str, value: dt.datetime, *, now: dt.datetime | None = None) -> dt.datetime:
    """A timezone-aware value that is not in the future (a minute of clock skew is allowed)."""
    value = require_aware(field, value)
    # The clock of db.base.utcnow, read here: every command imports this module, and db.base is SQLAlchemy's.
    limit = (now or dt.datetime.now(dt.UTC)) + dt.timedelta(minutes=1)
    if value > limit:
        raise InputError(field, "is in the future", value.isoformat())
    return value


def require_order(first_field: str, first: dt.datetime, second_field: str, second: dt.datetime) -> None:
    """``second`` must not come before ``first``."""
    if second < first:
        raise InputError(second_field, f"comes before {first_field} ({first.isoformat()})", second.isoformat())
