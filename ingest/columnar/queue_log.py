"""`qualiphone ingest queue-log`'s fast path: the queues' own events folded over columns.

A caller (callid) is built here when its events have one of the plain shapes of
`ingest.queue_log`'s fold — one ENTERQUEUE first (a FreePBX DID line may come before it), then
ring events and either a CONNECT before any exit (answered; COMPLETE* and transfers give the
end), one ABANDON or one queue exit. Everything else — a caller still waiting, several
ENTERQUEUE (a caller who left a queue and entered another), a COMPLETE without its CONNECT (a
rotated file), events the fold does not know, lines that are not ordinary — goes to the
reference parser with all the lines of its callid. A file where a callid could be closed by the
reference's six-hour sweep and then seen again is read by the reference as a whole.

The order of the calls is the reference's: callers leave at the first hourly sweep that finds
them silent for six hours, else at the end of the file, in the order they first appeared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from ingest import queue_log as reference
from ingest.columnar.batch import ColumnarImporter, FastPart, Item, Parsed, WholeFile
from ingest.columnar.finalize import complete_builders
from ingest.columnar.lines import FileLines
from ingest.columnar.lookup import sites_for
from ingest.finalize import CaptureContext
from ingest.records import RecordError, no_site_reason
from monitor.call import CallBuilder, Outcome, Source

MAX_FIELDS = 12
_FIELD = r"[\x20-\x7b\x7d\x7e]{0,64}"  # printable ASCII but "|", bounded
LINE = (rf"^[0-9]{{1,12}}\|[\x20-\x7b\x7d\x7e]{{1,64}}\|{_FIELD}\|{_FIELD}\|[A-Z_]{{1,32}}"
        rf"(?:\|{_FIELD}){{0,{MAX_FIELDS - 5}}}\n$")
RINGS = ("RINGNOANSWER", "RINGCANCELED")
EXITS = ("EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY", "WITHDRAW")
FINISH = ("COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "ATTENDEDTRANSFER", "TRANSFER")
KNOWN = ("ENTERQUEUE", "CONNECT", "ABANDON", "DID", *RINGS, *EXITS, *FINISH)
_INT = r"^[0-9]{1,15}$"


class ColumnarQueueLog(ColumnarImporter):
    """The fast queue_log importer (`run_batch` calls `parse_file`)."""

    source = Source.QUEUE_LOG
    _order: dict[str, int]  # callid -> position among the reference's items
    _by_line: dict[int, int]  # first line of a callid -> the same
    _read = False  # True when the fast path read the file (else the reference read it whole)

    def reference(self) -> Callable[..., object]:
        return reference.parse_queue_log

    def fast_part(self, lines: FileLines, ctx: CaptureContext) -> FastPart:
        ordinary = lines.matching(LINE)
        if ordinary.sum() < len(lines) / 2:
            raise WholeFile("most lines are not ordinary")
        events = _events(lines, ordinary)
        window = ctx.window  # a line outside it is the reference's reject, not an event
        outside = events.filter(~pl.col("time").is_between(window.earliest, window.latest))
        rejected = outside["line"].to_numpy() - 1
        events = events.filter(pl.col("time").is_between(window.earliest, window.latest))
        # the reference reads the restarts too: a caller it builds may be cut off by one
        restarts = events.filter(pl.col("event") == "QUEUESTART")["line"].to_numpy() - 1
        events = events.filter((pl.col("callid") != "NONE")
                               & ~pl.col("event").is_in(list(reference._IGNORED)))
        order = _emission_order(events)
        taint = pl.concat([events.filter(~pl.col("ordinary"))["callid"],
                           _across(events, restarts + 1)]).unique()
        callers = _callers(events.filter(~pl.col("callid").is_in(taint.implode())))
        plain = callers.filter(pl.col("shape").is_not_null())
        builders, skipped = _builders(plain.join(order.select("callid", "order"), on="callid",
                                                 how="left"), ctx)
        groups = events.select(index=pl.col("line") - 1, group=pl.col("callid"))
        unsure = callers.filter(pl.col("shape").is_null())["callid"]
        delegated = pl.concat([taint, unsure]).alias("group")
        # the positions of the callers the reference builds, by callid and by first line
        known = order.filter(pl.col("callid").is_in(delegated.implode()))
        self._order = dict(zip(known["callid"].to_list(), known["order"].to_list(), strict=True))
        self._by_line = dict(zip(known["line"].to_list(), known["order"].to_list(), strict=True))
        self._read = True
        return FastPart(builders, skipped, groups,
                        np.union1d(np.union1d(np.flatnonzero(~ordinary), rejected), restarts),
                        delegated)

    def order_of(self, item: Item, index: int) -> int:
        """The emission order of the item's callid (a Skipped is found by its first line);
        the reference's own order when it read the whole file."""
        if not self._read:
            return index
        if isinstance(item, CallBuilder):
            return self._order[item.call_key]
        return self._by_line.get(item.line or 0, index)

    def parse(self, path: Path, ctx: CaptureContext,
              on_bytes: Callable[[int], None] | None = None, *, kind: str = "",
              limit: int | None = None) -> Parsed:
        self.whole_file()
        return super().parse(path, ctx, on_bytes, kind=kind, limit=limit)

    def whole_file(self) -> None:
        self._order, self._by_line, self._read = {}, {}, False


def _across(events: pl.DataFrame, restarts: np.ndarray) -> pl.Series:
    """The callids with lines on both sides of a restart (QUEUESTART, `restarts`: 1-based
    lines): the reference closes the caller there and starts another; left to it."""
    if not len(restarts):
        return pl.Series("callid", [], pl.String())
    spans = events.group_by("callid").agg(first=pl.col("line").min(), last=pl.col("line").max())
    inside = np.searchsorted(restarts, spans["last"].to_numpy()) \
        - np.searchsorted(restarts, spans["first"].to_numpy(), side="right")
    return spans.filter(pl.Series(inside > 0))["callid"]


def _events(lines: FileLines, ordinary: np.ndarray) -> pl.DataFrame:
    """Every line that parses (ordinary ones with polars, the others with the reference's
    line parser) as columns: line, time, callid, queue, agent, event, data0…, ordinary."""
    text = pl.read_csv(lines.select(ordinary), has_header=False, separator="\x01",
                       quote_char=None, infer_schema=False, new_columns=["text"],
                       raise_if_empty=False)
    fields = text["text"].str.split_exact("|", MAX_FIELDS - 1).struct.unnest()
    names = ["time", "callid", "queue", "agent", "event", *[f"d{i}" for i in range(MAX_FIELDS - 5)]]
    fields.columns = names
    fast = fields.with_columns(line=pl.Series(np.flatnonzero(ordinary) + 1, dtype=pl.Int64()),
                               time=pl.col("time").cast(pl.Int64()), ordinary=pl.lit(True))
    others = []
    for index in np.flatnonzero(~ordinary).tolist():
        line = lines.text(index)
        if not line.strip():
            continue
        try:
            e = reference.parse_queue_log_line(line)
        except RecordError:
            continue
        data = [*e.data[:MAX_FIELDS - 5], *[None] * (MAX_FIELDS - 5 - len(e.data))]
        others.append([e.time, e.callid, e.queue, e.agent, e.event, *data, index + 1, False])
    schema = {**{n: pl.String() for n in names}, "time": pl.Int64(), "line": pl.Int64(),
              "ordinary": pl.Boolean()}
    rest = pl.DataFrame(others, schema=[*names, "line", "ordinary"], orient="row").cast(schema)  # type: ignore[arg-type]
    return pl.concat([fast.select(rest.columns), rest]).sort("line")


def _emission_order(events: pl.DataFrame) -> pl.DataFrame:
    """Position of each callid's call among the reference's items (see the module doc);
    WholeFile when the six-hour sweep could split a callid in two."""
    times = events["time"].to_numpy()
    if not len(times):
        return pl.DataFrame(schema={"callid": pl.String(), "order": pl.Int64(), "line": pl.Int64()})
    running = np.maximum.accumulate(times)
    sweeps: list[int] = []
    swept = 0
    while True:  # the reference sweeps at the first line an hour after its last sweep
        i = int(np.searchsorted(running, swept + reference._SWEEP_EVERY, side="left"))
        if i >= len(times):
            break
        sweeps.append(i)
        swept = int(times[i])
    at = np.array(sweeps, dtype=np.int64)
    moment = times[at]
    frame = events.with_row_index("i").with_columns(
        seen=pl.col("time").cum_max().over("callid"),
        overall=pl.Series(running))
    previous = frame.with_columns(before=pl.col("seen").shift().over("callid")).filter(
        pl.col("before").is_not_null())
    if (previous["overall"] - reference._SETTLE_SECONDS > previous["before"]).any():
        raise WholeFile("a caller could be closed and seen again")
    per = frame.group_by("callid", maintain_order=True).agg(
        first=pl.col("i").first(), last=pl.col("i").last(), top=pl.col("time").max(),
        line=pl.col("line").first())
    k = np.maximum(np.searchsorted(at, per["last"].to_numpy(), side="right"),
                   np.searchsorted(moment, per["top"].to_numpy() + reference._SETTLE_SECONDS,
                                   side="right"))
    order = k * (len(times) + 1) + per["first"].to_numpy()
    return per.select("callid", "line", order=pl.Series(order, dtype=pl.Int64()))


def _callers(events: pl.DataFrame) -> pl.DataFrame:
    """Per callid (in order of first appearance): its shape (None: not a plain one) and the
    fields of its builder."""
    e = pl.col("event")
    first_of = lambda cond, col: pl.col(col).filter(cond).first()  # noqa: E731
    per = events.group_by("callid", maintain_order=True).agg(
        line=pl.col("line").first(), first_time=pl.col("time").first(),
        enters=(e == "ENTERQUEUE").sum(), unknown=(~e.is_in(KNOWN)).sum(),
        enter_line=first_of(e == "ENTERQUEUE", "line"),
        first_event_line=first_of(e != "DID", "line"),
        queue_entry=first_of(e == "ENTERQUEUE", "time"),
        caller=first_of(e == "ENTERQUEUE", "d1"),
        dialed=first_of((e == "DID") & (pl.col("d0").fill_null("") != ""), "d0"),
        connect_line=first_of(e == "CONNECT", "line"),
        connect_time=first_of(e == "CONNECT", "time"),
        agent=first_of(e == "CONNECT", "agent"),
        early_end=first_of(e.is_in([*EXITS, *FINISH, "ABANDON"]), "line"),
        abandons=(e == "ABANDON").sum(), exits=e.is_in(EXITS).sum(), finishes=e.is_in(FINISH).sum(),
        abandon_time=first_of(e == "ABANDON", "time"), exit_time=first_of(e.is_in(EXITS), "time"),
        finish_time=pl.col("time").filter(e.is_in(FINISH)).last(),
        queues=pl.col("queue").filter((pl.col("queue") != "") & (pl.col("queue") != "NONE")),
        ring=_ring_moment().min(),
    )
    connected = pl.col("connect_line").is_not_null()
    plain = ((pl.col("enters") == 1) & (pl.col("unknown") == 0)
             & (pl.col("enter_line") == pl.col("first_event_line")))
    answered = connected & (pl.col("early_end").is_null() | (pl.col("early_end") > pl.col("connect_line")))
    quiet = ~connected & (pl.col("finishes") == 0)
    shape = (pl.when(plain & answered).then(pl.lit("answered"))
             .when(plain & quiet & (pl.col("abandons") == 1) & (pl.col("exits") == 0))
             .then(pl.lit("abandoned"))
             .when(plain & quiet & (pl.col("abandons") == 0) & (pl.col("exits") == 1))
             .then(pl.lit("exited")))  # a caller still waiting goes to the reference (a reject)
    return per.with_columns(shape=shape).filter(pl.col("queues").list.len() > 0)


def _ring_moment() -> pl.Expr:
    """The ring start each line gives (`_ring_ms`, `_connect`), else null."""
    e = pl.col("event")
    ms = pl.col("d0").fill_null("")
    ringtime = pl.col("d2").fill_null("")
    return (pl.when(e.is_in(RINGS) & ms.str.contains(_INT))
            .then(pl.col("time") - ms.cast(pl.Int64(), strict=False) / 1000)
            .when((e == "CONNECT") & ringtime.str.contains(_INT))
            .then((pl.col("time") - ringtime.cast(pl.Int64(), strict=False)).cast(pl.Float64())))


def _builders(callers: pl.DataFrame, ctx: CaptureContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Builder columns of the plain callers (`_close`), and the Skipped of queues of no site."""
    queue_sites = callers.select(pl.col("queues").list.eval(
        pl.element().filter(pl.element().is_in(list(ctx.sites.by_queue)))).list.first())
    callers = callers.with_columns(
        queue=pl.coalesce(queue_sites.to_series(), pl.col("queues").list.first()),
        context=pl.lit(None, pl.String()))
    site = sites_for(callers, ctx.sites)
    skipped = callers.filter(site.is_null())
    reasons = [no_site_reason(d, q) for d, q in skipped.select("dialed", "queue").iter_rows()]
    skipped = skipped.select(
        "order", "line", reason=pl.Series(reasons, dtype=pl.String()), dialed="dialed",
        queue="queue", context="context", arrival=pl.lit(None, pl.Float64()), no_site=pl.lit(True))
    b = callers.filter(site.is_not_null())
    start = pl.col("queue_entry").cast(pl.Float64())
    epoch = pl.col("callid").str.extract(r"^(?:.*-)?([0-9]{9,10})\.[0-9]+$").cast(pl.Int64())
    plausible = epoch.is_between(pl.col("first_time") - reference._MAX_BEFORE_QUEUE,
                                 pl.col("first_time")) & (epoch != 0)
    arrival = pl.when(plausible).then(epoch.cast(pl.Float64())).otherwise(start)
    shape = pl.col("shape")
    built = b.select(
        "order", call_key="callid", dialed="dialed", queue="queue", context="context",
        caller=pl.when(pl.col("caller").fill_null("") != "").then(pl.col("caller")),
        arrival=arrival, queue_entry=start,
        first_ring=pl.when(pl.col("ring").is_not_null()).then(pl.max_horizontal("ring", start)),
        answer=pl.when(shape == "answered").then(pl.col("connect_time").cast(pl.Float64())),
        answered_by=pl.when(shape == "answered").then(pl.col("agent")),
        end=pl.when(shape == "answered").then(pl.col("finish_time"))
        .when(shape == "abandoned").then(pl.col("abandon_time"))
        .when(shape == "exited").then(pl.col("exit_time")).cast(pl.Float64()),
        outcome=pl.when(shape == "answered").then(pl.lit(Outcome.ANSWERED.value))
        .when(shape == "abandoned").then(pl.lit(Outcome.ABANDONED.value)),
        is_test=pl.col("caller").fill_null("").is_in(list(ctx.pbx.test_accountcodes))
        & (pl.col("caller").fill_null("") != ""),
        incomplete=shape == "exited", resolution=pl.lit(1.0),
        line="line", group="callid",
    )
    return complete_builders(built), skipped
