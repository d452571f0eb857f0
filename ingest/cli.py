"""`qualiphone ingest …`: import PBX files and list rejected records."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from config.loader import CDR_LAYOUTS, CEL_TABLE_TIMES
from ingest.batch import BatchResult, FileParser, Parser, SourceFileError, run_batch
from ingest.finalize import CaptureContext
from ingest.records import RecordError
from monitor.store.models import rejected_records
from qualiphone.context import AppContext, pass_app

log = logging.getLogger(__name__)
_paths = click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
_pbx = click.option("--pbx", default=None, help="PBX name of settings.toml [default: the first].")


@click.group()
def ingest() -> None:
    """Import switchboard calls from PBX files (CDR, queue_log, CEL, other CSV)."""


_again = click.option("--again", is_flag=True,
                      help="Import files already imported (after a change of sites.toml): their "
                           "calls are read anew and merged, the earlier batch's rejects replaced.")

def _importer_choice(command: Callable[..., None]) -> Callable[..., None]:
    """`--reference` chooses the line-by-line importer; `--columnar` (the default since the
    columnar importers follow the same rules) is kept for the scripts that pass it."""
    command = click.option(
        "--columnar", "columnar_flag", is_flag=True, hidden=True,
        envvar="QUALIPHONE_COLUMNAR_IMPORT",
        help="The columnar importer (the default; kept for older scripts).")(command)
    return click.option(
        "--reference", is_flag=True, envvar="QUALIPHONE_REFERENCE_IMPORT",
        help="Read the file line by line (the reference importer) instead of as columns; both "
             "store the same; a file larger than the memory budget (capture.import_memory_mb) "
             "is read line by line anyway "
             "[env QUALIPHONE_REFERENCE_IMPORT=1].")(command)


def _run_imports(app: AppContext, kind: str, paths: tuple[Path, ...], parser: Parser | FileParser,
                 pbx: str | None, again: bool = False) -> None:
    try:
        ctx = CaptureContext.create(app.config, pbx)
    except RecordError as exc:
        raise click.UsageError(str(exc)) from None
    for path in paths:
        if not path.is_file():
            reason = "is a directory; give the file inside it" if path.is_dir() else \
                "no such file; check the path"
            raise click.ClickException(f"{path}: {reason}")
    results: list[BatchResult] = []
    refused: list[str] = []
    console = Console(stderr=True)
    total = sum(p.stat().st_size for p in paths)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task(f"import {kind}", total=total)
        for path in paths:
            progress.update(task, description=f"{kind} {path.name}")
            try:
                with _named_in_log(path):
                    results.append(run_batch(app.store, kind, path, parser, ctx,
                                             on_bytes=lambda n: progress.advance(task, n),
                                             again=again))
            except SourceFileError as exc:  # unreadable, damaged or of another kind: refused
                refused.append(str(exc))
            except RecordError as exc:  # a file-level problem, e.g. a header not as mapped
                refused.append(f"{path}: {exc}")
            except sa.exc.DBAPIError:
                raise  # the store itself: one line for the whole command (qualiphone.cli)
            except Exception as exc:  # a fault of the importer: this file only, the rest go on
                log.info("importing %s failed", path, exc_info=True)
                reason = (str(exc).strip().splitlines() or [""])[0][:200]
                refused.append(f"{path}: the import stopped on an unexpected error "
                               f"({type(exc).__name__}: {reason}); nothing of this file was "
                               "stored, the other files were imported. Run it again with -v to "
                               "see where, and report it")
    for r in results:
        _summary(r, app.config.directory)
        _gap_warning(r)
    if refused:  # the other files are imported; the exit status says that some were not
        for message in refused[:-1]:
            click.echo(f"Error: {message}", err=True)
        raise click.ClickException(refused[-1])


@contextmanager
def _named_in_log(path: Path) -> Iterator[None]:
    """The importers' log lines (warnings) name the file being imported."""
    def named(record: logging.LogRecord) -> bool:
        if record.name.startswith("ingest."):
            record.msg, record.args = f"{path}: {record.getMessage()}", ()  # (a % in the path)
        return True

    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(named)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(named)


def _summary(r: BatchResult, config_dir: Path | None = None) -> None:
    if r.skipped_as is not None:
        click.echo(f"{r.path}: already imported as batch {r.skipped_as} (same checksum); "
                   "nothing added (after a change of sites.toml, --again reads it anew)")
        return
    c = r.counts
    click.echo(
        f"{r.path}: batch {r.batch_id}: read {r.rows_read} lines, {r.calls_seen} calls: "
        f"imported {c.imported}, merged {c.merged}, duplicates {c.duplicates}, "
        f"rejected {r.rejected} ({r.seconds:.1f} s)"
    )
    if r.replaced:
        click.echo(f"  {r.replaced} lines had bytes that are not UTF-8 or NUL bytes (kept, shown "
                   "as \ufffd)")
    if r.counts.split:
        apart = r.counts.split
        examples = ", ".join(f'line {line}: "{key}" -> "{new}"'
                             for line, key, new in r.split_examples)
        click.echo(f"  {apart} call{'s' if apart > 1 else ''} had the id of another call (another "
                   f"arrival): stored apart as ID@ARRIVAL, e.g. {examples}; two calls of the PBX "
                   "share an id")
    if r.held is not None:
        click.echo(f"  held back line {r.held.number} ({r.held.size} bytes): it has no end of "
                   "line yet (the PBX is writing it); it is read when the file is imported "
                   "again after it grows (if the file is complete, end it with a newline)")
    if r.in_progress:
        n = r.in_progress
        click.echo(f"  {n} of the rejects {'are calls' if n > 1 else 'is a call'} whose end "
                   "is not in the file yet (still ringing or waiting, or a row still being "
                   "written): not counted yet, never as abandons; importing the file again "
                   f"once it has grown, or the next one, stores {'them' if n > 1 else 'it'}")
    if r.gaps.outbound:
        n = r.gaps.outbound
        click.echo(f"  {n} of the rejects {'are calls' if n > 1 else 'is a call'} of no site that "
                   "look internal or outbound (placed from a phone, or dialed out through a "
                   "trunk): nothing to add to the directory; kept in case the device that placed "
                   f"{'them' if n > 1 else 'it'} is a trunk")
    if r.rejected:
        click.echo(f"  list the rejected records: qualiphone ingest rejects --batch {r.batch_id}")
    if r.skipped:
        reasons = ", ".join(f"{n}\u00d7 {reason}" for reason, n in r.skipped_reasons.most_common(5))
        shown = sum(r.skipped_reasons.values())  # reasons past MAX_SKIP_REASONS are only counted
        more = "…" if len(r.skipped_reasons) > 5 or shown < r.skipped else ""
        sites = (config_dir / "sites.toml") if config_dir is not None else Path("sites.toml")
        click.echo(
            f"  skipped {r.skipped} calls of no configured switchboard (internal, outbound or "
            f"other services' calls): {reasons}{more}; if that is unexpected, check the dids, "
            f"queues and contexts in {sites}"
        )
        no_site = sum(n.calls for key, n in r.gaps.misses.items() if not key[3])
        if no_site > r.calls_seen:
            click.echo(f"  warning: most calls of {r.path} matched no site: qualiphone sites learn "
                       f"{r.path} proposes the directory from what the PBX wrote", err=True)


def _gap_warning(r: BatchResult) -> None:
    """Name what the site directory could not place, and the command that proposes the fix."""
    findings = r.gaps.findings() if r.skipped_as is None else []
    if not findings:
        return
    lines = [f"  warning: the site directory (sites.toml) is incomplete for {r.path}; the figures "
             'of these calls are marked "directory incomplete", never counted as abandons:']
    lines.extend(f"    {line}" for line in findings)
    lines.append(f"  propose the fix: qualiphone sites learn {r.path}   (then: qualiphone sites check)")
    click.echo("\n".join(lines), err=True)


@ingest.command()
@_paths
@_pbx
@click.option("--layout", type=click.Choice(CDR_LAYOUTS), default=None,
              help="Column layout [default: cdr_layout of the PBX in settings.toml].")
@click.option("--gmt/--local-time", "usegmtime", default=None,
              help="Times are UTC (cdr.conf usegmtime=yes) or the PBX's local time "
                   "[default: cdr_usegmtime of the PBX].")
@_again
@_importer_choice
@pass_app
def cdr(app: AppContext, paths: tuple[Path, ...], pbx: str | None, layout: str | None,
        usegmtime: bool | None, again: bool, reference: bool, columnar_flag: bool) -> None:
    """Import Asterisk cdr_csv files (Master.csv), 16 to 21 columns.

    \b
    Example:
      qualiphone ingest cdr /var/log/asterisk/cdr-csv/Master.csv
    """
    settings = app.config.pbxs.get(pbx or next(iter(app.config.pbxs)))
    layout = layout or (settings.cdr_layout if settings else "auto")
    gmt = usegmtime if usegmtime is not None else bool(settings and settings.cdr_usegmtime)
    parser: Parser | FileParser
    if reference:
        from ingest.cdr import parse_cdr

        parser = functools.partial(parse_cdr, layout=layout, usegmtime=gmt)
    else:
        from ingest.columnar.cdr import ColumnarCdr

        parser = ColumnarCdr(layout, gmt)
    _run_imports(app, "cdr", paths, parser, pbx, again)


@ingest.command("queue-log")
@_paths
@_pbx
@_again
@_importer_choice
@pass_app
def queue_log(app: AppContext, paths: tuple[Path, ...], pbx: str | None, again: bool,
              reference: bool, columnar_flag: bool) -> None:
    """Import Asterisk queue_log files.

    \b
    Example:
      qualiphone ingest queue-log /var/log/asterisk/queue_log
    """
    parser: Parser | FileParser
    if reference:
        from ingest.queue_log import parse_queue_log

        parser = parse_queue_log
    else:
        from ingest.columnar.queue_log import ColumnarQueueLog

        parser = ColumnarQueueLog()
    _run_imports(app, "queue_log", paths, parser, pbx, again)


@ingest.command()
@_paths
@_pbx
@_again
@_importer_choice
@click.option("--psql", is_flag=True,
              help="The files are psql dumps of a CEL table (cel_odbc / cel_pgsql: `psql -c "
                   "'SELECT * FROM cel'` output, a header then rows separated by |), read line "
                   "by line.")
@click.option("--table-times", type=click.Choice(CEL_TABLE_TIMES), default=None,
              help="With --psql: how eventtimes written without an offset are read: UTC, local "
                   "time in the PBX's zone, or auto (told by the CHAN_START rows against their "
                   "uniqueid) [default: cel_table_times of the PBX, auto].")
@pass_app
def cel(app: AppContext, paths: tuple[Path, ...], pbx: str | None, again: bool,
        reference: bool, columnar_flag: bool, psql: bool, table_times: str | None) -> None:
    """Import CEL records written by cel_custom as CSV (the most precise batch source), or
    psql dumps of a CEL table with --psql.

    \b
    Examples:
      qualiphone ingest cel /var/log/asterisk/cel-custom/Master.csv
      qualiphone ingest cel --psql cel-2026-10.txt
    """
    parser: Parser | FileParser
    if psql:
        from ingest.cel import parse_cel_table

        parser = functools.partial(parse_cel_table, times=table_times)
    elif reference:
        from ingest.cel import parse_cel

        parser = parse_cel
    else:
        from ingest.columnar.cel import ColumnarCel

        parser = ColumnarCel()
    _run_imports(app, "cel", paths, parser, pbx, again)


@ingest.command()
@_paths
@_pbx
@click.option("--mapping", required=True, help="Name of a [csv.NAME] mapping in csv_mappings.toml.")
@_again
@pass_app
def csv(app: AppContext, paths: tuple[Path, ...], pbx: str | None, mapping: str, again: bool) -> None:
    """Import another PBX's CSV export through a column mapping declared in config.

    \b
    Example:
      qualiphone ingest csv --mapping example-export calls.csv
    """
    from ingest.generic_csv import load_mapping, parse_generic

    try:
        spec = load_mapping(app.config.directory / "csv_mappings.toml", mapping)
    except RecordError as exc:
        raise click.ClickException(str(exc)) from None
    _run_imports(app, "csv", paths, functools.partial(parse_generic, mapping=spec), pbx, again)


@ingest.command()
@click.option("--batch", "batch_id", type=int, required=True,
              help="The import batch to drop (qualiphone store batches lists them).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def drop(app: AppContext, batch_id: int, yes: bool) -> None:
    """Drop an import batch: its calls, rejected records and directory misses.

    The calls it merged into (also given by other files or by the listener) are rebuilt as the
    other batches give them; the calls only it gave are removed. The file can then be imported
    again (after fixing it, or with the right --pbx or --layout).

    \b
    Example:
      qualiphone ingest drop --batch 7
    """
    from ingest.drop import BatchError, describe_batch, drop_batch

    try:
        batch = describe_batch(app.store, batch_id)
        if not yes:
            click.confirm(f"Drop batch {batch_id} ({batch.kind}, {batch.path}: {batch.imported} "
                          f"calls imported, {batch.merged} merged, {batch.rejected} rejected)?",
                          abort=True)
        done = drop_batch(app.store, batch_id)
    except BatchError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"batch {batch_id} ({done.path}) dropped: {done.removed} calls removed, "
               f"{done.restored} calls restored as the other batches give them, {done.rejects} "
               f"rejected records and {done.misses} directory misses removed")


@ingest.command()
@click.option("--batch", "batch_id", type=int, default=None, help="Only this import batch.")
@click.option("--limit", type=int, default=200, show_default=True)
@pass_app
def rejects(app: AppContext, batch_id: int | None, limit: int) -> None:
    """List rejected records with their file, line and reason.

    \b
    Example:
      qualiphone ingest rejects --batch 3
    """
    r = rejected_records.c
    query = sa.select(rejected_records).order_by(r.batch_id, r.line, r.id).limit(limit)
    if batch_id is not None:
        query = query.where(rejected_records.c.batch_id == batch_id)
    table = Table()
    for col in ("batch", "file", "line", "reason", "raw"):
        table.add_column(col, overflow="fold")
    with app.store.engine.connect() as conn:
        rows = conn.execute(query).all()
    for row in rows:
        table.add_row(str(row.batch_id), escape(row.path), str(row.line or ""), escape(row.reason),
                      escape(row.raw[:200]))
    if not rows:
        click.echo("no rejected records" + (f" in batch {batch_id}" if batch_id else ""))
        return
    Console(width=160).print(table)
