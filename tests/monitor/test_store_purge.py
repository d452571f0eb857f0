"""`qualiphone store purge`: validated retention, a confirmation naming what would go, --yes."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from monitor.store import Store
from monitor.store.models import calls
from monitor.store.writer import write_calls
from qualiphone.cli import cli
from tests.monitor.test_query import CALLS, DAY


@pytest.fixture
def url(sqlite_store: Store) -> str:
    with sqlite_store.engine.begin() as conn:
        write_calls(conn, CALLS)
    return sqlite_store.engine.url.render_as_string(hide_password=False)


def _count(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(calls)).scalar_one()
    engine.dispose()
    return int(n)


def _purge(url: str, *args: str, answer: str | None = None) -> object:
    return CliRunner().invoke(cli, ["--db", url, "store", "purge", *args], input=answer)


@pytest.mark.parametrize("days", ["-5", "0", "abc"])
def test_older_than_must_be_a_positive_number_of_days(url: str, days: str) -> None:
    result = _purge(url, "--older-than", days, "--yes")
    assert result.exit_code == 2
    assert (f'Invalid value for \'--older-than\': "{days}" is not a whole number of days >= 1; '
            "e.g. --older-than 400") in result.output
    assert _count(url) == len(CALLS)


def test_a_purge_asks_first_and_shows_what_would_go(url: str) -> None:
    days = (dt.date.today() - DAY).days - 3  # every test call is older than that
    assert days > 0
    declined = _purge(url, "--older-than", str(days), answer="n\n")
    assert declined.exit_code == 1
    assert declined.output.startswith(f"{len(CALLS)} calls and 0 rejected records are older than "
                                      f"{days} days; remove them? [y/N]: n\n")
    assert declined.output.endswith("nothing removed\n")
    assert _count(url) == len(CALLS)
    no_terminal = _purge(url, "--older-than", str(days))  # a timer without --yes: no input
    assert no_terminal.exit_code == 1 and _count(url) == len(CALLS)
    accepted = _purge(url, "--older-than", str(days), answer="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert accepted.output.endswith(f"removed {len(CALLS)} calls and 0 rejected records older "
                                    f"than {days} days\n")
    assert _count(url) == 0


def test_yes_purges_without_asking_and_nothing_to_purge_asks_nothing(url: str) -> None:
    days = (dt.date.today() - DAY).days - 3
    recent = _purge(url, "--older-than", str(days + 30))
    assert recent.exit_code == 0
    assert recent.output == f"nothing is older than {days + 30} days: no call or rejected record removed\n"
    dry = _purge(url, "--older-than", str(days), "--dry-run")
    assert dry.output == f"would remove {len(CALLS)} calls and 0 rejected records older than {days} days\n"
    assert _count(url) == len(CALLS)
    forced = _purge(url, "--older-than", str(days), "--yes")
    assert forced.exit_code == 0
    assert forced.output == f"removed {len(CALLS)} calls and 0 rejected records older than {days} days\n"
    assert _count(url) == 0
