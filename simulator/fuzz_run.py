"""Mutated PBX files through the importers, counted: crashes, refusals, rejects, good calls lost.

A source (`FuzzSource`, registered in SOURCES) says how to get lines of its kind (simulated, and
the real recordings) and which importer reads them. For a sample of clean lines, the oracle is
what the importer makes of them (`Sample.calls`: each call's key, arrival and lines). A run
mutates some lines (`simulator.mutate`), imports the file into a store through `run_batch`, and
checks that every call all of whose lines were left untouched is still stored, under its key
(or apart as KEY@ARRIVAL when a mutated line took its key) with its arrival. A call with a
mutated line may change or go: that is what its reject is for.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import random
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from config import Config
from ingest.batch import FileParse, Found, Parser, SourceFileError, run_batch
from ingest.finalize import CaptureContext
from monitor.store import Store
from monitor.store.models import (
    call_contributions,
    calls,
    contribution_batches,
    directory_misses,
    import_batches,
    rejected_records,
)
from simulator.mutate import mutate_lines

CSV_HEADER = "ID appel;Début;Attente (s);Fin;Numéro appelé;Appelant;Poste;Statut"
_CSV_OUTCOMES = {"answered": "Répondu", "abandoned": "Abandonné", "short_abandon": "Abandonné",
                 "busy": "Occupé", "failed": "Échec", "message": "Message",
                 "voicemail": "Messagerie"}


@dataclass(frozen=True)
class FuzzSource:
    name: str
    kind: str  # the import kind (run_batch, import_batches.kind)
    delimiter: str  # for field mutations
    protect: int  # leading lines never mutated (a header)
    parser: Callable[[Config], Parser]
    simulated: Callable[[Path, Config], list[str]]  # lines from a simulated month's directory
    real: tuple[str, ...] = ()  # glob patterns of real recordings under data/real
    rate: float = 0.2  # share of lines mutated by default: about half the calls left untouched


def _cdr_parser(config: Config) -> Parser:
    from ingest.cdr import parse_cdr

    return functools.partial(parse_cdr, layout="auto", usegmtime=False)


def _csv_parser(config: Config) -> Parser:
    from ingest.generic_csv import load_mapping, parse_generic

    mapping = load_mapping(config.directory / "csv_mappings.toml", "example-export")
    return functools.partial(parse_generic, mapping=mapping)


def _queue_log_parser(config: Config) -> Parser:
    from ingest.queue_log import parse_queue_log

    return parse_queue_log


def _cel_parser(config: Config) -> Parser:
    from ingest.cel import parse_cel

    return parse_cel


def _read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def csv_from_truth(month: Path, config: Config) -> list[str]:
    """The simulated calls as another PBX's export (the shipped example-export mapping)."""
    tz = config.pbxs[next(iter(config.pbxs))].tz
    dids = {site.id: site.dids[0] for site in config.sites if site.dids}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")

    def local(epoch: str) -> str:
        return dt.datetime.fromtimestamp(float(epoch), tz).strftime("%d/%m/%Y %H:%M:%S")

    with (month / "truth.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            wait = f"{float(row['answer']) - float(row['arrival']):.3f}".replace(".", ",") \
                if row["answer"] else ""
            writer.writerow([row["call_key"], local(row["arrival"]), wait,
                             local(row["end"]) if row["end"] else "", dids.get(row["site"], ""),
                             "0612345678", row["answered_by"],
                             _CSV_OUTCOMES.get(row["outcome"], row["outcome"])])
    return [CSV_HEADER, *out.getvalue().splitlines()]


SOURCES: dict[str, FuzzSource] = {
    "cdr": FuzzSource("cdr", "cdr", ",", 0, _cdr_parser,
                      lambda month, config: _read(month / "Master.csv"), ("cdr/*/*.csv",)),
    "queue_log": FuzzSource("queue_log", "queue_log", "|", 0, _queue_log_parser,
                            lambda month, config: _read(month / "queue_log"),
                            ("queue_log/*/*.txt",)),
    "cel": FuzzSource("cel", "cel", ",", 0, _cel_parser,  # a call is 20 to 40 CEL lines
                      lambda month, config: _read(month / "cel-custom" / "Master.csv"),
                      ("cel/*/*.csv",), rate=0.03),
    "csv": FuzzSource("csv", "csv", ";", 1, _csv_parser, csv_from_truth),
}


@dataclass(frozen=True)
class Sample:
    source: FuzzSource
    lines: list[str]
    calls: dict[str, tuple[float, frozenset[int]]]  # key -> arrival, its lines (the oracle)


@dataclass
class Tally:
    """What the runs of one source on one store gave."""

    lines: int = 0
    mutated: int = 0
    files: int = 0
    rejects: int = 0
    refused: int = 0  # files refused whole (SourceFileError)
    good_calls: int = 0
    crashes: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # good calls not stored

    def add(self, other: Tally) -> None:
        for name in ("lines", "mutated", "files", "rejects", "refused", "good_calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.crashes.extend(other.crashes)
        self.lost.extend(other.lost)


def write(path: Path, lines: Iterable[str]) -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return path


def make_sample(source: FuzzSource, lines: list[str], ctx: CaptureContext,
                work: Path) -> Sample:
    """The clean lines and, as the oracle, the calls the importer reads from them."""
    path = write(work / f"clean-{source.name}.txt", lines)
    where: dict[str, list[int]] = {}
    for number, text in enumerate(lines, start=1):
        where.setdefault(text, []).append(number)
    found: dict[str, tuple[float, frozenset[int]]] = {}
    for item in FileParse(path, source.parser(ctx.config), ctx, source.kind):
        if isinstance(item, Found):
            numbers = frozenset(n for text in item.raw.split("\n") for n in where.get(text, ()))
            found.setdefault(item.call.call_key, (item.call.arrival, numbers))
    return Sample(source, lines, found)


def clear(store: Store) -> None:
    """Empty what an import writes (between two runs on one store)."""
    with store.engine.begin() as conn:
        for table in (contribution_batches, call_contributions, calls, rejected_records,
                      directory_misses, import_batches):
            conn.execute(sa.delete(table))


def run_once(store: Store, ctx: CaptureContext, sample: Sample, rng: random.Random,
             rate: float, work: Path) -> Tally:
    """Mutate the sample, import it into the (emptied) store, count and check the good calls."""
    source = sample.source
    lines, touched = mutate_lines(sample.lines, rate, rng, source.delimiter, source.protect)
    path = write(work / f"mutated-{source.name}.txt", lines)
    tally = Tally(lines=len(sample.lines), mutated=len(touched), files=1)
    clear(store)
    try:
        result = run_batch(store, source.kind, path, source.parser(ctx.config), ctx)
    except SourceFileError:  # refused whole: its good calls are lost, and counted so below
        tally.refused += 1
        result = None
    except Exception as exc:  # what the fuzz suite is for: recorded with where it happened
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        tally.crashes.append(f"{type(exc).__name__}: {str(exc)[:200]} "
                             f"({Path(frame.filename).name}:{frame.lineno})")
        result = None
    if result is not None:
        tally.rejects += result.rejected
    good = {key: arrival for key, (arrival, numbers) in sample.calls.items()
            if numbers and not numbers & touched}
    tally.good_calls = len(good)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(calls.c.call_key, calls.c.arrival)).all()
    arrivals: dict[str, list[float]] = {}
    for key, arrival in stored:
        arrivals.setdefault(key, []).append(arrival)
        if "@" in key:  # perhaps stored apart: KEY@ARRIVAL
            arrivals.setdefault(key.rsplit("@", 1)[0], []).append(arrival)
    tally.lost.extend(key for key, arrival in good.items()
                      if not any(abs(a - arrival) <= 1.0 for a in arrivals.get(key, ())))
    return tally
