"""`qualiphone mystery call`: place a planned call through AMI, measure it, open the form."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ingest.ami.cli import SECRET_ENV, parse_address, read_secret
from ingest.finalize import CaptureContext
from ingest.records import RecordError
from mystery.cli_common import ERRORS
from mystery.exports import format_number
from mystery.form import run_form
from mystery.repository import UnknownCall, planned_call, stored_campaign
from mystery.scoring import Outcome
from qualiphone.context import AppContext, FiniteFloatRange, friendly_errors, pass_app

if TYPE_CHECKING:
    from mystery.call import Measure

DEFAULT_CONTEXT = "mystery-out"  # mystery.call.DEFAULT_CONTEXT (imported late: AMI, scipy)


# What the PBX saw, for this command's English log lines (the French labels are the form's).
OUTCOME_TEXT = {
    Outcome.ANSWERED: "answered by a person", Outcome.NO_ANSWER: "no answer",
    Outcome.BUSY: "busy", Outcome.MESSAGE: "answered by a recorded message",
    Outcome.VOICEMAIL: "voicemail", Outcome.FAILED: "wrong or out-of-service number",
    Outcome.NOT_MADE: "call not made",
}


def _describe(measure: Measure) -> str:
    if measure.outcome is None:
        return f"outcome unknown ({measure.detail})"
    text = OUTCOME_TEXT[measure.outcome]
    if measure.ring_seconds is not None:
        text += f" after {measure.ring_seconds:.1f} s of ringing (PBX)"
    return text + (f"; {measure.detail}" if measure.detail else "")


@click.command("call")
@click.argument("call_id")
@click.option("--ami", "address", required=True, metavar="HOST:PORT",
              help="The PBX's manager interface, e.g. 127.0.0.1:5038.")
@click.option("--ami-user", required=True, metavar="NAME", help="AMI user (manager.conf section).")
@click.option("--ami-secret-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"File holding the secret, mode 600 [default: env {SECRET_ENV}].")
@click.option("--context", default=DEFAULT_CONTEXT, show_default=True,
              help="Dialplan context that dials the EPS number (Exten) once the caller answers.")
@click.option("--caller-id", default=None, metavar="NUMBER",
              help="Number the mystery call presents to the switchboard (to find the inbound "
                   "leg when the call goes out and comes back).")
@click.option("--pbx", default=None, help="PBX name of settings.toml [default: the first].")
@click.option("--scorer", default=None, help="Who scores [default: the planned caller].")
@click.option("--max-wait", type=FiniteFloatRange(min=1), default=3600.0, show_default=True,
              metavar="SECONDS", help="Stop following the call after SECONDS.")
@click.option("--no-form", is_flag=True, help="Do not open the scoring form afterwards.")
@pass_app
@friendly_errors(*ERRORS)
def call_command(app: AppContext, call_id: str, address: str, ami_user: str,
                 ami_secret_file: Path | None, context: str, caller_id: str | None,
                 pbx: str | None, scorer: str | None, max_wait: float, no_form: bool) -> None:
    """Place a planned mystery call through AMI Originate and measure its ring time.

    The caller's own phone (the campaign's `phone`) rings first; once picked up, the PBX
    continues at CONTEXT with the EPS number as extension. Account "mystery" keeps the call out
    of production figures. The ring time to a person answering is measured from the PBX's
    events and stored with the result; then the scoring form opens (see `mystery record`).
    Needs an AMI user with read = call and write = originate.

    \b
    Example:
      QUALIPHONE_AMI_SECRET=... qualiphone mystery call EPS26-05-003 \\
          --ami 127.0.0.1:5038 --ami-user mystere
    """
    from mystery.call import MysteryCallError

    try:
        _call(app, call_id.strip().upper(), address, ami_user, ami_secret_file, context,
              caller_id, pbx, scorer, max_wait, no_form)
    except MysteryCallError as exc:
        raise click.ClickException(str(exc)) from None


def _call(app: AppContext, call_id: str, address: str, ami_user: str,
          ami_secret_file: Path | None, context: str, caller_id: str | None, pbx: str | None,
          scorer: str | None, max_wait: float, no_form: bool) -> None:
    """Place, measure, store; then the form."""
    from mystery.call import MysteryCallError, make_request, next_attempt, run_call, store_measure

    host, port = parse_address(address)
    secret = read_secret(ami_secret_file)
    with app.store.engine.connect() as conn:
        planned = planned_call(conn, call_id)
    if planned is None:
        raise UnknownCall(call_id)
    campaign, _ = stored_campaign(app.store, planned.campaign_id, app.config)
    caller = next(c for c in campaign.callers if c.id == planned.caller)
    if not caller.phone:
        raise MysteryCallError(f'caller "{caller.id}" has no phone in the campaign: set its '
                               "phone device (e.g. PJSIP/qualite-01) to place calls through AMI")
    try:
        ctx = CaptureContext.create(app.config, pbx)
    except RecordError as exc:
        raise click.UsageError(str(exc)) from None
    attempt = next_attempt(app.store, campaign, planned)
    request = make_request(planned, caller.phone, attempt, context=context, caller_id=caller_id,
                           ring_limit=campaign.ring_limit_seconds)
    click.echo(f"{call_id} (try {attempt}): ringing {caller.phone} ({caller.name}), then "
               f"{format_number(planned.number)}; ChannelId {request.channel_id}")
    measure = run_call(ctx, request, host=host, port=port, username=ami_user, secret=secret,
                       max_wait=max_wait)
    click.echo(f"{call_id}: {_describe(measure)}")
    if measure.outcome is not None:
        store_measure(app.store, campaign, planned, measure, attempt, scorer or planned.caller)
        click.echo(f"{call_id}: stored as a mystery call (source ami, try {attempt}"
                   + (f", linkedid {measure.linkedid})" if measure.linkedid else ")"))
    elif no_form:
        raise MysteryCallError(f"nothing stored for {call_id}: record what happened with "
                               f"qualiphone mystery record {call_id}")
    if not no_form:
        run_form(app.store, app.config, call_id, scorer=scorer)
