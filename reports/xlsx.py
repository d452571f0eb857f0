"""The "tableau de suivi des indicateurs": one row per EPS and month, typed cells, frozen header.

The central team keeps one workbook and appends to it month after month: writing a month again
replaces that month's rows for the sites written (matched on "Mois" and "Code site"), other rows
are kept. Columns are matched by their header, so a workbook written by an older version keeps
its values. The bytes depend only on the rows and the generation time (document properties and
zip entry dates are set to it).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from monitor.export_safety import safe_xlsx_row
from reports.data import Figures

SHEET, DEFINITIONS = "Indicateurs", "Définitions"
PCT, SECONDS, INT = "0.0%", "0.0", "#,##0"
# (header, number format, definition); the threshold in headers comes from the rules
COLUMNS: list[tuple[str, str | None, str]] = [
    ("Mois", "yyyy-mm", "mois civil, heure de Paris"),
    ("Code site", None, "identifiant du site (config/sites.toml)"),
    ("EPS", None, "nom de l'Espace Parisien des Solidarités"),
    ("Appels reçus", INT, "appels reçus aux heures d'ouverture (hors appels de test)"),
    ("Décrochés par une personne", INT, "décrochés par une personne, quel que soit le délai"),
    ("Décrochés à temps", INT, "décrochés par une personne en moins du seuil (25 s)"),
    ("Abandons courts", INT, "raccrochés avant le seuil d'abandon court, hors calcul du taux"),
    ("Taux de décroché", PCT, "décrochés à temps / (appels reçus − abandons courts)"),
    ("IC 95 % bas", PCT, "borne basse de l'intervalle de confiance de Wilson à 95 %"),
    ("IC 95 % haut", PCT, "borne haute de l'intervalle de confiance de Wilson à 95 %"),
    ("Taux cible", PCT, "taux de décroché visé (option --target-rate)"),
    ("Taux cible atteint", None, "VRAI quand le taux de décroché atteint le taux cible"),
    ("Attente moyenne (s)", SECONDS, "délai moyen avant décroché des appels décrochés"),
    ("Attente médiane (s)", SECONDS, "délai médian avant décroché"),
    ("90 % décrochés en moins de (s)", SECONDS, "90e centile du délai avant décroché"),
    ("Abandons", INT, "l'appelant a raccroché avant toute réponse (abandons courts à part)"),
    ("Abandons avant le seuil", INT, "abandons survenus avant le seuil (25 s)"),
    ("Sans réponse (fin par le standard)", INT,
     "personne n'a décroché et le standard a mis fin à l'appel (fin de la sonnerie, "
     "ou raccroché par le standard)"),
    ("Occupé", INT, "appels reçus occupés"),
    ("Échec ou encombrement", INT, "appels en échec ou réseau encombré"),
    ("Messagerie vocale", INT, "appels envoyés sur la messagerie vocale du standard"),
    ("Appels hors heures d'ouverture", INT, "soirs, week-ends, jours fériés et fermetures"),
    ("Décrochés par le message", INT, "décrochés par le message hors horaires ou de fermeture"),
    ("Hors heures sans réponse", INT, "hors heures, ni message ni personne"),
    ("SL Asterisk", PCT, "décrochés à temps / décrochés"),
    ("SL2 Asterisk", PCT, "(décrochés à temps + abandons avant le seuil) / (décrochés + abandons)"),
    ("Taux de décroché agent (SP+)", PCT, "décrochés / (reçus − message − abandons courts)"),
    ("Jours d'ouverture", INT, "jours où le site était ouvert (fériés et fermetures retirés)"),
    ("Jours sans appel capté", INT, "jours d'ouverture sans aucun appel capté"),
    ("Appels incomplets", INT, "appels coupés par une coupure de capture, non complétés"),
    ("Couverture", None, "complète, partielle, ou absent de la capture"),
    ("Seuil (s)", SECONDS, "seuil de l'engagement (config/settings.toml)"),
    ("Établi le", "yyyy-mm-dd hh:mm", "date de calcul de la ligne"),
]
HEADERS = [c[0] for c in COLUMNS]


def _rate(rec: dict[str, Any], key: str) -> float | None:
    return rec[key]["value"]


def _row(f: Figures, i: int, month: str, generated: dt.datetime) -> list[Any]:
    k = f.period.months.index(month)
    n = len(f.period.months)
    inside, every = f.trend_records[i * n + k], f.trend_all_records[i * n + k]
    site, cov = f.sites[i], f.coverage.sites[f.sites[i].id]
    p, t = inside["pickup_rate"], inside["time_to_answer"]
    open_days = sum(1 for d, h in zip(f.period.days, f.open_hours[i], strict=True)
                    if h > 0 and d.isoformat().startswith(month))
    silent, incomplete = cov.silent_in(month), cov.incomplete.get(month, 0)
    gaps = cov.gaps_in(month, f.rules.tz)
    coverage = "absent de la capture" if not every["offered"] else \
        "complète" if not (silent or incomplete or gaps) else "partielle"
    out_offered = every["offered"] - inside["offered"]
    out_message = every["message"] - inside["message"]
    return [
        dt.datetime.strptime(month, "%Y-%m"), site.id, site.name, inside["offered"],
        inside["answered"], inside["answered_within"], inside["short_abandons"], p["value"],
        p["low"], p["high"], f.rules.target_rate,
        None if p["value"] is None else p["value"] >= f.rules.target_rate,
        t["mean"], t["median"], t["p90"], inside["abandoned"], inside["abandoned_before_target"],
        inside["no_answer"], inside["busy"], inside["failed"] + inside["congestion"], inside["voicemail"],
        out_offered, out_message, out_offered - out_message - (every["answered"] - inside["answered"]),
        _rate(inside, "asterisk_sl"), _rate(inside, "asterisk_sl2"),
        _rate(inside, "agent_pickup_rate"), open_days, silent, incomplete, coverage,
        f.rules.threshold, generated.replace(tzinfo=None, microsecond=0),
    ]


def tracking_rows(f: Figures, site_ids: Sequence[str], generated: dt.datetime) -> list[list[Any]]:
    """One row per site of `site_ids` and month of the period (12 for a year)."""
    return [_row(f, f.index(s), m, generated) for m in f.period.own_months for s in site_ids]


def _existing(data: bytes | None) -> list[list[Any]]:
    """Rows of an earlier workbook, re-ordered to today's columns by header."""
    if not data:
        return []
    sheet = load_workbook(io.BytesIO(data))[SHEET]
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        return []
    where = {h: j for j, h in enumerate(rows[0]) if h in HEADERS}
    return [[row[where[h]] if h in where else None for h in HEADERS] for row in rows[1:]
            if any(v is not None for v in row)]


def _key(row: Sequence[Any]) -> tuple[str, str]:
    month = row[0].strftime("%Y-%m") if isinstance(row[0], dt.datetime | dt.date) else str(row[0])
    return month, str(row[1])


def tracking_xlsx(rows: list[list[Any]], existing: bytes | None, generated: dt.datetime,
                  site_order: Sequence[str] = ()) -> bytes:
    """The workbook with `rows` replacing the rows of the same month and site in `existing`."""
    new = {_key(r) for r in rows}
    kept = [r for r in _existing(existing) if _key(r) not in new]
    order = {s: i for i, s in enumerate(site_order)}
    merged = sorted([*kept, *rows], key=lambda r: (_key(r)[0], order.get(str(r[1]), len(order)),
                                                   str(r[1])))
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    _fill(sheet, merged)
    _definitions(book.create_sheet(DEFINITIONS))
    stamp = generated.replace(tzinfo=None, microsecond=0)
    book.properties.created = book.properties.modified = stamp
    book.properties.creator = book.properties.lastModifiedBy = "qualiphone"
    book.properties.title = "Tableau de suivi des indicateurs : standards des EPS"
    buffer = io.BytesIO()
    book.save(buffer)
    return _fixed_zip(buffer.getvalue(), stamp)


def _fill(sheet: Any, rows: list[list[Any]]) -> None:
    sheet.append(safe_xlsx_row(HEADERS))
    for row in rows:
        sheet.append(safe_xlsx_row(row))
    fill = PatternFill("solid", fgColor="DFE7F2")
    for cell in sheet[1]:
        cell.font, cell.fill = Font(bold=True), fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "D2"
    sheet.row_dimensions[1].height = 45
    for j, (header, fmt, _) in enumerate(COLUMNS, start=1):
        letter = get_column_letter(j)
        sheet.column_dimensions[letter].width = 16 if header != "EPS" else 20
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = fmt
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"


def _definitions(sheet: Any) -> None:
    sheet.append(["Colonne", "Définition"])
    for header, _, meaning in COLUMNS:
        sheet.append(safe_xlsx_row([header, meaning]))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    sheet.column_dimensions["A"].width = 32
    sheet.column_dimensions["B"].width = 90


def _fixed_zip(data: bytes, stamp: dt.datetime) -> bytes:
    """The same archive with every entry dated `stamp`: zip dates and the workbook's
    "modified" property are otherwise the time of saving (openpyxl sets it on save)."""
    when = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute,
            stamp.second)
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, when)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + iso, content)
            dst.writestr(entry, content)
    return out.getvalue()
