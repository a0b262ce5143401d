"""`clearinghouse users` and `clearinghouse agencies` through Typer's runner, on an SQLite file."""

from __future__ import annotations

import re

import sqlalchemy as sa
from typer.testing import CliRunner

from clearinghouse.access.models import User
from clearinghouse.access.service import authenticate_user
from clearinghouse.cli import app
from clearinghouse.db.engine import open_store

runner = CliRunner()


def test_an_officer_is_added_with_a_password_shown_once_and_listed_without_it(made_url: str) -> None:
    url = made_url
    agencies = runner.invoke(app, ["agencies", "--jurisdiction", "nd", "--url", url])
    assert agencies.exit_code == 0, agencies.output
    found = re.search(r"^\W*(\d+)\W+ND\W+icac_task_force", agencies.output, re.MULTILINE)
    assert found is not None, agencies.output
    added = runner.invoke(
        app,
        ["users", "add", "officer@example.org", "--name", "A. Officer", "--role", "law_enforcement",
         "--agency", found.group(1), "--url", url],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    password = re.search(r"^password: (\S+)$", added.output, re.MULTILINE)
    assert password is not None
    store = open_store(url, upgrade=False)
    with store.session() as session:
        assert authenticate_user(session=session, email="officer@example.org", password=password.group(1))
        assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
    store.dispose()
    listed = runner.invoke(app, ["users", "list", "--url", url])
    assert listed.exit_code == 0
    assert "officer@example.org" in listed.output
    assert password.group(1) not in listed.output
    replaced = runner.invoke(app, ["users", "new-password", "officer@example.org", "--url", url])
    assert replaced.exit_code == 0
    assert "password: " in replaced.output
    deactivated = runner.invoke(app, ["users", "deactivate", "officer@example.org", "--url", url])
    assert deactivated.exit_code == 0
    assert "deactivated" in deactivated.output


def test_bad_users_and_jurisdictions_are_refused_by_name(made_url: str) -> None:
    url = made_url
    for arguments, message in [
        (["users", "add", "x@example.org", "--name", "X", "--role", "sheriff"], "role: is not one of"),
        (["users", "add", "x@example.org", "--name", "X", "--role", "law_enforcement"], "agency"),
        (["users", "add", "nobody", "--name", "X", "--role", "analyst"], "email"),
        (["users", "new-password", "nobody@example.org"], "no user's e-mail"),
        (["users", "deactivate", "nobody@example.org"], "no user's e-mail"),
        (["agencies", "--jurisdiction", "ZZ"], "unknown jurisdiction"),
    ]:
        result = runner.invoke(app, [*arguments, "--url", url])
        assert result.exit_code == 1, (arguments, result.output)
        assert message in result.output, (arguments, result.output)
    store = open_store(url, upgrade=False)
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    store.dispose()


def test_an_agency_id_beyond_any_store_is_a_usage_error(made_url: str) -> None:
    added = runner.invoke(
        app,
        ["users", "add", "x@example.org", "--name", "X", "--role", "law_enforcement", "--agency", str(2**63),
         "--url", made_url],
    )  # fmt: skip
    assert added.exit_code == 2, added.output
    assert isinstance(added.exception, SystemExit), added.exception
    assert added.stderr.startswith("error: "), added.stderr
    assert "--agency" in added.stderr
