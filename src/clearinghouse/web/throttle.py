"""How often one network address may use the public report form: a guard against floods, not against people.

One person rarely files more than a few reports in an hour; a script can file thousands, burying real reports
under noise that analysts must read. The uses of the last hour are counted in the store (`flood_guard_uses`), so
every worker process of the server, and every server over the same store, shares one count: an address gets
its limit, not the limit once per worker.

The store never holds an address, only a keyed hash of it (HMAC-SHA-256 under a key derived from
`CLEARINGHOUSE_SECRET_KEY`, cut to 128 bits), so the table alone does not tell who used the form: without the
secret, no address can be tried against it. Changing the secret starts every count afresh. A use is forgotten
an hour after it was made: an address's old uses when it is counted again, every address's in the server's
periodic sweep (`forget_old_uses`).

A use is counted in the transaction that files the report, so a report refused or failed there is not counted,
and on SQLite the count takes no write turn of its own: it is a read and an insert in the report's turn. Before
that, a refused address is told so from a read alone, so that a flood takes no turns. The guard must never
refuse a report because the guard itself failed: a count that cannot be read or written is logged as a warning
and the report goes through.

Behind a reverse proxy the address is the one uvicorn reads from the proxy's `X-Forwarded-For` header
(`--forwarded-allow-ips`); without that, every person would share the proxy's.

The same machinery counts failed sign-ins (`web.signin`) in the same table, over a shorter window: a guard's
scope is part of every key it makes, so the counts of two guards never mix, and the table does not say which
guard counted a row. No window is longer than `WINDOW`, so the sweep that forgets every row older than it
forgets every guard's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math

import sqlalchemy as sa
from sqlalchemy.orm import Session

from clearinghouse.db.base import table_of
from clearinghouse.db.engine import begin_on_sqlite
from clearinghouse.logs import get_logger
from clearinghouse.web.models import ADDRESS_KEY_BYTES, FloodGuardUse

WINDOW = dt.timedelta(hours=1)
"""How long a use of the public form counts; the longest window of any guard, and so how long a row is kept."""

FLOOD_WARNING = "flood guard failed; the report is let through"
"""What the public form's guard logs when it cannot read or write its count."""

KEY_PURPOSE = b"clearinghouse flood guard address key"
"""What the secret key is bent to here: the guard's key differs from any other key derived from the same secret."""

ADDRESS_LOCK = 0x466C6F6F
"""First key of the PostgreSQL advisory locks that keep two counts of one address apart (it spells "Floo")."""

USES = table_of(FloodGuardUse)

log = get_logger("clearinghouse.web.throttle")


class Throttle:
    """At most `limit` uses of one kind (`scope`) by one address in any `window`, counted in the store.

    `warning` is logged when the count cannot be read or written (the use is then let through).
    """

    def __init__(
        self,
        scope: str,
        limit: int,
        *,
        secret: str,
        window: dt.timedelta = WINDOW,
        warning: str = FLOOD_WARNING,
    ) -> None:
        if limit < 1:
            raise ValueError("a throttle allows at least one use a window; use none to allow any number")
        if not dt.timedelta(0) < window <= WINDOW:
            raise ValueError(f"a throttle's window is at most {WINDOW}: older rows are forgotten by the sweep")
        self.scope = scope
        self.limit = limit
        self.window = window
        self.warning = warning
        self._key = hmac.new(secret.encode("utf-8"), KEY_PURPOSE, hashlib.sha256).digest()

    def address_key(self, address: str) -> bytes:
        """What the store keeps instead of `address`: the same for every worker sharing the secret."""
        message = self.scope.encode("utf-8") + b"\x00" + address.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()[:ADDRESS_KEY_BYTES]

    def seconds_until_allowed(self, session: Session, address: str, now: dt.datetime) -> int:
        """Seconds until `address` may use it again (0 if it may now), from a read alone: to refuse a flood
        before it takes a write turn. 0 if the count cannot be read (logged)."""
        try:
            return self._wait(session, self.address_key(address), now)
        except Exception as error:  # the guard's failure must not refuse the use
            session.rollback()  # on PostgreSQL the failed read ended the transaction's use
            self.warn(error)
            return 0

    def use(self, session: Session, address: str, now: dt.datetime) -> int:
        """Count one use by `address` in `session`'s write transaction, the one that makes the use: 0 when counted,
        else the seconds until it may use it again, nothing counted.

        The count is read again here, in the write turn (SQLite) or holding the address's advisory lock
        (PostgreSQL), so that two workers never both take its last use. Its work is a savepoint of its own: if it
        fails, it is undone alone, logged, and 0 is returned, so that the use goes through.
        """
        key = self.address_key(address)
        try:
            begin_on_sqlite(session)  # the count joins the report's transaction, not a savepoint's own
            with session.begin_nested():
                if session.get_bind().dialect.name == "postgresql":
                    lock = int.from_bytes(key[:4], "big", signed=True)
                    session.execute(sa.select(sa.func.pg_advisory_xact_lock(ADDRESS_LOCK, lock)))
                wait = self._wait(session, key, now)
                if wait == 0:
                    old = sa.and_(USES.c.address_key == key, USES.c.used_at <= now - self.window)
                    session.execute(sa.delete(USES).where(old))
                    session.execute(sa.insert(USES).values(address_key=key, used_at=now))
                return wait
        except Exception as error:  # the guard's failure must not refuse the use
            self.warn(error)
            return 0

    def warn(self, error: Exception) -> None:
        """Log the guard's failure: the driver's words name the cause; they hold no address, only its hash."""
        log.warning(self.warning, error=str(getattr(error, "orig", None) or error))

    def _wait(self, session: Session, key: bytes, now: dt.datetime) -> int:
        """Seconds until the address's `limit`-th newest use in the window leaves it (0 if it has fewer)."""
        newest_first = USES.c.used_at.desc()
        in_window = sa.and_(USES.c.address_key == key, USES.c.used_at > now - self.window)
        query = sa.select(USES.c.used_at).where(in_window).order_by(newest_first).offset(self.limit - 1).limit(1)
        last_place: dt.datetime | None = session.scalar(query)
        if last_place is None:
            return 0
        return max(1, math.ceil((last_place + self.window - now).total_seconds()))


def forget_old_uses(session: Session, now: dt.datetime) -> int:
    """Delete every use older than `WINDOW`, whoever made it and whichever guard counted it; returns how many."""
    forgotten: int = session.execute(sa.delete(USES).where(USES.c.used_at <= now - WINDOW)).rowcount  # type: ignore[attr-defined]
    return forgotten
