"""Placing actions that must never be replayed (reference §9), shared by the probes and the
mystery calls: wait for the login, then send an Originate exactly once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ingest.ami.client import ActionFailed, AmiClient, AmiError, ConnectionLost


class LoginTimeout(AmiError):
    """No logged-in session within the allowed time; the message says what to check."""


async def wait_logged_in(client: AmiClient, seconds: float) -> None:
    """Return once `client` is logged in, or raise LoginTimeout naming the likely cause."""
    try:
        await asyncio.wait_for(client.connected.wait(), seconds)
    except TimeoutError:
        if client.stats.wrong_servers:
            why = client.last_failure or "not an Asterisk manager interface"
        elif client.stats.logins_refused:
            why = "login refused: check --ami-user and the secret"
        else:
            why = "no connection: check --ami and that the PBX accepts this host"
        raise LoginTimeout(f"cannot log in to the AMI at {client.address} within "
                           f"{seconds:.0f} s ({why})") from None


@dataclass(frozen=True)
class Sent:
    """What became of one Originate: acknowledged, refused, or of unknown fate."""

    action_id: str | None  # the acknowledged ActionID; None when there is no acknowledgement
    went_out: bool  # the action may have reached the PBX (so it must not be sent again)
    detail: str = ""  # why there is no acknowledgement


async def originate_once(client: AmiClient, pairs: list[tuple[str, str]],
                         fields: dict[str, object]) -> Sent:
    """Send an Originate once and classify the outcome; never re-sent after a lost connection."""
    try:
        ack = await client.send_action("Originate", *pairs, timeout=10.0, **fields)
    except ActionFailed as exc:
        return Sent(None, False, f"the PBX refused the Originate: {exc}")
    except ConnectionLost as exc:
        if str(exc).startswith("not connected"):  # dropped before it was written
            return Sent(None, False, "not sent: the AMI connection is down")
        return Sent(None, True, "fate unknown: the AMI connection was lost after the Originate "
                                "(not re-sent)")
    except TimeoutError:
        return Sent(None, True, "fate unknown: no reply to the Originate (not re-sent)")
    return Sent(ack.action_id or "", True)
