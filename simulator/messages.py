"""The simulated sites' recorded messages, and what the PBX records when a probe calls a site.

Texts are French and built from the configuration: the site's name, its opening hours, its
public number, paris.fr and the 115. They are spoken by espeak-ng (voice `fr`) and passed
through sox to 8 kHz mono in the telephone band, as a PBX plays them. Rendered files are cached
by content (text, speed), so each message is synthesised once.

`config/simulation.toml` (optional) names one site whose message is broken in the simulation:

    [simulation]
    broken_message_site = "eps-09"
    broken_message_kind = "missing"   # missing | other_site | daytime | truncated | silence

"missing": after-hours calls to that site get a congestion tone in `simulate month`, and an
Originate to it fails (Reason 8); the other kinds only change what a probe records.

The AMI simulator's Originate handler uses `simulated_probe` (how the call ends) and
`write_probe_recording` (the MixMonitor file, named after the ChannelId).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from config import Config, ConfigError, Site
from config.loader import as_table, read_toml
from monitor.calendar import SiteCalendar, holiday_name

SIMULATION_FILE = "simulation.toml"
BROKEN_KINDS = ("missing", "other_site", "daytime", "truncated", "silence")
RECORDING_KINDS = ("closed", "closure", *BROKEN_KINDS)
REFERENCE_KINDS = ("closed", "closure", "daytime")
VOICE, RATE, BASE_SPEED = "fr", 8000, 165
CACHE_ENV = "QUALIPHONE_MESSAGE_CACHE"
_ORDINALS = ["", "premier", "deuxième", "troisième", "quatrième", "cinquième", "sixième", "septième",
             "huitième", "neuvième", "dixième", "onzième", "douzième", "treizième", "quatorzième",
             "quinzième", "seizième", "dix-septième", "dix-huitième", "dix-neuvième", "vingtième"]
_DAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]


class ToolMissing(RuntimeError):
    """espeak-ng or sox is not installed."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        super().__init__(f"{tool} is not installed; install it with: apt-get install -y espeak-ng sox")


@dataclass(frozen=True)
class SimulationSettings:
    broken_message_site: str | None = None
    broken_message_kind: str = "missing"


def simulation_settings(config: Config) -> SimulationSettings:
    """`simulation.toml` of the config directory; no file means no broken site."""
    path = config.directory / SIMULATION_FILE
    if not path.exists():
        return SimulationSettings()
    table = as_table(path, "simulation", read_toml(path).get("simulation", {}))
    site = table.get("broken_message_site") or None
    if site is not None and site not in config.site_ids:
        raise ConfigError(path, "simulation.broken_message_site", site, "a site id of sites.toml or \"\"")
    kind = table.get("broken_message_kind", "missing")
    if kind not in BROKEN_KINDS:
        raise ConfigError(path, "simulation.broken_message_kind", kind, "one of " + ", ".join(BROKEN_KINDS))
    return SimulationSettings(site, kind)


# ---- texts -----------------------------------------------------------------------------------

def _spoken(text: str) -> str:
    """"Paris 9e" → "Paris neuvième" (espeak reads "9e" as "neuf")."""
    return re.sub(r"\b(\d{1,2})(?:er|e)\b", lambda m: _ORDINALS[int(m.group(1))], text)


def _clock(t: dt.time) -> str:
    return f"{t.hour} heure{'s' if t.hour > 1 else ''}" + (f" {t.minute}" if t.minute else "")


def spoken_hours(site: Site) -> str:
    """"du lundi au vendredi de 8 heures 30 à 17 heures" from the weekly hours."""
    groups: list[tuple[int, int, tuple]] = []
    for day in range(7):
        intervals = site.hours.get(day, ())
        if groups and groups[-1][2] == intervals and groups[-1][1] == day - 1:
            groups[-1] = (groups[-1][0], day, intervals)
        elif intervals:
            groups.append((day, day, intervals))
    parts = []
    for first, last, intervals in groups:
        days = f"le {_DAYS[first]}" if first == last else f"du {_DAYS[first]} au {_DAYS[last]}"
        times = " et ".join(f"de {_clock(a)} à {_clock(b)}" for a, b in intervals)
        parts.append(f"{days} {times}")
    return ", ".join(parts) or "sur rendez-vous"


def spoken_number(number: str) -> str:
    """"+33199000109" → "zéro un, 99, zéro zéro, zéro un, zéro neuf"."""
    digits = re.sub(r"\D", "", number)
    national = "0" + digits[2:] if digits.startswith("33") else digits
    pairs = [national[i:i + 2] for i in range(0, len(national), 2)]
    words = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]
    return ", ".join(f"zéro {words[int(p[1])]}" if p.startswith("0") and len(p) == 2 else p for p in pairs)


def message_text(site: Site, kind: str) -> str:
    """The French text of a site's message: "closed" (after hours), "closure" or "daytime"."""
    name = "l'Espace Parisien des Solidarités " + _spoken(site.name.removeprefix("EPS ").strip())
    if kind == "daytime":
        return f"Bonjour, bienvenue à {name}. Merci de patienter, un conseiller va vous répondre."
    number = spoken_number(site.numbers[0]) if site.numbers else ""
    closed = ("En raison d'une fermeture exceptionnelle, nos bureaux sont fermés aujourd'hui. "
              "Nous vous accueillons habituellement") if kind == "closure" else \
        "Nos bureaux sont actuellement fermés. Nous vous accueillons"
    return (f"Bonjour, vous êtes bien à {name}, {_spoken(site.area)}. {closed} "
            f"{spoken_hours(site)}. Vous pouvez nous rappeler au {number}, ou trouver nos "
            "coordonnées et nos horaires sur paris point f r. En cas d'urgence sociale, composez "
            "le 115. Merci de votre appel, au revoir.")


# ---- rendering -------------------------------------------------------------------------------

def default_cache_dir() -> Path:
    """$QUALIPHONE_MESSAGE_CACHE, else `simulator/messages` in the data directory."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    from monitor.store.engine import data_dir

    return data_dir() / "simulator" / "messages"


def tools_available() -> bool:
    return all(shutil.which(tool) for tool in ("espeak-ng", "sox"))


def _run(args: list[str]) -> None:
    if shutil.which(args[0]) is None:
        raise ToolMissing(args[0])
    subprocess.run(args, check=True, capture_output=True, timeout=60)


def synthesise(text: str, out: Path, speed: int = BASE_SPEED) -> None:
    """French speech to an 8 kHz mono 16-bit WAV in the telephone band."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        _run(["espeak-ng", "-v", VOICE, "-s", str(speed), "-w", str(raw), text])
        _run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
              str(out), "sinc", "300-3400", "gain", "-n", "-3"])


def read_pcm(path: Path) -> np.ndarray:
    """A 16-bit mono WAV written by this module, as floats in [-1, 1]."""
    with wave.open(str(path), "rb") as fh:
        return np.frombuffer(fh.readframes(fh.getnframes()), "<i2").astype(np.float64) / 32768.0


def write_pcm(path: Path, x: np.ndarray) -> None:
    """Write atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with wave.open(str(tmp), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(RATE)
        fh.writeframes(np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes())
    os.replace(tmp, path)


def render_message(site: Site, kind: str, cache_dir: Path | None = None) -> Path:
    """The site's message as a WAV (cached); closed/closure messages last `message_seconds`.

    The speech rate is adjusted (within 110-240 words a minute) so that the message fills its
    configured length, then silence pads it to the exact length.
    """
    text = message_text(site, kind)
    target = site.message_seconds if kind != "daytime" and site.message_seconds > 0 else None
    key = hashlib.sha1(f"{VOICE}|{BASE_SPEED}|{target}|{text}".encode()).hexdigest()[:16]
    cache = cache_dir or default_cache_dir()
    path = cache / f"{site.id}-{kind}-{key}.wav"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.wav"
        synthesise(text, out)
        x = read_pcm(out)
        if target:
            speed = int(np.clip(round(BASE_SPEED * len(x) / RATE / target), 110, 240))
            if abs(speed - BASE_SPEED) > 2:
                synthesise(text, out, speed)
                x = read_pcm(out)
            x = np.pad(x, (0, max(0, int(target * RATE) - len(x))))
        write_pcm(path, x)
    return path


# ---- probe calls in the simulation -----------------------------------------------------------

@dataclass(frozen=True)
class SimulatedProbe:
    """How the simulated PBX answers a probe: the OriginateResponse and what is recorded."""

    answered: bool
    reason: int  # OriginateResponse Reason: 4 answered, 8 congestion
    answer_delay: float  # seconds from the Originate to the answer (or the failure)
    kind: str  # a RECORDING_KINDS value; "missing" when nothing answers


def simulated_probe(config: Config, site_id: str, when: dt.datetime | None = None) -> SimulatedProbe:
    """What a probe to `site_id` at `when` (naive: the site's local time; default: now) meets.

    Open: the daytime greeting; closed: the after-hours message, or the closure message during
    a planned closure; the broken site of simulation.toml answers with its broken kind.
    """
    site = config.site(site_id)
    tz = config.pbxs[site.pbx].tz
    when = when or dt.datetime.now(tz)
    local = (when.astimezone(tz) if when.tzinfo else when).replace(tzinfo=None)
    calendar = SiteCalendar(config)
    delay = 0.2 + (zlib.crc32(f"{site_id}{local}".encode()) % 400) / 1000.0
    broken = simulation_settings(config)
    if calendar.is_open(site, local):
        return SimulatedProbe(True, 4, delay + 3.0, "daytime")
    if broken.broken_message_site == site_id:
        if broken.broken_message_kind == "missing":
            return SimulatedProbe(False, 8, delay, "missing")
        return SimulatedProbe(True, 4, delay, broken.broken_message_kind)
    closure = calendar.closure_at(site_id, local) and holiday_name(local.date()) is None
    return SimulatedProbe(True, 4, delay, "closure" if closure else "closed")


def probe_site(config: Config, channel: str, variables: dict[str, str]) -> str | None:
    """The site an Originate calls: its PROBE_SITE variable, else the number in `channel`."""
    if variables.get("PROBE_SITE") in config.site_ids:
        return variables["PROBE_SITE"]
    digits = re.sub(r"\D", "", channel.split("@")[0])
    for site in config.sites:
        for number in (*site.numbers, *site.dids):
            own = re.sub(r"\D", "", number)
            if digits and (own == digits or own.endswith(digits[-9:])):
                return site.id
    return None


def _ringback(seconds: float) -> np.ndarray:
    """French ringback: 440 Hz, 1.5 s on, 3.5 s off."""
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.1 * np.sin(2 * np.pi * 440 * t) * ((t % 5.0) < 1.5)


def _recorded(config: Config, site: Site, kind: str, cache: Path | None) -> np.ndarray:
    if kind in ("closed", "closure", "daytime"):
        x = read_pcm(render_message(site, kind, cache))
        return np.concatenate([x, _ringback(20.0)]) if kind == "daytime" else x
    if kind == "truncated":
        x = read_pcm(render_message(site, "closed", cache))
        return x[: int(len(x) * 0.45)]
    if kind == "other_site":
        ids = config.site_ids
        other = config.site(ids[(ids.index(site.id) + 1) % len(ids)])
        return read_pcm(render_message(other, "closed", cache))
    return np.zeros(int(20 * RATE))  # silence


def write_probe_recording(config: Config, site_id: str, channel_id: str, directory: Path | str, *,
                          kind: str, cache_dir: Path | None = None) -> Path | None:
    """Write `<directory>/<channel_id>.wav` (and the `.done` marker) as MixMonitor would.

    The line adds a short offset, a level change and faint noise. `kind` is a RECORDING_KINDS
    value; "missing" writes nothing and returns None.
    """
    if kind not in RECORDING_KINDS:
        raise ValueError(f'recording kind "{kind}" is not one of {", ".join(RECORDING_KINDS)}')
    if kind == "missing":
        return None
    site = config.site(site_id)
    rng = np.random.default_rng(zlib.crc32(channel_id.encode()))
    x = _recorded(config, site, kind, cache_dir) * rng.uniform(0.4, 1.0)
    x = np.concatenate([np.zeros(int(rng.uniform(0.2, 0.6) * RATE)), x, np.zeros(RATE // 2)])
    x = x + rng.normal(0.0, 10 ** (-55 / 20), len(x))
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{channel_id}.wav"
    write_pcm(path, x)
    (out / f"{channel_id}.done").touch()
    return path


def message_missing(config: Config, site_id: str) -> bool:
    """True for the site whose after-hours message is "missing" in simulation.toml."""
    broken = simulation_settings(config)
    return broken.broken_message_site == site_id and broken.broken_message_kind == "missing"
