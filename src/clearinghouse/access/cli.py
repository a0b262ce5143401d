"""`clearinghouse platforms` and `users`: the accounts platforms and people sign in with; `agencies` lists the
agencies users belong to."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from clearinghouse.access.service import IssuedCredentials, IssuedPassword

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


users_app = typer.Typer(
    help="Create and list users (staff, law-enforcement officers, social workers), and replace their passwords.",
    no_args_is_help=True,
)


def _password(url: str | None, issue: Callable[[Session], IssuedPassword], headline: str) -> None:
    """Run ``issue`` in one unit of work and print the password it made (this once), or the error."""
    from clearinghouse.db.engine import open_store
    from clearinghouse.errors import Conflict, InputError

    store = open_store(url)
    try:
        with store.unit_of_work() as session:
            issued = issue(session)
            shown = headline.format(id=issued.user.id, email=issued.user.email)
    except (Conflict, InputError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        store.dispose()
    typer.echo(shown)
    typer.echo(f"password: {issued.password}")
    typer.echo("The password is shown only now and cannot be recovered; hand it to the user over a safe channel.")


@users_app.command("add")
def add_user_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address: their sign-in name.")],
    name: Annotated[str, typer.Option("--name", help="The user's full name.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="admin, analyst or case_manager (clearinghouse staff), law_enforcement or social_services.",
        ),
    ],
    agency: Annotated[
        int | None,
        typer.Option(
            "--agency",
            help="Id of the user's agency (`clearinghouse agencies`); law enforcement and "
            "social services only. Its jurisdiction decides what an officer sees.",
        ),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Create a user and print their password: shown this once, only its hash is kept."""
    from clearinghouse.access.models import Role
    from clearinghouse.access.service import create_user

    try:
        chosen = Role(role.strip().lower())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        typer.echo(f"error: role: is not one of {roles} (given: {role!r})", err=True)
        raise typer.Exit(code=1) from None
    _password(
        url,
        lambda session: create_user(
            session=session, email=email, full_name=name, role=chosen, agency_id=agency, actor="cli"
        ),
        "user {id} created: {email}",
    )


@users_app.command("new-password")
def new_password_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    url: UrlOption = None,
) -> None:
    """Replace a user's password and print the new one (shown this once)."""
    from clearinghouse.access.service import new_user_password

    _password(
        url,
        lambda session: new_user_password(session=session, email=email, actor="cli"),
        "new password for user {id} ({email})",
    )


def _set_active(email: str, active: bool, url: str | None) -> None:
    from clearinghouse.access.service import set_user_active
    from clearinghouse.db.engine import open_store
    from clearinghouse.errors import InputError

    store = open_store(url)
    try:
        with store.unit_of_work() as session:
            user = set_user_active(session=session, email=email, active=active, actor="cli")
            shown = f"user {user.id} ({user.email}) is {'active' if active else 'deactivated'}"
    except InputError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        store.dispose()
    typer.echo(shown)


@users_app.command("deactivate")
def deactivate_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    url: UrlOption = None,
) -> None:
    """Stop a user from signing in (after at most a few minutes in a running server that verified them)."""
    _set_active(email, False, url)


@users_app.command("reactivate")
def reactivate_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    url: UrlOption = None,
) -> None:
    """Let a deactivated user sign in again."""
    _set_active(email, True, url)


@users_app.command("list")
def list_users_command(url: UrlOption = None) -> None:
    """List users with their role and agency (never their passwords)."""
    import sqlalchemy as sa

    from clearinghouse.access.models import User
    from clearinghouse.db.engine import open_store
    from clearinghouse.geo.models import Agency

    store = open_store(url)
    try:
        with store.unit_of_work() as session:
            query = sa.select(User, Agency).outerjoin(Agency, Agency.id == User.agency_id).order_by(User.email)
            rows = [
                (
                    str(u.id),
                    u.email,
                    u.full_name,
                    u.role.value,
                    f"{a.name} ({a.jurisdiction_code})" if a is not None else "",
                    "yes" if u.active else "no",
                )
                for u, a in session.execute(query)
            ]
    finally:
        store.dispose()
    table = Table("id", "name", "role", "agency", "active")
    table.add_column("e-mail", no_wrap=True)  # an address split over lines could not be copied
    for user_id, email, *rest in rows:
        table.add_row(*(escape(cell) for cell in (user_id, *rest, email)))
    console.print(table)


def agencies_command(
    jurisdiction: Annotated[
        str | None, typer.Option("--jurisdiction", "-j", help="Only this jurisdiction's (NY, DC, PR, FED, INTL...).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """List the agencies with their ids (for `users add --agency` and `vid submit --agency`)."""
    from clearinghouse.db.engine import open_store
    from clearinghouse.geo.service import list_agencies, require_jurisdiction

    store = open_store(url)
    try:
        with store.unit_of_work() as session:
            code = None
            if jurisdiction is not None:
                code = require_jurisdiction(session=session, code=jurisdiction).code
            rows = [
                (str(a.id), a.jurisdiction_code, a.kind.value, a.name, "yes" if a.active else "no")
                for a in list_agencies(session=session, jurisdiction_code=code, active_only=False)
            ]
    except ValueError as error:  # an unknown jurisdiction
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        store.dispose()
    table = Table("id", "jurisdiction", "kind", "name", "active")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
