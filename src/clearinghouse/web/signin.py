"""How many failed sign-ins one network address may make: a bound on password guessing and on argon2's CPU.

Verifying a secret costs about 50 ms of CPU by design, and a wrong one is never cached (`web.auth`), so without a
bound anyone could keep a server's cores busy with wrong passwords. The failures of the last `WINDOW` are counted
in the store by the flood guard's machinery (`web.throttle`: keyed hashes only, shared by every worker, forgotten
by the same sweep), under two counts:

- per account name *at one address*: `per_name` failures for one name (a platform's username or a user's e-mail
  address, compared as the store compares them) from one address;
- per address: `per_address` failures from one address, whatever names it tried.

Past either, the address's attempts (for that name, or for any) are answered 429 with `Retry-After` before any
argon2 runs, whether the password is right or not: it cannot be known without verifying it.

Why no count per name across every address. It would be the only count that bounds guessing spread over many
addresses, but it lets anyone with a few addresses lock an officer or a platform out on purpose, by failing as
them, and it buys almost nothing here: every secret and password is made by the server (`access.service`: 144
bits or more), so no count of guesses a server could answer brings one near. Counting each name per address, an
attacker locks out only their own address; the owner of the account, elsewhere, signs in as before. The CPU an
attacker can spend is bounded per address, which is what a count can bound.

IPv6 addresses are counted by their /64 network: one subscriber is usually given a whole /64, and each of its
addresses counted apart would make the per-address bound meaningless. Behind a reverse proxy the address is the
one uvicorn reads from `X-Forwarded-For` (`--forwarded-allow-ips`); without that, everybody shares the proxy's,
and one attacker locks everybody out.

A success costs nothing: a credential cache hit passes the guard untouched (a blocked address keeps the
credentials it has already verified, in that worker), and a verification reads the two counts first, writing
nothing. Only a failure writes (both counts, in one transaction). A success does not wipe the failures before it:
that would be a write on the success path, and they leave the window by themselves.

Within one worker the sign-ins of one address are verified one at a time (`turn`), each reading the counts once
it has its turn: 40 wrong passwords sent at once would otherwise all pass the read before the first failure was
counted, and all run argon2. With N workers at most N verifications of an address run past its limit. A request
that waited its turn looks in the credential cache again first, so 40 right passwords sent at once cost one
verification instead of 40.

If the counts cannot be read or written, the guard logs a warning and lets the verification run: a broken guard
never locks anybody out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.orm import Session

from clearinghouse.web.throttle import Throttle

WINDOW = dt.timedelta(minutes=15)
"""How long a failed sign-in counts."""

WARNING = "sign-in guard failed; the credentials are verified"
"""What the guard logs when it cannot read or write its counts."""

NAME_SCOPE = "failed sign-in of a name at an address"
ADDRESS_SCOPE = "failed sign-in at an address"


class SignInRefused(Exception):
    """Too many failed sign-ins for this name at this address, or from this address: answered 429."""

    def __init__(self, wait_seconds: int, *, for_name: bool) -> None:
        self.wait_seconds = wait_seconds
        self.for_name = for_name
        whose = "for this account from this address" if for_name else "from this address"
        minutes = WINDOW.seconds // 60
        super().__init__(f"Too many failed sign-ins {whose} in {minutes} minutes; try again in {wait_seconds} seconds.")


def client_of(address: str) -> str:
    """Who an address counts as: itself, or its /64 network for IPv6 (an IPv4 address mapped into IPv6 is the
    IPv4 address); anything that is not an address (a test client's name), as given."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def name_of(name: str) -> str:
    """An account name as the store compares it: users' e-mail addresses are trimmed and case-folded, and platform
    usernames are lower case already, so other spellings of one name share its count."""
    return name.strip().casefold()


class SignInGuard:
    """The counts of failed sign-ins (either may be off) and the worker's turns of verification per address."""

    def __init__(self, *, per_name: int, per_address: int, secret: str) -> None:
        def throttle(scope: str, limit: int) -> Throttle | None:
            return Throttle(scope, limit, secret=secret, window=WINDOW, warning=WARNING) if limit > 0 else None

        self.names = throttle(NAME_SCOPE, per_name)
        self.addresses = throttle(ADDRESS_SCOPE, per_address)
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}

    @classmethod
    def of(cls, *, per_name: int, per_address: int, secret: str) -> SignInGuard | None:
        """The guard, or None when both counts are off."""
        if per_name <= 0 and per_address <= 0:
            return None
        return cls(per_name=per_name, per_address=per_address, secret=secret)

    def check(self, session: Session, name: str, address: str, now: dt.datetime) -> None:
        """SignInRefused if `address` may not try `name` now, from reads alone (a count that cannot be read is
        logged and allows the attempt)."""
        client = client_of(address)
        waits = [
            (throttle.seconds_until_allowed(session, who, now), throttle is self.names)
            for throttle, who in ((self.names, _pair(name, client)), (self.addresses, client))
            if throttle is not None
        ]
        wait, for_name = max(waits, default=(0, False))
        if wait:
            raise SignInRefused(wait, for_name=for_name)

    def count_failure(self, session: Session, name: str, address: str, now: dt.datetime) -> None:
        """Count a failed verification in `session`'s write transaction, under both counts."""
        client = client_of(address)
        if self.names is not None:
            self.names.use(session, _pair(name, client), now)
        if self.addresses is not None:
            self.addresses.use(session, client, now)

    def warn(self, error: Exception) -> None:
        """Log a failure of the guard around its counts (a commit that failed)."""
        throttle = self.names or self.addresses
        assert throttle is not None  # `of` makes no guard with both counts off
        throttle.warn(error)

    @asynccontextmanager
    async def turn(self, address: str) -> AsyncIterator[None]:
        """This worker's turn to verify a sign-in from `address`: one at a time per address (see the module)."""
        client = client_of(address)
        lock, holders = self._turns.get(client, (asyncio.Lock(), 0))
        self._turns[client] = (lock, holders + 1)
        try:
            async with lock:
                yield
        finally:
            lock, holders = self._turns[client]
            if holders == 1:
                del self._turns[client]
            else:
                self._turns[client] = (lock, holders - 1)


def _pair(name: str, client: str) -> str:
    """What the per-name count keys: the name at the address. An address holds no NUL, so no two pairs alike."""
    return name_of(name) + "\x00" + client
