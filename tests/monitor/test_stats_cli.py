"""`qualiphone stats` end to end: calls written into the store, figures compared with hand
counts, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from config import SHIPPED_DIR
from monitor.call import Outcome
from monitor.store import Store
from monitor.store.writer import write_calls
from qualiphone.cli import cli
from tests.monitor.test_query import CALLS, DAY, at, call


@pytest.fixture
def url(store: Store) -> str:
    with store.engine.begin() as conn:
        write_calls(conn, CALLS)
    return store.engine.url.render_as_string(hide_password=False)


def run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", url, "stats", "--from", str(DAY), "--to", str(DAY),
                                      *args])
    return result.exit_code, result.output


def test_json_by_site_matches_hand_counts(url: str) -> None:
    code, out = run(url, "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert (doc["by"], doc["in_hours_only"], doc["quantiles"]) == ("site", True, "exact")
    cells = {c["site"]: c for c in doc["cells"]}
    assert len(cells) == 17  # every site, with or without calls
    e5 = cells["eps-05"]
    # in hours, no test call: answered 24.9, 25.0, 25.1, 30.0 s; an abandon; a short abandon
    assert (e5["offered"], e5["answered"], e5["answered_within"]) == (6, 4, 1)
    assert (e5["abandoned"], e5["short_abandons"], e5["message"]) == (1, 1, 0)
    assert e5["pickup_rate"]["value"] == 0.2 and e5["pickup_rate"]["n"] == 5
    assert e5["asterisk_sl"]["value"] == 0.25
    assert e5["asterisk_sl2"]["value"] == round(3 / 6, 6)
    assert e5["agent_pickup_rate"] == {**e5["agent_pickup_rate"], "value": 0.8, "n": 5}
    assert e5["time_to_answer"]["median"] == 25.05 and e5["time_to_answer"]["max"] == 30.0
    assert e5["rings"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1, "6+": 3}
    assert e5["abandon_wait"] == {"mean": 12.0, "median": 12.0}
    assert cells["eps-06"]["offered"] == 2 and cells["eps-06"]["answered_within"] == 1
    assert cells["eps-07"]["offered"] == 0 and cells["eps-07"]["pickup_rate"]["value"] is None


def test_by_hour_all_hours_and_tests(url: str) -> None:
    code, out = run(url, "--format", "json", "--by", "hour", "--all-hours", "--include-tests",
                    "--site", "eps-05")
    assert code == 0, out
    cells = {c["period"]: c for c in json.loads(out)["cells"]}
    assert sorted(cells) == ["09", "10", "12", "18"]  # hours without any call are left out
    assert cells["09"]["offered"] == 3 and cells["09"]["answered_within"] == 1
    assert cells["10"]["offered"] == 3 and cells["10"]["answered_within"] == 1  # the test call
    assert cells["18"]["message"] == 1 and cells["18"]["pickup_rate"]["value"] == 0.0


def test_table_and_csv(url: str) -> None:
    code, out = run(url, "--site", "eps-05")
    assert code == 0, out
    assert "Taux de décroché" in out and "20,0 %" in out and "Reçus" in out
    code, out = run(url, "--format", "csv", "--site", "eps-05", "--site", "eps-06")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("site,period,offered,answered,")
    assert lines[1].startswith("eps-05,2026-10-05/2026-10-05,6,4,")
    assert len(lines) == 3


def test_binned_and_staffing(url: str) -> None:
    code, out = run(url, "--format", "json", "--binned", "--staffing", "--site", "eps-05")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["quantiles"] == "binned_0.1s"
    assert doc["cells"][0]["offered"] == 6
    hint = {c["hour"]: c for c in doc["staffing"]["cells"]}
    assert hint["09"]["calls"] == 3 and hint["09"]["open_hours"] == 1.0
    assert hint["09"]["agents_erlang_c"] >= 1 and hint["08"]["open_hours"] == 0.5
    assert hint["03"]["agents_erlang_c"] is None  # closed: no opening time


def test_unknown_site_is_an_error_a_person_can_act_on(url: str) -> None:
    code, out = run(url, "--site", "eps-21")
    assert code == 1
    assert out == (f'Error: site "eps-21" is not in {SHIPPED_DIR / "sites.toml"}; known sites: '
                   "eps-centre, eps-05, …, eps-20.\n")


def test_dates_in_the_wrong_order_are_a_usage_error(url: str) -> None:
    result = CliRunner().invoke(cli, ["--db", url, "stats", "--from", "2026-10-05", "--to",
                                      "2026-10-01"])
    assert result.exit_code == 2
    assert '"2026-10-01" is before --from "2026-10-05"' in result.output
    result = CliRunner().invoke(cli, ["--db", url, "stats", "--from", "5/10", "--to", "x"])
    assert result.exit_code == 2 and '"5/10" is not a date YYYY-MM-DD' in result.output


def test_staffing_aims_at_the_configured_goal(url: str, tmp_path) -> None:
    import shutil

    from config import SHIPPED_DIR

    directory = tmp_path / "cfg"
    shutil.copytree(SHIPPED_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    settings = directory / "settings.toml"
    settings.write_text(settings.read_text().replace("pickup_rate_goal = 0.80", "pickup_rate_goal = 0.9"))
    result = CliRunner().invoke(cli, ["--db", url, "--config", str(directory), "stats", "--from",
                                      str(DAY), "--to", str(DAY), "--staffing", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["staffing"]["target_rate"] == 0.9
    code, out = run(url, "--staffing", "--format", "json", "--target-rate", "0.7")
    assert code == 0, out
    assert json.loads(out)["staffing"]["target_rate"] == 0.7


@pytest.fixture
def url_incomplete(store: Store) -> str:
    """CALLS, plus a call of eps-05 answered by a phone sites.toml does not know."""
    unknown = call("u1", "eps-05", at(9, 30), Outcome.UNKNOWN_DEVICE, tta=4.0, end=50.0,
                   answered_by="PJSIP/201")
    with store.engine.begin() as conn:
        write_calls(conn, [*CALLS, unknown])
    return store.engine.url.render_as_string(hide_password=False)


def table_lines(out: str) -> list[str]:
    """The table's lines: from the heads to the last row (before the notes)."""
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("Site") or
                 lines[i + 1].startswith("Site"))
    last = max(i for i, line in enumerate(lines) if line.startswith("eps-"))
    return lines[first:last + 1]


@pytest.mark.parametrize("width", [80, 120])
def test_the_default_table_fits_80_and_120_columns(url_incomplete: str, width: int) -> None:
    for by in ("site", "day", "hour", "weekday-hour"):
        result = CliRunner().invoke(cli, ["--db", url_incomplete, "stats", "--from", str(DAY),
                                          "--to", str(DAY), "--by", by],
                                    env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        lines = table_lines(result.output)
        assert all(len(line) <= width for line in lines), (by, max(map(len, lines)))
        assert "…" not in "\n".join(lines)  # no head or figure cut short
        heads = " ".join(lines[:3])
        for head in ("Site", "Reçus", "< 25 s", "Taux de", "décroché", "À", "classer"):
            assert head in heads, (by, head)
        e5 = next(line for line in lines if line.startswith("eps-05"))
        assert "20,0 % *" in e5 or by != "site"  # the rate, marked: its directory is incomplete
        assert "Répertoire incomplet : 1 appels décrochés" in result.output.replace("\n", " ")
    # at 120 columns, more figures than at 80
    assert ("Médiane" in heads) == (width == 120)


def test_columns_and_wide(url_incomplete: str) -> None:
    code, out = run(url_incomplete, "--site", "eps-05", "--columns",
                    "offered,pickup_rate,pickup_rate_n,tta_p90")
    assert code == 0, out
    lines = table_lines(out)
    assert lines[1].split() == ["Site", "Reçus", "décroché", "n", "p90"]
    # p90 of the answers at 24.9, 25.0, 25.1 and 30.0 s: 28.5 s
    assert lines[3].split() == ["eps-05", "7", "20,0", "%", "*", "5", "28,5", "s"]
    code, out = run(url_incomplete, "--site", "eps-05", "--wide")
    assert code == 0, out
    heads = " ".join(table_lines(out)[:3])
    for head in ("Décrochés", "IC 95 %", "SL2", "SP+", "Courts", "Message", "Autres", "Attente",
                 "Médiane", "p90", "Max", "Sonneries", "classer"):
        assert head in heads
    result = CliRunner().invoke(cli, ["--db", url_incomplete, "stats", "--from", str(DAY),
                                      "--to", str(DAY), "--columns", "offered,taux"])
    assert result.exit_code == 2
    assert ("Invalid value for '--columns': \"taux\" is not a column; choose from: offered, "
            "answered,") in result.output


def test_json_and_csv_say_what_the_directory_misses(url_incomplete: str) -> None:
    code, out = run(url_incomplete, "--format", "json", "--site", "eps-05")
    assert code == 0, out
    cell = json.loads(out)["cells"][0]
    assert (cell["unknown_device"], cell["unclassified"], cell["directory_incomplete"]) == \
        (1, 1, True)
    assert (cell["offered"], cell["abandoned"], cell["pickup_rate"]["n"]) == (7, 1, 5)
    code, out = run(url_incomplete, "--format", "csv", "--site", "eps-05")
    head, row = out.splitlines()[:2]
    fields = dict(zip(head.split(","), row.split(","), strict=True))
    assert (fields["unclassified"], fields["directory_incomplete"]) == ("1", "1")


def test_a_target_rate_of_nan_is_a_usage_error(url: str) -> None:
    code, out = run(url, "--staffing", "--target-rate", "nan")
    assert code == 2 and 'Invalid value for \'--target-rate\': "nan" is not a finite number' in out


def test_a_period_whose_calls_all_lie_outside_opening_hours_points_to_all_hours(
        store: Store) -> None:
    """Only eps-05's 18:00 call (answered by the message, site closed) on the day."""
    with store.engine.begin() as conn:
        write_calls(conn, [c for c in CALLS if c.call_key in ("6", "8")])
    db = store.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["--db", db, "stats", "--from", str(DAY), "--to", str(DAY),
                                      "--site", "eps-05", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"no calls in the store for {DAY} to {DAY} (sites eps-05, opening hours only, test calls "
        "left out); 1 call lies outside opening hours: --all-hours counts them"]


def test_all_hours_says_how_many_message_calls_count_in_n(url: str) -> None:
    code, out = run(url, "--all-hours", "--site", "eps-05")
    assert code == 0, out
    assert ("* Toutes heures : 1 appel pris par le message du site compte dans n, comme non "
            "décroché par une personne. Le taux publié ne compte que les heures d'ouverture "
            "(sans --all-hours).") in " ".join(out.split())
    code, out = run(url, "--site", "eps-05")  # opening hours: no message call, no such note
    assert code == 0 and "Toutes heures" not in out
