"""A mystery-call campaign read from TOML: period, hour bands, callers, scenarios, scoring grid.

Every check raises `config.ConfigError(file, key, value, expected)`; a campaign that fails any
check is never returned in part.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from config import SHIPPED_DIR, Config, ConfigError
from config.loader import MISSING, WEEKDAYS, Interval, TableReader, parse_interval, parse_toml, toml_text
from mystery.campaign_model import (
    Band,
    Caller,
    Campaign,
    Commitment,
    Criterion,
    CriterionType,
    Scenario,
)

__all__ = [
    "Band", "Caller", "Campaign", "Commitment", "Criterion", "CriterionType", "Scenario",
    "find_campaign", "load_campaign", "parse_campaign",
]

CAMPAIGNS_DIR = "campaigns"


def find_campaign(name: str, config: Config) -> Path:
    """A TOML path, or a campaign name looked up in the config's then the shipped campaigns/."""
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        return path
    for base in (config.directory / CAMPAIGNS_DIR, SHIPPED_DIR / CAMPAIGNS_DIR):
        if (base / f"{name}.toml").exists():
            return base / f"{name}.toml"
    raise ConfigError(SHIPPED_DIR / CAMPAIGNS_DIR, "(file)", name,
                      "a campaign TOML file or one of " + ", ".join(campaign_names(config)))


MAX_SEED = 2**31 - 1  # the store keeps a plan's seed as a 32-bit integer


def configured_campaign(name: str, config: Config) -> Path:
    """The file of a campaign *name* (never a path): campaigns/NAME.toml of the configuration,
    else the shipped one; ConfigError when neither has it."""
    names = campaign_names(config)
    for base in (config.directory / CAMPAIGNS_DIR, SHIPPED_DIR / CAMPAIGNS_DIR):
        if name in names and (base / f"{name}.toml").is_file():
            return base / f"{name}.toml"
    raise ConfigError(SHIPPED_DIR / CAMPAIGNS_DIR, "(file)", name, "one of " + ", ".join(names))


def campaign_names(config: Config) -> list[str]:
    """The campaigns defined in the config's campaigns/ directory and the shipped one."""
    return sorted({p.stem for b in (config.directory, SHIPPED_DIR)
                   for p in (b / CAMPAIGNS_DIR).glob("*.toml")})


def load_campaign(path: Path, config: Config) -> Campaign:
    """Read and validate the campaign file at `path` against the site directory."""
    if not path.is_file():
        raise ConfigError(path, "(file)", MISSING, "an existing TOML file")
    return parse_campaign(toml_text(path, path.read_bytes()), path, config)


_TOP_KEYS = {
    "id", "name", "year", "code", "sites", "start", "end", "calls_per_site", "required_score",
    "schedule", "no_answer", "double_scoring", "pickup", "band", "caller", "scenario",
    "commitment", "criterion", "caller_lines",
}


def parse_campaign(text: str, path: Path, config: Config) -> Campaign:
    """Validate campaign TOML `text` (read from `path`, named in errors)."""
    data = parse_toml(path, text)
    r = TableReader(path, data)
    r.unknown_keys(_TOP_KEYS)
    start, end = _date(r, "start"), _date(r, "end")
    if end < start:
        raise ConfigError(path, "end", end, f"a date on or after start ({start})")
    code = r.get("code", str, 'a short prefix of call ids such as "EPS26"')
    if not code.isalnum():
        raise ConfigError(path, "code", code, "letters and digits only")
    scenarios = _scenarios(path, _tables(r, "scenario"))
    commitments = _commitments(path, _tables(r, "commitment"))
    parts = _sections(path, data)
    return Campaign(
        path=path, id=r.get("id", str, 'a campaign id such as "eps-2026"'),
        name=r.get("name", str, "the campaign's name"),
        year=int(_positive(r, "year", 2000)), code=code, sites=_sites(r, config),
        start=start, end=end, calls_per_site=int(_positive(r, "calls_per_site", 1)),
        required_score=_bounded(r, "required_score", 0, 10, 7.0),
        bands=_bands(path, _tables(r, "band")), callers=_callers(path, _tables(r, "caller")),
        caller_lines=_lines(r, "caller_lines"),
        scenarios=scenarios, commitments=commitments,
        criteria=_criteria(path, _tables(r, "criterion"), scenarios, commitments),
        source=text, **parts,
    )


def _sections(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """The optional [schedule], [no_answer], [double_scoring] and [pickup] tables."""
    s = TableReader(path, _table(path, data, "schedule"), "schedule.")
    s.unknown_keys({"min_gap_minutes", "slot_minutes", "closing_margin_minutes", "weekday_weights"})
    w = TableReader(path, _table(path, s.table, "weekday_weights"), "schedule.weekday_weights.")
    w.unknown_keys(set(WEEKDAYS))
    n = TableReader(path, _table(path, data, "no_answer"), "no_answer.")
    n.unknown_keys({"ring_limit_seconds", "max_attempts", "retry_minutes"})
    d = TableReader(path, _table(path, data, "double_scoring"), "double_scoring.")
    d.unknown_keys({"share", "min_agreement", "min_kappa"})
    p = TableReader(path, _table(path, data, "pickup"), "pickup.")
    p.unknown_keys({"tolerance_seconds"})
    return {
        "min_gap_minutes": int(s.number("min_gap_minutes", 120)),
        "slot_minutes": int(_positive(s, "slot_minutes", 1, 20)),
        "closing_margin_minutes": int(s.number("closing_margin_minutes", 5)),
        "weekday_weights": {i: w.number(day, 1.0) for i, day in enumerate(WEEKDAYS)},
        "ring_limit_seconds": int(_positive(n, "ring_limit_seconds", 5, 60)),
        "max_attempts": int(_positive(n, "max_attempts", 1, 3)),
        "retry_minutes": int(n.number("retry_minutes", 15)),
        "double_share": _bounded(d, "share", 0, 1, 0.15),
        "min_agreement": _bounded(d, "min_agreement", 0, 1, 0.8),
        "min_kappa": _bounded(d, "min_kappa", -1, 1, 0.6),
        "pickup_tolerance_seconds": p.number("tolerance_seconds", 3.0),
    }


def _table(path: Path, data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(path, name, value, f"a [{name}] table")
    return value


def _tables(r: TableReader, name: str) -> list[TableReader]:
    items = r.table.get(name, MISSING)
    if not isinstance(items, list) or not items or not all(isinstance(t, dict) for t in items):
        raise ConfigError(r.path, name, items, f"one or more [[{name}]] tables")
    return [TableReader(r.path, t, f"{name}[{i}].") for i, t in enumerate(items)]


def _positive(r: TableReader, name: str, minimum: float, default: Any = MISSING) -> float:
    value = r.get(name, int, f"a whole number >= {minimum}", default)
    if value < minimum:
        raise ConfigError(r.path, r.key(name), value, f"a whole number >= {minimum}")
    return float(value)


def _bounded(r: TableReader, name: str, low: float, high: float, default: float) -> float:
    expected = f"a number from {low} to {high}"
    value = r.get(name, (int, float), expected, default)
    if not low <= value <= high:
        raise ConfigError(r.path, r.key(name), value, expected)
    return float(value)


def _date(r: TableReader, name: str) -> dt.date:
    value = r.get(name, (dt.date, str), "a date YYYY-MM-DD")
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ConfigError(r.path, r.key(name), value, "a date YYYY-MM-DD") from None
    if isinstance(value, dt.datetime):
        raise ConfigError(r.path, r.key(name), value, "a date YYYY-MM-DD without a time")
    return value


def _sites(r: TableReader, config: Config) -> tuple[str, ...]:
    value = r.get("sites", (str, list), 'a list of site ids or "all"')
    if value == "all":
        return tuple(config.site_ids)
    if isinstance(value, str) or not value:
        raise ConfigError(r.path, "sites", value, 'a list of site ids or "all"')
    for site in value:
        if site not in config.site_ids:
            raise ConfigError(r.path, "sites", site,
                              f"a site id of {config.directory / 'sites.toml'} (eps-centre, eps-05 …)")
    if len(set(value)) != len(value):
        raise ConfigError(r.path, "sites", value, "each site listed once")
    return tuple(value)


def _ident(r: TableReader, seen: set[str]) -> str:
    value = r.get("id", str, "an identifier")
    if not value or not all(ch.isalnum() or ch in "-_" for ch in value):
        raise ConfigError(r.path, r.key("id"), value, "letters, digits, - and _ only")
    if value in seen:
        raise ConfigError(r.path, r.key("id"), value, "an id used by no other entry")
    seen.add(value)
    r.prefix = r.prefix.split("[")[0] + f' "{value}".'
    return value


def _days(r: TableReader, name: str) -> tuple[int, ...]:
    days = r.strings(name, list(WEEKDAYS[:5]))
    for day in days:
        if day not in WEEKDAYS:
            raise ConfigError(r.path, r.key(name), day, "weekdays among " + ", ".join(WEEKDAYS))
    return tuple(sorted({WEEKDAYS.index(d) for d in days}))


def _weight(r: TableReader) -> float:
    value = r.number("weight", 1.0)
    if value <= 0:
        raise ConfigError(r.path, r.key("weight"), value, "a number > 0")
    return value


def _bands(path: Path, readers: list[TableReader]) -> tuple[Band, ...]:
    seen: set[str] = set()
    bands = []
    for r in readers:
        band_id = _ident(r, seen)
        r.unknown_keys({"id", "label", "days", "hours", "before_closing_minutes", "weight"})
        hours = r.table.get("hours")
        closing = r.table.get("before_closing_minutes")
        if (hours is None) == (closing is None):
            raise ConfigError(path, r.key("hours"), hours if hours is not None else MISSING,
                              'either hours = "HH:MM-HH:MM" or before_closing_minutes = N, not both')
        bands.append(Band(
            id=band_id, label=r.get("label", str, "a label", band_id), days=_days(r, "days"),
            hours=None if hours is None else parse_interval(path, r.key("hours"), hours),
            before_closing=None if closing is None else int(_positive(r, "before_closing_minutes", 5)),
            weight=_weight(r),
        ))
    return tuple(bands)


def _availability(r: TableReader) -> dict[int, tuple[Interval, ...]]:
    table = r.table.get("availability", MISSING)
    if not isinstance(table, dict):
        raise ConfigError(r.path, r.key("availability"), table, "a table of weekdays")
    a = TableReader(r.path, table, r.key("availability."))
    a.unknown_keys(set(WEEKDAYS))
    return {i: tuple(parse_interval(r.path, a.key(f"{day}[{j}]"), v)
                     for j, v in enumerate(a.strings(day)))
            for i, day in enumerate(WEEKDAYS)}


def _callers(path: Path, readers: list[TableReader]) -> tuple[Caller, ...]:
    seen: set[str] = set()
    callers = []
    for r in readers:
        caller_id = _ident(r, seen)
        r.unknown_keys({"id", "name", "phone", "availability", "unavailable", "max_calls",
                        "max_per_day", "lines"})
        unavailable = []
        for j, text in enumerate(r.strings("unavailable")):
            try:
                unavailable.append(dt.date.fromisoformat(text))
            except ValueError:
                raise ConfigError(path, r.key(f"unavailable[{j}]"), text, "a date YYYY-MM-DD") from None
        max_calls = r.table.get("max_calls")
        max_day = r.table.get("max_per_day")
        callers.append(Caller(
            id=caller_id, name=r.get("name", str, "the caller's name"),
            phone=r.get("phone", str, "a phone or device", ""), availability=_availability(r),
            unavailable=tuple(unavailable),
            max_calls=None if max_calls is None else int(_positive(r, "max_calls", 1)),
            max_per_day=None if max_day is None else int(_positive(r, "max_per_day", 1)),
            lines=_lines(r, "lines"),
        ))
    return tuple(callers)


def _lines(r: TableReader, name: str) -> tuple[str, ...]:
    """Phone numbers the switchboard sees as caller id (E.164 or national form)."""
    expected = 'a list of phone numbers such as ["+33140000001", "0140000002"]'
    numbers = r.strings(name)
    for i, text in enumerate(numbers):
        digits = text.removeprefix("+")
        if not digits.isdigit() or len(digits) < 4:
            raise ConfigError(r.path, r.key(f"{name}[{i}]"), text, expected)
    return numbers


def _scenarios(path: Path, readers: list[TableReader]) -> tuple[Scenario, ...]:
    seen: set[str] = set()
    result = []
    for r in readers:
        scenario_id = _ident(r, seen)
        r.unknown_keys({"id", "title", "persona", "script", "expected", "weight"})
        result.append(Scenario(
            id=scenario_id, title=r.get("title", str, "a title"),
            persona=r.get("persona", str, "the caller's persona"),
            script=r.get("script", str, "what the caller says and asks"),
            expected=r.get("expected", str, "the expected answer or orientation"),
            weight=_weight(r),
        ))
    return tuple(result)


def _commitments(path: Path, readers: list[TableReader]) -> tuple[Commitment, ...]:
    seen: set[str] = set()
    result = []
    for r in readers:
        commitment_id = _ident(r, seen)
        r.unknown_keys({"id", "label"})
        result.append(Commitment(commitment_id, r.get("label", str, "a label")))
    return tuple(result)


_CRITERION_KEYS = {
    "id", "label", "question", "type", "weight", "critical", "commitment", "na_allowed",
    "scenarios", "target_seconds", "pickup", "levels", "help", "action",
}


def _criteria(path: Path, readers: list[TableReader], scenarios: tuple[Scenario, ...],
              commitments: tuple[Commitment, ...]) -> tuple[Criterion, ...]:
    seen: set[str] = set()
    result = [_criterion(r, _ident(r, seen), scenarios, commitments) for r in readers]
    pickups = [c.id for c in result if c.pickup]
    if len(pickups) > 1:
        raise ConfigError(path, f'criterion "{pickups[1]}".pickup', True,
                          f'a single pickup criterion (already "{pickups[0]}")')
    return tuple(result)


def _criterion(r: TableReader, criterion_id: str, scenarios: tuple[Scenario, ...],
               commitments: tuple[Commitment, ...]) -> Criterion:
    r.unknown_keys(_CRITERION_KEYS)
    kind = CriterionType(r.choice("type", tuple(CriterionType), "yesno"))
    commitment = r.get("commitment", str, "the id of a [[commitment]]")
    if commitment not in {c.id for c in commitments}:
        raise ConfigError(r.path, r.key("commitment"), commitment,
                          "one of " + ", ".join(c.id for c in commitments))
    for scenario in r.strings("scenarios"):
        if scenario not in {s.id for s in scenarios}:
            raise ConfigError(r.path, r.key("scenarios"), scenario,
                              "scenario ids among " + ", ".join(s.id for s in scenarios))
    target = r.table.get("target_seconds")
    if kind is CriterionType.SECONDS and target is None:
        raise ConfigError(r.path, r.key("target_seconds"), MISSING, "a number of seconds > 0")
    pickup = r.get("pickup", bool, "true or false", False)
    if pickup and kind is not CriterionType.SECONDS:
        raise ConfigError(r.path, r.key("pickup"), True, 'only on a criterion of type "seconds"')
    levels = r.strings("levels", ["1", "2", "3", "4"] if kind is CriterionType.SCALE else [])
    if kind is CriterionType.SCALE and len(levels) != 4:
        raise ConfigError(r.path, r.key("levels"), list(levels), "four labels, for scores 1 to 4")
    return Criterion(
        id=criterion_id, label=r.get("label", str, "a label"),
        question=r.get("question", str, "the question asked", r.table.get("label", "")),
        type=kind, weight=_weight(r), critical=r.get("critical", bool, "true or false", False),
        commitment=commitment, na_allowed=r.get("na_allowed", bool, "true or false", False),
        scenarios=r.strings("scenarios"),
        target_seconds=None if target is None else r.number("target_seconds", 25.0, 1.0),
        pickup=pickup, levels=levels, help=r.get("help", str, "text", ""),
        action=r.get("action", str, "text", ""),
    )
