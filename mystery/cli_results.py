"""`qualiphone mystery record | import | match | report`: results in, report out."""

from __future__ import annotations

from pathlib import Path

import click

from mystery.captured import match_campaign
from mystery.cli_common import ERRORS, campaign_id
from mystery.form import run_form
from mystery.results_import import import_results
from qualiphone.context import AppContext, friendly_errors, pass_app


@click.command()
@click.argument("call_id")
@click.option("--scorer", default=None, help="Who scores [default: the planned caller].")
@click.option("--second", is_flag=True, help="Second scorer of a double-scored call.")
@click.option("--redo", is_flag=True, help="Ask every question again, stored answers as defaults.")
@pass_app
@friendly_errors(*ERRORS)
def record(app: AppContext, call_id: str, scorer: str | None, second: bool, redo: bool) -> None:
    """Score a call in the terminal (French form), one question at a time; resumable.

    Each answer is saved as soon as it is given: run the command again to finish a form.

    \b
    Example:
      qualiphone mystery record EPS26-05-003
      qualiphone mystery record EPS26-05-003 --second --scorer "K. Benali"
    """
    run_form(app.store, app.config, call_id.strip().upper(), role="second" if second else "primary",
             scorer=scorer, redo=redo)


@click.command("import")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite results already stored for the same call.")
@pass_app
@friendly_errors(*ERRORS)
def import_command(app: AppContext, results: Path, replace: bool) -> None:
    """Import scored calls from a CSV (paper forms typed in, an external survey firm).

    Columns: call_id, outcome, and optionally role (primary|second), scorer, attempts, called_at
    (local YYYY-MM-DD HH:MM), comment, then one column per criterion id (oui/non, 1-4, seconds,
    SO for "sans objet"). `qualiphone mystery plan` writes a template. Bad lines are refused
    with their reason; the others are imported.

    \b
    Example:
      qualiphone mystery import resultats-eps-2026.csv
    """
    summary = import_results(app.store, app.config, results, replace=replace)
    for reject in summary.rejected:
        click.echo(f"{results}: line {reject.line}: {reject.reason}", err=True)
    click.echo(f"{results}: {summary.lines} results read: imported {summary.imported}, replaced "
               f"{summary.replaced}, unchanged {summary.unchanged}, refused {len(summary.rejected)}")


@click.command()
@click.argument("campaign")
@click.option("--rematch", is_flag=True, help="Match again results already matched.")
@pass_app
@friendly_errors(*ERRORS)
def match(app: AppContext, campaign: str, rematch: bool) -> None:
    """Find each mystery call's own captured call; its time to answer is the PBX's pickup time.

    Only a call from one of the campaign's caller lines (`lines` of each [[caller]],
    `caller_lines`), or marked as a test by the PBX, is attached; the closest in time at the same
    site wins. Every result left unmatched or ambiguous is listed with the reason.

    \b
    Example:
      qualiphone mystery match eps-2026
    """
    result = match_campaign(app.store, app.config, campaign_id(app, campaign), rematch=rematch)
    click.echo(f"matched {result.matched} of {result.looked} results to their own captured call "
               "(a campaign caller line or a test call, same site, closest in time)")
    for call_id, reason in result.ambiguous:
        click.echo(f"  ambiguous {call_id}: {reason}")
    for call_id, reason in result.unmatched:
        click.echo(f"  unmatched {call_id}: {reason}")


@click.command()
@click.argument("campaign")
@click.option("--compare", "previous", default=None, metavar="PREVIOUS",
              help="An earlier campaign id: year-over-year change and its open actions.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory [default: ./mystery-CAMPAIGN].")
@pass_app
@friendly_errors(*ERRORS)
def report(app: AppContext, campaign: str, previous: str | None, out: Path | None) -> None:
    """Write the campaign report (PDF, HTML and XLSX, French) after matching captured calls.

    \b
    Example:
      qualiphone mystery report eps-2026 --compare eps-2025 --out campagne-2026/
    """
    from mystery.analysis import analyse, overall
    from mystery.report_pdf import write_report
    from mystery.report_xlsx import write_report_xlsx

    cid = campaign_id(app, campaign)
    prev = campaign_id(app, previous) if previous else None
    matching = match_campaign(app.store, app.config, cid)
    analysis = analyse(app.store, app.config, cid, prev)
    directory = out or Path(f"mystery-{cid}")
    directory.mkdir(parents=True, exist_ok=True)
    pdf, html, xlsx = (directory / f"rapport-{cid}.{ext}" for ext in ("pdf", "html", "xlsx"))
    write_report(analysis, pdf, html)
    write_report_xlsx(analysis, xlsx)
    o = overall(analysis)
    score = "no scored call yet" if o["score10"] is None else f"mean score {o['score10']:.1f}/10"
    click.echo(f"{o['scored']} of {o['planned']} calls scored, {score}, {o['sites_meeting']} of "
               f"{o['sites']} sites at the required level; matched {matching.matched} new of "
               f"{matching.looked} results to their captured calls"
               + (f" ({len(matching.unmatched) + len(matching.ambiguous)} left unmatched: "
                  f"qualiphone mystery match {cid})" if matching.unmatched or matching.ambiguous
                  else ""))
    click.echo(f"wrote {pdf}\nwrote {html}\nwrote {xlsx}")
