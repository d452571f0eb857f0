"""Directory and caller look-ups done once per distinct value, then spread over the rows.

Each function takes polars columns and calls the reference's own code (`SiteMap`,
`device_of`, `normalize_number`, the pseudonymizer) on the distinct values only, so that
the fast path can never disagree with the reference on what a site, a staff device or a
caller's pseudonym is.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any

import polars as pl

from ingest.site_map import MIN_DID_DIGITS, SiteMap
from monitor.pseudonym import WITHHELD, Pseudonymizer, normalize_number

# `ingest.site_map.device_of`: the channel name without Asterisk's -xxxxxxxx suffix and ;1/;2.
DEVICE_SUFFIX = r"-[0-9a-fA-F]{8}(;[12])?$|-[0-9a-fA-F]{1,8}(;[12])$"
_DID = rf"^\+?[0-9]{{{MIN_DID_DIGITS},}}$"


def map_distinct(column: pl.Series, fn: Callable[[Any], Any], dtype: pl.DataType) -> pl.Series:
    """fn applied to each distinct value of `column` (nulls included), spread back."""
    distinct = column.unique()
    results = [fn(v) for v in distinct.to_list()]
    mapped = pl.DataFrame({"k": distinct, "v": pl.Series(results, dtype=dtype)})
    return (column.to_frame("k").join(mapped, on="k", how="left", nulls_equal=True,
                                      maintain_order="left")["v"].alias(column.name))


def device_of(channel: pl.Expr) -> pl.Expr:
    """`ingest.site_map.device_of` as an expression (values already carry no blanks)."""
    return channel.str.replace(DEVICE_SUFFIX, "")


def looks_like_did(dialed: pl.Expr) -> pl.Expr:
    return dialed.fill_null("").str.contains(_DID)


def staff_of(devices: pl.Series, sites: SiteMap) -> pl.Series:
    """Whether each device (a channel without its suffix) is a staff phone of the directory."""
    return map_distinct(devices, lambda d: bool(d) and sites.staff_site(d) is not None,
                        pl.Boolean())


def context_sites(contexts: pl.Series, sites: SiteMap) -> pl.Series:
    """site_for(context=…) of each context (null when no site lists it)."""
    return map_distinct(contexts, lambda c: sites.site_for(context=c or None), pl.String())


def sites_for(frame: pl.DataFrame, sites: SiteMap) -> pl.Series:
    """site_for(dialed, queue, context) of each row of a frame with those three columns."""
    keys = frame.select("dialed", "queue", "context")
    distinct = keys.unique()
    found = [sites.site_for(dialed=d, queue=q, context=c) for d, q, c in distinct.iter_rows()]
    table = distinct.with_columns(pl.Series("site", found, dtype=pl.String()))
    return keys.join(table, on=["dialed", "queue", "context"], how="left", nulls_equal=True,
                     maintain_order="left")["site"]


def normalized_callers(raw: pl.Series, region: str) -> pl.Series:
    """normalize_number(raw, region) of each value; the plain forms of the reference's own
    `_fast_e164` are done as expressions, every other value by the reference, once."""
    text = raw.str.strip_chars()
    withheld = text.str.to_lowercase().is_in(list(WITHHELD)).fill_null(True)
    fast: Any = pl.when(pl.col("t").str.contains(r"^\+[1-9][0-9]{7,14}$")).then(pl.col("t"))
    if region == "FR":
        fast = (fast.when(pl.col("t").str.contains(r"^0[1-9][0-9]{8}$"))
                .then(pl.lit("+33") + pl.col("t").str.slice(1))
                .when(pl.col("t").str.contains(r"^0033[1-9][0-9]{8}$"))
                .then(pl.lit("+") + pl.col("t").str.slice(2)))
    e164 = text.to_frame("t").select(fast.otherwise(None)).to_series()
    rest = ~withheld & e164.is_null()
    if rest.any():
        slow = map_distinct(raw.filter(rest), lambda v: normalize_number(v, region), pl.String())
        e164 = e164.scatter(rest.arg_true(), slow)
    if withheld.any():
        e164 = e164.scatter(withheld.arg_true(), None)
    return e164.alias(raw.name)


def caller_hashes(callers: pl.Series, pseudonymizer: Pseudonymizer) -> pl.Series:
    """The pseudonymizer's caller_hash of each normalized number, computed once per number."""
    inner, outer = _hmac_pads(pseudonymizer.key)

    def digest(value: str | None) -> str | None:
        if value is None:
            return None
        h = inner.copy()
        h.update(value.encode())
        o = outer.copy()
        o.update(h.digest())
        return o.hexdigest()[:32]

    return map_distinct(callers, digest, pl.String())


def _hmac_pads(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's inner and outer hash states for `key` (RFC 2104), copied per message;
    checked against `hmac.new` so that a mistake here cannot pass unnoticed."""
    block = hashlib.sha256().block_size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    probe = b"+33100000000"
    h, o = inner.copy(), outer.copy()
    h.update(probe)
    o.update(h.digest())
    if o.hexdigest() != hmac.new(key, probe, hashlib.sha256).hexdigest():
        raise AssertionError("HMAC pads disagree with hmac.new")
    return inner, outer


def in_set(column: pl.Expr, values: Iterable[str]) -> pl.Expr:
    return column.is_in(list(values))
