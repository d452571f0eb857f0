"""The statement's section "Hors horaires d'ouverture et fermetures": passive figures, probes and
verdicts, alerts, failures with their dates and times, for the statement's site only; the same
bytes with or without worker processes; nothing breaks when the after-hours tables are empty."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from afterhours.alerts import alert_text
from afterhours.repository import AlertRecord, ProbeRecord, save_alert, save_probe
from config import Config
from monitor.call import Call, Outcome, Source
from monitor.store import Store, open_store
from monitor.store.writer import write_calls
from monitor.timeutil import local_parts
from reports.build import Output, build_reports
from reports.data import Period
from reports.document import Document, Heading, Para, Table
from reports.pdf import render_pdf
from tests.reports.conftest import GENERATED, pdf_text

PARIS = ZoneInfo("Europe/Paris")
OCTOBER = Period.month("2026-10")


def _call(site: str, key: str, local: dt.datetime, outcome: Outcome, length: float,
          in_hours: bool = False) -> Call:
    arrival = local.replace(tzinfo=PARIS).timestamp()
    answer = arrival + 5.0 if outcome == Outcome.ANSWERED else None
    date, hour, weekday = local_parts(arrival, PARIS)
    return Call(pbx="paris-eps", call_key=key, site=site, arrival=arrival, outcome=outcome,
                source=Source.CEL, answer=answer, end=arrival + length, in_hours=in_hours,
                local_date=date, local_hour=hour, local_weekday=weekday, resolution=1e-6)


def _calls() -> list[Call]:
    """eps-05: daytime calls, 3 taken by the message (2 heard to the end), 2 failures; eps-11:
    daytime calls and one after-hours call taken by the message, no probe."""
    out = [_call(site, f"{site}-day-{d}", dt.datetime(2026, 10, d, 10, 15), Outcome.ANSWERED,
                 60.0, in_hours=True) for site in ("eps-05", "eps-11") for d in (5, 6, 7, 8, 9)]
    evening = [(dt.datetime(2026, 10, 5, 19, 0), Outcome.MESSAGE, 30.0),  # Monday evening
               (dt.datetime(2026, 10, 6, 20, 0), Outcome.MESSAGE, 29.0),
               (dt.datetime(2026, 10, 10, 11, 0), Outcome.MESSAGE, 9.0),  # Saturday, hung up early
               (dt.datetime(2026, 10, 7, 21, 10), Outcome.ABANDONED, 12.0),
               (dt.datetime(2026, 10, 7, 22, 5), Outcome.FAILED, 2.0)]
    out += [_call("eps-05", f"eps-05-closed-{i}", when, outcome, length)
            for i, (when, outcome, length) in enumerate(evening)]
    out.append(_call("eps-11", "eps-11-closed", dt.datetime(2026, 10, 5, 18, 30), Outcome.MESSAGE, 40.0))
    return out


def _probe(pid: str, day: int, verdict: str, **kw: object) -> ProbeRecord:
    when = dt.datetime(2026, 10, day, 20, 30, tzinfo=PARIS)
    return ProbeRecord(pid, "eps-05", "paris-eps", "closed", when.timestamp(), when.strftime("%Y-%m-%d"),
                       when.strftime("%H:%M:%S"), "0199000105", verdict, **kw)  # type: ignore[arg-type]


def _probes_and_alert(store: Store, config: Config) -> None:
    save_probe(store, _probe("p1", 5, "expected", response="Success", reason=4, time_to_answer=0.4,
                             message_seconds=27.9, matched="eps-05/closed", similarity=0.99, worst=0.97))
    failed = [_probe("p2", 12, "no_answer", response="Failure", reason=8),
              _probe("p3", 13, "other_site", response="Success", time_to_answer=1.2,
                     message_seconds=28.1, matched="eps-09/closed", similarity=0.95, worst=0.91)]
    for p in failed:
        save_probe(store, p)
    raised = dt.datetime(2026, 10, 13, 20, 32, tzinfo=PARIS).timestamp()
    save_alert(store, AlertRecord("eps-05", raised, ["p2", "p3"], alert_text(config, "eps-05", failed)))


@pytest.fixture(scope="module")
def closed_store(tmp_path_factory: pytest.TempPathFactory, report_config: Config) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('closed') / 'store.db'}")
    with store.engine.begin() as conn:
        write_calls(conn, _calls())
    _probes_and_alert(store, report_config)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def documents(closed_store: Store, report_config: Config) -> Output:
    return build_reports(closed_store.engine, report_config, OCTOBER, sites=["eps-05", "eps-11"],
                         formats=["pdf", "html"], with_synthesis=False, generated=GENERATED)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " "))


def _html_text(page: bytes) -> str:
    return _flat(html.unescape(re.sub(r"<[^>]+>", " ", page.decode())))


PASSIVE = "En octobre 2026, 5 appels sont arrivés alors que le site était fermé : 3 ont été pris " \
    "par le message (60 %), dont 2 écoutés jusqu'au bout ; 2 échecs (ni le message ni une personne). " \
    "Site signalé"
PROBES = "3 appels test hors horaires ce mois-ci, 1 avec le message attendu ; le dernier, mar. 13/10 " \
    "à 20:30 : message d'un autre site (eps-09/closed) ; 1 alerte."
ROWS = ("lun. 05/10 20:30 message attendu 0,4 s 27,9 s eps-05 hors horaires 0,97",
        "lun. 12/10 20:30 pas de réponse (encombrement) — — — —",
        "mer. 07/10 2 raccroché avant réponse : 21:10 ; échec / encombrement : 22:05",
        "2 sondes hors horaires consécutives en échec.")


def test_pdf_section_of_the_statements_site(documents: Output, tmp_path: Path) -> None:
    text = _flat(pdf_text(documents.files["releve-2026-10-eps-05.pdf"], tmp_path))
    assert "Hors horaires d'ouverture et fermetures" in text
    assert "Appels arrivés site fermé Pris par le message Écoutés jusqu'au bout Non pris par le " \
        "message 5 3 2 2 soirs, week-ends" in text  # the four boxes, side by side
    for expected in (PASSIVE, PROBES, *ROWS, "2026-10-13 20:32 2 sondes hors horaires"):
        assert expected in text, expected
    assert "Aucun appel test" not in text and "EPS Paris 11e" not in text
    assert "page 5 / 6" in text and "page 6 / 6" in text  # the section's page, then the annex


def test_site_without_probe_says_so(documents: Output, tmp_path: Path) -> None:
    text = _flat(pdf_text(documents.files["releve-2026-10-eps-11.pdf"], tmp_path))
    for expected in ("Hors horaires d'ouverture et fermetures", "Aucun appel test hors horaires ce mois-ci.",
                     "En octobre 2026, 1 appel est arrivé alors que le site était fermé : 1 a été pris "
                     "par le message (100 %), dont 1 écouté jusqu'au bout ; 0 échec",
                     "Aucun : tous les appels arrivés site fermé ont été pris par le message ou une "
                     "personne."):
        assert expected in text, expected
    assert "Alertes" not in text and "message attendu" not in text


def test_html_section(documents: Output) -> None:
    page = documents.files["releve-2026-10-eps-05.html"]
    assert b"<h2>Hors horaires d&#x27;ouverture et fermetures</h2>" in page
    text = _html_text(page)
    for expected in ("Appels arrivés site fermé 5", "Non pris par le message 2", PASSIVE, PROBES,
                     *ROWS, "Appels test (sondes)", "Alertes"):
        assert expected in text, expected
    other = _html_text(documents.files["releve-2026-10-eps-11.html"])
    assert "Aucun appel test hors horaires ce mois-ci." in other and "Alertes" not in other


def test_same_bytes_with_workers(documents: Output, closed_store: Store, report_config: Config) -> None:
    forked = build_reports(closed_store.engine, report_config, OCTOBER, sites=["eps-05", "eps-11"],
                           formats=["pdf", "html"], with_synthesis=False, generated=GENERATED, workers=2)
    assert forked.files == documents.files


def test_empty_after_hours_tables_and_years(report_store: Store, report_config: Config,
                                            tmp_path: Path) -> None:
    """The shared report store has after-hours calls but no probe nor alert at all."""
    out = build_reports(report_store.engine, report_config, OCTOBER, sites=["eps-05", "eps-06"],
                        formats=["pdf", "html"], with_synthesis=False, generated=GENERATED)
    text = _flat(pdf_text(out.files["releve-2026-10-eps-05.pdf"], tmp_path))
    assert "Aucun appel test hors horaires ce mois-ci." in text and "Non pris par le message" in text
    missing = _flat(pdf_text(out.files["releve-2026-10-eps-06.pdf"], tmp_path))
    assert "Hors horaires d'ouverture" not in missing  # no call, no probe: nothing to say
    year = build_reports(report_store.engine, report_config, Period.year(2026), sites=["eps-05"],
                         formats=["html"], with_synthesis=False, generated=GENERATED)
    assert b"Hors horaires d&#x27;ouverture" not in year.files["bilan-2026-eps-05.html"]


def test_a_long_table_runs_onto_pages_with_its_header(tmp_path: Path) -> None:
    """Typst lays the table over as many pages as it needs, its header on each one."""
    doc = Document("Test", "Pied de page", [
        Heading("Hors horaires d'ouverture et fermetures"), Para("Une phrase."),
        Table.of(["Jour", "Appels", "Heures"], [[f"jour {i}", str(i), "21:10"] for i in range(150)],
                 widths=[1.0, 1.0, 5.07])])
    pages = pdf_text(render_pdf(doc), tmp_path).split("\f")[:-1]
    assert len(pages) >= 3 and all("Jour Appels Heures" in _flat(p) for p in pages)
    assert sum(p.count("21:10") for p in pages) == 150
    assert all(f"page {i} / {len(pages)}" in p for i, p in enumerate(pages, start=1))
