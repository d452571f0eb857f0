"""`qualiphone alerts check | test | list`."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import click

from alerts.delivery import AlertSecretError
from alerts.settings import AlertsOff, Rule
from config import Config, ConfigError, UnknownSite
from qualiphone.context import AppContext, format_option, friendly_errors, pass_app

FIRING_EXIT = 3  # `check`: at least one alert fires (same status as `afterhours probe`'s alert)
ERRORS = (ConfigError, UnknownSite, AlertsOff, AlertSecretError)


@click.group()
def alerts() -> None:
    """Alerts by e-mail, webhook and the log (rules in alerts.toml)."""


def resolve_month(value: str, config: Config, today: dt.date | None = None) -> str:
    """"YYYY-MM", or "current" / "previous" (the sites' local calendar)."""
    if value in ("current", "previous"):
        tz = next(iter(config.pbxs.values())).tz if config.pbxs else None
        day = today or dt.datetime.now(tz).date()
        if value == "previous":
            day = day.replace(day=1) - dt.timedelta(days=1)
        return f"{day:%Y-%m}"
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise click.BadParameter(f'"{value}" is not a month; use YYYY-MM (e.g. 2026-10), current '
                                 "or previous", param_hint="--month")
    return value


def _deliveries(sent: Any) -> list[dict[str, Any]]:
    return [{"channel": d.channel, "target": d.target, "ok": d.ok, "attempts": d.attempts,
             "detail": d.detail} for d in sent.deliveries]


def _check_json(month: str, dry_run: bool, outcome: Any) -> None:
    by_subject = {(s.notice.rule, s.notice.subject): s for s in outcome.sent}
    firing = []
    for f in outcome.firing:
        sent = by_subject.get((f.rule.value, f.subject))
        firing.append({"rule": f.rule.value, "subject": f.subject, "site": f.site, "summary": f.summary,
                       "title": f.title, "data": f.data,
                       "notice": sent.notice.kind.value if sent else ("none" if dry_run else "held"),
                       "deliveries": _deliveries(sent) if sent else []})
    cleared = [{"rule": s.notice.rule, "subject": s.notice.subject, "site": s.notice.site,
                "text": s.notice.text, "deliveries": _deliveries(s)} for s in outcome.cleared]
    click.echo(json.dumps({"month": month, "dry_run": dry_run, "firing": firing, "cleared": cleared,
                           "not_evaluated": outcome.notes}, ensure_ascii=False, indent=2))


def _how(sent: Any) -> str:
    parts = [f"{d.channel} {'ok' if d.ok else 'FAILED'}" for d in sent.deliveries]
    return f"{sent.notice.kind.value}: " + (", ".join(parts) or "no channel")


def _check_table(month: str, dry_run: bool, outcome: Any) -> None:
    by_subject = {(s.notice.rule, s.notice.subject): s for s in outcome.sent}
    click.echo(f"Alerts check, {month}" + (" (dry run: nothing sent or stored)" if dry_run else ""))
    for f in outcome.firing:
        sent = by_subject.get((f.rule.value, f.subject))
        how = _how(sent) if sent else ("" if dry_run else "within the cooldown: not sent again")
        click.echo(f"FIRING   {f.rule.value:<20} {f.subject:<16} {f.summary}" + (f"  [{how}]" if how else ""))
    for s in outcome.cleared:
        click.echo(f"CLEARED  {s.notice.rule:<20} {s.notice.subject:<16} [{_how(s)}]")
    for rule, note in outcome.notes.items():
        click.echo(f"{rule}: {note}")
    new = sum(1 for s in outcome.sent if s.notice.kind.value == "fired")
    again = sum(1 for s in outcome.sent if s.notice.kind.value == "repeat")
    n = len(outcome.firing)
    click.echo(f"{n} alert{'s' if n != 1 else ''} firing ({new} new, {again} reminders, "
               f"{len(outcome.held)} within the cooldown), {len(outcome.cleared)} cleared.")


@alerts.command()
@click.option("--month", "month_text", default="current", show_default=True,
              metavar="YYYY-MM|current|previous", help="The month the month rule judges.")
@click.option("--dry-run", is_flag=True, help="Only list what fires: send and store nothing.")
@format_option("table", "json")
@pass_app
@friendly_errors(*ERRORS)
def check(app: AppContext, month_text: str, dry_run: bool, fmt: str) -> None:
    """Evaluate the scheduled rules and send what is due: a month below target, an after-hours
    probe failed twice in a row, a directory gap.

    Each alert is sent (e-mail, webhook, log) once when it fires, again at most every cooldown
    while it fires, and once more when it clears; everything is stored (`alerts list`). For a
    systemd timer: exit status 0 when nothing fires, 3 when at least one alert fires (sent now
    or within its cooldown), 1 on an error, 2 on a usage error.

    \b
    Example:
      qualiphone alerts check --month 2026-10
      qualiphone alerts check --month previous --format json
    """
    from alerts.delivery import build_channels
    from alerts.directory import store_gaps
    from alerts.engine import Dispatcher, scheduled_evaluations
    from alerts.settings import load_alerts

    month = resolve_month(month_text, app.config)
    settings = load_alerts(app.config)
    channels = [] if dry_run else build_channels(settings)
    evaluations = scheduled_evaluations(app.store, app.config, settings, month,
                                        directory_gaps=store_gaps(app.store, app.config, month))
    outcome = Dispatcher(app.store, settings, channels).process(evaluations, dry_run=dry_run)
    (_check_json if fmt == "json" else _check_table)(month, dry_run, outcome)
    if outcome.firing:
        raise SystemExit(FIRING_EXIT)


@alerts.command()
@click.option("--site", default=None, metavar="SITE",
              help="Address the test to this site's recipients too (email.sites).")
@pass_app
@friendly_errors(*ERRORS)
def test(app: AppContext, site: str | None) -> None:
    """Send a test message through every enabled channel and say what each did.

    Exit status 1 when a channel failed.

    \b
    Example:
      QUALIPHONE_SMTP_PASSWORD=... qualiphone alerts test --site eps-13
    """
    from alerts.delivery import build_channels
    from alerts.engine import Dispatcher
    from alerts.settings import load_alerts

    name = app.config.site(site).name if site else ""
    settings = load_alerts(app.config)
    channels = build_channels(settings)
    if not channels:
        raise click.ClickException(f"no channel is enabled in {settings.path}: set [email] "
                                   "enabled = true, [webhook] enabled = true or [log] enabled = true")
    sent = Dispatcher(app.store, settings, channels).send_test(site, name)
    for d in sent.deliveries:
        click.echo(f"{d.channel:<8} {'ok' if d.ok else 'FAILED':<7} {d.target}"
                   + (f": {d.detail}" if d.detail else ""))
    if not any(c.name != "log" for c in channels):
        click.echo("only the log is enabled: set [email] or [webhook] enabled = true in "
                   f"{settings.path} to reach people")
    if not all(d.ok for d in sent.deliveries):
        raise SystemExit(1)


@alerts.command(name="list")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="YYYY-MM-DD",
              help="Only notices from that day on (UTC).")
@click.option("--site", default=None, metavar="SITE", help="Only this site's alerts.")
@click.option("--rule", type=click.Choice([r.value for r in Rule] + ["test"]), default=None,
              help="Only this rule's alerts.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@format_option("table", "json")
@pass_app
@friendly_errors(*ERRORS)
def list_(app: AppContext, since: dt.datetime | None, site: str | None, rule: str | None,
          limit: int, fmt: str) -> None:
    """The history: every notice sent (fired, repeat, cleared, test), newest first, with what
    each channel did.

    \b
    Example:
      qualiphone alerts list --since 2026-10-01 --site eps-13
    """
    from alerts.store import history

    start = since.replace(tzinfo=dt.UTC).timestamp() if since else None
    rows = history(app.store, since=start, site=site, rule=rule, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([r.as_json() for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No alert notices stored" + (" for this selection." if since or site or rule else "."))
        return
    for r in rows:
        when = dt.datetime.fromtimestamp(r.at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        sent = ", ".join(f"{d.channel} {'ok' if d.ok else 'FAILED'}" for d in r.deliveries) or "-"
        click.echo(f"{when}  {r.kind:<8} {r.rule:<20} {r.subject:<16} {r.summary}  [{sent}]")
