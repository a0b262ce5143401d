"""Platform accounts and users: creation with hashed secrets and passwords, and constant-time verification."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.access.models import PlatformAccount, Role, User
from clearinghouse.errors import Conflict, InputError, refuse_hidden, shortened, visible_text
from clearinghouse.geo.models import Agency

_HASHER = PasswordHasher()
# Verified against when the account does not exist, so a wrong name costs as long as a wrong secret.
_DUMMY_HASH = _HASHER.hash("no-such-account")


@dataclass(frozen=True)
class IssuedCredentials:
    """A new account's credentials; the secret is shown once and only its hash is kept."""

    account: PlatformAccount
    username: str
    secret: str


MAX_PLATFORM_NAME = 100
"""The longest platform name, in characters: room for any company and product name, short enough for a table
column and a log line."""


def platform_name(given: str, field: str = "name") -> str:
    """A platform's name as it is stored and looked up: in Unicode's composed form (NFC), trimmed, each run of
    spaces made one space. Refused, naming ``field``: an empty name, one longer than :data:`MAX_PLATFORM_NAME`,
    one with hidden characters (`errors.hidden_character`) or without a letter or digit of any script."""
    name = unicodedata.normalize("NFC", given).strip()
    refuse_hidden(field, name, shortened(name))
    name = " ".join(name.split())
    if not name:
        raise InputError(field, "must not be empty", shortened(given))
    if len(name) > MAX_PLATFORM_NAME:
        raise InputError(field, f"must be at most {MAX_PLATFORM_NAME} characters, not {len(name)}", shortened(name))
    if not any(char.isalnum() for char in name):
        raise InputError(field, "needs at least one letter or digit", shortened(name))
    return name


def _username_for(name: str) -> str:
    """The user name of a platform called ``name`` (as :func:`platform_name` gives it): its ASCII letters and
    digits in lower case, accents dropped, other characters made hyphens. ASCII because HTTP Basic credentials
    carry it and clients disagree on how to encode anything else. A name with letters or digits that have no
    ASCII form (Japanese, Greek, Arabic...) gets a short digest of the whole name too, so that two such names
    get two user names."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    latin = "".join(char for char in decomposed if not unicodedata.combining(char))
    slug = re.sub(r"[^a-z0-9]+", "-", latin).strip("-")[:60]
    if not any(char.isalnum() and not char.isascii() for char in latin):
        return slug
    digest = hashlib.sha256(name.casefold().encode()).hexdigest()[:10]
    return f"{slug[:49].strip('-')}-{digest}" if slug else f"platform-{digest}"


def find_platform(*, session: Session, name: str) -> PlatformAccount | None:
    """The platform account called ``name`` or whose user name it is, or None. The name is read as
    :func:`create_platform` reads it, so case, spacing and punctuation that give the same user name find the same
    account ("example chat" finds "Example Chat"); a name no account could be given is tried as a user name only."""
    given = name.strip()
    matches = [PlatformAccount.username == given]
    try:
        normalised = platform_name(name)
    except InputError:
        normalised = None
    if normalised is not None:
        matches += [PlatformAccount.name == normalised, PlatformAccount.username == _username_for(normalised)]
    # The account of that exact name first, then of that user name: a name from before this reading could
    # derive another account's user name.
    rank = sa.case((PlatformAccount.name == normalised, 0), (PlatformAccount.username == given, 1), else_=2)
    return session.scalars(sa.select(PlatformAccount).where(sa.or_(*matches)).order_by(rank).limit(1)).first()


def create_platform(*, session: Session, name: str, actor: str = audit.SYSTEM) -> IssuedCredentials:
    """A new reporting-platform account with a random secret, under its name as :func:`platform_name` gives it."""
    name = platform_name(name)
    username = _username_for(name)
    clash = session.scalar(
        sa.select(PlatformAccount.name).where((PlatformAccount.name == name) | (PlatformAccount.username == username))
    )
    if clash is not None:
        raise Conflict(f"a platform account named {clash!r} (user name {username!r}) already exists")
    secret = secrets.token_urlsafe(24)
    account = PlatformAccount(name=name, username=username, secret_hash=_HASHER.hash(secret), active=True)
    session.add(account)
    session.flush()
    audit.record(
        session=session, actor=actor, action="platform.created", subject_type="platform", subject_id=account.id
    )
    return IssuedCredentials(account=account, username=username, secret=secret)


def new_platform_secret(*, session: Session, name: str, actor: str = audit.SYSTEM) -> IssuedCredentials:
    """Replace the secret of the platform account named ``name`` (or whose user name it is) with a new random one:
    for a secret that leaked or was lost. The old secret stops opening the account at once, except in a served
    worker that verified it in the last few minutes (`web.auth.CACHE_TTL_SECONDS`)."""
    account = find_platform(session=session, name=name)
    if account is None:
        raise InputError("name", "is no platform account's name or user name", shortened(name))
    secret = secrets.token_urlsafe(24)
    account.secret_hash = _HASHER.hash(secret)
    session.flush()
    audit.record(
        session=session, actor=actor, action="platform.secret_replaced", subject_type="platform", subject_id=account.id
    )
    return IssuedCredentials(account=account, username=account.username, secret=secret)


def authenticate_platform(*, session: Session, username: str, secret: str) -> PlatformAccount | None:
    """The active account these credentials open, or None (in the same time whether or not it exists)."""
    account = session.scalar(sa.select(PlatformAccount).where(PlatformAccount.username == username))
    stored = account.secret_hash if account is not None and account.active else _DUMMY_HASH
    try:
        _HASHER.verify(stored, secret)
    except (VerificationError, InvalidHashError):
        return None
    return account if account is not None and account.active else None


def get_or_create_platform(*, session: Session, name: str) -> PlatformAccount:
    """The account named ``name``, created (with a secret nobody is told) if missing: for simulations."""
    account = find_platform(session=session, name=name)
    if account is not None:
        return account
    return create_platform(session=session, name=name).account


# Users: people who sign in (clearinghouse staff, law-enforcement officers, social workers).

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STAFF_ROLES = frozenset({Role.ADMIN, Role.ANALYST, Role.CASE_MANAGER})


@dataclass(frozen=True)
class IssuedPassword:
    """A user's new password; shown once, only its hash is kept."""

    user: User
    password: str


def _email(value: str) -> str:
    email = value.strip().casefold()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InputError("email", "is not an e-mail address (name@domain.example)", value)
    return email


def _agency_for(session: Session, role: Role, agency_id: int | None) -> Agency | None:
    """The agency a user of ``role`` belongs to: none for staff, an active agency of the right kind otherwise."""
    if role in _STAFF_ROLES:
        if agency_id is not None:
            raise InputError("agency", f"clearinghouse staff ({role.value}) belong to no outside agency", agency_id)
        return None
    if agency_id is None:
        raise InputError("agency", f"a {role.value} user must belong to an agency (give its id)")
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise InputError("agency", "is no agency's id", agency_id)
    if not agency.active:
        raise InputError("agency", f"{agency.name} is not active", agency_id)
    if (role is Role.LAW_ENFORCEMENT) != agency.kind.is_law_enforcement:
        raise InputError(
            "agency", f"{agency.name} is a {agency.kind.value} agency, not one for {role.value}", agency_id
        )
    return agency


def _user_by_email(session: Session, email: str) -> User:
    user = session.scalar(sa.select(User).where(User.email == email.strip().casefold()))
    if user is None:
        raise InputError("email", "is no user's e-mail address", email)
    return user


def create_user(
    *,
    session: Session,
    email: str,
    full_name: str,
    role: Role,
    agency_id: int | None = None,
    actor: str = audit.SYSTEM,
) -> IssuedPassword:
    """A new user with a random password. Law-enforcement and social-services users belong to an active agency
    of their kind, whose jurisdiction decides what they see; staff belong to none."""
    address = _email(email)
    name = visible_text("full_name", full_name, 200)
    agency = _agency_for(session, role, agency_id)
    if session.scalar(sa.select(User.id).where(User.email == address)) is not None:
        raise Conflict(f"a user with the e-mail address {address!r} already exists")
    password = secrets.token_urlsafe(18)
    user = User(
        email=address,
        full_name=name,
        role=role,
        agency_id=agency.id if agency is not None else None,
        password_hash=_HASHER.hash(password),
        active=True,
    )
    session.add(user)
    session.flush()
    detail = {"role": role.value, "agency": user.agency_id}
    audit.record(
        session=session, actor=actor, action="user.created", subject_type="user", subject_id=user.id, detail=detail
    )
    return IssuedPassword(user=user, password=password)


def new_user_password(*, session: Session, email: str, actor: str = audit.SYSTEM) -> IssuedPassword:
    """Replace a user's password with a new random one (the old one stops working, as for platform secrets)."""
    user = _user_by_email(session, email)
    password = secrets.token_urlsafe(18)
    user.password_hash = _HASHER.hash(password)
    session.flush()
    audit.record(session=session, actor=actor, action="user.password_replaced", subject_type="user", subject_id=user.id)
    return IssuedPassword(user=user, password=password)


def set_user_active(*, session: Session, email: str, active: bool, actor: str = audit.SYSTEM) -> User:
    """Deactivate a user (who can then no longer sign in) or make them active again."""
    user = _user_by_email(session, email)
    if user.active != active:
        user.active = active
        session.flush()
        action = "user.reactivated" if active else "user.deactivated"
        audit.record(session=session, actor=actor, action=action, subject_type="user", subject_id=user.id)
    return user


def authenticate_user(*, session: Session, email: str, password: str) -> User | None:
    """The active user these credentials open, or None (in the same time whether or not the user exists)."""
    user = session.scalar(sa.select(User).where(User.email == email.strip().casefold()))
    usable = user is not None and user.active
    stored = user.password_hash if user is not None and usable else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if usable else None


def list_users(*, session: Session) -> list[User]:
    """Every user, by e-mail address."""
    return list(session.scalars(sa.select(User).order_by(User.email)))
