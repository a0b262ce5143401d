"""`clearinghouse` starts without the libraries only some commands need: each command imports its own (the store,
the web server, the renderers, the hashing). Loading them all took most of a second on every start, `--help`
included."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("alembic", "fastapi", "faiss", "jinja2", "numpy", "pdqhash", "PIL", "pydantic", "sqlalchemy", "uvicorn")
"""Top-level packages that no command may load before it runs (pydantic: Typer loads it to run a command)."""


def _loaded_after(statement: str) -> tuple[str, list[str]]:
    """What a fresh interpreter (this one has loaded everything) prints running ``statement`` after importing the
    command, and which of `HEAVY` it then holds."""
    probe = (
        "import json, sys\nfrom typer.main import get_command\nfrom clearinghouse.cli import app\n"
        f"{statement}\n"
        f"print(json.dumps(sorted(set({HEAVY!r}) & {{name.partition('.')[0] for name in sys.modules}})))"
    )
    output = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    *printed, loaded = output.splitlines()
    return "\n".join(printed), json.loads(loaded)


@pytest.mark.parametrize(
    "statement",
    [
        "get_command(app)",  # every command and option, as each start builds them
        "try:\n    app(['--help'], prog_name='clearinghouse')\nexcept SystemExit:\n    pass",
    ],
)
def test_the_command_starts_without_what_only_some_commands_need(statement: str) -> None:
    printed, loaded = _loaded_after(statement)
    assert loaded == []
    assert "--help" not in statement or "Usage: clearinghouse" in printed
