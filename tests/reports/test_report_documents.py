"""The PDF, HTML and XLSX documents: their text carries the `stats` figures, the HTML fetches
nothing, the same data gives the same bytes apart from the generation time."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from config import Config
from monitor.store import Store
from qualiphone.cli import cli
from reports.build import Output, build_reports
from reports.data import Period
from reports.text import plain
from tests.reports.conftest import GENERATED, pdf_text


def _cells(url: str) -> dict[str, dict]:
    result = CliRunner().invoke(cli, ["--db", url, "stats", "--from", "2026-10-01", "--to",
                                      "2026-10-31", "--format", "json"])
    return {c["site"]: c for c in json.loads(result.output)["cells"]}


def _num(n: int) -> str:
    return f"{n:,d}".replace(",", " ")


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %".replace(".", ",")


def test_pdf_text_has_title_block_figures_and_pages(october: Output, report_url: str,
                                                    tmp_path: Path) -> None:
    text = pdf_text(october.files["releve-2026-10-eps-11.pdf"], tmp_path)
    c = _cells(report_url)["eps-11"]
    for expected in ("Relevé mensuel du trafic du standard", "EPS Paris 11e", "Octobre 2026",
                     "Engagement QualiPARIS : appels décrochés en moins de 25 secondes (5 sonneries)",
                     "page 1 / 6", "page 6 / 6", "Établi le 2 novembre 2026 à 08:30",
                     _pct(c["pickup_rate"]["value"]), _num(c["offered"]),
                     f"En octobre 2026, {c['pickup_rate']['value'] * 100:.0f} % des "
                     f"{_num(c['pickup_rate']['n'])} appels reçus aux heures d'ouverture",
                     "Formation de l'équipe (l'après-midi)", "(SL2)", "(SL)",
                     "Services Publics+", "Couverture des données"):
        assert expected in re.sub(r"\s+", " ", text), expected
    assert f"dont {c['abandoned_before_target']} avant 25 secondes" in re.sub(r"\s+", " ", text)


def test_synthesis_pdf_lists_ranking_and_missing_sites(october: Output, tmp_path: Path) -> None:
    text = re.sub(r"\s+", " ", pdf_text(october.files["synthese-2026-10.pdf"], tmp_path))
    assert "Synthèse mensuelle des standards" in text and "Les 17 Espaces Parisiens" in text
    assert "Absents de la capture (aucun appel capté) : EPS Paris Centre" in text
    assert "EPS Paris 6e" in text and "sous le taux cible" in text
    assert "1 EPS Paris 5e" in text  # rank 1 in the table


def test_html_is_self_contained(october: Output) -> None:
    for name in ("releve-2026-10-eps-05.html", "synthese-2026-10.html"):
        page = october.files[name].decode()
        assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 3
        external = r"https?:|//[a-z]|\b(src|href)\s*=\s*(?![\"']?#)|url\((?!#)|@import|<script|<link"
        assert not re.search(external, page, re.I), name  # only references inside the page
        assert "url(#" in page and 'href="#' in page
        assert "Décrochés en moins de 25 s" in plain(page)


def test_xlsx_one_typed_row_per_site_frozen_header(october: Output, report_url: str) -> None:
    book = openpyxl.load_workbook(io.BytesIO(october.files["tableau-de-suivi-indicateurs.xlsx"]))
    sheet = book["Indicateurs"]
    rows = list(sheet.iter_rows(values_only=True))
    head, body = rows[0], rows[1:]
    assert sheet.freeze_panes == "D2" and "Définitions" in book.sheetnames
    assert [r[1] for r in body] == ["eps-05", "eps-11"]
    col = {h: i for i, h in enumerate(head)}
    cells = _cells(report_url)
    for r in body:
        c = cells[r[1]]
        assert r[col["Mois"]].strftime("%Y-%m") == "2026-10"
        assert r[col["Appels reçus"]] == c["offered"] and isinstance(r[col["Appels reçus"]], int)
        assert r[col["Taux de décroché"]] == c["pickup_rate"]["value"]
        assert isinstance(r[col["Taux cible atteint"]], bool)
        assert r[col["Attente moyenne (s)"]] == c["time_to_answer"]["mean"]
    assert sheet.cell(2, col["Taux de décroché"] + 1).number_format == "0.0%"


def test_xlsx_rerun_replaces_its_month(report_store: Store, report_config: Config) -> None:
    def run(key: str, tracking: bytes | None, sites: list[str]) -> bytes:
        out = build_reports(report_store.engine, report_config, Period.month(key),
                            sites=sites, formats=["xlsx"], generated=GENERATED, tracking=tracking)
        return out.files["tableau-de-suivi-indicateurs.xlsx"]

    first = run("2026-10", None, ["eps-05", "eps-11"])
    both = run("2026-09", first, ["eps-05", "eps-06"])
    again = run("2026-10", both, ["eps-05", "eps-11"])
    rows = list(openpyxl.load_workbook(io.BytesIO(again))["Indicateurs"].iter_rows(values_only=True))
    keys = [(r[0].strftime("%Y-%m"), r[1]) for r in rows[1:]]
    assert keys == [("2026-09", "eps-05"), ("2026-09", "eps-06"), ("2026-10", "eps-05"),
                    ("2026-10", "eps-11")]
    assert again == both  # re-running October changed nothing


def test_same_data_same_bytes(october: Output, report_store: Store, report_config: Config,
                              tmp_path: Path) -> None:
    def build(**kw: object) -> Output:
        return build_reports(report_store.engine, report_config, Period.month("2026-10"),
                             with_synthesis=False, **kw)  # type: ignore[arg-type]

    forked = build(sites=["eps-05", "eps-11"], formats=["html"], generated=GENERATED, workers=2)
    assert forked.files and all(data == october.files[n] for n, data in forked.files.items())
    name = "releve-2026-10-eps-05.pdf"
    assert build(sites=["eps-05"], formats=["pdf"], generated=GENERATED).files[name] == \
        october.files[name]
    later = build(sites=["eps-05"], formats=["pdf"], generated=GENERATED.replace(day=9))
    before, after = (pdf_text(o.files[name], tmp_path).replace(" 9 novembre", " 2 novembre")
                     for o in (october, later))
    assert before == after and later.files[name] != october.files[name]
