"""Whether two shell-style patterns (fnmatch: `*`, `?`, `[seq]`, `[!seq]`) can match one string.

Used to refuse staff-device patterns of two sites that could claim the same phone. The answer
is exact: a search over pairs of positions in the two patterns (the product of their
automata), which also yields a short string both match, shown in the error.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

STAR = "*"
FILLERS = "x0-_aAz9"  # characters tried when a class excludes some


@dataclass(frozen=True)
class Atom:
    """One character position: any character, or a set (possibly negated)."""

    chars: frozenset[str] = frozenset()
    negated: bool = True  # the default, negated empty set, is `?`

    def accepts(self, char: str) -> bool:
        return (char in self.chars) != self.negated


Token = Atom | str  # an Atom, or STAR


def tokens(pattern: str) -> list[Token]:
    """The pattern as fnmatch reads it (an unclosed `[` is a literal, as in fnmatch)."""
    out: list[Token] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "*":
            if not out or out[-1] != STAR:
                out.append(STAR)
        elif char == "?":
            out.append(Atom())
        elif char == "[" and (end := _class_end(pattern, i)) is not None:
            out.append(_class(pattern[i:end]))
            i = end + 1
        else:
            out.append(Atom(frozenset(char), negated=False))
    return out


def _class_end(pattern: str, start: int) -> int | None:
    j = start
    if j < len(pattern) and pattern[j] == "!":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    end = pattern.find("]", j)
    return None if end < 0 else end


def _class(body: str) -> Atom:
    negated = body.startswith("!")
    body = body[1:] if negated else body
    chars: set[str] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = ord(body[i]), ord(body[i + 2])
            chars.update(chr(c) for c in range(low, min(high, low + 0x3000) + 1))
            i += 3
        else:
            chars.add(body[i])
            i += 1
    return Atom(frozenset(chars), negated)


def _common(a: Atom, b: Atom) -> str | None:
    """A character both atoms accept, or None."""
    if not a.negated:
        return next((c for c in sorted(a.chars) if b.accepts(c)), None)
    if not b.negated:
        return next((c for c in sorted(b.chars) if a.accepts(c)), None)
    taken = a.chars | b.chars
    return next(c for c in (*FILLERS, *(chr(n) for n in range(0x100, 0x10000))) if c not in taken)


def overlap(first: str, second: str) -> str | None:
    """A string that both patterns match (fnmatchcase), or None when there is none."""
    a, b = tokens(first), tokens(second)
    start = (0, 0)
    came: dict[tuple[int, int], tuple[tuple[int, int], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        i, j = state
        if i == len(a) and j == len(b):
            return _spell(came, state)
        for nxt, char in _moves(a, b, i, j):
            if nxt not in came:
                came[nxt] = (state, char)
                (queue.appendleft if char == "" else queue.append)(nxt)
    return None


def _moves(a: list[Token], b: list[Token], i: int, j: int) -> list[tuple[tuple[int, int], str]]:
    """Transitions of the product automaton: (next state, character consumed or "")."""
    x = a[i] if i < len(a) else None
    y = b[j] if j < len(b) else None
    moves: list[tuple[tuple[int, int], str]] = []
    if x == STAR:
        moves.append(((i + 1, j), ""))
    if y == STAR:
        moves.append(((i, j + 1), ""))
    if x is None or y is None:
        return moves
    if x == STAR and isinstance(y, Atom):
        char = _common(Atom(), y)
        if char is not None:
            moves.append(((i, j + 1), char))
    elif y == STAR and isinstance(x, Atom):
        char = _common(x, Atom())
        if char is not None:
            moves.append(((i + 1, j), char))
    elif isinstance(x, Atom) and isinstance(y, Atom):
        char = _common(x, y)
        if char is not None:
            moves.append(((i + 1, j + 1), char))
    return moves


def _spell(came: dict[tuple[int, int], tuple[tuple[int, int], str] | None], state: tuple[int, int]) -> str:
    chars = []
    step = came[state]
    while step is not None:
        state, char = step
        chars.append(char)
        step = came[state]
    return "".join(reversed(chars))
