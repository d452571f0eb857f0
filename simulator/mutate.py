"""Hostile variants of PBX files, for the fuzz suite (tests/ingest/test_fuzz.py, bench/fuzz.py).

Each mutation damages one line the way a crash, an editor, a bad export, a PBX bug or a damaged
disk would: a changed, inserted or deleted character, a cut line, a field emptied, dropped,
doubled or replaced by an extreme value (nan, year 0001 or 9999, a 14-digit epoch, '2²', a NUL,
a field of 140,000 characters, 100,000 nested brackets), a digit of a field changed (a time or
an id nudged), a line doubled, swapped with the next one, or blanked. `mutate_lines` returns
the new lines and the numbers of the original lines it touched: a line it did not touch is a
good line, whose call the importers must still store. Write them with
`errors="surrogateescape"`: the "bytes" mutation puts bytes that are not UTF-8 in the file.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

EXTREMES = (
    "", " ", "nan", "NaN", "inf", "-inf", "-1", "0", "1e308", "-0", "2²", "٣٤", "１２",
    "0001-01-01 00:00:00", "9999-12-31 23:59:59", "1970-01-01 00:00:00", "2099-06-01 10:00:00",
    "2026-02-30 25:61:61", "99999999999999", "999999999999.000000", "-99999999999",
    "\x00", "\x00\x00\x00", "\ufffd", "\ufeff", "'; DROP TABLE calls; --", '"', '""', "|", ",",
    ";", "\t", "=cmd|' /C calc'!A0", "NONE", "Local/x;2", "{", '{"hangupcause":', "\u202e",
    "a" * 200, "ééé", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
)
JUNK = "\x00\x01\x7f\"',;|\\\n\r\t é€😀\ufeff\ufffd0123456789-.:"


def _split(text: str, delimiter: str) -> list[str]:
    return text.split(delimiter)


def _field(rng: random.Random, text: str, delimiter: str,
           change: Callable[[random.Random, str], str]) -> str:
    fields = _split(text, delimiter)
    i = rng.randrange(len(fields))
    quoted = fields[i].startswith('"') and fields[i].endswith('"') and len(fields[i]) >= 2
    inner = fields[i][1:-1] if quoted else fields[i]
    new = change(rng, inner)
    fields[i] = f'"{new}"' if quoted and rng.random() < 0.7 else new
    return delimiter.join(fields)


def _digit(rng: random.Random, value: str) -> str:
    digits = [i for i, c in enumerate(value) if c.isdigit()]
    if not digits:
        return value + str(rng.randrange(10))
    i = rng.choice(digits)
    return value[:i] + str(rng.randrange(10)) + value[i + 1:]


def _char(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + rng.choice(JUNK) + text[i + 1:]


def _insert(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] + "".join(rng.choice(JUNK) for _ in range(rng.randrange(1, 6))) + text[i:]


def _delete(rng: random.Random, text: str) -> str:
    if not text:
        return text
    i = rng.randrange(len(text))
    return text[:i] + text[i + rng.randrange(1, 12):]


def _fields(rng: random.Random, text: str, delimiter: str) -> str:
    fields = _split(text, delimiter)
    how = rng.randrange(3)
    i = rng.randrange(len(fields))
    if how == 0:
        del fields[i]
    elif how == 1:
        fields.insert(i, fields[i])
    else:
        j = rng.randrange(len(fields))
        fields[i], fields[j] = fields[j], fields[i]
    return delimiter.join(fields)


# name -> (weight, the mutated text of one line; "\n" in the result splits it into two lines)
LINE_MUTATIONS: dict[str, tuple[int, Callable[[random.Random, str, str], str]]] = {
    "char": (3, lambda rng, t, d: _char(rng, t)),
    "insert": (2, lambda rng, t, d: _insert(rng, t)),
    "delete": (2, lambda rng, t, d: _delete(rng, t)),
    "cut": (2, lambda rng, t, d: t[:rng.randrange(len(t) + 1)]),
    "extreme": (5, lambda rng, t, d: _field(rng, t, d, lambda r, v: r.choice(EXTREMES))),
    "digit": (5, lambda rng, t, d: _field(rng, t, d, _digit)),
    "fields": (2, lambda rng, t, d: _fields(rng, t, d)),
    "nul": (1, lambda rng, t, d: _field(rng, t, d, lambda r, v: v + "\x00" * r.randrange(1, 40))),
    "long": (1, lambda rng, t, d: _field(rng, t, d, lambda r, v: "x" * r.choice(
        (5_000, 140_000)))),
    "json": (1, lambda rng, t, d: _field(rng, t, d, lambda r, v: "[" * 100_000)),
    "bytes": (1, lambda rng, t, d: _field(rng, t, d, lambda r, v: v + "\udcff\udcc3")),  # not UTF-8
    "double": (2, lambda rng, t, d: t + "\n" + t),
    "blank": (1, lambda rng, t, d: rng.choice(("", " ", "\t"))),
}
_NAMES = tuple(LINE_MUTATIONS)
_WEIGHTS = tuple(w for w, _ in LINE_MUTATIONS.values())


def mutate_lines(lines: Sequence[str], rate: float, rng: random.Random, delimiter: str = ",",
                 protect: int = 0) -> tuple[list[str], set[int]]:
    """(the mutated lines, the 1-based numbers of the original lines touched). About `rate` of
    the lines after the first `protect` (a header) are mutated; some are swapped with the next
    line (both touched)."""
    out: list[str] = []
    touched: set[int] = set()
    pending_swap: str | None = None
    for number, text in enumerate(lines, start=1):
        if number <= protect or rng.random() >= rate:
            out.append(text)
        elif pending_swap is None and rng.random() < 0.05 and number < len(lines):  # swapped
            touched.update((number, number + 1))
            pending_swap = text
            continue
        else:
            name = rng.choices(_NAMES, _WEIGHTS)[0]
            out.extend(LINE_MUTATIONS[name][1](rng, text, delimiter).split("\n"))
            touched.add(number)
        if pending_swap is not None:
            out.append(pending_swap)
            pending_swap = None
    return out, touched
