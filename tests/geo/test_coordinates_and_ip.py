"""Coordinates -> state by the nearest ZIP centre, and IP addresses -> place through MaxMind or a fixed table."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearinghouse.geo.coordinates import distance_km, nearest_zip_centre, state_from_coordinates
from clearinghouse.geo.ipgeo import IpLocation, MaxMindResolver, StaticIpResolver, location_from_record
from clearinghouse.geo.jurisdictions import UnknownJurisdiction


@pytest.mark.parametrize(
    ("latitude", "longitude", "code"),
    [
        (35.7796, -78.6382, "NC"),  # Raleigh
        (38.8895, -77.0353, "DC"),  # the National Mall, inside both the MD and VA bounding boxes
        (38.9072, -77.2, "VA"),  # just across the Potomac from DC
        (39.0, -76.9, "MD"),
        (18.4655, -66.1057, "PR"),
        (13.4757, 144.7489, "GU"),
        (-14.2794, -170.7007, "AS"),
        (15.1778, 145.7508, "MP"),
        (18.3419, -64.9307, "VI"),
        (61.2181, -149.9003, "AK"),
        (51.8800, -176.6581, "AK"),  # Adak, west of the 180th meridian in longitude terms
        (21.3069, -157.8583, "HI"),
        (40.5, -116.5, "NV"),  # rural Nevada
    ],
)
def test_state_from_coordinates(latitude: float, longitude: float, code: str) -> None:
    assert state_from_coordinates(latitude, longitude).code == code


@pytest.mark.parametrize(("latitude", "longitude"), [(35.0, -50.0), (48.85, 2.35), (0.0, 0.0), (-33.9, 151.2)])
def test_points_far_from_any_us_zip_are_not_placed(latitude: float, longitude: float) -> None:
    assert nearest_zip_centre(latitude, longitude) is None
    with pytest.raises(UnknownJurisdiction, match="no US ZIP code centre within 75 km"):
        state_from_coordinates(latitude, longitude)


def test_out_of_range_coordinates_are_refused() -> None:
    with pytest.raises(ValueError, match=r"outside -90\.\.90"):
        nearest_zip_centre(91.0, 0.0)


def test_distance_is_symmetric_and_roughly_right() -> None:
    raleigh_to_dc = distance_km(35.7796, -78.6382, 38.9072, -77.0369)
    assert 370 < raleigh_to_dc < 380
    assert distance_km(38.9072, -77.0369, 35.7796, -78.6382) == pytest.approx(raleigh_to_dc)


# IP addresses ------------------------------------------------------------------------------------------------

# Documentation ranges (RFC 5737 / RFC 3849): no real network is placed by these tests.
TABLE = {
    "192.0.2.0/24": IpLocation("US", "NC"),
    "192.0.2.128/25": IpLocation("US", "VA"),
    "198.51.100.0/24": IpLocation("CA", "ON"),
    "203.0.113.0/24": IpLocation("US", None, anonymous=True),
    "2001:db8::/32": IpLocation("US", "TX"),
}


def test_static_resolver_prefers_the_longest_prefix() -> None:
    resolver = StaticIpResolver(TABLE)
    assert resolver.resolve("192.0.2.10") == IpLocation("US", "NC")
    assert resolver.resolve("192.0.2.200") == IpLocation("US", "VA")
    assert resolver.resolve("2001:db8::1") == IpLocation("US", "TX")
    assert resolver.resolve("8.8.8.8") is None
    assert resolver.resolve("not an address") is None


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "NC"}]}, IpLocation("US", "NC")),
        ({"registered_country": {"iso_code": "de"}}, IpLocation("DE", None)),
        ({"country": {"iso_code": "A1"}}, IpLocation(None, None, anonymous=True)),
        ({"country": {"iso_code": "EU"}}, IpLocation(None, None)),
        (
            {"country": {"iso_code": "US"}, "traits": {"is_anonymous_vpn": True}},
            IpLocation("US", None, anonymous=True),
        ),
        ({"is_tor_exit_node": True}, IpLocation(None, None, anonymous=True)),
        ({"country": "garbage", "subdivisions": "garbage"}, IpLocation(None, None)),
    ],
)
def test_location_from_maxmind_records(record: dict[str, object], expected: IpLocation) -> None:
    assert location_from_record(record) == expected


def test_maxmind_resolver_reads_a_database_built_by_the_test(tmp_path: Path) -> None:
    mmdb_writer = pytest.importorskip("mmdb_writer")
    netaddr = pytest.importorskip("netaddr")
    writer = mmdb_writer.MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    writer.insert_network(
        netaddr.IPSet(["192.0.2.0/24"]),
        {"country": {"iso_code": "US"}, "subdivisions": [{"iso_code": "NC"}]},
    )
    writer.insert_network(
        netaddr.IPSet(["198.51.100.0/24"]),
        {"country": {"iso_code": "US"}, "traits": {"is_anonymous_proxy": True}},
    )
    writer.insert_network(netaddr.IPSet(["2001:db8::/32"]), {"country": {"iso_code": "GB"}})
    path = tmp_path / "tiny-city.mmdb"
    writer.to_db_file(str(path))

    with MaxMindResolver(path) as resolver:
        assert resolver.resolve("192.0.2.77") == IpLocation("US", "NC")
        assert resolver.resolve("198.51.100.1") == IpLocation("US", None, anonymous=True)
        assert resolver.resolve("2001:db8::5") == IpLocation("GB", None)
        assert resolver.resolve("203.0.113.9") is None
        assert resolver.resolve("nonsense") is None


def test_maxmind_resolver_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "not.mmdb"
    path.write_bytes(b"this is not a MaxMind database")
    with pytest.raises(ValueError, match=r"not\.mmdb.*cannot be opened as a MaxMind DB file"):
        MaxMindResolver(path)
