"""The report (PDF, HTML), the statement's section, the references and the schema."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from afterhours import models
from afterhours.audio import Audio, write_wav
from afterhours.references import ReferenceError, list_references, register
from afterhours.report import after_hours_section
from afterhours.repository import AlertRecord, ProbeRecord, save_alert, save_probe
from config import Config
from monitor.call import Call, Outcome, Source
from monitor.store import Store, open_store
from monitor.store.models import metadata
from monitor.store.writer import write_calls
from qualiphone.cli import cli
from reports.afterhours_report import write_report
from tests.reports.conftest import pdf_text

EVENING = dt.datetime(2026, 10, 5, 20, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def _probe(pid: str, site: str, day: int, verdict: str, **kw: object) -> ProbeRecord:
    when = EVENING.replace(day=day)
    return ProbeRecord(pid, site, "paris-eps", "closed", when.timestamp(), when.strftime("%Y-%m-%d"),
                       when.strftime("%H:%M:%S"), "0199000105", verdict, **kw)  # type: ignore[arg-type]


def _fill(store: Store) -> None:
    save_probe(store, _probe("p1", "eps-05", 5, "expected", response="Success", reason=4,
                             time_to_answer=0.4, message_seconds=27.9, matched="eps-05/closed",
                             similarity=0.99, worst=0.97, coverage=1.0,
                             scores={"eps-05/closed": [0.99, 0.97]}))
    for pid, day in (("p2", 5), ("p3", 6)):
        save_probe(store, _probe(pid, "eps-09", day, "no_answer", response="Failure", reason=8,
                                 detail="congestion"))
    save_alert(store, AlertRecord("eps-09", EVENING.replace(day=6).timestamp(), ["p2", "p3"], "ALERTE …"))
    arrival = EVENING.replace(hour=21).timestamp()
    with store.engine.begin() as conn:
        write_calls(conn, [Call("paris-eps", f"k{i}", "eps-09", arrival + i * 600, Outcome.FAILED, Source.CEL,
                                end=arrival + i * 600 + 3, local_date="2026-10-05", local_hour=21)
                           for i in range(3)])


def test_the_report_in_french_with_the_statement_section(store: Store, config: Config,
                                                         tmp_path: Path) -> None:
    _fill(store)
    section = after_hours_section(store, config, "2026-10", ["eps-05", "eps-09"])
    rows = {r["Site"]: r for r in section.summary_rows()}
    assert rows["EPS Paris 9e"]["Appels hors horaires"] == "3" and rows["EPS Paris 9e"]["Échecs"] == "3"
    assert rows["EPS Paris 9e"]["Alerte"] == "OUI" and rows["EPS Paris 5e"]["Alerte"] == ""
    assert rows["EPS Paris 9e"]["Dernière sonde"] == "2026-10-06 20:30 : pas de réponse (encombrement)"
    assert rows["EPS Paris 5e"]["Sondes conformes"] == "1"
    assert section.probe_rows()[0] == ["2026-10-05", "20:30", "EPS Paris 5e", "message attendu", "0,4 s",
                                       "27,9 s", "eps-05 hors horaires", "0,97"]
    assert section.failure_rows() == [["EPS Paris 9e", "2026-10-05", "3",
                                       "échec / encombrement : 21:30, 21:40, 21:50"]]
    assert section.alert_rows()[0][1:3] == ["EPS Paris 9e", "2"]
    paths = write_report(section, tmp_path, ["pdf", "html"])
    assert [p.name for p in paths] == ["afterhours-2026-10.html", "afterhours-2026-10.pdf"]
    page = (tmp_path / "afterhours-2026-10.html").read_text()
    pdf = (tmp_path / "afterhours-2026-10.pdf").read_bytes()
    text = re.sub(r"\s+", " ", pdf_text(pdf, tmp_path))
    assert pdf.startswith(b"%PDF") and "<svg" in page  # the chart, inline, drawn once

    def squeezed(text: str) -> str:  # pdftotext wraps cells and drops thin spaces
        return re.sub(r"\s+", "", text)

    for shown in (squeezed(html.unescape(re.sub(r"<[^>]+>", " ", page))), squeezed(text)):
        for expected in (
                "Messages hors horaires d'ouverture", "Octobre 2026",
                "EPS Paris 9e 3 0 0 % 0 3 2 0 OUI",  # 3 calls, 3 failures, 2 probes, an alert
                "2026-10-05 20:30 EPS Paris 5e message attendu 0,4 s 27,9 s eps-05",  # (a cell
                "0,97",  # wraps in the PDF: "eps-05 hors horaires" ends on the next line)
                "EPS Paris 9e 2026-10-05 3 échec / encombrement : 21:30, 21:40, 21:50",
                "ALERTE …", "1 / 3", "avec le message attendu"):  # 1 of 3 probes heard it
            assert squeezed(expected) in shown, expected


def test_report_command(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(cli, ["--db", db, "afterhours", "report", "--month", "2026-10", "--format",
                                      "html", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Wrote {tmp_path / 'out' / 'afterhours-2026-10.html'}\n"
    assert result.stderr.startswith("warning: no store was at")  # an empty store is said so
    bad = CliRunner().invoke(cli, ["--db", db, "afterhours", "report", "--month", "2026-10",
                                   "--format", "doc"])
    assert bad.exit_code == 2 and '"doc" is not pdf, html or pdf,html' in bad.output
    month = CliRunner().invoke(cli, ["--db", db, "afterhours", "report", "--month", "2026-13"])
    assert month.exit_code == 2 and '"2026-13" is not a month; use YYYY-MM' in month.output


def test_references_register_list_and_refuse(config: Config, rendered: dict, tmp_path: Path) -> None:
    ref = register(config, "eps-05", "closed", rendered["eps-05", "closed"], root=tmp_path)
    assert ref.path == tmp_path / "eps-05" / "closed.wav" and 25 < ref.speech_seconds < 29
    meta = json.loads((tmp_path / "eps-05" / "closed.json").read_text())
    assert meta["sha256"] == ref.sha256 and meta["source"] == str(rendered["eps-05", "closed"])
    assert [r.key for r in list_references(tmp_path)] == [ref.key]
    silent = tmp_path / "silent.wav"
    write_wav(silent, Audio(np.zeros(8000 * 5)))
    with pytest.raises(ReferenceError, match=r"holds 0\.0 s of sound; a reference needs at least 1 s"):
        register(config, "eps-05", "closed", silent, root=tmp_path)


def test_reference_commands(rendered: dict, tmp_path: Path) -> None:
    runner = CliRunner()
    message = str(rendered["eps-09", "closed"])
    ok = runner.invoke(cli, ["afterhours", "reference", "--site", "eps-09", message])
    assert ok.exit_code == 0 and ok.output.startswith("Registered eps-09/closed: 28.")
    listed = runner.invoke(cli, ["afterhours", "references"])
    assert listed.output.splitlines()[-1] == "1 reference."
    unknown = runner.invoke(cli, ["afterhours", "reference", "--site", "eps-21", message])
    assert unknown.exit_code == 1 and unknown.output.startswith('Error: site "eps-21" is not in ')
    (tmp_path / "x.wav").write_text("not audio")
    bad = runner.invoke(cli, ["afterhours", "reference", "--site", "eps-09", str(tmp_path / "x.wav")])
    assert bad.output == f'Error: cannot read audio "{tmp_path / "x.wav"}": not a RIFF/WAVE file\n'
    usage = runner.invoke(cli, ["afterhours", "reference", "--site", "eps-09"])
    assert usage.exit_code == 2 and "give --site SITE and FILE, or --simulated" in usage.output


def test_migration_matches_the_models(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        columns = {c["name"] for c in sa.inspect(conn).get_columns("afterhours_probes")}
    mine = {t.name for t in (models.afterhours_probes, models.afterhours_alerts)}
    assert [d for d in diff if any(name in str(d) for name in mine)] == []
    assert {"verdict", "time_to_answer", "message_seconds", "is_test"} <= columns
    store.dispose()
