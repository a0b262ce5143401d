"""The `clearinghouse` command: every program adds its own sub-commands here."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from clearinghouse import __version__
from clearinghouse.access.cli import agencies_command, platforms_app, users_app
from clearinghouse.commandline import PlainUsageErrors
from clearinghouse.db.cli import db_app
from clearinghouse.hashing.cli import banks_app, hash_command, match_command
from clearinghouse.impact.cli import sheet_app
from clearinghouse.impact.publish import all_command, render_command
from clearinghouse.impact.tables_cli import tables_command
from clearinghouse.simulate.cli import demo_command
from clearinghouse.tipline.cli import tipline_app
from clearinghouse.victim_id.cli import vid_app
from clearinghouse.web.cli import serve_command

app = typer.Typer(
    name="clearinghouse",
    help="Run the programs of a child-protection clearinghouse and publish its figures.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=PlainUsageErrors,
)
app.add_typer(db_app, name="db")
app.add_typer(sheet_app, name="sheet")
# `sheet render` and `sheet all` count from the store; they are registered on sheet_app where they are defined.
__all__ = ["all_command", "app", "render_command"]
app.command("demo")(demo_command)
app.command("hash")(hash_command)
app.command("match")(match_command)
app.add_typer(banks_app, name="banks")
app.command("serve")(serve_command)
app.add_typer(platforms_app, name="platforms")
app.add_typer(users_app, name="users")
app.command("agencies")(agencies_command)
app.add_typer(tipline_app, name="tipline")
app.command("tables")(tables_command)
app.add_typer(vid_app, name="vid")


class LogLevel(StrEnum):
    """The levels `--log-level` takes (any case)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clearinghouse {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            "--log-level",
            help="Minimum level of log events on stderr (default: CLEARINGHOUSE_LOG_LEVEL, or INFO).",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the programs of a child-protection clearinghouse and publish its figures."""
    from clearinghouse.commandline import fail
    from clearinghouse.config import SettingsError, get_settings
    from clearinghouse.logs import configure

    # Read here, once, so that a refused environment variable stops every command with one line (not a traceback
    # from whichever module first reads the settings).
    try:
        settings = get_settings()
    except SettingsError as error:
        raise fail(error) from None
    configure(log_level.value if log_level is not None else settings.log_level)
