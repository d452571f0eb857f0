"""Pattern overlap is exact: checked against every short string, with fnmatch as the oracle."""

from __future__ import annotations

import itertools
from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st

from config.globs import overlap

PIECES = ["a", "b", "*", "?", "[ab]", "[!a]", "[a-b]", "-", "["]
patterns = st.lists(st.sampled_from(PIECES), max_size=3).map("".join)


def _brute(first: str, second: str, longest: int) -> bool:
    for n in range(longest + 1):
        for chars in itertools.product("abc-[", repeat=n):
            text = "".join(chars)
            if fnmatchcase(text, first) and fnmatchcase(text, second):
                return True
    return False


@given(first=patterns, second=patterns)
def test_overlap_agrees_with_fnmatch_on_every_short_string(first: str, second: str) -> None:
    witness = overlap(first, second)
    if witness is not None:
        assert fnmatchcase(witness, first) and fnmatchcase(witness, second)
    else:
        assert not _brute(first, second, 6)  # a shortest common string has at most 6 characters


def test_the_shipped_kind_of_patterns() -> None:
    assert overlap("PJSIP/eps05-*", "PJSIP/eps06-*") is None
    assert overlap("Local/*@eps05-agents", "Local/*@epscentre-agents") is None
    assert overlap("PJSIP/eps05-*", "PJSIP/eps0*") == "PJSIP/eps05-"
    assert overlap("PJSIP/eps1-*", "PJSIP/eps1[0-9]-*") is None
    assert overlap("Local/*@eps05-agents", "Local/1*") == "Local/1@eps05-agents"
