"""Which observed calls came from outside (inbound), before any site is given to them.

The rules (ingest.call_direction names the devices): a trunk is a device named as one, a device
an outside number was dialed through, or the caller of calls that arrive in an inbound context
(named so, or listed in sites.toml); an internal device is one named as such (console, Local,
an extension-named phone), a staff device of the directory, a device that rang or answered
calls from a trunk, or the caller of calls that go out through a trunk. A call placed from an
internal device, or that leaves through a trunk while its caller is no trunk, is set aside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingest.call_direction import inbound_context, internal_by_name, trunk_by_name

OUTBOUND = "outbound (going out through a trunk)"
INTERNAL = "internal (placed from an internal device)"


@dataclass
class Directions:
    trunks: set[str] = field(default_factory=set)
    internal: set[str] = field(default_factory=set)

    def set_aside(self, caller: str, connected: Iterable[str], dialed_out: Iterable[str]) -> str | None:
        """Why a call is no inbound call (OUTBOUND, INTERNAL), or None when it may be one."""
        if caller in self.trunks:
            return None
        if any(d in self.trunks for d in connected) or any(True for _ in dialed_out):
            return OUTBOUND
        if caller in self.internal:
            return INTERNAL
        return None


# one observed call: (caller device, its contexts, devices connected or rung, trunks dialed)
Seen = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def directions(calls: Iterable[Seen], is_staff: Callable[[str], bool],
               inbound_contexts: set[str]) -> Directions:
    seen = list(calls)
    out = Directions()
    for caller, _, connected, dialed_out in seen:
        out.trunks.update(dialed_out)
        out.trunks.update(d for d in (caller, *connected) if d and trunk_by_name(d))
    for caller, contexts, _, _ in seen:
        if caller and contexts and not internal_by_name(caller) and not is_staff(caller) and \
                (inbound_context(contexts[0]) or contexts[0] in inbound_contexts):
            out.trunks.add(caller)
    for caller, _, connected, _ in seen:
        if caller in out.trunks:
            out.internal.update(d for d in connected if d and d not in out.trunks)
    for caller, _, connected, dialed_out in seen:
        if caller and caller not in out.trunks and (
                internal_by_name(caller) or is_staff(caller) or any(True for _ in dialed_out)
                or any(d in out.trunks for d in connected)):
            out.internal.add(caller)
    return out
