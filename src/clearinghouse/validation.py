"""Checks shared by every program's services: rows that must exist, enum values, state codes, page bounds."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from clearinghouse.errors import InputError, NotFound
from clearinghouse.geo import service as geo_service
from clearinghouse.geo.jurisdictions import UnknownJurisdiction, find_state

MAX_PAGE = 1000
"""The most rows one list call returns."""

E = TypeVar("E", bound=enum.Enum)
R = TypeVar("R")


def require_row(session: Session, model: type[R], key: Any, kind: str, *, lock: bool = False) -> R:
    """The row of ``model`` with primary key ``key``, locked for update when asked, or NotFound naming ``kind``."""
    row = session.get(model, key, with_for_update=lock)
    if row is None:
        raise NotFound(kind, key)
    return row


def coerce_enum(field: str, enum_type: type[E], given: object) -> E:
    """``given`` as a member of ``enum_type``, or an InputError listing the allowed values."""
    try:
        return enum_type(given)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in enum_type)
        raise InputError(field, f"expected one of: {allowed}", given) from None


def state_code(session: Session, field: str, given: str) -> str:
    """The code of a state named or abbreviated in any case, which must be in the store's directory."""
    try:
        code = find_state(given).code
    except UnknownJurisdiction as error:
        raise InputError(field, f"expected {error.expected}", given) from None
    if geo_service.get_jurisdiction(session=session, code=code) is None:
        raise InputError(field, f"{code} is not in the jurisdiction directory (seed it first)", given)
    return code


def check_page(limit: int, offset: int) -> None:
    """A list call's bounds: 1 to MAX_PAGE rows, from a non-negative offset."""
    if not 1 <= limit <= MAX_PAGE:
        raise InputError("limit", f"expected 1 to {MAX_PAGE}", limit)
    if offset < 0:
        raise InputError("offset", "expected 0 or more", offset)


def is_ascii_number(text: str) -> bool:
    """Whether ``text`` is one or more of the digits 0 to 9. (`str.isdigit` alone also admits superscripts, which
    `int` refuses, and other scripts' digits, which `int` reads: neither belongs in an id, an age or a length.)"""
    return text.isascii() and text.isdigit()
