"""`qualiphone users`: passwords from standard input or generated, never from argv; errors."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from monitor.store import open_store
from qualiphone.cli import cli
from web.accounts import authenticate


def _run(db: str, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--db", db, "users", *args], input=stdin)


def test_add_reset_disable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    added = _run(db, "add", "dir05", "--role", "director", "--site", "eps-05", "--password-stdin",
                 stdin="a long enough password\n")
    assert added.exit_code == 0 and added.output == 'user "dir05" added (director: eps-05)\n'
    store = open_store(db)
    assert authenticate(store, "dir05", "a long enough password") is not None
    reset = _run(db, "reset", "dir05", "--generate")
    password = reset.output.rsplit(" ", 1)[-1].strip()
    assert reset.exit_code == 0 and len(password) >= 12
    user = authenticate(store, "dir05", password)
    assert user is not None and user.must_change
    assert _run(db, "disable", "dir05").exit_code == 0
    assert authenticate(store, "dir05", password) is None
    listed = _run(db, "list").output
    assert "dir05" in listed and "disabled" in listed and password not in listed


def test_errors_name_the_fix(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    short = _run(db, "add", "x1", "--role", "quality", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1
    assert short.output == "Error: the password has 5 characters; use at least 12\n"
    no_site = _run(db, "add", "d1", "--role", "director", "--password-stdin",
                   stdin="a long enough password\n")
    assert 'role "director" sees only its sites: give at least one --site ID' in no_site.output
    unknown = _run(db, "add", "d1", "--role", "director", "--site", "eps-21", "--password-stdin",
                   stdin="a long enough password\n")
    assert 'site "eps-21" is not in' in unknown.output
    assert "Error: user \"nobody\" does not exist" in _run(db, "disable", "nobody").output
