"""The `hash`, `match` and `banks` commands, run as a user would, and their help text."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.main import get_command
from typer.testing import CliRunner

from clearinghouse.db.engine import Store
from clearinghouse.hashing import cli
from clearinghouse.hashing.image import hash_content
from tests.hashing.pictures import encode, picture, resized

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.command("hash")(cli.hash_command)
    app.command("match")(cli.match_command)
    app.add_typer(cli.banks_app, name="banks")
    return app


@pytest.fixture
def app(store: Store, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    # The commands work on the test's store (SQLite or PostgreSQL) whatever --url they are given.
    monkeypatch.setattr(cli, "command_store", lambda url: nullcontext(store))
    return make_app()


def run(app: typer.Typer, *args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def write_bank(tmp_path: Path) -> Path:
    rows = ["md5,pdq,pdq_quality,series"]
    for seed in range(3):
        hashes = hash_content(encode(picture(seed)))
        rows.append(f"{hashes.md5},{hashes.pdq},{hashes.pdq_quality},S{seed}")
    path = tmp_path / "bank.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_every_command_and_option_has_help() -> None:
    root = get_command(make_app())
    assert isinstance(root, TyperGroup)

    def walk(command: Any, path: str) -> None:
        assert command.help, f"{path} has no help"
        for param in command.params:
            assert isinstance(param, TyperOption | TyperArgument)
            assert param.help, f"{path} {param.name} has no help"
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")

    for name, command in root.commands.items():
        walk(command, name)


def test_hash_prints_every_hash_of_each_file(tmp_path: Path, app: typer.Typer) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(encode(picture(1)))
    other = tmp_path / "b.txt"
    other.write_bytes(b"hello")
    first, second = run(app, "hash", str(image), str(other))
    assert first["file"] == str(image)
    assert first["md5"] == hash_content(image.read_bytes()).md5
    assert len(first["pdq"]) == 64
    assert first["pdq_quality"] >= 50
    assert second["pdq"] is None
    assert second["sha256"].startswith("2cf24dba")
    missing = runner.invoke(app, ["hash", str(tmp_path / "none.png")])
    assert missing.exit_code == 1
    assert "none.png" in missing.stderr


def test_import_list_match_and_export(tmp_path: Path, app: typer.Typer) -> None:
    report = run(
        app, "banks", "import", str(write_bank(tmp_path)), "--bank", "K", "--kind", "known_abuse", "--source", "tests"
    )
    assert (report["added"], report["errors"]) == (3, [])
    [bank] = run(app, "banks", "list")
    assert (bank["name"], bank["kind"], bank["source"], bank["entry_count"], bank["hash_count"]) == (
        "K",
        "known_abuse",
        "tests",
        3,
        6,
    )
    copy = tmp_path / "copy.png"
    copy.write_bytes(encode(resized(picture(2), 0.5)))
    digest = hash_content(encode(picture(0))).md5
    pdq = hash_content(encode(picture(1))).pdq
    by_file, by_md5, by_prefixed, by_bare, unknown = run(
        app, "match", str(copy), digest, f"pdq:{pdq}", str(pdq), "0" * 32
    )
    assert [(m["bank"], m["series"], m["hash_type"]) for m in by_file["matches"]] == [("K", "S2", "pdq")]
    assert by_file["matches"][0]["distance"] <= 31
    assert [(m["series"], m["distance"]) for m in by_md5["matches"]] == [("S0", 0)]
    assert [m["series"] for m in by_prefixed["matches"]] == ["S1"]
    assert by_bare["sha256"] == by_bare["pdq"] == pdq  # a bare 64-digit value is tried both ways
    assert [m["hash_type"] for m in by_bare["matches"]] == ["pdq"]
    assert unknown["matches"] == []
    exported = runner.invoke(app, ["banks", "export", "K", "--format", "csv"])
    assert exported.exit_code == 0
    assert exported.stdout.count("\n") == 4
    target = tmp_path / "out.json"
    assert runner.invoke(app, ["banks", "export", "K", "--output", str(target)]).exit_code == 0
    assert len(json.loads(target.read_text(encoding="utf-8"))["value"]) == 3


def test_a_malformed_file_is_refused_with_line_and_reason(tmp_path: Path, app: typer.Typer) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n "value": [\n  {"MD5": 1},\n  ]\n}', encoding="utf-8")
    result = runner.invoke(app, ["banks", "import", str(bad), "--bank", "K", "--kind", "known_abuse"])
    assert result.exit_code == 1
    assert "line 4" in result.stderr
    assert "nothing was loaded" in result.stderr
    assert run(app, "banks", "list") == []


def test_bad_rows_are_listed_and_the_rest_loads(tmp_path: Path, app: typer.Typer) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("md5\n9e107d9d372bb6826bd81d3542a419d6\nnope\n", encoding="utf-8")
    loaded = runner.invoke(app, ["banks", "import", str(path), "--bank", "K", "--kind", "allow_list"])
    assert loaded.exit_code == 1  # a record was refused, though the rest loaded
    report = json.loads(loaded.stdout)
    assert report["added"] == 1
    assert report["errors"][0]["line"] == 3
    clash = runner.invoke(app, ["banks", "import", str(path), "--bank", "K", "--kind", "known_abuse"])
    assert clash.exit_code == 1
    assert "allow_list" in clash.stderr


def test_match_refuses_what_is_neither_file_nor_hash(app: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(app, ["match", "hello"])
    assert result.exit_code == 2
    assert "neither a file nor a hash" in result.stderr
    assert runner.invoke(app, ["match", "photodna:00"]).exit_code == 2
    folder = runner.invoke(app, ["match", str(tmp_path)])
    assert folder.exit_code == 2
    assert folder.stderr.strip().splitlines() == [f"error: {tmp_path}: is a folder; give files or hash values"]


def test_snapshot_and_match_from_it(tmp_path: Path, app: typer.Typer) -> None:
    run(app, "banks", "import", str(write_bank(tmp_path)), "--bank", "K", "--kind", "known_abuse")
    written = run(app, "banks", "snapshot", str(tmp_path / "snap"))
    assert written["hashes"] == 6
    digest = hash_content(encode(picture(2))).md5
    [result] = run(app, "match", digest, "--snapshot", str(tmp_path / "snap"))
    assert [m["series"] for m in result["matches"]] == ["S2"]


def test_a_snapshot_replaces_only_an_earlier_snapshot_never_other_files(tmp_path: Path, app: typer.Typer) -> None:
    run(app, "banks", "import", str(write_bank(tmp_path)), "--bank", "K", "--kind", "known_abuse")
    run(app, "banks", "snapshot", str(tmp_path / "snap"))
    assert run(app, "banks", "snapshot", str(tmp_path / "snap"))["hashes"] == 6  # an earlier snapshot is replaced
    (tmp_path / "empty").mkdir()
    run(app, "banks", "snapshot", str(tmp_path / "empty"))
    (tmp_path / "work" / "sub").mkdir(parents=True)
    (tmp_path / "work" / "notes.txt").write_text("precious")
    (tmp_path / "file.txt").write_text("precious")
    for target in (tmp_path / "work", tmp_path / "file.txt"):
        refused = runner.invoke(app, ["banks", "snapshot", str(target)])
        assert refused.exit_code == 1, refused.output
        assert "left alone" in refused.output or "not a folder" in refused.output
    assert (tmp_path / "work" / "notes.txt").read_text() == "precious"
    assert (tmp_path / "work" / "sub").is_dir()
    assert (tmp_path / "file.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir() if ".retired-" in p.name or ".writing-" in p.name) == []
    missing = runner.invoke(app, ["match", "0" * 32, "--snapshot", str(tmp_path / "work")])
    assert missing.exit_code == 2
    assert "cannot read the header" in missing.output


def test_a_file_with_no_loadable_record_stores_nothing_and_bad_names_are_refused(
    tmp_path: Path, app: typer.Typer
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("md5,category\nzz,1\n", encoding="utf-8")
    refused = runner.invoke(app, ["banks", "import", str(path), "--bank", "Empty", "--kind", "known_abuse"])
    assert refused.exit_code == 1
    assert "nothing was stored" in refused.stderr
    assert [b["name"] for b in run(app, "banks", "list")] == []
    good = write_bank(tmp_path)
    for name, message in [("", "bank:"), ("vid-series", "analysts' own bank")]:
        result = runner.invoke(app, ["banks", "import", str(good), "--bank", name, "--kind", "allow_list"])
        assert result.exit_code == 1, result.output
        assert message in result.stderr
    deep = tmp_path / "deep.json"
    deep.write_text('{"value": [{"MD5": "' + "a" * 32 + '", "X": ' + "[" * 5000 + "]" * 5000 + "}]}")
    result = runner.invoke(app, ["banks", "import", str(deep), "--bank", "Deep", "--kind", "known_abuse"])
    assert result.exit_code == 1
    assert "nothing was loaded" in result.stderr


def test_an_import_of_implausible_records_only_stores_nothing(tmp_path: Path, app: typer.Typer) -> None:
    path = tmp_path / "implausible.csv"
    path.write_text(
        "md5,category,added_at\n"
        "9e107d9d372bb6826bd81d3542a419d6,1,9999-01-01T00:00:00+00:00\n"
        f"e4d909c290d0fb1ca068ffaddf22cbd0,{10**30},\n",
        encoding="utf-8",
    )
    refused = runner.invoke(app, ["banks", "import", str(path), "--bank", "Odd", "--kind", "known_abuse"])
    assert refused.exit_code == 1, refused.output
    assert "no record could be loaded; nothing was stored" in refused.stderr
    reasons = [(row["line"], row["reason"].split(":")[0]) for row in json.loads(refused.stdout)["errors"]]
    assert reasons == [(2, "added_at"), (3, "category")]
    assert run(app, "banks", "list") == []


@pytest.mark.parametrize(("name", "text"), [("header.csv", "md5,sha1\n\n"), ("empty.json", '{"value": []}')])
def test_a_file_listing_no_record_is_refused_and_creates_no_bank(
    tmp_path: Path, app: typer.Typer, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["banks", "import", str(path), "--bank", "Hollow", "--kind", "known_abuse"])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [f"error: {path}: lists no record; nothing was stored"]
    assert run(app, "banks", "list") == []


def make_unreadable(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Reading ``target`` fails as a file without read permission does (tests run as root, who can read any)."""
    for method in ("read_bytes", "read_text", "open"):
        original = getattr(Path, method)

        def refuse(self: Path, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if self == target:
                raise PermissionError(13, "Permission denied", str(self))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Path, method, refuse)


def test_an_unreadable_file_is_refused_in_one_line_naming_it(
    tmp_path: Path, app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_bank(tmp_path)
    make_unreadable(monkeypatch, path)
    for args in (
        ["hash", str(path)],
        ["match", str(path)],
        ["banks", "import", str(path), "--bank", "K", "--kind", "known_abuse"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code in (1, 2), result.output
        assert result.stderr.strip().splitlines() == [f"error: {path}: Permission denied"], args
    assert run(app, "banks", "list") == []


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(tmp_path: Path, app: typer.Typer) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"md5,note\n9e107d9d372bb6826bd81d3542a419d6,Ren\xe9e\n")
    result = runner.invoke(app, ["banks", "import", str(path), "--bank", "K", "--kind", "known_abuse"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: line 2: not UTF-8 text (byte 45); nothing was loaded"
    ]
    assert run(app, "banks", "list") == []
