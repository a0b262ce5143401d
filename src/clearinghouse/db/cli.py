"""`clearinghouse db`: create and migrate the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

db_app = typer.Typer(help="Create, migrate and inspect the store.", no_args_is_help=True)
console = Console()

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
]


@db_app.command("upgrade")
def upgrade_command(url: UrlOption = None) -> None:
    """Create the store, or apply every pending migration, and load the directory of jurisdictions and agencies.

    The one command that creates or changes a store's schema; the others refuse a store it has not made current.
    """
    from clearinghouse.commandline import fail
    from clearinghouse.db.engine import open_store
    from clearinghouse.db.migrate import current_revision
    from clearinghouse.errors import StoreError

    try:
        store = open_store(url)
    except StoreError as error:
        raise fail(error, 1) from None
    console.print(f"store at revision [bold]{current_revision(store.engine)}[/] ({store.dialect})")
    store.dispose()


@db_app.command("current")
def current_command(url: UrlOption = None) -> None:
    """Print the store's migration revision and the newest one this version ships (nothing is created)."""
    from clearinghouse.commandline import open_command_store
    from clearinghouse.db.revisions import HEAD_REVISION, recorded_revision

    store = open_command_store(url, current=False)
    try:
        with store.engine.connect() as connection:
            console.print(f"store: {recorded_revision(connection)}  newest: {HEAD_REVISION}")
    finally:
        store.dispose()
