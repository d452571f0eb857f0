"""Load and validate the TOML configuration: sites, opening hours, closures, targets, PBXs.

Every check names the file, the key, the bad value and what was expected; a config that fails
any check is never returned in part.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SHIPPED_DIR = Path(__file__).resolve().parent
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CDR_LAYOUTS = ("auto", "16", "17-uniqueid", "17-userfield", "18", "19", "20", "21")
# How a psql dump of a CEL table's eventtimes without an offset are read (ingest.cel.table_zone).
CEL_TABLE_TIMES = ("auto", "utc", "local")
CLOCK_STARTS = ("arrival", "queue_entry")
CLOSURE_PARTS = ("day", "am", "pm")
NOON = dt.time(12, 30)

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration value is missing or wrong."""

    def __init__(self, path: Path, key: str, value: object, expected: str) -> None:
        self.path, self.key, self.value, self.expected = path, key, value, expected
        shown = "missing" if value is MISSING else f'"{value}"'
        super().__init__(f"{path}: key {key} is {shown}; expected {expected}.")


MISSING = object()


@dataclass(frozen=True)
class Targets:
    threshold_seconds: float = 25.0
    ring_period_seconds: float = 5.0
    short_abandon_seconds: float = 5.0
    clock_start: str = "arrival"
    pickup_rate_goal: float = 0.80  # a month or hour below this pickup rate is "below target"


@dataclass(frozen=True)
class CaptureSettings:
    pseudonymize_callers: bool = True
    store_raw_caller: bool = False
    pseudonym_key_env: str = "QUALIPHONE_PSEUDONYM_KEY"
    pseudonym_key_file: str = ""
    retention_days: int = 400
    default_region: str = "FR"
    # Times outside [plausible_from, now + plausible_days_ahead] are rejected at import: a PBX
    # clock gone wrong (1970, 2099) must not become calls.
    plausible_from: dt.date = dt.date(2000, 1, 1)
    plausible_days_ahead: float = 1.0
    # Memory (MB) a columnar import may take; a larger file is read by the streaming importer.
    # 0: a quarter of the memory available when the import starts (ingest.columnar.memory).
    import_memory_mb: int = 0


@dataclass(frozen=True)
class PbxSettings:
    name: str
    timezone: str = "Europe/Paris"
    cdr_layout: str = "auto"
    cdr_usegmtime: bool = False
    # How a psql dump of a CEL table's eventtimes written without an offset are read: "auto"
    # (told by the rows: CHAN_START against the uniqueid's second), "utc" or "local".
    cel_table_times: str = "auto"
    test_accountcodes: tuple[str, ...] = ()
    ami: str = ""  # "HOST:PORT" of the manager interface `qualiphone listen` connects to
    ami_user: str = ""  # the AMI user (manager.conf section)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


Interval = tuple[dt.time, dt.time]


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    area: str
    address: str
    placeholder: bool
    numbers: tuple[str, ...]
    pbx: str
    dids: tuple[str, ...]
    queues: tuple[str, ...]
    contexts: tuple[str, ...]
    staff_devices: tuple[str, ...]
    message_contexts: tuple[str, ...]
    message_seconds: float
    voicemail_contexts: tuple[str, ...]
    hours: dict[int, tuple[Interval, ...]]  # weekday (0 = Monday) -> intervals


@dataclass(frozen=True)
class Closure:
    site: str  # a site id or "all"
    date: dt.date
    part: str
    reason: str

    def applies_to(self, site_id: str) -> bool:
        return self.site in ("all", site_id)


@dataclass(frozen=True)
class Config:
    directory: Path
    targets: Targets
    capture: CaptureSettings
    pbxs: dict[str, PbxSettings]
    sites: tuple[Site, ...]
    closures: tuple[Closure, ...] = field(default=())

    def site(self, site_id: str) -> Site:
        for site in self.sites:
            if site.id == site_id:
                return site
        raise UnknownSite(site_id, [s.id for s in self.sites], self.directory / "sites.toml")

    @property
    def site_ids(self) -> list[str]:
        return [s.id for s in self.sites]


class UnknownSite(Exception):
    def __init__(self, site_id: str, known: list[str], path: Path) -> None:
        self.site_id, self.known = site_id, known
        shown = ", ".join([*known[:2], "…", *known[-1:]]) if len(known) > 4 else ", ".join(known)
        super().__init__(f'site "{site_id}" is not in {path}; known sites: {shown}.')


def as_table(path: Path, key: str, value: object, expected: str | None = None) -> dict[str, Any]:
    """`value` when it is a TOML table; ConfigError naming `key` otherwise."""
    if not isinstance(value, dict):
        raise ConfigError(path, key, value, expected or f"a [{key}] table")
    return value


class TableReader:
    """Typed access to one TOML table, raising ConfigError with the full key path."""

    def __init__(self, path: Path, table: object, prefix: str = "") -> None:
        self.path, self.prefix = path, prefix
        self.table = as_table(path, prefix.rstrip(".") or "(file)", table)

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def get(self, name: str, kind: type[T] | tuple[type, ...], expected: str, default: Any = MISSING) -> Any:
        value = self.table.get(name, default)
        if value is MISSING:
            raise ConfigError(self.path, self.key(name), MISSING, expected)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
            raise ConfigError(self.path, self.key(name), value, expected)
        return value

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        """A finite number >= minimum (TOML's nan and inf are refused)."""
        value = self.get(name, (int, float), f"a number >= {minimum}", default)
        if not math.isfinite(value) or value < minimum:
            raise ConfigError(self.path, self.key(name), value, f"a number >= {minimum}")
        return float(value)

    def whole(self, name: str, default: int, minimum: int = 0) -> int:
        """A whole number >= minimum."""
        value = self.get(name, int, f"a whole number >= {minimum}", default)
        if value < minimum:
            raise ConfigError(self.path, self.key(name), value, f"a whole number >= {minimum}")
        return int(value)

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        expected = "one of " + ", ".join(f'"{c}"' for c in choices)
        value = self.get(name, str, expected, default)
        if value not in choices:
            raise ConfigError(self.path, self.key(name), value, expected)
        return str(value)

    def strings(self, name: str, default: list[str] | None = None) -> tuple[str, ...]:
        value = self.get(name, list, "a list of strings", [] if default is None else default)
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(self.path, self.key(name), value, "a list of strings")
        return tuple(value)

    def unknown_keys(self, allowed: set[str]) -> None:
        for name in self.table:
            if name not in allowed:
                raise ConfigError(
                    self.path, self.key(name), name, "one of the keys " + ", ".join(sorted(allowed))
                )


AMI_EXPECTED = 'an AMI address "HOST:PORT" with a port 1-65535, e.g. "127.0.0.1:5038"'


def parse_host_port(text: str) -> tuple[str, int] | None:
    """(host, port) of `HOST:PORT` or `[IPv6]:PORT`; None when it is not one."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            return None
        port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        return None
    host = host.strip()
    if not host or " " in host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at `path`; ConfigError when missing, not UTF-8 or not valid TOML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "(file)", MISSING, "an existing TOML file") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise ConfigError(path, "(file)", exc.strerror, "a readable TOML file") from None
    return parse_toml(path, data)


def toml_text(path: Path, data: bytes) -> str:
    """The bytes of a TOML file as text; ConfigError naming the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(path, "(encoding)", f"byte 0x{data[exc.start]:02x} at line {line}",
                          "UTF-8 text (save the file as UTF-8)") from None


def parse_toml(path: Path, data: bytes | str) -> dict[str, Any]:
    """Parse TOML read from `path` (named in errors)."""
    try:
        return tomllib.loads(toml_text(path, data) if isinstance(data, bytes) else data)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "(syntax)", str(exc), "valid TOML") from None


def parse_interval(path: Path, key: str, text: object) -> Interval:
    expected = 'an interval "HH:MM-HH:MM" with start before end'
    if not isinstance(text, str) or "-" not in text:
        raise ConfigError(path, key, text, expected)
    try:
        start, end = (dt.time.fromisoformat(p.strip()) for p in text.split("-", 1))
    except ValueError:
        raise ConfigError(path, key, text, expected) from None
    if start >= end:
        raise ConfigError(path, key, text, expected)
    return start, end


def _parse_hours(path: Path, prefix: str, table: object) -> dict[int, tuple[Interval, ...]]:
    table = as_table(path, prefix.rstrip("."), table, "a table of weekdays")
    reader = TableReader(path, table, prefix)
    reader.unknown_keys(set(WEEKDAYS))
    hours: dict[int, tuple[Interval, ...]] = {}
    for index, day in enumerate(WEEKDAYS):
        items = reader.strings(day)
        intervals = tuple(
            parse_interval(path, f"{prefix}{day}[{i}]", item) for i, item in enumerate(items)
        )
        for (_, end), (start, _) in itertools.pairwise(intervals):
            if start < end:
                raise ConfigError(path, f"{prefix}{day}", items, "intervals in order, not overlapping")
        hours[index] = intervals
    return hours


_SITE_KEYS = {
    "id", "name", "area", "address", "placeholder", "numbers", "pbx", "dids", "queues",
    "contexts", "staff_devices", "message_contexts", "message_seconds", "voicemail_contexts",
    "hours",
}


def _parse_site(
    path: Path, index: int, table: object, default_hours: dict[int, tuple[Interval, ...]],
    pbxs: dict[str, PbxSettings],
) -> Site:
    table = as_table(path, f"site[{index}]", table, "a [[site]] table")
    r = TableReader(path, table, f"site[{index}].")
    site_id = r.get("id", str, 'a site id such as "eps-05"')
    r.prefix = f'site "{site_id}".'
    r.unknown_keys(_SITE_KEYS)
    pbx = r.get("pbx", str, "the name of a [pbx.NAME] table of settings.toml", next(iter(pbxs), ""))
    if pbx not in pbxs:
        raise ConfigError(path, r.key("pbx"), pbx, "one of " + ", ".join(pbxs))
    hours = _parse_hours(path, r.key("hours."), table["hours"]) if "hours" in table else default_hours
    return Site(
        id=site_id,
        name=r.get("name", str, "the site's name"),
        area=r.get("area", str, "text", ""),
        address=r.get("address", str, "text", ""),
        placeholder=r.get("placeholder", bool, "true or false", False),
        numbers=r.strings("numbers"),
        pbx=pbx,
        dids=r.strings("dids"),
        queues=r.strings("queues"),
        contexts=r.strings("contexts"),
        staff_devices=r.strings("staff_devices"),
        message_contexts=r.strings("message_contexts"),
        message_seconds=r.number("message_seconds", 0.0),
        voicemail_contexts=r.strings("voicemail_contexts"),
        hours=hours,
    )


def _parse_closures(path: Path, data: dict[str, Any], site_ids: set[str]) -> tuple[Closure, ...]:
    closures = []
    items = data.get("closure", [])
    if not isinstance(items, list):
        raise ConfigError(path, "closure", items, "an array of [[closure]] tables")
    for i, table in enumerate(items):
        r = TableReader(path, as_table(path, f"closure[{i}]", table, "a [[closure]] table"),
                        f"closure[{i}].")
        r.unknown_keys({"site", "date", "part", "reason"})
        site = r.get("site", str, 'a site id or "all"')
        if site != "all" and site not in site_ids:
            raise ConfigError(path, r.key("site"), site, 'a site id of sites.toml or "all"')
        day = r.get("date", (dt.date, str), "a date YYYY-MM-DD")
        if isinstance(day, str):
            try:
                day = dt.date.fromisoformat(day)
            except ValueError:
                raise ConfigError(path, r.key("date"), day, "a date YYYY-MM-DD") from None
        if isinstance(day, dt.datetime):
            raise ConfigError(path, r.key("date"), day, "a date YYYY-MM-DD without a time")
        part = r.choice("part", CLOSURE_PARTS, "day")
        closures.append(Closure(site, day, part, r.get("reason", str, "text", "")))
    return tuple(closures)


Hours = dict[int, tuple[Interval, ...]]


def _rate(r: TableReader, name: str, default: float) -> float:
    value = r.get(name, (int, float), "a rate between 0 and 1 (exclusive), e.g. 0.8", default)
    if not 0 < value < 1:
        raise ConfigError(r.path, r.key(name), value, "a rate between 0 and 1 (exclusive), e.g. 0.8")
    return float(value)


def _past_date(r: TableReader, name: str, default: dt.date) -> dt.date:
    """A date not after today: a TOML date (2000-01-01) or the same as a string."""
    expected = "a date not after today, e.g. 2000-01-01"
    value = r.get(name, (dt.date, str), expected, default)
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ConfigError(r.path, r.key(name), value, expected) from None
    if isinstance(value, dt.datetime) or value > dt.date.today():
        raise ConfigError(r.path, r.key(name), value, expected)
    return value


def _bounded(r: TableReader, name: str, default: float, low: float, high: float) -> float:
    expected = f"a number from {low:g} to {high:g}"
    value = r.get(name, (int, float), expected, default)
    if not low <= value <= high:  # also refuses nan
        raise ConfigError(r.path, r.key(name), value, expected)
    return float(value)


def _parse_settings(
    path: Path, data: dict[str, Any]
) -> tuple[Targets, CaptureSettings, dict[str, PbxSettings], Hours]:
    TableReader(path, data).unknown_keys({"targets", "capture", "default_hours", "pbx"})
    t = TableReader(path, data.get("targets", {}), "targets.")
    t.unknown_keys({"threshold_seconds", "ring_period_seconds", "short_abandon_seconds", "clock_start",
                    "pickup_rate_goal"})
    targets = Targets(
        threshold_seconds=t.number("threshold_seconds", 25.0, 1.0),
        ring_period_seconds=t.number("ring_period_seconds", 5.0, 0.5),
        short_abandon_seconds=t.number("short_abandon_seconds", 5.0, 0.0),
        clock_start=t.choice("clock_start", CLOCK_STARTS, "arrival"),
        pickup_rate_goal=_rate(t, "pickup_rate_goal", 0.80),
    )
    c = TableReader(path, data.get("capture", {}), "capture.")
    c.unknown_keys(set(CaptureSettings.__dataclass_fields__))
    capture = CaptureSettings(
        pseudonymize_callers=c.get("pseudonymize_callers", bool, "true or false", True),
        store_raw_caller=c.get("store_raw_caller", bool, "true or false", False),
        pseudonym_key_env=c.get(
            "pseudonym_key_env", str, "an environment variable name", "QUALIPHONE_PSEUDONYM_KEY"
        ),
        pseudonym_key_file=c.get("pseudonym_key_file", str, "a file path", ""),
        retention_days=c.whole("retention_days", 400, 1),
        default_region=c.get("default_region", str, 'a region code such as "FR"', "FR"),
        plausible_from=_past_date(c, "plausible_from", dt.date(2000, 1, 1)),
        plausible_days_ahead=_bounded(c, "plausible_days_ahead", 1.0, 0.0, 366.0),
        import_memory_mb=c.whole("import_memory_mb", 0),
    )
    pbxs = {}
    pbx_tables = as_table(path, "pbx", data.get("pbx", {}), "one or more [pbx.NAME] tables")
    if not pbx_tables:
        raise ConfigError(path, "pbx", MISSING, "at least one [pbx.NAME] table")
    for name, table in pbx_tables.items():
        p = TableReader(path, as_table(path, f"pbx.{name}", table), f"pbx.{name}.")
        p.unknown_keys({"timezone", "cdr_layout", "cdr_usegmtime", "cel_table_times",
                        "test_accountcodes", "ami", "ami_user"})
        tz = p.get("timezone", str, "an IANA time zone such as Europe/Paris", "Europe/Paris")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                path, p.key("timezone"), tz, "an IANA time zone such as Europe/Paris"
            ) from None
        ami = p.get("ami", str, AMI_EXPECTED, "")
        if ami and parse_host_port(ami) is None:
            raise ConfigError(path, p.key("ami"), ami, AMI_EXPECTED)
        pbxs[name] = PbxSettings(
            name=name,
            timezone=tz,
            cdr_layout=p.choice("cdr_layout", CDR_LAYOUTS, "auto"),
            cdr_usegmtime=p.get("cdr_usegmtime", bool, "true or false", False),
            cel_table_times=p.choice("cel_table_times", CEL_TABLE_TIMES, "auto"),
            test_accountcodes=p.strings("test_accountcodes"),
            ami=ami,
            ami_user=p.get("ami_user", str, "an AMI user name (a manager.conf section)", ""),
        )
    default_hours = _parse_hours(path, "default_hours.", data.get("default_hours", {}))
    return targets, capture, pbxs, default_hours


def load_config(directory: Path | str | None = None) -> Config:
    """Read settings.toml, sites.toml and closures.toml from `directory` (default: shipped)."""
    base = Path(directory) if directory else SHIPPED_DIR
    settings_path = base / "settings.toml"
    targets, capture, pbxs, default_hours = _parse_settings(settings_path, read_toml(settings_path))
    sites_path = base / "sites.toml"
    data = read_toml(sites_path)
    TableReader(sites_path, data).unknown_keys({"site"})
    tables = data.get("site", [])
    if not isinstance(tables, list) or not tables:
        raise ConfigError(sites_path, "site", MISSING, "at least one [[site]] table")
    sites = tuple(_parse_site(sites_path, i, t, default_hours, pbxs) for i, t in enumerate(tables))
    _check_unique(sites_path, sites, capture.default_region)
    closures_path = base / "closures.toml"
    closures: tuple[Closure, ...] = ()
    if closures_path.exists():
        closures = _parse_closures(closures_path, read_toml(closures_path), {s.id for s in sites})
    return Config(base, targets, capture, pbxs, sites, closures)


def _check_unique(path: Path, sites: tuple[Site, ...], region: str = "FR") -> None:
    """Site ids are unique; a DID, queue or context belongs to one site of its PBX."""
    ids: set[str] = set()
    owners: dict[tuple[str, str, str], str] = {}
    for site in sites:
        if site.id in ids:
            raise ConfigError(path, f'site "{site.id}".id', site.id, "an id used by no other site")
        ids.add(site.id)
        for kind, values in (("dids", site.dids), ("queues", site.queues), ("contexts", site.contexts)):
            for value in values:
                owner = owners.setdefault((site.pbx, kind, value), site.id)
                if owner != site.id:
                    raise ConfigError(path, f'site "{site.id}".{kind}', value,
                                      f'a value not already used by site "{owner}"')
    _check_numbers(path, sites, region)
    _check_staff_devices(path, sites)
    _check_diversions(path, sites)


def _check_diversions(path: Path, sites: tuple[Site, ...]) -> None:
    """A message or voicemail context is never an inbound context of its PBX: the capture
    reads a call that ends in a message context as answered by the message, so an inbound
    context listed there would turn that site's unanswered calls into messages."""
    inbound = {(site.pbx, context): site.id for site in sites for context in site.contexts}
    for site in sites:
        for kind, values in (("message_contexts", site.message_contexts),
                             ("voicemail_contexts", site.voicemail_contexts)):
            for value in values:
                owner = inbound.get((site.pbx, value))
                if owner is not None:
                    whose = "its own" if owner == site.id else f'site "{owner}"\'s'
                    raise ConfigError(path, f'site "{site.id}".{kind}', value, (
                        f"a context the dialplan sends calls to for the message or voicemail "
                        f"only, not {whose} inbound context (listed in its contexts): every "
                        "unanswered call there would count as answered by the message"))


def e164(number: str, region: str) -> str:
    """The E.164 form of a phone number; the text as written when it is none."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return number.strip()
    if not phonenumbers.is_possible_number(parsed):
        return number.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _check_numbers(path: Path, sites: tuple[Site, ...], region: str) -> None:
    """One number, whatever its format, belongs to one site: public numbers everywhere, DIDs and
    public numbers within a PBX (the capture looks both up to find a call's site)."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}  # (scope, E.164) -> (site, as written)
    for site in sites:
        for kind, values in (("numbers", site.numbers), ("dids", site.dids)):
            for value in values:
                number = e164(value, region)
                scopes = [("", number), (site.pbx, number)] if kind == "numbers" else [(site.pbx, number)]
                for scope in scopes:
                    owner, written = seen.setdefault(scope, (site.id, value))
                    if owner != site.id:
                        raise ConfigError(path, f'site "{site.id}".{kind}', value,
                                          f'a number not already used by site "{owner}" (it has '
                                          f'"{written}", the same number: {number})')


def _check_staff_devices(path: Path, sites: tuple[Site, ...]) -> None:
    """No device can match the staff patterns of two sites of one PBX (it would count for both)."""
    from config.globs import overlap

    for i, site in enumerate(sites):
        for other in sites[:i]:
            if other.pbx != site.pbx:
                continue
            for pattern in site.staff_devices:
                for theirs in other.staff_devices:
                    example = overlap(pattern, theirs)
                    if example is not None:
                        raise ConfigError(
                            path, f'site "{site.id}".staff_devices', pattern,
                            f'patterns that match no device of another site: "{theirs}" of site '
                            f'"{other.id}" matches the same devices, e.g. "{example}"')
