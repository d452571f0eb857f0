"""Other PBX exports: a CSV file read through a column mapping declared in csv_mappings.toml."""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.loader import MISSING, ConfigError, read_toml
from ingest.finalize import CaptureContext
from ingest.records import RecordError, Reject, unexpected
from monitor.call import CallBuilder, Outcome, Source
from monitor.timeutil import local_to_epoch

FIELDS = ("call_key", "arrival", "answer", "end", "wait_seconds", "dialed", "caller", "site",
          "queue", "answered_by", "outcome")
TIME_FIELDS = ("arrival", "answer", "end")


@dataclass(frozen=True)
class CsvMapping:
    name: str
    columns: dict[str, str]  # field -> header
    outcomes: dict[str, Outcome]
    delimiter: str = ","
    date_format: str = "%Y-%m-%d %H:%M:%S"
    utc: bool = False


class MappingError(ConfigError, RecordError):
    """A mapping of csv_mappings.toml that cannot be used; a ConfigError and a RecordError."""

    def __init__(self, path: Path, key: str, value: object, expected: str, message: str = "") -> None:
        super().__init__(path, key, value, expected)
        if message:
            self.args = (message,)


MAPPING_KEYS = {"delimiter", "date_format", "utc", "columns", "outcomes"}
DELIMITER_EXPECTED = 'one character other than a quote or a line end, e.g. ";"'
DATE_FORMAT_EXPECTED = 'a strptime format with the date, e.g. "%d/%m/%Y %H:%M:%S"'


def load_mapping(path: Path, name: str) -> CsvMapping:
    """Read mapping `name` of `path`; MappingError names the file, key, value and fix."""
    if not path.is_file():
        raise MappingError(path, "(file)", MISSING, "an existing TOML file",
                           f"{path}: no such file; declare the mapping [csv.{name}] there")
    try:
        data = read_toml(path)
    except ConfigError as exc:
        raise MappingError(exc.path, exc.key, exc.value, exc.expected) from None
    tables = _table(path, "csv", data.get("csv", {}))
    if name not in tables:
        raise MappingError(path, f"csv.{name}", MISSING, f"a [csv.{name}] table",
                           f'{path}: no mapping [csv.{name}]; known: {", ".join(tables) or "none"}')
    return _mapping(path, name, _table(path, f"csv.{name}", tables[name]))


def _table(path: Path, key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingError(path, key, value, f"a [{key}] table")
    return value


def _texts(path: Path, key: str, table: dict[str, Any]) -> dict[str, str]:
    for k, v in table.items():
        if not isinstance(v, str):
            raise MappingError(path, f'{key}."{k}"' if key.endswith("outcomes") else f"{key}.{k}", v,
                               "text")
    return table


def _mapping(path: Path, name: str, table: dict[str, Any]) -> CsvMapping:
    key = f"csv.{name}"
    for k in table:
        if k not in MAPPING_KEYS:
            raise MappingError(path, f"{key}.{k}", k, "one of the keys " + ", ".join(sorted(MAPPING_KEYS)))
    columns = _texts(path, f"{key}.columns", _table(path, f"{key}.columns", table.get("columns", {})))
    for field in columns:
        if field not in FIELDS:
            raise MappingError(path, f"{key}.columns.{field}", field, "one of " + ", ".join(FIELDS),
                               f"{path}: key csv.{name}.columns.{field} is unknown; "
                               f"expected one of {', '.join(FIELDS)}")
    for field in ("call_key", "arrival"):
        if field not in columns:
            raise MappingError(path, f"{key}.columns.{field}", MISSING, "a column header",
                               f"{path}: key csv.{name}.columns.{field} is missing; it is required")
    outcomes = {}
    raw = _texts(path, f"{key}.outcomes", _table(path, f"{key}.outcomes", table.get("outcomes", {})))
    for value, outcome in raw.items():
        try:
            outcomes[value] = Outcome(outcome)
        except ValueError:
            expected = "one of " + ", ".join(o.value for o in Outcome)
            raise MappingError(path, f'{key}.outcomes."{value}"', outcome, expected,
                               f'{path}: key csv.{name}.outcomes."{value}" is "{outcome}"; '
                               f"expected {expected}") from None
    return CsvMapping(name, dict(columns), outcomes, _delimiter(path, key, table),
                      _date_format(path, key, table), _utc(path, key, table))


def _delimiter(path: Path, key: str, table: dict[str, Any]) -> str:
    value = table.get("delimiter", ",")
    if not isinstance(value, str) or len(value) != 1 or value in "\"\r\n":
        raise MappingError(path, f"{key}.delimiter", value, DELIMITER_EXPECTED)
    return value


def _date_format(path: Path, key: str, table: dict[str, Any]) -> str:
    value = table.get("date_format", "%Y-%m-%d %H:%M:%S")
    sample = dt.datetime(2026, 10, 5, 9, 8, 7)
    try:
        ok = isinstance(value, str) and dt.datetime.strptime(sample.strftime(value), value).date() \
            == sample.date()
    except ValueError:
        ok = False
    if not ok:
        raise MappingError(path, f"{key}.date_format", value, DATE_FORMAT_EXPECTED)
    return str(value)


def _utc(path: Path, key: str, table: dict[str, Any]) -> bool:
    value = table.get("utc", False)
    if not isinstance(value, bool):
        raise MappingError(path, f"{key}.utc", value, "true or false")
    return value


def parse_generic(lines: Iterable[tuple[int, str]], ctx: CaptureContext, *,
                  mapping: CsvMapping) -> Iterator[CallBuilder | Reject]:
    """One call per data row; the first row is the header."""
    index: dict[str, int] | None = None
    for number, text in lines:
        if not text.strip():
            continue
        try:
            fields = _split(mapping, text)
        except RecordError as exc:
            if index is None:
                raise RecordError(f"the header (line {number}) cannot be read: {exc}") from None
            yield Reject(number, str(exc), text)
            continue
        if index is None:
            index = _header_index(mapping, fields)
            continue
        try:
            yield _row_to_builder(ctx, mapping, index, fields, number, text)
        except RecordError as exc:
            yield Reject(number, str(exc), text)
        except Exception as exc:  # one row never costs the others
            yield Reject(number, unexpected(exc), text)


def _split(mapping: CsvMapping, text: str) -> list[str]:
    try:
        return next(csv.reader([text], delimiter=mapping.delimiter))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise RecordError(f"a field longer than {csv.field_size_limit():,} characters (the "
                              f"line has {len(text):,}): not a row of this export") from None
        raise RecordError(f"malformed CSV ({exc})") from None


def _header_index(mapping: CsvMapping, header: list[str]) -> dict[str, int]:
    index = {}
    for field, column in mapping.columns.items():
        if column not in header:
            raise RecordError(f'mapping "{mapping.name}": column "{column}" ({field}) is not in the '
                              f"header ({', '.join(header)}); fix csv_mappings.toml or the export")
        index[field] = header.index(column)
    return index


def _row_to_builder(ctx: CaptureContext, mapping: CsvMapping, index: dict[str, int],
                    fields: list[str], number: int, text: str) -> CallBuilder:
    if len(fields) <= max(index.values()):
        raise RecordError(f"wrong column count: {len(fields)} columns, the header names "
                          f"{max(index.values()) + 1} or more")
    values = {f: fields[i].strip() for f, i in index.items()}
    b = CallBuilder(pbx=ctx.pbx.name, call_key=values["call_key"], source=Source.CSV,
                    line=number, raw=[text])
    if not b.call_key:
        raise RecordError("empty call_key")
    for field in TIME_FIELDS:
        if values.get(field):
            epoch = _time(mapping, ctx, field, values[field], b.arrival)
            ctx.window.check(epoch, field, values[field])
            setattr(b, field, epoch)
    if values.get("wait_seconds"):
        b.answer = _wait(values["wait_seconds"], b.arrival)
    for field in ("dialed", "caller", "site", "queue", "answered_by"):
        setattr(b, field, values.get(field) or None)
    if values.get("outcome"):
        b.outcome = _outcome(mapping, values["outcome"])
        if b.outcome is Outcome.ABANDONED:
            b.outcome = None  # finalize tells short abandons apart
    elif "outcome" in index and b.answer is None:  # never an abandon on a guess
        raise RecordError(f'empty outcome (column "{mapping.columns["outcome"]}") and no answer '
                          "time: how the call ended is unknown, so it is not counted (not as an "
                          "abandon either); export the call once it has ended")
    b.is_test = False
    return b


def _time(mapping: CsvMapping, ctx: CaptureContext, field: str, value: str,
          after: float | None) -> float:
    try:
        naive = dt.datetime.strptime(value, mapping.date_format)
        if mapping.utc:
            return naive.replace(tzinfo=dt.UTC).timestamp()
        return local_to_epoch(naive, ctx.pbx.tz, prefer_after=after)
    except (ValueError, OverflowError):  # not the format, or a year no zone can convert
        if (year := _year(value)) is not None and ctx.window.year_outside(year):
            raise RecordError(ctx.window.outside(field, value)) from None
        raise RecordError(f'bad date in {field}: "{value}", expected format '
                          f'"{mapping.date_format}"') from None


def _year(value: str) -> int | None:
    """A four-digit year written in a date, if any."""
    found = re.search(r"(?<![0-9])[0-9]{4}(?![0-9])", value)
    return int(found.group()) if found else None


MAX_WAIT = 86_400.0  # a wait longer than a day is no wait


def _wait(value: str, arrival: float | None) -> float:
    expected = f"expected seconds from 0 to {MAX_WAIT:,.0f}, e.g. 12.5"
    try:
        seconds = float(value.replace(",", "."))
    except ValueError:
        raise RecordError(f'bad number in wait_seconds: "{value}"; {expected}') from None
    if not math.isfinite(seconds) or seconds > MAX_WAIT:
        raise RecordError(f'bad number in wait_seconds: "{value}"; {expected}')
    if seconds < 0:
        raise RecordError(f'negative wait_seconds: "{value}"')
    if arrival is None:
        raise RecordError("wait_seconds without an arrival time")
    return arrival + seconds


def _outcome(mapping: CsvMapping, value: str) -> Outcome:
    if value not in mapping.outcomes:
        raise RecordError(f'unknown outcome "{value}"; add it to [csv.{mapping.name}.outcomes] '
                          f"({', '.join(mapping.outcomes)})")
    return mapping.outcomes[value]
