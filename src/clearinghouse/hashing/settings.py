"""Thresholds of hash matching, each with the reason it has the value it has."""

from __future__ import annotations

PDQ_MATCH_DISTANCE = 31
"""Largest Hamming distance (of 256 bits) at which two PDQ hashes are the same picture.

PDQ's authors measured that re-encoded, resized and lightly edited copies of a picture stay within 31 bits
while unrelated pictures almost never come that close; the same value is used by ThreatExchange and
Hasher-Matcher-Actioner, so banks shared with platforms mean the same thing here.
"""

PDQ_MIN_QUALITY = 50
"""PDQ hashes with a quality below this are neither matched nor trusted.

Quality measures how much gradient detail the picture has. Flat or nearly flat pictures (a blank frame, a
solid colour, a heavily blurred image) give hashes dominated by noise, which fall within 31 bits of one
another by chance: matching them would produce false matches against a bank of known content.
"""

SURGE_WINDOW = 10_000
"""Number of recent lookups over which each bank hash's share of matches is measured."""

SURGE_MIN_MATCHES = 25
"""A bank hash needs at least this many matches in the window before it can be flagged, so that a popular
series that legitimately recurs in a burst of reports from one case is not flagged on a handful."""

SURGE_SHARE = 0.02
"""A bank hash matching more than this share of the window's lookups is flagged for review.

Even the most widely circulated known file is a small fraction of what is reported; one hash matching 2% of
all lookups is far more likely to be a generic picture (a logo, a meme, a blank frame) that entered a bank by
mistake, and every match it makes would be a false one sent to analysts and law enforcement.
"""

EXACT_PREFIX_BYTES = 8
"""Bytes of a cryptographic hash kept in memory by the exact index (the rest is checked in the store).

Eight bytes keep 50 million MD5, SHA-1 and SHA-256 entries in 400 MB while making a false candidate
(two different hashes with equal first 64 bits) vanishingly rare; any candidate is confirmed on the full value.
"""
