"""Which site a call belongs to, and which devices are staff phones or message applications."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from config import Config, Site
from monitor.pseudonym import normalize_number

MIN_DID_DIGITS = 6  # a dialed number this long is a DID (a public number); shorter: an extension
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]{8}(;[12])?$|-[0-9a-fA-F]{1,8}(;[12])$")


def device_of(channel: str | None) -> str:
    """A channel's device: the channel name without Asterisk's -xxxxxxxx suffix and ;1/;2."""
    if not channel:
        return ""
    return _CHANNEL_SUFFIX.sub("", channel.strip())


def looks_like_did(dialed: str | None) -> bool:
    """A dialed number that looks like a DID (digits, maybe a leading +), not an extension."""
    digits = (dialed or "").removeprefix("+")
    return digits.isdigit() and len(digits) >= MIN_DID_DIGITS


@dataclass
class SiteMap:
    """Lookups from PBX identifiers to the site that owns them, for one PBX."""

    pbx: str
    by_did: dict[str, str] = field(default_factory=dict)
    by_queue: dict[str, str] = field(default_factory=dict)
    by_context: dict[str, str] = field(default_factory=dict)
    message_contexts: dict[str, str] = field(default_factory=dict)
    voicemail_contexts: dict[str, str] = field(default_factory=dict)
    _staff: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    @classmethod
    def build(cls, config: Config, pbx: str) -> SiteMap:
        m = cls(pbx)
        for site in config.sites:
            if site.pbx != pbx:
                continue
            for did in (*site.dids, *site.numbers):
                m.by_did[did] = site.id
                e164 = normalize_number(did)
                if e164:
                    m.by_did.setdefault(e164, site.id)
            m.by_queue.update(dict.fromkeys(site.queues, site.id))
            m.by_context.update(dict.fromkeys(site.contexts, site.id))
            m.message_contexts.update(dict.fromkeys(site.message_contexts, site.id))
            m.voicemail_contexts.update(dict.fromkeys(site.voicemail_contexts, site.id))
            m._staff.extend((re.compile(fnmatch.translate(p)), site.id) for p in site.staff_devices)
        return m

    def site_for(self, *, dialed: str | None = None, queue: str | None = None,
                 context: str | None = None) -> str | None:
        """The site named by a queue, else a dialed number, else a dialplan context."""
        if queue and queue in self.by_queue:
            return self.by_queue[queue]
        if dialed:
            site = self.by_did.get(dialed) or self.by_did.get(normalize_number(dialed) or "")
            if site:
                return site
        if context:
            return (self.by_context.get(context) or self.message_contexts.get(context)
                    or self.voicemail_contexts.get(context))
        return None

    def staff_site(self, channel: str | None) -> str | None:
        """The site whose staff device this channel is, or None when it is no staff phone."""
        device = device_of(channel)
        if not device:
            return None
        for pattern, site in self._staff:
            if pattern.match(device):
                return site
        return None

    def is_staff(self, channel: str | None) -> bool:
        return self.staff_site(channel) is not None


def describe_site(site: Site) -> str:
    return f"{site.id} ({site.name})"
