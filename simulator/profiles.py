"""The simulated switchboards: each site's shape, staffing and traffic, and the PBX constants.

Names (DID, queue, contexts, phone endpoints) come from config/sites.toml so that the simulated
files map to the configured sites; the traffic and staffing figures below are the model's own.
"""

from __future__ import annotations

import fnmatch
import re
import zlib
from dataclasses import dataclass

from config import Site

# app_queue / Dial settings of the simulated PBX
RING_TIMEOUT = 15.0  # queues.conf timeout: seconds a member rings
RETRY = 5.0  # queues.conf retry: pause before ringing again
RINGGROUP_TIMEOUT = 40.0  # Dial(...,40) of the plain ring groups
QUEUE_TIMEOUT = 600  # Queue() timeout argument; callers give up before
WELCOME_SECONDS = 7.2  # the welcome announcement before the queue
TEST_ACCOUNTCODE = "qualiphone-test"
TEST_CALLER = "0199009999"  # the probe's number
TRUNK = "PJSIP/trunk-paris"


class SimulationError(Exception):
    """The configuration cannot be simulated (the message says what to change)."""


@dataclass(frozen=True)
class SiteProfile:
    """Traffic and staffing of one simulated site."""

    calls_per_day: float  # expected calls on an average weekday (whole day, 24 h)
    agents: int
    shape: str = "queue"  # "queue" (std-XX with Local members) or "ringgroup" (plain Dial)
    strategy: str = "rrmemory"  # "rrmemory" or "ringall"
    welcome: bool = False  # Answer + Playback before the queue
    understaffed: bool = False
    p_absent: float = 0.05  # an agent is away the whole day
    pickup_median: float = 6.0  # seconds a present, free agent takes to pick up
    talk_median: float = 150.0
    away_per_hour: float = 0.5  # desk interruptions (visitors): phone rings unanswered
    p_transfer: float = 0.07
    max_waiting: int = 0  # queues.conf maxlen (0: one more than the agents)


def _understaffed(calls_per_day: float, agents: int) -> SiteProfile:
    """A chronically understaffed site: absences, slower pick-ups, longer calls, interruptions."""
    return SiteProfile(calls_per_day, agents, understaffed=True, p_absent=0.25,
                       pickup_median=9.0, talk_median=210.0, away_per_hour=1.0, max_waiting=3)


PROFILES: dict[str, SiteProfile] = {
    "eps-centre": SiteProfile(110, 3, welcome=True),
    "eps-05": SiteProfile(75, 2, strategy="ringall"),
    "eps-06": SiteProfile(65, 2, strategy="ringall"),
    "eps-07": SiteProfile(70, 2, shape="ringgroup"),
    "eps-08": SiteProfile(80, 3),
    "eps-09": SiteProfile(95, 3),
    "eps-10": SiteProfile(120, 4),
    "eps-11": SiteProfile(125, 3, strategy="ringall"),
    "eps-12": SiteProfile(115, 3),
    "eps-13": _understaffed(115, 2),
    "eps-14": SiteProfile(120, 3),
    "eps-15": SiteProfile(140, 4),
    "eps-16": SiteProfile(85, 3, shape="ringgroup"),
    "eps-17": SiteProfile(130, 4),
    "eps-18": _understaffed(145, 3),
    "eps-19": SiteProfile(140, 4),
    "eps-20": SiteProfile(150, 4),
}
DEFAULT_PROFILE = SiteProfile(100, 3)


@dataclass(frozen=True)
class SiteSetup:
    """A configured site with the PBX names the simulator uses for it."""

    site: Site
    profile: SiteProfile
    did: str
    context: str  # in-eps-05
    queue: str  # std-05
    message_context: str
    voicemail_context: str
    agents_context: str  # eps05-agents: where Local members and transfers dial phones
    phone_prefix: str  # PJSIP/eps05-
    seed_key: int  # stable per site id, mixed into the random streams

    def phone(self, ext: str) -> str:
        return f"{self.phone_prefix}{ext}"

    @property
    def welcome_sound(self) -> str:
        return f"{self.context.removeprefix('in-')}/bienvenue"

    @property
    def closed_sound(self) -> str:
        return f"{self.context.removeprefix('in-')}/fermeture"


def _code(site: Site) -> str:
    return site.id.removeprefix("eps-").replace("-", "")


def _agents_context(site: Site, code: str) -> str:
    for pattern in site.staff_devices:
        match = re.fullmatch(r"Local/\*@(.+)", pattern)
        if match:
            return match.group(1)
    return f"eps{code}-agents"


def _phone_prefix(site: Site, code: str) -> str:
    for pattern in site.staff_devices:
        if pattern.startswith("PJSIP/") and pattern.endswith("*") and "@" not in pattern:
            prefix = pattern[:-1]
            if not any(c in prefix for c in "*?["):
                return prefix
    return f"PJSIP/eps{code}-"


def site_setup(site: Site) -> SiteSetup:
    """The simulator's view of one configured site."""
    code = _code(site)
    setup = SiteSetup(
        site=site,
        profile=PROFILES.get(site.id, DEFAULT_PROFILE),
        did=site.dids[0] if site.dids else f"01990001{code[-2:]:0>2}",
        context=site.contexts[0] if site.contexts else f"in-{site.id}",
        queue=site.queues[0] if site.queues else f"std-{code}",
        message_context=site.message_contexts[0] if site.message_contexts else f"msg-{site.id}",
        voicemail_context=(site.voicemail_contexts[0] if site.voicemail_contexts
                           else f"vm-{site.id}"),
        agents_context=_agents_context(site, code),
        phone_prefix=_phone_prefix(site, code),
        seed_key=zlib.crc32(site.id.encode()),
    )
    staff = site.staff_devices
    if staff and not any(fnmatch.fnmatch(setup.phone("201"), p) for p in staff):
        raise SimulationError(
            f'site "{site.id}": the simulated phone "{setup.phone("201")}" matches none of its '
            f"staff_devices {list(staff)}; add a PJSIP/<prefix>-* pattern to that site"
        )
    return setup
