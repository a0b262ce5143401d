"""The store: engine, sessions (units of work), the declarative base and the migrations.

Its modules are imported by name (`db.base`, `db.engine`, `db.migrate`): the package itself loads nothing, so that
a command that needs no store (`clearinghouse --help`) does not wait for SQLAlchemy and Alembic to load.
"""
