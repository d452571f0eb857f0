"""`qualiphone report monthly|synthesis` end to end: files, exit codes, exact error texts, the
yearly variant, a month without data, a site missing from the capture."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
from click.testing import CliRunner, Result

from qualiphone.cli import cli
from tests.reports.conftest import pdf_text


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", url, "report", *args])


def _rows(path: Path) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    return list(book["Indicateurs"].iter_rows(values_only=True))[1:]


def test_monthly_for_one_site_writes_its_statement(report_url: str, tmp_path: Path) -> None:
    result = run(report_url, "monthly", "--month", "2026-10", "--site", "eps-05", "--format",
                 "html,xlsx", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "releve-2026-10-eps-05.html", "tableau-de-suivi-indicateurs.xlsx"]
    assert result.stdout == f"Wrote 2 files (html, xlsx) to {tmp_path}/\n"
    assert [r[1] for r in _rows(tmp_path / "tableau-de-suivi-indicateurs.xlsx")] == ["eps-05"]


def test_synthesis_updates_the_table_with_every_site(report_url: str, tmp_path: Path) -> None:
    for _ in range(2):  # the second run replaces the first one's rows
        result = run(report_url, "synthesis", "--month", "2026-10", "--format", "xlsx", "--out",
                     str(tmp_path))
        assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "tableau-de-suivi-indicateurs.xlsx")
    assert len(rows) == 17 and len({r[1] for r in rows}) == 17
    coverage = {r[1]: r[-3] for r in rows}
    assert coverage["eps-06"] == "absent de la capture" and coverage["eps-05"] == "partielle"
    assert "Note: no call captured in 2026-10 for: eps-centre, eps-06" in result.stderr


def test_year_writes_twelve_months_and_the_annual_review(report_url: str, tmp_path: Path) -> None:
    result = run(report_url, "monthly", "--year", "2026", "--site", "eps-11", "--format",
                 "pdf,xlsx", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "tableau-de-suivi-indicateurs.xlsx")
    assert [r[0].month for r in rows] == list(range(1, 13))
    assert [r[3] > 0 for r in rows] == [False] * 8 + [True] * 2 + [False] * 2
    text = re.sub(r"\s+", " ", pdf_text((tmp_path / "bilan-2026-eps-11.pdf").read_bytes(),
                                        tmp_path))
    assert "Bilan annuel 2026 du trafic du standard" in text and "Année 2026" in text
    assert "Sur l'année 2026," in text and "Les 12 mois de l'année" in text


def test_month_without_data_says_so(report_url: str, tmp_path: Path) -> None:
    result = run(report_url, "synthesis", "--month", "2027-03", "--format", "pdf", "--out",
                 str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "Note: no call captured for any site in 2027-03 (mars 2027)" in result.stderr
    text = re.sub(r"\s+", " ", pdf_text((tmp_path / "synthese-2027-03.pdf").read_bytes(), tmp_path))
    assert "Aucune donnée pour mars 2027 : aucun appel n'a été capté pour les 17 EPS." in text


def test_missing_site_statement_says_so(report_url: str, tmp_path: Path) -> None:
    result = run(report_url, "monthly", "--month", "2026-10", "--site", "eps-06", "--format",
                 "pdf", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", pdf_text((tmp_path / "releve-2026-10-eps-06.pdf").read_bytes(),
                                        tmp_path))
    assert "Aucun appel n'a été capté pour EPS Paris 6e en octobre 2026" in text
    assert "Jours d'ouverture sans aucun appel capté 22 :" in text  # coverage, not hidden
    assert "page 2 / 2" in text


def test_usage_errors(report_url: str, tmp_path: Path) -> None:
    both = run(report_url, "monthly", "--month", "2026-10", "--year", "2026")
    assert both.exit_code == 2 and "Error: give either --month YYYY-MM or --year YYYY" in both.output
    month = run(report_url, "monthly", "--month", "2026-13")
    assert month.exit_code == 2
    assert "Invalid value for '--month': \"2026-13\" is not a month YYYY-MM, e.g. 2026-10" in \
        month.output
    fmt = run(report_url, "synthesis", "--month", "2026-10", "--format", "pdf,doc")
    assert fmt.exit_code == 2 and '"pdf,doc" is not a list of formats; use one or more of ' \
        'pdf, html, xlsx' in fmt.output


def test_unknown_site_is_an_error_a_person_can_act_on(report_url: str, tmp_path: Path) -> None:
    result = run(report_url, "monthly", "--month", "2026-10", "--site", "eps-99", "--out",
                 str(tmp_path))
    assert result.exit_code == 1
    assert re.fullmatch(r'Error: site "eps-99" is not in \S+sites\.toml; known sites: '
                        r"eps-centre, eps-05, …, eps-20\.\n", result.output)
    assert not any(tmp_path.iterdir())
