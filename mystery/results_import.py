"""Import scored results from a CSV file (paper forms typed in, or an external survey firm).

One line per call and scorer. A line with an unknown call id, an out-of-range score, a missing
critical answer or an inconsistent outcome is refused with its line number and reason; the
other lines are written together in one transaction, so nothing is ever half-written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from config import Config, ConfigError
from ingest.records import Reject
from monitor.export_safety import unquote
from monitor.store import Store
from monitor.timeutil import local_to_epoch, zone
from mystery.campaign import Campaign
from mystery.models import mystery_planned_calls
from mystery.repository import ResultInput, find_result, stored_campaign, write_result
from mystery.scoring import AnswerError, Outcome, check_result, not_asked_mark, parse_answer

FIELDS = ("call_id", "role", "scorer", "outcome", "attempts", "called_at", "comment")
ROLES = ("primary", "second")
OUTCOME_ALIASES = {
    "décroché": Outcome.ANSWERED, "decroche": Outcome.ANSWERED, "répondu": Outcome.ANSWERED,
    "pas de réponse": Outcome.NO_ANSWER, "sans réponse": Outcome.NO_ANSWER,
    "non décroché": Outcome.NO_ANSWER, "occupé": Outcome.BUSY, "occupe": Outcome.BUSY,
    "messagerie": Outcome.VOICEMAIL, "répondeur": Outcome.MESSAGE, "échec": Outcome.FAILED,
    "non passé": Outcome.NOT_MADE,
}


class ResultsFileError(Exception):
    """A results file that cannot be read at all."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


@dataclass
class ImportSummary:
    path: Path
    lines: int = 0
    imported: int = 0
    replaced: int = 0
    unchanged: int = 0
    rejected: list[Reject] = field(default_factory=list)


def parse_outcome(text: str) -> Outcome:
    key = text.strip().lower()
    if key in OUTCOME_ALIASES:
        return OUTCOME_ALIASES[key]
    try:
        return Outcome(key)
    except ValueError:
        raise AnswerError(f'outcome is "{text.strip()}"; expected one of '
                          + ", ".join(o.value for o in Outcome)) from None


def parse_local_time(text: str) -> dt.datetime:
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S"):
        try:
            return dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise AnswerError(f'called_at is "{text.strip()}"; expected a local time YYYY-MM-DD HH:MM')


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str], str]]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ResultsFileError(path, "no such file; check the path") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # Excel's plain "CSV (;)" on a French Windows: Windows-1252
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise ResultsFileError(path, "neither UTF-8 nor Windows-1252 text; save it as CSV "
                                         "UTF-8") from None
    lines = text.splitlines()
    if not lines:
        raise ResultsFileError(path, "the file is empty; expected a header line")
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [unquote(h.strip()).lower() for h in next(reader)]
    for required in ("call_id", "outcome"):
        if required not in header:
            raise ResultsFileError(path, f'no "{required}" column; the header is {";".join(header)}')
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        raw = delimiter.join(values)
        values = [unquote(v) for v in values]  # what our own exports quoted ("'=…") reads back
        if len(values) > len(header):
            rows.append((reader.line_num, {"": "too-many"}, raw))
            continue
        rows.append((reader.line_num, dict(zip(header, values, strict=False)), raw))
    return header, rows


def _campaigns(store: Store, config: Config, call_ids: set[str]) -> tuple[dict[str, sa.Row],
                                                                        dict[str, Campaign]]:
    with store.engine.connect() as conn:
        planned = {r.call_id: r for r in conn.execute(sa.select(mystery_planned_calls).where(
            mystery_planned_calls.c.call_id.in_(sorted(call_ids))))}
    campaigns = {cid: stored_campaign(store, cid, config)[0]
                 for cid in sorted({r.campaign_id for r in planned.values()})}
    return planned, campaigns


def _to_input(row: dict[str, str], planned: sa.Row, campaign: Campaign, config: Config) -> ResultInput:
    """One line as a validated result; raise AnswerError with the reason."""
    if "" in row:
        raise AnswerError("more values than columns in the header")
    role = (row.get("role") or "primary").strip().lower()
    if role not in ROLES:
        raise AnswerError(f'role is "{role}"; expected primary or second')
    outcome = parse_outcome(row.get("outcome", ""))
    attempts_text = (row.get("attempts") or "1").strip()
    if not attempts_text.isdigit():
        raise AnswerError(f'attempts is "{attempts_text}"; expected a whole number from 1 to '
                          f"{campaign.max_attempts}")
    answers = {}
    for criterion in campaign.criteria:
        raw = row.get(criterion.id, "")
        asked = outcome is Outcome.ANSWERED and criterion.applies_to(planned.scenario)
        if not asked and not criterion.pickup and not_asked_mark(raw):
            continue  # blank, "sans objet" or the template's "hors scénario": not asked
        answer = parse_answer(criterion, raw)
        if not answer.blank:
            answers[criterion.id] = answer
    check_result(campaign, planned.scenario, outcome, int(attempts_text), answers)
    called_at = planned.start_utc
    if (row.get("called_at") or "").strip():
        tz = zone(config.pbxs[config.site(planned.site).pbx].timezone)
        called_at = local_to_epoch(parse_local_time(row["called_at"]), tz)
    return ResultInput(call_id=planned.call_id, role=role,
                       scorer=(row.get("scorer") or "").strip() or "import", outcome=outcome,
                       attempts=int(attempts_text), called_at=called_at, source="import",
                       answers=answers, comment=(row.get("comment") or "").strip())


def _check_columns(path: Path, header: list[str], campaigns: dict[str, Campaign]) -> None:
    known = set(FIELDS) | {c.id for campaign in campaigns.values() for c in campaign.criteria}
    unknown = [h for h in header if h not in known]
    if campaigns and unknown:
        raise ResultsFileError(path, f'column "{unknown[0]}" is neither a field ({", ".join(FIELDS)}) '
                               "nor a criterion of the campaign; known criteria: "
                               + ", ".join(sorted(known - set(FIELDS))))


def _same(stored: object, item: ResultInput) -> bool:
    kept = {k: v for k, v in getattr(stored, "answers", {}).items() if not v.blank}
    return (getattr(stored, "outcome", None), getattr(stored, "attempts", None), kept,
            getattr(stored, "scorer", None)) == (item.outcome, item.attempts, item.answers, item.scorer)


def import_results(store: Store, config: Config, path: Path, *, replace: bool = False) -> ImportSummary:
    """Validate every line, then write the valid ones in one transaction."""
    header, rows = _read_rows(path)
    summary = ImportSummary(path, lines=len(rows))
    planned, campaigns = _campaigns(store, config, {r.get("call_id", "").strip() for _, r, _ in rows})
    _check_columns(path, header, campaigns)
    seen: dict[tuple[str, str], int] = {}
    with store.engine.begin() as conn:
        valid: list[ResultInput] = []
        for line, row, raw in rows:
            try:
                item = _line(conn, row, line, planned, campaigns, config, seen, replace)
            except (AnswerError, ConfigError) as exc:
                summary.rejected.append(Reject(line, str(exc), raw))
                continue
            if item is None:
                summary.unchanged += 1
            else:
                valid.append(item)
        for item in valid:
            if find_result(conn, item.call_id, item.role) is None:
                summary.imported += 1
            else:
                summary.replaced += 1
            write_result(conn, item)
    return summary


def _line(conn: sa.Connection, row: dict[str, str], line: int, planned: dict[str, sa.Row],
          campaigns: dict[str, Campaign], config: Config, seen: dict[tuple[str, str], int],
          replace: bool) -> ResultInput | None:
    """The line's result to write, None when it is already stored as is; AnswerError otherwise."""
    call_id = row.get("call_id", "").strip()
    if call_id not in planned:
        raise AnswerError(f'unknown call id "{call_id}"; it is not a planned mystery call')
    target = planned[call_id]
    item = _to_input(row, target, campaigns[target.campaign_id], config)
    key = (item.call_id, item.role)
    if key in seen:
        raise AnswerError(f'call "{call_id}" ({item.role}) is already on line {seen[key]}')
    seen[key] = line
    stored = find_result(conn, item.call_id, item.role)
    if stored is not None and _same(stored, item):
        return None
    if stored is not None and not replace:
        raise AnswerError(f'call "{call_id}" ({item.role}) already has different results '
                          f"(by {stored.scorer}, {stored.source}); use --replace to overwrite them")
    return item
