"""Platform names: one reading (`platform_name`) for every path that creates or looks up an account, with names
in any script, and refusals that store nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from faker import Faker
from typer.testing import CliRunner

from clearinghouse.access.models import AuditEvent, PlatformAccount, Role, User
from clearinghouse.access.service import (
    MAX_PLATFORM_NAME,
    create_platform,
    create_user,
    find_platform,
    get_or_create_platform,
    new_platform_secret,
    platform_name,
)
from clearinghouse.cli import app
from clearinghouse.db.engine import Store, open_store
from clearinghouse.errors import InputError

runner = CliRunner()


def _count(store: Store, table: type[object]) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(table)) or 0


def _id(account: PlatformAccount | None) -> int | None:
    return None if account is None else account.id


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("  Example   Chat ", "Example Chat"),
        ("Example\u00a0Chat", "Example Chat"),  # a no-break space is a space
        ("Cafe\u0301 Chat", "Café Chat"),  # composed: the same name however the accent was typed
        ("ラインチャット", "ラインチャット"),
        ("Ελληνικά", "Ελληνικά"),
        ("محادثة", "محادثة"),
        ("گفت\u200cوگو", "گفت\u200cوگو"),  # the zero-width non-joiner is part of Persian spelling
        ("x" * MAX_PLATFORM_NAME, "x" * MAX_PLATFORM_NAME),
    ],
)
def test_names_are_read_one_way(given: str, stored: str) -> None:
    assert platform_name(given) == stored


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("x" * 5000, f"must be at most {MAX_PLATFORM_NAME} characters, not 5000"),
        ("x" * (MAX_PLATFORM_NAME + 1), f"not {MAX_PLATFORM_NAME + 1}"),
        ("Line\nTwo", "control or invisible characters (U+000A found)"),
        ("Tab\tChat", "U+0009"),
        ("Bell\x07", "U+0007"),
        ("Evil\u202eTahc", "U+202E"),  # a right-to-left override would make the name read backwards
        ("Zero\u200bWidth", "U+200B"),
        ("Line\u2028Separator", "U+2028"),
        ("   ", "must not be empty"),
        ("!!! ---", "needs at least one letter or digit"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_stored(any_store: Store, given: str, fragment: str) -> None:
    store = any_store
    with pytest.raises(InputError) as caught, store.unit_of_work() as session:
        create_platform(session=session, name=given)
    assert caught.value.field == "name"
    assert fragment in str(caught.value)
    assert len(str(caught.value)) < 200  # a 5,000-character name is not repeated back whole
    assert (_count(store, PlatformAccount), _count(store, AuditEvent)) == (0, 0)


def test_names_in_any_script_get_distinct_ascii_user_names(store: Store) -> None:
    names = ["Example Chat", "Café Chat", "ラインチャット", "Ελληνικά", "محادثة", "LINE ライン", "LINE ヤフー"]
    with store.unit_of_work() as session:
        usernames = [create_platform(session=session, name=name).username for name in names]
    assert usernames[:2] == ["example-chat", "cafe-chat"]  # as before for Latin names, accents dropped
    assert all(name.isascii() for name in usernames)
    assert len(set(usernames)) == len(names)
    assert [name[:5] for name in usernames[5:]] == ["line-", "line-"]
    assert usernames[2].startswith("platform-")


def test_lookups_read_names_as_creation_does(any_store: Store) -> None:
    store = any_store
    with store.unit_of_work() as session:
        chat = create_platform(session=session, name="Example Chat").account.id
        greek = create_platform(session=session, name="Ελληνικά").account.id
    with store.session() as session:
        for given in ("Example Chat", " example   chat ", "EXAMPLE-CHAT", "example-chat", "Example\u00a0Chat"):
            assert _id(find_platform(session=session, name=given)) == chat, given
        assert _id(find_platform(session=session, name="ελληνικά")) == greek
        for given in ("Example Chats", "x" * 5000, "Example\nChat", ""):
            assert find_platform(session=session, name=given) is None
    with store.unit_of_work() as session:
        assert get_or_create_platform(session=session, name="example chat").id == chat
        assert new_platform_secret(session=session, name="ΕΛΛΗΝΙΚΆ", actor="test").account.id == greek
    assert _count(store, PlatformAccount) == 2


def test_the_commands_refuse_bad_names_in_one_line_and_match_names_as_stored(tmp_path: Path, made_url: str) -> None:
    url = made_url
    for given, fragment in [("x" * 5000, "at most 100 characters"), ("Two\nLines", "U+000A")]:
        refused = runner.invoke(app, ["platforms", "add", given, "--url", url])
        assert refused.exit_code == 1
        assert refused.stdout == ""
        assert refused.stderr.startswith("error: name: ")
        assert fragment in refused.stderr
        assert refused.stderr.count("\n") == 1
    added = runner.invoke(app, ["platforms", "add", "ラインチャット", "--url", url])
    assert added.exit_code == 0, added.output
    assert "platform account 1 created for 'ラインチャット'" in added.stdout
    again = runner.invoke(app, ["platforms", "add", " ラインチャット ", "--url", url])
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    runner.invoke(app, ["platforms", "add", "Example   Chat", "--url", url])
    export = tmp_path / "empty.ndjson"
    export.write_text("", encoding="utf-8")
    for given in ("example chat", "Example Chat", "ラインチャット"):
        imported = runner.invoke(app, ["tipline", "import", str(export), "-p", given, "--no-process", "--url", url])
        assert imported.exit_code == 0, imported.output
    store = open_store(url, upgrade=False)
    try:
        with store.session() as session:
            names = list(session.scalars(sa.select(PlatformAccount.name).order_by(PlatformAccount.id)))
    finally:
        store.dispose()
    assert names == ["ラインチャット", "Example Chat"]
    unknown = runner.invoke(app, ["platforms", "new-secret", "q" * 5000, "--url", url])
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: name: is no platform account's name or user name (given: 'qqq")
    assert len(unknown.stderr) < 200


def test_a_user_name_with_hidden_characters_is_refused(store: Store, fake: Faker) -> None:
    with pytest.raises(InputError, match=r"full_name: must not contain control .*U\+000A"), store.unit_of_work() as s:
        create_user(session=s, email=fake.email(), full_name=f"{fake.name()}\n{fake.name()}", role=Role.ANALYST)
    assert (_count(store, User), _count(store, AuditEvent)) == (0, 0)
