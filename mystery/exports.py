"""Plan exports: the plan as CSV, one iCalendar file per caller, a results template.

CSV files are written for French spreadsheets: UTF-8 with a byte-order mark, `;` separators.
The iCalendar files follow RFC 5545: CRLF line ends, lines folded at 75 octets, text escaped,
times in UTC (so no VTIMEZONE is needed), one VEVENT per call with a stable UID.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from config import Config
from monitor.export_safety import SafeWriter
from monitor.french import WEEKDAYS, long_date
from mystery.campaign import Campaign
from mystery.planner import Plan, PlannedCall
from mystery.scoring import NOT_IN_SCENARIO

__all__ = ["NOT_IN_SCENARIO", "write_plan_csv", "write_results_template"]

PLAN_COLUMNS = ("call_id", "site", "site_name", "number", "date", "weekday", "time", "band",
                "caller", "scenario", "scenario_title", "double_scored")


def french_date(day: dt.date) -> str:
    return long_date(day)


def french_time(moment: dt.datetime) -> str:
    return f"{moment.hour} h {moment.minute:02d}"


def format_number(number: str) -> str:
    """+33199000105 → 01 99 00 01 05 (French numbers); others as they are."""
    if number.startswith("+33") and len(number) == 12:
        national = "0" + number[3:]
        return " ".join(national[i:i + 2] for i in range(0, 10, 2))
    return number


def write_plan_csv(plan: Plan, config: Config, path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = SafeWriter(csv.writer(fh, delimiter=";"))
        writer.writerow(PLAN_COLUMNS)
        for c in sorted(plan.calls, key=lambda c: (c.epoch, c.call_id)):
            site = config.site(c.site)
            writer.writerow([
                c.call_id, c.site, site.name, format_number((site.numbers or ("",))[0]),
                c.start.date().isoformat(), WEEKDAYS[c.weekday], c.start.strftime("%H:%M"),
                c.band, c.caller, c.scenario, plan.campaign.scenario(c.scenario).title,
                "oui" if c.double else "non",
            ])


def write_results_template(plan: Plan, path: Path) -> None:
    """The CSV an external firm or a typist fills: one line per call, one column per criterion.

    A criterion that does not apply to the call's scenario holds NOT_IN_SCENARIO ("hors
    scénario"), which the importer takes as not asked: only the empty cells are to be filled.
    """
    fields = ("call_id", "role", "scorer", "outcome", "attempts", "called_at")
    criteria = plan.campaign.criteria
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = SafeWriter(csv.writer(fh, delimiter=";"))
        writer.writerow([*fields, *(c.id for c in criteria), "comment"])
        for c in sorted(plan.calls, key=lambda c: c.call_id):
            marks = ["" if k.applies_to(c.scenario) else NOT_IN_SCENARIO for k in criteria]
            writer.writerow([c.call_id, "primary", c.caller, "", "", c.start.strftime("%Y-%m-%d %H:%M"),
                             *marks, ""])


def ics_escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (RFC 5545 §3.1)."""
    parts: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > (75 if not parts else 74):
            parts.append(current)
            current, size = "", 0
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _event(call: PlannedCall, campaign: Campaign, config: Config, stamp: float) -> list[str]:
    site = config.site(call.site)
    scenario = campaign.scenario(call.scenario)
    number = format_number((site.numbers or ("",))[0])
    description = (f"Appel mystère {call.call_id}\nSite : {site.name}\nNuméro à composer : {number}\n"
                   f"Scénario : {scenario.title}\n{scenario.script}\n"
                   f"Fiche d'appel : {call.call_id} (fiches-appels-{call.caller}.pdf)")
    return [
        "BEGIN:VEVENT",
        f"UID:{call.call_id}@{campaign.id}.qualiphone",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(call.epoch)}",
        f"DTEND:{_utc(call.epoch + campaign.slot_minutes * 60)}",
        f"SUMMARY:{ics_escape(f'Appel mystère {call.call_id} — {site.name}')}",
        f"DESCRIPTION:{ics_escape(description)}",
        f"LOCATION:{ics_escape(f'Téléphone : {number}')}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]


def caller_ics(plan: Plan, config: Config, caller_id: str, stamp: float) -> str:
    """The iCalendar text of one caller's calls."""
    campaign = plan.campaign
    caller = next(c for c in campaign.callers if c.id == caller_id)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Ville de Paris//qualiphone mystery//FR",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{ics_escape(f'{campaign.name} — {caller.name}')}"]
    for call in sorted((c for c in plan.calls if c.caller == caller_id), key=lambda c: c.epoch):
        lines += _event(call, campaign, config, stamp)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def write_ics_files(plan: Plan, config: Config, directory: Path, stamp: float) -> list[Path]:
    paths = []
    for caller in plan.campaign.callers:
        if not any(c.caller == caller.id for c in plan.calls):
            continue
        path = directory / f"appels-{caller.id}.ics"
        path.write_bytes(caller_ics(plan, config, caller.id, stamp).encode("utf-8"))
        paths.append(path)
    return paths


def write_plan_files(plan: Plan, config: Config, out: Path, stamp: float,
                     progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Every file of a plan in `out`: its CSV, the results template to fill in, one calendar
    (.ics) and one call sheet (PDF) per caller; `progress(done, total)` after each sheet."""
    from mystery.sheets import write_call_sheets  # Typst: imported when sheets are written

    out.mkdir(parents=True, exist_ok=True)
    cid = plan.campaign.id
    csv_path, template = out / f"plan-{cid}.csv", out / f"resultats-{cid}.csv"
    write_plan_csv(plan, config, csv_path)
    write_results_template(plan, template)
    ics = write_ics_files(plan, config, out, stamp)
    return [csv_path, template, *ics, *write_call_sheets(plan, config, out, progress=progress)]

