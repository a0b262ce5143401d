"""`clearinghouse platforms`: create and list the accounts reporting platforms authenticate with."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from clearinghouse.access.service import IssuedCredentials

platforms_app = typer.Typer(
    help="Create and list reporting-platform accounts, and replace their secrets.", no_args_is_help=True
)
console = Console()

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
]


def _issue(url: str | None, issue: Callable[[Session], IssuedCredentials], headline: str) -> None:
    """Run ``issue`` in one unit of work and print the credentials it made (the secret this once), or the error."""
    from clearinghouse.db.engine import open_store
    from clearinghouse.errors import Conflict, InputError

    store = open_store(url)
    try:
        with store.unit_of_work() as session:
            issued = issue(session)
    except (Conflict, InputError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        store.dispose()
    # Plain echo, not rich: markup must never reinterpret characters of the secret.
    typer.echo(headline.format(id=issued.account.id, name=issued.account.name))
    typer.echo(f"username: {issued.username}")
    typer.echo(f"secret:   {issued.secret}")
    typer.echo("The secret is shown only now and cannot be recovered; store it in the platform's secret manager.")


@platforms_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="The platform's name, e.g. 'Example Chat'.")],
    url: UrlOption = None,
) -> None:
    """Create a platform account and print its credentials: the secret is shown this once, only its hash is kept."""
    from clearinghouse.access.service import create_platform

    _issue(
        url,
        lambda session: create_platform(session=session, name=name, actor="cli"),
        "platform account {id} created for {name!r}",
    )


@platforms_app.command("new-secret")
def new_secret_command(
    name: Annotated[str, typer.Argument(help="The platform's name or user name.")],
    url: UrlOption = None,
) -> None:
    """Replace a platform account's secret and print the new one (shown this once): the old secret stops working,
    after at most a few minutes in a running server that verified it recently."""
    from clearinghouse.access.service import new_platform_secret

    _issue(
        url,
        lambda session: new_platform_secret(session=session, name=name, actor="cli"),
        "new secret for platform account {id} ({name!r})",
    )


@platforms_app.command("list")
def list_command(url: UrlOption = None) -> None:
    """List platform accounts (never their secrets)."""
    import sqlalchemy as sa

    from clearinghouse.access.models import PlatformAccount
    from clearinghouse.db.engine import open_store

    store = open_store(url)
    try:
        with store.unit_of_work() as session:
            accounts = session.scalars(sa.select(PlatformAccount).order_by(PlatformAccount.id)).all()
            rows = [
                (str(a.id), a.name, a.username, "yes" if a.active else "no", a.created_at.isoformat()) for a in accounts
            ]
    finally:
        store.dispose()
    table = Table("id", "name", "username", "active", "created (UTC)")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
