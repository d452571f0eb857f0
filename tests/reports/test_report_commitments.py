"""Page 1 of a statement gives each commitment's state (met / not met / no data) in words, starts
"En bref" with what is not met, and says when the site directory is incomplete; the synthesis
lists every commitment not met and has an after-hours part.

The store: eps-09 as in the demo month (its after-hours message broken: every evening call
rings out), with 3 calls the directory cannot classify; eps-05 with a working message."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from afterhours.passive import check_month
from config import Config
from monitor.call import Call, Outcome, Source
from monitor.store import Store, open_store
from monitor.store.writer import write_calls
from monitor.timeutil import local_parts
from reports import commitments
from reports.afterhours import AfterHoursCheck
from reports.build import Output, build_reports
from reports.data import DayMark, Period
from reports.text import generated_text, month_short, plain
from tests.conftest import skip_or_fail
from tests.reports.conftest import GENERATED, make_calls

PARIS = ZoneInfo("Europe/Paris")


def _call(site: str, key: str, local: dt.datetime, outcome: Outcome, in_hours: bool,
          tta: float | None = None, length: float = 30.0) -> Call:
    arrival = local.replace(tzinfo=PARIS).timestamp()
    answer = None if tta is None else arrival + tta
    date, hour, weekday = local_parts(arrival, PARIS)
    return Call(pbx="paris-eps", call_key=key, site=site, arrival=arrival, outcome=outcome,
                source=Source.CEL, answer=answer, end=arrival + length, in_hours=in_hours,
                local_date=date, local_hour=hour, local_weekday=weekday, resolution=1e-6)


def _calls() -> list[Call]:
    out = []
    for site in ("eps-05", "eps-09"):
        for day in range(5, 10):  # Monday 5 to Friday 9 October 2026
            for k in range(8):
                when = dt.datetime(2026, 10, day, 9 + k, 10)
                out.append(_call(site, f"{site}-{day}-{k}", when, Outcome.ANSWERED, True,
                                 tta=8.0 if k else 40.0, length=90.0))
            evening = dt.datetime(2026, 10, day, 19, 30)
            outcome = Outcome.MESSAGE if site == "eps-05" else Outcome.FAILED
            out.append(_call(site, f"{site}-{day}-night", evening, outcome, False))
    for k, outcome in enumerate((Outcome.UNKNOWN_DEVICE, Outcome.UNKNOWN_DEVICE, Outcome.MACHINE)):
        out.append(_call("eps-09", f"eps-09-unclassified-{k}", dt.datetime(2026, 10, 6, 11, 40 + k),
                         outcome, True, tta=6.0))
    return out


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory, report_config: Config) -> Iterator[Output]:
    store: Store = open_store(f"sqlite:///{tmp_path_factory.mktemp('verdicts') / 'store.db'}")
    with store.engine.begin() as conn:
        write_calls(conn, _calls())
    yield build_reports(store.engine, report_config, Period.month("2026-10"),
                        formats=["pdf", "html"], generated=GENERATED)
    store.dispose()


def _page(data: bytes, tmp_path: Path, first: int = 1, last: int = 1, layout: bool = False) -> str:
    """The text of pages first…last in reading order (or as laid out: table rows on a line)."""
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    mode = ["-layout"] if layout else []
    try:
        done = subprocess.run(["pdftotext", *mode, "-f", str(first), "-l", str(last), str(path), "-"],
                              capture_output=True, check=True, text=True)
    except FileNotFoundError:
        skip_or_fail("pdftotext not found (apt-get install poppler-utils; .ci/run does)")
    return re.sub(r"\s+", " ", done.stdout.replace("\u202f", " ").replace("\u00a0", " "))


def test_page_one_of_eps_09_says_its_message_is_missing(documents: Output, tmp_path: Path) -> None:
    text = _page(documents.files["releve-2026-10-eps-09.pdf"], tmp_path)
    assert "Engagements du mois" in text
    assert "NON TENU Message hors horaires" in text
    assert "0 des 5 appels arrivés site fermé pris par le message, 5 non pris ; site signalé" in text
    # "En bref" opens with what is not met
    brief = text[text.index("En bref"):]
    assert brief.startswith("En bref Engagement non tenu en octobre 2026 : message hors horaires")
    assert "PAS DE DONNÉES Fermetures planifiées annoncées" in text


def test_page_one_of_a_site_meeting_its_commitments(documents: Output, tmp_path: Path) -> None:
    text = _page(documents.files["releve-2026-10-eps-05.pdf"], tmp_path)
    assert "TENU Décroché en moins de 25 s" in text and "NON TENU" not in text
    assert "5 des 5 appels arrivés site fermé pris par le message" in text
    assert "En bref En octobre 2026, les engagements mesurés sont tenus" in text
    assert "Répertoire incomplet" not in text


def test_directory_incomplete_on_page_one_and_in_the_figures(documents: Output,
                                                             tmp_path: Path) -> None:
    text = _page(documents.files["releve-2026-10-eps-09.pdf"], tmp_path)
    assert "Répertoire incomplet : 3 appels décrochés par un poste ou une machine" in text
    assert "(poste inconnu : 2 ; machine : 1)" in text
    assert "répertoire incomplet : hors 3 appels non classés" in text  # the key figure
    assert "chiffre hors 3 appels non classés (répertoire incomplet)" in text  # the verdict
    html = documents.files["releve-2026-10-eps-09.html"].decode()
    assert "Répertoire incomplet : 3 appels" in html and "class='state not_met'" in html


def test_synthesis_lists_what_is_not_met_and_the_after_hours_part(documents: Output,
                                                                  tmp_path: Path) -> None:
    text = _page(documents.files["synthese-2026-10.pdf"], tmp_path, 1, 9)
    assert "1 engagement non tenu en octobre 2026, sur 1 EPS : EPS Paris 9e (message hors " \
        "horaires)." in text
    assert "Engagements non tenus, EPS par EPS" in text
    assert "EPS Paris 9e Message hors horaires" in text
    assert "0 des 5 appels arrivés site fermé pris par le message, 5 non pris ; site signalé" in text
    assert "Hors horaires d'ouverture : le message des sites" in text
    rows = _page(documents.files["synthese-2026-10.pdf"], tmp_path, 1, 9, layout=True)
    assert re.search(r"EPS Paris 5e 5 5 100 ?% 0 — —", rows)
    assert re.search(r"EPS Paris 9e 5 0 0 ?% 5 — — SIGNALÉ", rows)
    assert "Répertoire incomplet" in text and "EPS Paris 9e 3 2 1" in rows
    assert "Paris 9e (répertoire incomplet)" in text  # the ranking chart's label
    assert "répertoire incomplet : hors 3 appels non classés" in text  # the city's key figure
    # one month of data: no page of empty 12-month panels
    assert "Un seul mois de données (octobre 2026)" in text and "Douze mois par EPS" not in text


def test_french_month_abbreviations_and_paris_time() -> None:
    assert [month_short(f"2026-{m:02d}") for m in (1, 2, 6, 7, 9, 12)] == \
        ["janv. 26", "févr. 26", "juin 26", "juil. 26", "sept. 26", "déc. 26"]
    winter = dt.datetime(2026, 11, 2, 7, 30, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 2, 7, 30, tzinfo=dt.UTC)
    assert generated_text(winter) == "Établi le 2 novembre 2026 à 08:30"
    assert generated_text(summer) == "Établi le 2 juillet 2026 à 09:30"


def test_generation_time_is_paris_time(report_store: Store, report_config: Config) -> None:
    utc = dt.datetime(2026, 11, 2, 7, 30, tzinfo=dt.UTC)  # 08:30 in Paris (winter time)
    out = build_reports(report_store.engine, report_config, Period.month("2026-10"),
                        sites=["eps-05"], formats=["html"], generated=utc)
    assert "Établi le 2 novembre 2026 à 08:30" in out.files["releve-2026-10-eps-05.html"].decode()


def _check(**kw: object) -> AfterHoursCheck:
    base: dict[str, object] = dict(month="2026-10", calls=10, by_message=10, heard=10, by_person=0,
                                   failures=0, flagged=False, share=1.0, message_seconds=28.0,
                                   conform=0, probes=[], alerts=[], failure_days=[])
    return AfterHoursCheck(**{**base, **kw})  # type: ignore[arg-type]


def test_closure_verdicts() -> None:
    closure = DayMark("eps-11", dt.date(2026, 10, 16), "fermeture", "Formation (l'après-midi)", False)
    assert commitments.closures([], _check()).state == "no_data"
    quiet = commitments.closures([closure], _check())
    assert quiet.state == "no_data" and "aucun appel pendant la fermeture" in quiet.detail
    met = commitments.closures([closure], _check(closure_calls=3, closure_message=3))
    assert (met.state, met.figure) == ("met", "3/3") and "(ven. 16/10)" in plain(met.detail)
    missed = commitments.closures([closure], _check(closure_calls=3, closure_message=2,
                                                     closure_failures=1))
    assert missed.state == "not_met" and "1 sans réponse" in missed.detail
    assert commitments.closures([closure], None).state == "no_data"  # the annual review


def test_message_verdict_follows_flag_alerts_and_last_probe() -> None:
    assert commitments.after_hours(_check()).state == "met"
    assert commitments.after_hours(_check(flagged=True)).state == "not_met"
    assert commitments.after_hours(_check(alerts=[["x", "y"]])).state == "not_met"
    probes = [["lun. 05/10", "20:30", "pas de réponse", "—", "—", "—", "—"]]
    assert commitments.after_hours(_check(probes=probes, last_probe_ok=False)).state == "not_met"
    assert commitments.after_hours(_check(calls=0, probes=[])).state == "no_data"


def test_passive_check_counts_the_calls_during_a_closure(report_store: Store,
                                                        report_config: Config) -> None:
    """eps-11 closes on Friday 16 October 2026 from 12:30 (config/closures.toml)."""
    check = check_month(report_store, report_config, "2026-10", ["eps-11"]).sites[0]
    during = [c for c in make_calls(report_config) if c.site == "eps-11" and not c.is_test
              and c.local_date == "2026-10-16"
              and dt.datetime.fromtimestamp(c.arrival, PARIS).time() >= dt.time(12, 30)]
    assert during and check.closure_calls == len(during)
    assert check.closure_message == sum(c.outcome == Outcome.MESSAGE for c in during)
    assert check.closure_failures == sum(c.outcome not in (Outcome.MESSAGE, Outcome.ANSWERED)
                                         for c in during)
