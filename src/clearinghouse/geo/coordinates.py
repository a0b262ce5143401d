"""Latitude/longitude -> US state, DC or territory, by the nearest ZIP code centre.

Why the nearest ZIP and not a table of state bounding boxes: boxes overlap widely (DC lies inside both the
Maryland and the Virginia box, and most neighbouring states share a strip), so a box table is ambiguous along
every border and cannot tell a point at sea or abroad from one on land. The ``zipcodes`` package carries a
centre point for some 42,000 ZIP codes; the state of the nearest centre is right everywhere except within a
few kilometres of a state line, and a point farther than :data:`MAX_DISTANCE_KM` from every centre is
reported as unknown rather than guessed. Points just across the Canadian or Mexican border can still match a
US ZIP; that is why coordinates weigh less than an address or a ZIP code in the locate step.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import zipcodes

from clearinghouse.geo.jurisdictions import (
    US_JURISDICTIONS,
    JurisdictionInfo,
    UnknownJurisdiction,
    get_jurisdiction_info,
)

MAX_DISTANCE_KM = 75.0
"""Beyond this distance from every ZIP centre a point is not placed (rural centres lie up to ~60 km apart)."""

EARTH_RADIUS_KM = 6371.0088

_Centre = tuple[float, float, str]  # latitude, longitude, jurisdiction code


def _cell(latitude: float, longitude: float) -> tuple[int, int]:
    return math.floor(latitude), math.floor(longitude)


@cache
def _grid() -> dict[tuple[int, int], list[_Centre]]:
    """ZIP centres bucketed by whole degree, built once on first use (about 42,000 points)."""
    us_codes = {info.code for info in US_JURISDICTIONS}
    grid: dict[tuple[int, int], list[_Centre]] = {}
    rows: list[dict[str, Any]] = zipcodes.list_all()  # type: ignore[no-untyped-call]
    for row in rows:
        if row["state"] not in us_codes:
            continue  # military post and freely associated states
        try:
            latitude, longitude = float(row["lat"]), float(row["long"])
        except (TypeError, ValueError):
            continue
        if latitude == 0.0 and longitude == 0.0:
            continue  # the directory's placeholder for "no position"
        grid.setdefault(_cell(latitude, longitude), []).append((latitude, longitude, row["state"]))
    return grid


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest_zip_centre(
    latitude: float, longitude: float, *, max_km: float = MAX_DISTANCE_KM
) -> tuple[str, float] | None:
    """(jurisdiction code, distance in km) of the nearest ZIP centre within ``max_km``, or None."""
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        raise ValueError(f"coordinates ({latitude}, {longitude}) are outside -90..90 latitude, -180..180 longitude")
    # Search enough whole-degree cells to cover max_km in every direction; a degree of longitude shrinks with
    # latitude, so more columns are searched near the poles (capped: beyond 89 degrees every column is near).
    rows = math.ceil(max_km / 111.0)
    shrink = max(math.cos(math.radians(min(abs(latitude) + rows, 89.0))), 1e-6)
    columns = min(180, math.ceil(max_km / (111.0 * shrink)))
    base_row, base_column = _cell(latitude, longitude)
    grid = _grid()
    best: tuple[str, float] | None = None
    for row in range(base_row - rows, base_row + rows + 1):
        for column in range(base_column - columns, base_column + columns + 1):
            # The Aleutians and Guam lie on either side of the 180th meridian: wrap the column index.
            wrapped = (column + 180) % 360 - 180
            for centre_lat, centre_lon, code in grid.get((row, wrapped), ()):
                distance = distance_km(latitude, longitude, centre_lat, centre_lon)
                if distance <= max_km and (best is None or distance < best[1]):
                    best = (code, distance)
    return best


def state_from_coordinates(latitude: float, longitude: float, *, max_km: float = MAX_DISTANCE_KM) -> JurisdictionInfo:
    """The state, DC or territory whose nearest ZIP centre lies within ``max_km`` of the point."""
    found = nearest_zip_centre(latitude, longitude, max_km=max_km)
    if found is None:
        raise UnknownJurisdiction(
            (latitude, longitude), detail=f"no US ZIP code centre within {max_km:g} km of the point"
        )
    return get_jurisdiction_info(found[0])
