"""Clearinghouse: records, work and published figures of a national child-protection clearinghouse."""

__version__ = "0.1.0"
