"""Write a new Alembic revision by comparing the models with a store migrated to the current head.

Usage: python scripts/new_migration.py "message" [revision-id]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from clearinghouse.db.engine import Store
from clearinghouse.db.migrate import alembic_config


def main() -> None:
    message = sys.argv[1]
    rev_id = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'head.db'}")
        store.upgrade()
        command.revision(alembic_config(store.engine), message=message, autogenerate=True, rev_id=rev_id)
        store.dispose()


if __name__ == "__main__":
    main()
