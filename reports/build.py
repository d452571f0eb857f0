"""Everything a `qualiphone report` run produces, as file names and bytes (the CLI writes them).

The store is read once for the period (`reports.data.gather`, and `reports.afterhours.load` for
the statements' after-hours section); statements are then rendered from those in-memory
objects, in worker processes when there are several (matplotlib draws one figure per process
at a time; the workers are forked, so they share the figures without copying them through a
pipe).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa

from afterhours.report import AfterHoursSection
from config import Config
from reports.afterhours import load as load_after_hours
from reports.afterhours import site_check
from reports.data import DEFAULT_TARGET_RATE, Figures, Period, gather

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


def _render_statement(site_id: str, formats: Sequence[str]) -> dict[str, bytes]:
    from reports.html import statement_html
    from reports.pdf import statement_pdf
    from reports.statement import statement

    f: Figures = _SHARED["figures"]  # type: ignore[assignment]
    generated: dt.datetime = _SHARED["generated"]  # type: ignore[assignment]
    closed: AfterHoursSection | None = _SHARED.get("after_hours")  # type: ignore[assignment]
    s = statement(f, site_id, None if closed is None else site_check(closed, site_id))
    out = {}
    if "pdf" in formats:
        out[statement_name(f.period, site_id, "pdf")] = statement_pdf(s, generated)
    if "html" in formats:
        out[statement_name(f.period, site_id, "html")] = statement_html(s, generated).encode()
    return out


def _render_synthesis(formats: Sequence[str]) -> dict[str, bytes]:
    from reports.html import synthesis_html
    from reports.pdf import synthesis_pdf
    from reports.synthesis import synthesis

    f: Figures = _SHARED["figures"]  # type: ignore[assignment]
    generated: dt.datetime = _SHARED["generated"]  # type: ignore[assignment]
    s = synthesis(f)
    out = {}
    if "pdf" in formats:
        out[synthesis_name(f.period, "pdf")] = synthesis_pdf(s, generated)
    if "html" in formats:
        out[synthesis_name(f.period, "html")] = synthesis_html(s, generated).encode()
    return out


def _run(jobs: list[tuple[Callable[..., dict[str, bytes]], tuple[object, ...]]],
         workers: int) -> dict[str, bytes]:
    """Run render jobs, in forked processes when asked and possible; results in job order."""
    files: dict[str, bytes] = {}
    if workers <= 1 or len(jobs) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for job, args in jobs:
            files.update(job(*args))
        return files
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for result in [pool.submit(job, *args) for job, args in jobs]:
            files.update(result.result())
    return files


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def build_reports(engine: sa.Engine, config: Config, period: Period, *,
                  sites: Sequence[str] = (), formats: Sequence[str] = FORMATS,
                  with_synthesis: bool = True, statements: bool = True,
                  target_rate: float = DEFAULT_TARGET_RATE, generated: dt.datetime | None = None,
                  tracking: bytes | None = None, workers: int = 1) -> Output:
    """Statements of `sites` (default: all), the synthesis, and the updated tracking workbook
    (`tracking`: the current workbook's bytes, if any)."""
    from reports.xlsx import tracking_rows, tracking_xlsx

    generated = generated or dt.datetime.now().replace(microsecond=0)
    figures = gather(engine, config, period, target_rate)
    chosen = list(sites) or list(figures.site_ids)
    visual = [f for f in formats if f in ("pdf", "html")]
    closed = load_after_hours(engine, config, period, chosen) if statements and visual else None
    _SHARED.update(figures=figures, generated=generated, after_hours=closed)
    jobs: list[tuple[Callable[..., dict[str, bytes]], tuple[object, ...]]] = []
    if with_synthesis and visual:
        jobs.append((_render_synthesis, (visual,)))
    if statements and visual:
        jobs += [(_render_statement, (s, visual)) for s in chosen]
    out = Output(_run(jobs, workers), _notes(figures, chosen), figures)
    if "xlsx" in formats:
        rows = tracking_rows(figures, chosen, generated)
        out.files[TRACKING_FILE] = tracking_xlsx(rows, tracking, generated, figures.site_ids)
    _SHARED.clear()
    return out


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
