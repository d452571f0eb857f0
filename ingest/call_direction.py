"""Which way a call went, from device names and dial strings alone (no site directory).

An inbound switchboard call arrives on a trunk: its caller channel is the trunk (named after
the provider, an IP address, or a trunk technology such as DAHDI), its first context is the
trunk's inbound context, and what it dialed is the public number. A call placed from an
internal device (a phone named after its extension, the console, a Local channel the PBX
originated) or that leaves through a trunk (Dial(TECH/peer/NUMBER), Dial(TECH/NUMBER@peer))
is internal or outbound: never a switchboard call, never evidence for the directory.
"""

from __future__ import annotations

import re

from ingest.site_map import MIN_DID_DIGITS, device_of

# technologies that only ever carry calls to or from outside (never a staff phone)
TRUNK_TECHS = frozenset({"dahdi", "zap", "misdn", "motif", "gtalk", "jingle", "skype", "ooh323",
                         "h323", "srx", "ss7", "bristuff", "capi", "woomera"})
_TRUNK_WORDS = re.compile(r"trunk|pstn|provider|gateway|operator|carrier", re.IGNORECASE)
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}(:\d+)?$")
# contexts where calls from outside arrive (FreePBX's from-trunk/from-pstn/from-did-direct,
# the usual incoming/inbound names, any context named after the PSTN or a trunk)
_INBOUND_CONTEXT = re.compile(
    r"pstn|trunk|from-?(external|outside|did|provider|operator|sip-external)|incoming|inbound"
    r"|ext-did", re.IGNORECASE)
_INTERNAL_TECHS = frozenset({"console", "local", "alsa", "oss", "phone"})


def trunk_by_name(device: str) -> bool:
    """A device whose name says it carries calls to or from outside."""
    tech, _, resource = device_of(device).partition("/")
    if not resource or tech.lower() == "local":
        return False
    return tech.lower() in TRUNK_TECHS or bool(_IP.match(resource)) or "@" in resource \
        or bool(_TRUNK_WORDS.search(resource))


def internal_by_name(device: str) -> bool:
    """A device whose name says it is inside the PBX: the console, a Local channel, a phone
    named after its extension (2 to MIN_DID_DIGITS - 1 digits: PJSIP/201, SIP/1500)."""
    tech, _, resource = device_of(device).partition("/")
    if not resource or trunk_by_name(device):
        return False
    if tech.lower() in _INTERNAL_TECHS:
        return True
    return resource.isdigit() and 2 <= len(resource) < MIN_DID_DIGITS


def inbound_context(context: str) -> bool:
    """A context named as the place where calls from outside arrive."""
    return bool(_INBOUND_CONTEXT.search(context or ""))


def dialed_out_through(dial_data: str) -> list[str]:
    """The devices a Dial() string reaches by dialing an outside number through them:
    `SIP/sipus1/13137572470` and `PJSIP/0153000005@trunk-ovh` name the trunk (SIP/sipus1,
    PJSIP/trunk-ovh); `SIP/301` or `SIP/200@stadionpbx` (an extension) name none."""
    targets = (dial_data or "").split(",", 1)[0]
    found: list[str] = []
    for target in targets.split("&"):
        tech, _, rest = target.strip().partition("/")
        if not rest or tech.lower() == "local":
            continue
        if "/" in rest:  # peer/NUMBER, or Motif's account/NUMBER@host
            peer, _, number = rest.partition("/")
            number = number.partition("@")[0]
        elif "@" in rest:
            number, _, peer = rest.partition("@")
        else:
            continue
        digits = number.strip().removeprefix("+")
        if digits.isdigit() and len(digits) >= MIN_DID_DIGITS and peer:
            found.append(f"{tech}/{peer}")
    return found


def dialed_as_extension_at(dial_data: str) -> list[str]:
    """The devices a Dial() string reaches as `EXTENSION@PEER` with a short extension
    (`SIP/200@stadionpbx` names SIP/stadionpbx): extensions of another PBX behind that peer,
    where a person, or that PBX's voicemail, may answer."""
    found: list[str] = []
    for target in (dial_data or "").split(",", 1)[0].split("&"):
        tech, _, rest = target.strip().partition("/")
        number, at, peer = rest.partition("@")
        if at and peer and "/" not in rest and tech.lower() != "local" and number.isdigit() \
                and len(number) < MIN_DID_DIGITS:
            found.append(f"{tech}/{peer}")
    return found

