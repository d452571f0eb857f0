"""`qualiphone sites check FILE…`: the directory's gaps in PBX files, before (or without)
importing them: the files are parsed with the current sites.toml exactly as `ingest` would."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

from config import Config
from ingest.batch import Parser, parse_file
from ingest.finalize import CaptureContext
from ingest.learn.observation import is_cel_table, sniff
from monitor.call import Call
from monitor.directory_gaps import GapReport, MissRow, counts_from_calls, report_of


def parser_for(kind: str, config: Config, pbx: str) -> Parser:
    if kind == "cdr":
        from ingest.cdr import parse_cdr

        settings = config.pbxs[pbx]
        return functools.partial(parse_cdr, layout=settings.cdr_layout,
                                 usegmtime=settings.cdr_usegmtime)
    if kind == "cel":
        from ingest.cel import parse_cel

        return parse_cel
    if kind == "queue_log":
        from ingest.queue_log import parse_queue_log

        return parse_queue_log
    raise ValueError(f'no importer for "{kind}" files; give CDR, CEL or queue_log files')


def check_files(config: Config, pbx: str, paths: list[Path], kind: str = "auto",
                points: float = 1.0, sites: list[str] | None = None) -> GapReport:
    ctx = CaptureContext.create(config, pbx)
    found: list[Call] = []
    misses: list[MissRow] = []
    for path in paths:
        file_kind = sniff(path) if kind == "auto" else kind
        parser = parser_for(file_kind, config, pbx)
        if file_kind == "cel" and is_cel_table(path):  # a psql dump (ingest cel --psql)
            from ingest.cel import parse_cel_table

            parser = parse_cel_table
        calls, _, reader = parse_file(path, parser, ctx, kind=file_kind)
        found.extend(calls)
        misses.extend(MissRow(d, q, c, rejected, n.calls, n.first_arrival, n.last_arrival)
                      for (d, q, c, rejected), n in reader.gaps.misses.items())
    threshold = config.targets.threshold_seconds
    counts = counts_from_calls(found, threshold)
    sites = sites or [s.id for s in config.sites if s.pbx == pbx]
    counts = {site: c for site, c in counts.items() if site in sites}
    first, last = _period(config, pbx, found, misses)
    return report_of(first, last, counts, misses, sites, points)


def _period(config: Config, pbx: str, found: list[Call],
            misses: list[MissRow]) -> tuple[dt.date, dt.date]:
    """The local dates the files cover (calls, else the arrivals of calls of no site)."""
    dates = {c.local_date for c in found}
    tz = config.pbxs[pbx].tz
    for m in misses:
        for t in (m.first_arrival, m.last_arrival):
            if t is not None:
                dates.add(dt.datetime.fromtimestamp(t, tz).date().isoformat())
    ordered = sorted(dates) or [dt.date.today().isoformat()]
    return dt.date.fromisoformat(ordered[0]), dt.date.fromisoformat(ordered[-1])
