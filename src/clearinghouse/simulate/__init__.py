"""Calibrated synthetic activity: the simulation writes raw inputs through the services, never figures."""
