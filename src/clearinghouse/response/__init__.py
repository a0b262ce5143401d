"""Rapid response: retired investigators deployed on critical missing-child cases and long-term cases."""
