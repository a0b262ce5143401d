"""The web application: the platform interface, the JSON API and the public report form, on one FastAPI app."""
