"""IP address -> country and region, through a MaxMind-format database or a fixed table.

The locate step depends only on the :class:`IpResolver` protocol. :class:`MaxMindResolver` reads any database
in the MaxMind DB format (GeoIP2/GeoLite2 City or Country, an Anonymous-IP database, or one built in-house);
:class:`StaticIpResolver` answers from a table of networks, for tests and for small deployments without one.
No database ships with the platform: commercial and GeoLite databases carry their own licences.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

import maxminddb

# Legacy GeoIP pseudo-countries (A1 anonymous proxy, A2 satellite provider, O1 other) and continents (AP, EU).
ANONYMOUS_PROXY_COUNTRY = "A1"
NOT_A_COUNTRY = frozenset({"", "A1", "A2", "O1", "AP", "EU", "XX", "ZZ"})

# Traits (GeoIP2 City ``traits`` or top-level Anonymous-IP keys) meaning the address hides its user's place.
ANONYMISING_TRAITS = (
    "is_anonymous_proxy",
    "is_anonymous",
    "is_anonymous_vpn",
    "is_public_proxy",
    "is_residential_proxy",
    "is_tor_exit_node",
)


@dataclass(frozen=True, slots=True)
class IpLocation:
    """Where an IP address is registered or used, as far as the database knows."""

    country_code: str | None
    subdivision_code: str | None = None
    """ISO 3166-2 subdivision without the country prefix: a US state's postal code for US addresses."""
    anonymous: bool = False
    """The database marks the address as a proxy, VPN or Tor exit: its location says little about the user."""


class IpResolver(Protocol):
    """Anything that places an IP address."""

    def resolve(self, address: str) -> IpLocation | None:
        """The location of ``address``, or None when unknown or not an IP address."""
        ...


def _parse_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def _iso(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code or None


def location_from_record(record: Mapping[str, Any]) -> IpLocation:
    """An :class:`IpLocation` from one MaxMind record (City, Country or Anonymous-IP layout)."""
    country: str | None = None
    for key in ("country", "registered_country"):
        section = record.get(key)
        if isinstance(section, Mapping):
            country = _iso(section.get("iso_code"))
            if country:
                break
    subdivision: str | None = None
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], Mapping):
        subdivision = _iso(subdivisions[0].get("iso_code"))
    traits = record.get("traits")
    trait_sources = [record, traits] if isinstance(traits, Mapping) else [record]
    anonymous = any(source.get(trait) is True for source in trait_sources for trait in ANONYMISING_TRAITS)
    if country == ANONYMOUS_PROXY_COUNTRY:
        anonymous = True
    if country in NOT_A_COUNTRY:
        country = None
    return IpLocation(country, subdivision, anonymous)


class MaxMindResolver:
    """Places IP addresses with a MaxMind-format file: open once, share across threads, close at exit."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._reader = maxminddb.open_database(self.path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
            raise ValueError(f"IP database {self.path!r} cannot be opened as a MaxMind DB file: {error}") from error

    def resolve(self, address: str) -> IpLocation | None:
        """The location of ``address``, or None when the database has no record or it is not an IP address."""
        parsed = _parse_address(address)
        if parsed is None:
            return None
        try:
            record = self._reader.get(parsed)
        except ValueError:  # an IPv6 address looked up in an IPv4-only database
            return None
        if not isinstance(record, Mapping):
            return None
        return location_from_record(record)

    def close(self) -> None:
        """Release the database file."""
        self._reader.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@contextmanager
def configured_resolver(path: str | os.PathLike[str] | None = None) -> Iterator[MaxMindResolver | None]:
    """The MaxMind-format database at ``path``, by default the one named by ``CLEARINGHOUSE_MAXMIND_DB``, open
    for the block; None when none is configured (IP addresses are then not placed)."""
    if path is None:
        from clearinghouse.config import get_settings

        path = get_settings().maxmind_db
    if path is None:
        yield None
        return
    with MaxMindResolver(path) as resolver:
        yield resolver


class StaticIpResolver:
    """Places IP addresses from a fixed table of networks (CIDR -> location); the longest prefix wins."""

    def __init__(self, networks: Mapping[str, IpLocation]) -> None:
        self._networks = sorted(
            ((ipaddress.ip_network(cidr, strict=False), location) for cidr, location in networks.items()),
            key=lambda item: item[0].prefixlen,
            reverse=True,
        )

    def resolve(self, address: str) -> IpLocation | None:
        """The location of the most specific network holding ``address``, or None."""
        parsed = _parse_address(address)
        if parsed is None:
            return None
        for network, location in self._networks:
            if parsed.version == network.version and parsed in network:
                return location
        return None
