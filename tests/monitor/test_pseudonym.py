"""Numbers to E.164: the fast path agrees with phonenumbers."""

from __future__ import annotations

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from monitor.pseudonym import _fast_e164, normalize_number


@given(st.sampled_from(["0", "+33", "0033"]), st.integers(1, 9), st.text("0123456789", min_size=8,
                                                                        max_size=8))
def test_fast_path_matches_the_full_parser(prefix: str, first: int, rest: str) -> None:
    text = f"{prefix}{first}{rest}"
    fast = _fast_e164(text, "FR")
    parsed = phonenumbers.parse(text, "FR")
    assert fast == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def test_forms() -> None:
    assert normalize_number("01 99 00 01 05") == "+33199000105"
    assert normalize_number("0612345678") == "+33612345678"
    assert normalize_number("anonymous") is None
    assert normalize_number("<unknown>") is None
    assert normalize_number("201") == "201"
