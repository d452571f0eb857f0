"""Config as a careless or hostile editor leaves it: every mistake is a ConfigError naming the
file, key, value and what was expected; never a traceback, never a silent ambiguity."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import SHIPPED_DIR, ConfigError, load_config
from ingest.generic_csv import load_mapping
from qualiphone.cli import cli


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "cfg"
    shutil.copytree(SHIPPED_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _settings_with_pbx(value: str) -> str:
    """settings.toml with its [pbx.NAME] tables replaced by `pbx = value` (at the top)."""
    text = (SHIPPED_DIR / "settings.toml").read_text()
    return f"pbx = {value}\n" + text[:text.index("[pbx.paris-eps]")]


CASES: list[tuple[str, Any, str, str, str]] = [
    # file, new text (or a function of the old text), key, value shown, expected
    ("sites.toml", lambda t: t.replace("# The 17", "# Les 17 \u00e9") .encode("latin-1"), "(encoding)",
     "byte 0xe9 at line 1", "UTF-8 text (save the file as UTF-8)"),
    ("settings.toml", lambda t: t.replace("retention_days = 400", "retention_days = inf"),
     "capture.retention_days", "inf", "a whole number >= 1"),
    ("settings.toml", lambda t: t.replace("retention_days = 400", "retention_days = 4.5"),
     "capture.retention_days", "4.5", "a whole number >= 1"),
    ("settings.toml", lambda t: _settings_with_pbx("5"), "pbx", "5", "[pbx.NAME] tables"),
    ("settings.toml", lambda t: _settings_with_pbx("{ paris-eps = 5 }"), "pbx.paris-eps", "5",
     "a [pbx.paris-eps] table"),
    ("settings.toml", lambda t: "targets = 5\n" + t[t.index("[capture]"):], "targets", "5",
     "a [targets] table"),
    ("sites.toml", "site = [1, 2]\n", "site[0]", "1", "a [[site]] table"),
    ("closures.toml", "closure = [1]\n", "closure[0]", "1", "a [[closure]] table"),
    ("settings.toml", lambda t: t.replace("threshold_seconds = 25.0", "threshold_seconds = nan"),
     "targets.threshold_seconds", "nan", "a number >= 1.0"),
    ("settings.toml", lambda t: t.replace("short_abandon_seconds = 5.0", "short_abandon_seconds = inf"),
     "targets.short_abandon_seconds", "inf", "a number >= 0.0"),
    ("settings.toml", lambda t: t.replace("pickup_rate_goal = 0.80", "pickup_rate_goal = nan"),
     "targets.pickup_rate_goal", "nan", "a rate between 0 and 1"),
    ("sites.toml", lambda t: t.replace("message_seconds = 28.0", "message_seconds = -inf", 1),
     'site "eps-centre".message_seconds', "-inf", "a number >= 0.0"),
    ("sites.toml", lambda t: t.replace('numbers = ["+33199000100"]', 'numbers = "+33199000100"', 1),
     'site "eps-centre".numbers', "+33199000100", "a list of strings"),
]


@pytest.mark.parametrize(("file", "change", "key", "value", "expected"), CASES)
def test_each_former_traceback_is_a_config_error(tmp_path: Path, file: str, change: Any, key: str,
                                                 value: str, expected: str) -> None:
    directory = _copy(tmp_path)
    path = directory / file
    new = change(path.read_text()) if callable(change) else change
    if isinstance(new, bytes):
        path.write_bytes(new)
    else:
        path.write_text(new)
    with pytest.raises(ConfigError) as err:
        load_config(directory)
    assert (err.value.path, err.value.key) == (path, key)
    assert f'is "{value}"' in str(err.value) and expected in str(err.value)


def test_a_nan_threshold_stops_stats_before_it_runs(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "settings.toml"
    path.write_text(path.read_text().replace("threshold_seconds = 25.0", "threshold_seconds = nan"))
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 's.db'}", "--config",
                                      str(directory), "stats", "--from", "2026-10-05", "--to",
                                      "2026-10-05"])
    assert result.exit_code == 1
    assert result.output == (f'Error: {path}: key targets.threshold_seconds is "nan"; expected a '
                             "number >= 1.0.\n")


MAPPING = """[csv.m]
delimiter = {delimiter}
date_format = {date_format}
utc = {utc}
[csv.m.columns]
call_key = "id"
arrival = "start"
"""


@pytest.mark.parametrize(("values", "key", "expected"), [
    ({"delimiter": '";;"'}, "csv.m.delimiter", "one character other than a quote"),
    ({"delimiter": "5"}, "csv.m.delimiter", "one character other than a quote"),
    ({"delimiter": '"\\""'}, "csv.m.delimiter", "one character other than a quote"),
    ({"date_format": "5"}, "csv.m.date_format", "a strptime format"),
    ({"date_format": '"%Y-%m-%d %Q"'}, "csv.m.date_format", "a strptime format"),
    ({"utc": '"yes"'}, "csv.m.utc", "true or false"),
])
def test_a_bad_csv_mapping_is_a_config_error(tmp_path: Path, values: dict[str, str], key: str,
                                             expected: str) -> None:
    fields = {"delimiter": '";"', "date_format": '"%d/%m/%Y %H:%M"', "utc": "false", **values}
    path = tmp_path / "csv_mappings.toml"
    path.write_text(MAPPING.format(**fields))
    with pytest.raises(ConfigError) as err:
        load_mapping(path, "m")
    assert err.value.key == key and expected in str(err.value)


@pytest.mark.parametrize(("text", "key"), [
    ("csv = 5\n", "csv"),
    ("[csv]\nm = 5\n", "csv.m"),
    ('[csv.m]\ncolumns = 5\n', "csv.m.columns"),
    ('[csv.m.columns]\ncall_key = 5\narrival = "a"\n', "csv.m.columns.call_key"),
    ('[csv.m.columns]\ncall_key = "i"\narrival = "a"\n[csv.m.outcomes]\nx = 1\n', 'csv.m.outcomes."x"'),
    ("[csv.m\n", "(syntax)"),
    ('[csv.m]\nseparator = ";"\n', "csv.m.separator"),
])
def test_a_mapping_of_the_wrong_shape_is_a_config_error(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "csv_mappings.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_mapping(path, "m")
    assert err.value.key == key
    latin = tmp_path / "latin.toml"
    latin.write_bytes('[csv.m] # r\u00e9pertoire\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_mapping(latin, "m")


def test_ingest_csv_with_a_bad_delimiter_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "csv_mappings.toml"
    path.write_text(path.read_text().replace('delimiter = ";"', 'delimiter = ";;"'))
    data = tmp_path / "calls.csv"
    data.write_text("ID appel;Début\n1;05/10/2026 10:00:00\n")
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 's.db'}", "--config",
                                      str(directory), "ingest", "csv", "--mapping", "example-export",
                                      str(data)])
    assert result.exit_code == 1
    assert result.output == (f'Error: {path}: key csv.example-export.delimiter is ";;"; expected '
                             'one character other than a quote or a line end, e.g. ";".\n')


# ---------------------------------------------------------------- ambiguities refused


def _sites_change(tmp_path: Path, old: str, new: str) -> tuple[Path, Path]:
    directory = _copy(tmp_path)
    path = directory / "sites.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return directory, path


def test_the_same_did_in_two_formats_on_two_sites_is_refused(tmp_path: Path) -> None:
    directory, path = _sites_change(tmp_path, 'dids = ["0199000106", "+33199000106"]',
                                    'dids = ["0199000106", "+33199000106", "+33 1 99 00 01 05"]')
    with pytest.raises(ConfigError) as err:
        load_config(directory)
    assert str(err.value) == (
        f'{path}: key site "eps-06".dids is "+33 1 99 00 01 05"; expected a number not already used '
        'by site "eps-05" (it has "+33199000105", the same number: +33199000105).')


def test_the_same_public_number_on_two_sites_is_refused(tmp_path: Path) -> None:
    directory, path = _sites_change(tmp_path, 'numbers = ["+33199000106"]', 'numbers = ["01 99 00 01 05"]')
    with pytest.raises(ConfigError) as err:
        load_config(directory)
    assert str(err.value) == (
        f'{path}: key site "eps-06".numbers is "01 99 00 01 05"; expected a number not already used '
        'by site "eps-05" (it has "+33199000105", the same number: +33199000105).')


def test_staff_device_patterns_of_two_sites_that_can_match_one_device_are_refused(tmp_path: Path) -> None:
    directory, path = _sites_change(tmp_path, '"PJSIP/eps06-*"', '"PJSIP/eps0*"')
    with pytest.raises(ConfigError) as err:
        load_config(directory)
    assert str(err.value) == (
        f'{path}: key site "eps-06".staff_devices is "PJSIP/eps0*"; expected patterns that match no '
        'device of another site: "PJSIP/eps05-*" of site "eps-05" matches the same devices, e.g. '
        '"PJSIP/eps05-".')


@pytest.mark.parametrize(("old", "new", "key", "whose"), [
    ('message_contexts = ["msg-eps-06"]', 'message_contexts = ["msg-eps-06", "in-eps-05"]',
     'site "eps-06".message_contexts', 'site "eps-05"\'s'),
    ('voicemail_contexts = ["vm-eps-05"]', 'voicemail_contexts = ["in-eps-05"]',
     'site "eps-05".voicemail_contexts', "its own"),
])
def test_an_inbound_context_listed_as_a_message_or_voicemail_context_is_refused(
        tmp_path: Path, old: str, new: str, key: str, whose: str) -> None:
    """A call ending in a message context counts as answered by the message: an inbound context
    listed there turned another site's unanswered calls into messages."""
    directory, path = _sites_change(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_config(directory)
    assert str(err.value) == (
        f'{path}: key {key} is "in-eps-05"; expected a context the dialplan sends calls to for '
        f"the message or voicemail only, not {whose} inbound context (listed in its contexts): "
        "every unanswered call there would count as answered by the message.")


def test_the_shipped_sites_have_no_ambiguity() -> None:
    config = load_config()
    assert len({n for s in config.sites for n in s.numbers}) == 17


# ---------------------------------------------------------------- fuzzing the loader

Leaf = Any


def _toml_value(value: Leaf) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}"
                             for c in value) + '"'
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml(doc: dict[str, Any]) -> str:
    """A TOML document with every table inline (valid TOML for any nesting)."""
    return "".join(f"{_toml_value(str(k))} = {_toml_value(v)}\n" for k, v in doc.items())


leaves = st.one_of(
    st.booleans(), st.integers(min_value=-10**6, max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "eps-05", "+33199000105", "0199000105", "PJSIP/eps05-*", "*", "08:30-17:00",
                     "17:00-08:30", "2026-10-16", "all", "day", "Europe/Paris", "auto", ";", ";;",
                     "%d/%m/%Y", "paris-eps"]),
    st.dates(), st.times(),
)
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=6)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with one to three of: a value replaced, a key dropped, a key added."""
    import copy

    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)[1:]))
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(values)
        else:
            parent.append(draw(values))
        if not doc:
            break
    return doc


FILES = ("settings.toml", "sites.toml", "closures.toml")
OTHERS = ("csv_mappings.toml", "afterhours.toml", "simulation.toml", "campaigns/eps-2026.toml")
SHIPPED = {name: tomllib.loads((SHIPPED_DIR / name).read_text()) for name in (*FILES, *OTHERS)}


def _load(directory: Path, name: str) -> None:
    """What reads `name`: the loader, or the reader of the other TOML files."""
    from afterhours.settings import load_settings
    from mystery.campaign import load_campaign
    from simulator.messages import simulation_settings

    if name in FILES:
        load_config(directory)
    elif name == "csv_mappings.toml":
        load_mapping(directory / name, "example-export")
    elif name == "afterhours.toml":
        load_settings(load_config(directory))
    elif name == "simulation.toml":
        simulation_settings(load_config(directory))
    else:
        load_campaign(directory / name, load_config(directory))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_config_loads_or_raises_config_error(tmp_path: Path, data: st.DataObject) -> None:
    """Settings, sites, closures, CSV mappings, after-hours, simulation and campaign files."""
    directory = tmp_path / "fuzz"
    if not directory.exists():
        shutil.copytree(SHIPPED_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    name = data.draw(st.sampled_from([*FILES, *OTHERS]))
    text = _toml(data.draw(mutated(SHIPPED[name])))
    if text and data.draw(st.booleans()):  # and sometimes bytes broken too
        raw = bytearray(text.encode())
        for _ in range(data.draw(st.integers(1, 3))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        (directory / name).write_bytes(bytes(raw))
    else:
        (directory / name).write_text(text)
    try:
        _load(directory, name)
    except ConfigError:
        pass
    finally:
        shutil.copy(SHIPPED_DIR / name, directory / name)
