"""How often one network address may use the public report form: a guard against floods, not against people.

One person rarely files more than a few reports in an hour; a script can file thousands, burying real reports
under noise that analysts must read. Each worker process counts the reports of the last hour per address in
memory (`limits`, moving window), so with N workers an address may reach N times the limit before every
worker refuses it. Behind a reverse proxy the address is the one uvicorn reads from the proxy's
`X-Forwarded-For` header (`--forwarded-allow-ips`); without that, every person would share the proxy's.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerHour
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class Throttle:
    """At most `per_hour` uses of one kind (`scope`) by one address in any hour."""

    def __init__(self, scope: str, per_hour: int) -> None:
        if per_hour < 1:
            raise ValueError("a throttle allows at least one use an hour; use none to allow any number")
        self.scope = scope
        self.per_hour = per_hour
        self._item = RateLimitItemPerHour(per_hour)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, address: str) -> bool:
        """Count one use by `address`; False (and not counted) if it has had its uses for the hour."""
        return self._limiter.hit(self._item, self.scope, address)

    def seconds_until_allowed(self, address: str) -> int:
        """Seconds until `address` may use it again (0 if it may now)."""
        stats = self._limiter.get_window_stats(self._item, self.scope, address)
        if stats.remaining > 0:
            return 0
        return max(1, math.ceil(stats.reset_time - time.time()))
