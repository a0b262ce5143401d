"""Victim identification: law-enforcement hash submissions, their review, series and identified children."""
