"""`clearinghouse platforms` and `users`: the accounts platforms and people sign in with; `agencies` lists the
agencies users belong to."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from clearinghouse.commandline import MAX_ID

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from clearinghouse.access.service import IssuedCredentials, IssuedPassword

platforms_app = typer.Typer(
    help="Create and list reporting-platform accounts, and replace their secrets.", no_args_is_help=True
)
console = Console()
T = TypeVar("T")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Store URL; default CLEARINGHOUSE_DATABASE_URL or the embedded SQLite file."),
]


def _in_store(url: str | None, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one unit of work on the store; a refusal (bad input, a conflict) ends the command with its
    message and exit code 1, nothing stored."""
    from clearinghouse.commandline import command_store
    from clearinghouse.errors import Conflict

    try:
        with command_store(url) as store, store.unit_of_work() as session:
            return work(session)
    except (Conflict, ValueError) as error:  # InputError and an unknown jurisdiction are ValueErrors
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None


def _show_once(lines: list[str], advice: str) -> None:
    # Plain echo, not rich: markup must never reinterpret characters of a secret or a password.
    for line in lines:
        typer.echo(line)
    typer.echo(advice)


def _print_table(columns: Sequence[str | Column], rows: Iterable[Sequence[str]]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def _issue(url: str | None, issue: Callable[[Session], IssuedCredentials], headline: str) -> None:
    """Run ``issue`` in one unit of work and print the credentials it made (the secret this once), or the error."""

    def described(session: Session) -> list[str]:
        issued = issue(session)
        shown = headline.format(id=issued.account.id, name=issued.account.name)
        return [shown, f"username: {issued.username}", f"secret:   {issued.secret}"]

    lines = _in_store(url, described)
    _show_once(
        lines, "The secret is shown only now and cannot be recovered; store it in the platform's secret manager."
    )


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

    def rows(session: Session) -> list[tuple[str, ...]]:
        accounts = session.scalars(sa.select(PlatformAccount).order_by(PlatformAccount.id))
        return [
            (str(a.id), a.name, a.username, "yes" if a.active else "no", a.created_at.isoformat()) for a in accounts
        ]

    _print_table(("id", "name", "username", "active", "created (UTC)"), _in_store(url, rows))


users_app = typer.Typer(
    help="Create and list users (staff, law-enforcement officers, social workers), and replace their passwords.",
    no_args_is_help=True,
)


def _password(url: str | None, issue: Callable[[Session], IssuedPassword], headline: str) -> None:
    """Run ``issue`` in one unit of work and print the password it made (this once), or the error."""

    def described(session: Session) -> list[str]:
        issued = issue(session)
        return [headline.format(id=issued.user.id, email=issued.user.email), f"password: {issued.password}"]

    lines = _in_store(url, described)
    _show_once(
        lines, "The password is shown only now and cannot be recovered; hand it to the user over a safe channel."
    )


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
            min=1,
            max=MAX_ID,
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

    def change(session: Session) -> str:
        user = set_user_active(session=session, email=email, active=active, actor="cli")
        return f"user {user.id} ({user.email}) is {'active' if active else 'deactivated'}"

    typer.echo(_in_store(url, change))


@users_app.command("deactivate")
def deactivate_command(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    url: UrlOption = None,
) -> None:
    """Stop a user from signing in, at once (a running server reads the user's standing on every request)."""
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
    from clearinghouse.geo.models import Agency

    def rows(session: Session) -> list[tuple[str, ...]]:
        query = sa.select(User, Agency).outerjoin(Agency, Agency.id == User.agency_id).order_by(User.email)
        return [
            (
                str(u.id),
                u.full_name,
                u.role.value,
                f"{a.name} ({a.jurisdiction_code})" if a is not None else "",
                "yes" if u.active else "no",
                u.email,
            )
            for u, a in session.execute(query)
        ]

    # An address split over lines could not be copied: the e-mail column never wraps.
    _print_table(("id", "name", "role", "agency", "active", Column("e-mail", no_wrap=True)), _in_store(url, rows))


def agencies_command(
    jurisdiction: Annotated[
        str | None, typer.Option("--jurisdiction", "-j", help="Only this jurisdiction's (NY, DC, PR, FED, INTL...).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """List the agencies with their ids (for `users add --agency` and `vid submit --agency`)."""
    from clearinghouse.geo.service import list_agencies, require_jurisdiction

    def rows(session: Session) -> list[tuple[str, ...]]:
        code = require_jurisdiction(session=session, code=jurisdiction).code if jurisdiction is not None else None
        return [
            (str(a.id), a.jurisdiction_code, a.kind.value, a.name, "yes" if a.active else "no")
            for a in list_agencies(session=session, jurisdiction_code=code, active_only=False)
        ]

    _print_table(("id", "jurisdiction", "kind", "name", "active"), _in_store(url, rows))
