"""HTTP Basic authentication of platform accounts and users, with a short-lived in-memory cache of verified
credentials.

Verifying an argon2 hash costs about 50 ms of CPU by design, which would cap a worker at some 20 requests a
second; platforms send many calls per report with the same credentials. So a successful verification is
remembered for `CACHE_TTL_SECONDS` in the worker's memory, keyed by an HMAC-SHA-256 of the user name and
secret under a random key made at start-up (the cache never holds the secret itself, and its keys are useless
outside this process). Failures are never cached: each wrong guess pays the full argon2 cost, and `web.signin`
bounds how many an address may make. The price is that a deactivated platform account keeps working in a worker
that verified it for up to the TTL; a user's standing is read from the store on every request
(`tipline.agency_api`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

CACHE_TTL_SECONDS = 300.0
CACHE_MAX_ENTRIES = 1024


@dataclass(frozen=True, slots=True)
class PlatformPrincipal:
    """The platform account a request is authenticated as."""

    id: int
    username: str
    name: str

    @property
    def actor(self) -> str:
        """How the audit log names this platform."""
        return f"platform:{self.username}"


@dataclass(frozen=True, slots=True)
class UserPrincipal:
    """The user a request is authenticated as. Their role, agency and standing are read from the store where they
    matter (`tipline.agency_api`), never from this cached record, so a change reaches a running server at once."""

    id: int
    email: str
    password_hash: str
    """The hash the password was verified against: once `users new-password` replaces it, the cached record no
    longer matches the store and the old password stops working."""

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return f"user:{self.email}"


P = TypeVar("P")


class Unauthenticated(Exception):
    """No credentials, malformed ones, or ones that open no active account."""


def basic_credentials(header: str | None) -> tuple[str, str]:
    """(user name, secret) from an `Authorization: Basic ...` header, or Unauthenticated."""
    if not header:
        raise Unauthenticated
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise Unauthenticated
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 once decoded
        raise Unauthenticated from None
    username, colon, secret = decoded.partition(":")
    if not colon or not username or not secret:
        raise Unauthenticated
    return username, secret


class CredentialCache(Generic[P]):
    """Successful verifications, least recently used first out, each valid for `ttl` seconds."""

    def __init__(
        self,
        *,
        ttl: float = CACHE_TTL_SECONDS,
        max_entries: int = CACHE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[float, P]] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, username: str, secret: str) -> bytes:
        message = username.encode("utf-8") + b"\x00" + secret.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def get(self, username: str, secret: str) -> P | None:
        """The principal these credentials were verified as, if that was less than `ttl` seconds ago."""
        key = self._digest(username, secret)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, principal = entry
            if self._clock() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return principal

    def put(self, username: str, secret: str, principal: P) -> None:
        """Remember a successful verification."""
        key = self._digest(username, secret)
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, principal)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every verification (after an account is deactivated, say)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
