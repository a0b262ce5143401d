"""`clearinghouse db`: create and migrate the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from clearinghouse.db.migrate import current_revision, head_revision

db_app = typer.Typer(help="Create, migrate and inspect the store.", no_args_is_help=True)
console = Console()

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
]


@db_app.command("upgrade")
def upgrade_command(url: UrlOption = None) -> None:
    """Apply every pending migration and load the directory of jurisdictions and agencies."""
    from clearinghouse.db.engine import open_store

    store = open_store(url)
    console.print(f"store at revision [bold]{current_revision(store.engine)}[/] ({store.dialect})")
    store.dispose()


@db_app.command("current")
def current_command(url: UrlOption = None) -> None:
    """Print the store's migration revision and the newest one this version ships."""
    from clearinghouse.db.engine import open_store

    store = open_store(url, upgrade=False)
    console.print(f"store: {current_revision(store.engine)}  newest: {head_revision()}")
    store.dispose()
