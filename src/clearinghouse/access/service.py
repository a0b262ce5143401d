"""Platform accounts and users: creation with hashed secrets, and constant-time verification."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from clearinghouse.access import audit
from clearinghouse.access.models import PlatformAccount
from clearinghouse.errors import Conflict, InputError

_HASHER = PasswordHasher()
# Verified against when the account does not exist, so a wrong name costs as long as a wrong secret.
_DUMMY_HASH = _HASHER.hash("no-such-account")


@dataclass(frozen=True)
class IssuedCredentials:
    """A new account's credentials; the secret is shown once and only its hash is kept."""

    account: PlatformAccount
    username: str
    secret: str


def _username_for(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    if not slug:
        raise InputError("name", "needs at least one letter or digit", name)
    return slug[:60]


def create_platform(*, session: Session, name: str, actor: str = audit.SYSTEM) -> IssuedCredentials:
    """A new reporting-platform account with a random secret."""
    name = name.strip()
    if not name:
        raise InputError("name", "must not be empty", name)
    username = _username_for(name)
    clash = session.scalar(
        sa.select(PlatformAccount.id).where((PlatformAccount.name == name) | (PlatformAccount.username == username))
    )
    if clash is not None:
        raise Conflict(f"a platform account named {name!r} (user name {username!r}) already exists")
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
    account = session.scalar(
        sa.select(PlatformAccount).where((PlatformAccount.name == name.strip()) | (PlatformAccount.username == name))
    )
    if account is None:
        raise InputError("name", "is no platform account's name or user name", name)
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
    account = session.scalar(sa.select(PlatformAccount).where(PlatformAccount.name == name))
    if account is not None:
        return account
    return create_platform(session=session, name=name).account
