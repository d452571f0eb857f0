"""Everything a `qualiphone report` run produces, as file names and bytes (the CLI writes them).

The store is read once for the period (`reports.data.gather`, and `reports.afterhours.load` for
the after-hours checks); each document is then built from those in-memory objects, its charts
drawn once as SVG for both the HTML page and the PDF (typeset by Typst), in worker processes
when there are several (matplotlib draws one figure per process at a time; the workers are
forked, so they share the figures without copying them through a pipe).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from afterhours.report import AfterHoursSection
from config import Config
from reports.afterhours import AfterHoursCheck, site_check
from reports.afterhours import load as load_after_hours
from reports.data import DEFAULT_TARGET_RATE, Figures, Period, gather
from reports.document import Document

FORMATS = ("pdf", "html", "xlsx")
TRACKING_FILE = "tableau-de-suivi-indicateurs.xlsx"
_SHARED: dict[str, object] = {}  # what forked workers read: figures, after-hours data, time stamp


@dataclass
class Output:
    """The files of a run, and what a person should know about it."""

    files: dict[str, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: Figures | None = None


def statement_name(period: Period, site_id: str, fmt: str) -> str:
    kind = "bilan" if period.yearly else "releve"
    return f"{kind}-{period.key}-{site_id}.{fmt}"


def synthesis_name(period: Period, fmt: str) -> str:
    return f"synthese-{period.key}.{fmt}"


@dataclass
class Rendered:
    """A job's files, and the PDFs still to typeset (name -> the template's JSON): Typst runs in
    the parent process only (see reports.pdf.typeset)."""

    files: dict[str, bytes] = field(default_factory=dict)
    to_typeset: dict[str, str] = field(default_factory=dict)


def render(doc: Document, name: Callable[[str], str], formats: Sequence[str]) -> Rendered:
    """The document in each format asked for (its charts are already drawn)."""
    from reports.html import render_html
    from reports.pdf import pdf_data

    out = Rendered()
    if "pdf" in formats:
        out.to_typeset[name("pdf")] = pdf_data(doc)
    if "html" in formats:
        out.files[name("html")] = render_html(doc).encode()
    return out


def _checks(site_ids: Sequence[str]) -> dict[str, AfterHoursCheck]:
    closed: AfterHoursSection | None = _SHARED.get("after_hours")  # type: ignore[assignment]
    return {} if closed is None else {s: site_check(closed, s) for s in site_ids}


def _render_statement(site_id: str, formats: Sequence[str]) -> Rendered:
    from reports.statement import statement
    from reports.statement_doc import statement_document

    f: Figures = _SHARED["figures"]  # type: ignore[assignment]
    generated: dt.datetime = _SHARED["generated"]  # type: ignore[assignment]
    s = statement(f, site_id, _checks([site_id]).get(site_id))
    return render(statement_document(s, generated),
                  lambda fmt: statement_name(f.period, site_id, fmt), formats)


def _render_synthesis(formats: Sequence[str]) -> Rendered:
    from reports.synthesis import synthesis
    from reports.synthesis_doc import synthesis_document

    f: Figures = _SHARED["figures"]  # type: ignore[assignment]
    generated: dt.datetime = _SHARED["generated"]  # type: ignore[assignment]
    s = synthesis(f, _checks(f.site_ids))
    return render(synthesis_document(s, generated), lambda fmt: synthesis_name(f.period, fmt),
                  formats)


Job = tuple[Callable[..., Rendered], tuple[object, ...]]


def _finish(rendered: Rendered) -> dict[str, bytes]:
    from qualiphone.typeset import typeset
    from reports.pdf import TEMPLATE

    return {**rendered.files, **{n: typeset(TEMPLATE, d) for n, d in rendered.to_typeset.items()}}


def _warm() -> None:
    """Import what the workers draw with, and find the font, once, before they are forked."""
    from matplotlib import font_manager
    from matplotlib.backends import backend_svg  # noqa: F401

    from reports import statement_doc, synthesis_doc  # noqa: F401

    font_manager.findfont("DejaVu Sans")


def _run(jobs: list[Job], workers: int, progress: Callable[[int], None]) -> dict[str, bytes]:
    """Run render jobs, in forked processes when asked and possible, typesetting each job's PDFs
    here as it comes back; files in job order. `progress(n)` is called as each job ends."""
    results: dict[int, dict[str, bytes]] = {}
    if workers <= 1 or len(jobs) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for done, (job, args) in enumerate(jobs, start=1):
            results[done - 1] = _finish(job(*args))
            progress(done)
    else:
        _warm()
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {pool.submit(job, *args): k for k, (job, args) in enumerate(jobs)}
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = _finish(future.result())
                progress(done)
    return {name: data for k in range(len(jobs)) for name, data in results[k].items()}


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def build_reports(engine: sa.Engine, config: Config, period: Period, *,
                  sites: Sequence[str] = (), formats: Sequence[str] = FORMATS,
                  with_synthesis: bool = True, statements: bool = True,
                  target_rate: float = DEFAULT_TARGET_RATE, generated: dt.datetime | None = None,
                  tracking: bytes | None = None, workers: int = 1,
                  progress: Callable[[str, int, int], None] | None = None) -> Output:
    """Statements of `sites` (default: all), the synthesis, and the updated tracking workbook
    (`tracking`: the current workbook's bytes, if any). `progress(step, done, total)` is told
    how far the run is (steps: "reading figures", "documents")."""
    from reports.xlsx import tracking_rows, tracking_xlsx

    tell = progress or (lambda _step, _done, _total: None)
    tell("reading figures", 0, 1)
    every = [s.id for s in config.sites]
    chosen = list(sites) or every
    visual = [f for f in formats if f in ("pdf", "html")]
    synthesis = with_synthesis and bool(visual)
    checked = every if synthesis else chosen if statements else []
    with ThreadPoolExecutor(1) as pool:  # the after-hours checks read the store meanwhile
        checks = pool.submit(load_after_hours, engine, config, period, checked) \
            if visual and checked else None
        figures = gather(engine, config, period, target_rate)
        closed = checks.result() if checks else None
    generated = _local(generated or dt.datetime.now(dt.UTC), figures.rules.tz)
    tell("reading figures", 1, 1)
    _SHARED.update(figures=figures, generated=generated, after_hours=closed)
    jobs: list[Job] = [(_render_synthesis, (visual,))] if synthesis else []
    if statements and visual:
        jobs += [(_render_statement, (s, visual)) for s in chosen]
    tell("documents", 0, len(jobs))
    files = _run(jobs, workers, lambda done: tell("documents", done, len(jobs)))
    out = Output(files, _notes(figures, chosen), figures)
    if "xlsx" in formats:
        rows = tracking_rows(figures, chosen, generated)
        out.files[TRACKING_FILE] = tracking_xlsx(rows, tracking, generated, figures.site_ids)
    _SHARED.clear()
    return out


def _local(moment: dt.datetime, tz: str) -> dt.datetime:
    """The generation time as the sites' wall-clock time ("Établi le … à HH:MM", the tracking
    table); a naive time is taken as already local."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def _notes(f: Figures, chosen: Sequence[str]) -> list[str]:
    from reports.text import period_name

    if not f.has_data:
        return [f"no call captured for any site in {f.period.key} ({period_name(f.period.key)}): "
                "the documents say so; check the imports with `qualiphone store batches`"]
    missing = [s.id for s in f.missing_sites() if s.id in chosen]
    partial = [s for s in chosen if not f.coverage.sites[s].complete and s not in missing]
    notes = []
    if missing:
        notes.append(f"no call captured in {f.period.key} for: {', '.join(missing)}")
    if partial:
        notes.append(f"partial data coverage (see the statements) for: {', '.join(partial)}")
    return notes
