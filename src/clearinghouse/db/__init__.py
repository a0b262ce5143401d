"""The store: engine, sessions (units of work), the declarative base and the migrations."""

from clearinghouse.db.base import Base, utcnow
from clearinghouse.db.engine import Store, make_engine

__all__ = ["Base", "Store", "make_engine", "utcnow"]
