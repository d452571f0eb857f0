"""`qualiphone ingest cel`'s fast path: cel_custom CSV grouped by linkedid over columns.

A call (linkedid) is built here when its records are all ordinary (20 quoted fields, an epoch
event time, identifiers without blanks) and it ends with its one LINKEDID_END, or has none yet
(still open at the end of the file: incomplete, unless still ringing: those go to the
reference, which keeps them as rejects); its caller leg must have its CHAN_START. The
rules are `ingest.cel`'s: caller leg, dialed number, queue, site context, test flag, the first
staff device connected (channel or bridge peer), the end, the unanswered outcome from the
contexts reached and the caller's HANGUP, an unknown device or a machine. Everything else —
records of other shapes (local-time event times, a linkedid ended twice, records after its
LINKEDID_END), calls without their CHAN_START — goes to the reference with all its lines.

Calls come in the reference's order: at their LINKEDID_END, then the open ones at the end of the
file in the order they first appeared.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from ingest import cel as reference
from ingest.cdr import PERSON_APPS
from ingest.cel_read import CSV_COLUMNS, CelRecord, read_cel_csv
from ingest.columnar.batch import ColumnarImporter, FastPart, WholeFile, cuts, merged_parts
from ingest.columnar.finalize import complete_builders
from ingest.columnar.lines import FileLines, csv_line_pattern
from ingest.columnar.lookup import (
    context_sites,
    device_of,
    map_distinct,
    normalized_callers,
    sites_for,
    staff_of,
)
from ingest.finalize import CaptureContext
from ingest.records import no_site_reason
from monitor.call import Outcome, Source

COLUMNS = ("eventtype", "eventtime", "cid_name", "cid_num", "cid_ani", "rdnis", "cid_dnid",
           "exten", "context", "channel", "appname", "appdata", "amaflags", "accountcode",
           "uniqueid", "linkedid", "peer", "userfield", "userdeftype", "extra")
USED = ("eventtype", "eventtime", "cid_num", "cid_dnid", "exten", "context", "channel",
        "appname", "appdata", "accountcode", "uniqueid", "linkedid", "peer", "extra")
EPOCH = r"^[0-9]{9,11}(\.[0-9]{1,9})?$"
NOT_A_NUMBER = ["", "s"]
MAX_BYTES = 256
CHUNK_LINES = 250_000  # lines read and assembled at once


class ColumnarCel(ColumnarImporter):
    """The fast cel_custom importer (`run_batch` calls `parse_file`)."""

    source = Source.CEL
    _order: dict[int, int]  # first line of a group -> its position among the reference's items

    def reference(self) -> Callable[..., object]:
        return reference.parse_cel

    def order_of(self, item: object, index: int) -> int:
        """A call's position: its LINKEDID_END line, or after every line for open calls."""
        if not self._order:
            return index
        return self._order.get(getattr(item, "line", None) or 0, index)

    def whole_file(self) -> None:
        self._order = {}

    def fast_part(self, lines: FileLines, ctx: CaptureContext) -> FastPart:
        """The file in parts of about CHUNK_LINES lines, cut where no linkedid or uniqueid has
        records on both sides (memory bounded by the part; no call straddles a cut)."""
        self.whole_file()
        ordinary = lines.matching(csv_line_pattern(CSV_COLUMNS))
        if ordinary.sum() < len(lines) / 2:
            raise WholeFile("most lines are not ordinary")
        others = _delegated_records(lines, np.flatnonzero(~ordinary), ctx)
        narrow = _records(lines, ordinary, ("eventtype", "uniqueid", "linkedid"))
        everything = pl.concat([narrow.select(others.columns), others]).sort("line")
        self._order = _emission(everything, len(lines))
        # the reference groups a record by its linkedid, else its uniqueid
        odd = pl.concat([others["linkedid"], others["uniqueid"]]).unique().alias("g")
        keys = pl.concat([everything.select(key="linkedid", line="line"),
                          everything.select(key="uniqueid", line="line")]).filter(pl.col("key") != "")
        del narrow, everything
        parts = [self._part(lines.part(lo, hi), ordinary[lo:hi], odd, ctx, len(lines))
                 for lo, hi in cuts(len(lines), keys, CHUNK_LINES)]
        return merged_parts(parts)

    def _part(self, lines: FileLines, ordinary: np.ndarray, odd: pl.Series, ctx: CaptureContext,
              n: int) -> FastPart:
        records = _records(lines, ordinary)
        good = records.select(_good(ctx)).to_series()
        bad = records.filter(~good)
        delegated = np.union1d(np.flatnonzero(~ordinary) + lines.base, bad["line"].to_numpy() - 1)
        taint = pl.concat([odd, bad["linkedid"], bad["uniqueid"]]).unique().alias("g")
        records = records.filter(good).with_columns(g=pl.col("linkedid"))
        shapes = records.group_by("g").agg(
            ends=(pl.col("eventtype") == "LINKEDID_END").sum(),
            last=pl.col("eventtype").last(), first=pl.col("line").min(),
            end_line=pl.col("line").filter(pl.col("eventtype") == "LINKEDID_END").first())
        unsure = shapes.filter((pl.col("ends") > 1)
                               | ((pl.col("ends") == 1) & (pl.col("last") != "LINKEDID_END")))["g"]
        out = pl.concat([taint, unsure]).unique()
        fast = records.filter(~pl.col("g").is_in(out.implode()))
        builders, skipped, missing = _calls(fast, shapes, ctx, n)
        groups = records.select(index=pl.col("line") - 1, group="g")
        return FastPart(builders, skipped, groups, delegated,
                        pl.concat([out, missing]).alias("group"))


def _records(lines: FileLines, ordinary: np.ndarray,
             names: tuple[str, ...] = USED) -> pl.DataFrame:
    """The ordinary lines' fields `names` (the others are never materialized) and `line`."""
    frame = pl.read_csv(lines.select(ordinary), has_header=False, infer_schema=False,
                        columns=sorted(COLUMNS.index(c) for c in names), quote_char='"',
                        empty_string_is_null=False, raise_if_empty=False)
    frame.columns = sorted(names, key=COLUMNS.index)
    if len(frame) != ordinary.sum():
        raise WholeFile("the CSV reader and the line check disagree")
    return frame.with_columns(
        line=pl.Series(np.flatnonzero(ordinary) + 1 + lines.base, dtype=pl.Int64()))


def _good(ctx: CaptureContext) -> pl.Expr:
    """Records of the plain shape: epoch time in the plausible window (else the reference
    rejects them), ids and channels without blanks, bounded."""
    checks = [pl.col(c).str.len_bytes() <= MAX_BYTES for c in USED]
    checks += [pl.col(c) != "" for c in ("eventtype", "uniqueid", "linkedid")]
    checks += [~pl.col(c).str.contains(" ", literal=True)
               for c in ("uniqueid", "linkedid", "channel", "eventtype")]
    epoch = pl.col("eventtime").cast(pl.Float64(), strict=False)
    checks.append(epoch.is_between(ctx.window.earliest, ctx.window.latest).fill_null(False))
    checks += [pl.col("eventtime").str.contains(EPOCH), pl.col("uniqueid").str.len_bytes() <= 64,
               pl.col("linkedid").str.len_bytes() <= 64, pl.col("exten").str.len_bytes() <= 32,
               pl.col("cid_dnid").str.len_bytes() <= 32, pl.col("cid_num").str.len_bytes() <= 32,
               pl.col("channel").str.len_bytes() <= 96]
    return pl.all_horizontal(checks)


def _delegated_records(lines: FileLines, delegated: np.ndarray, ctx: CaptureContext
                       ) -> pl.DataFrame:
    """The delegated lines that read as CEL rows (line, eventtype, linkedid, uniqueid)."""
    rows = [(item.line, item.eventtype, item.linkedid, item.uniqueid)
            for item in read_cel_csv(lines.numbered(delegated), ctx.pbx.tz)
            if isinstance(item, CelRecord)]
    return pl.DataFrame(rows, schema={"line": pl.Int64(), "eventtype": pl.String(),
                                      "linkedid": pl.String(), "uniqueid": pl.String()},
                        orient="row")


def _emission(records: pl.DataFrame, n: int) -> dict[int, int]:
    """First line of each group of the reference -> its position among the items: a group
    ends at its LINKEDID_END (a later record of the same linkedid opens a new one); groups
    still open at the end come after every line, in the order they began."""
    ends = pl.col("eventtype") == "LINKEDID_END"
    groups = records.with_columns(key=pl.when(pl.col("linkedid") != "").then(pl.col("linkedid"))
                                  .otherwise(pl.col("uniqueid"))).with_columns(
        part=ends.cast(pl.Int64()).cum_sum().shift(1, fill_value=0).over("key"))
    per = groups.group_by("key", "part").agg(
        first=pl.col("line").min(), end=pl.col("line").filter(ends).first())
    order = per.select("first", pl.col("end").fill_null(n + pl.col("first")))
    return dict(zip(order["first"].to_list(), order["end"].to_list(), strict=True))


def _prepare(records: pl.DataFrame, ctx: CaptureContext) -> pl.DataFrame:
    r = records.with_columns(
        time=pl.col("eventtime").cast(pl.Float64()),
        resolution=pl.when(pl.col("eventtime").str.contains(".", literal=True))
        .then(pl.lit(1e-6)).otherwise(pl.lit(1.0)),
        app=pl.col("appname").str.to_lowercase(), dev=device_of(pl.col("channel")))
    r = r.with_columns(staff=staff_of(r["dev"], ctx.sites),
                       ctx_site=context_sites(r["context"], ctx.sites))
    caller = r.group_by("g").agg(
        own=pl.col("uniqueid").filter(pl.col("uniqueid") == pl.col("linkedid")).first(),
        started=pl.col("uniqueid").filter(pl.col("eventtype") == "CHAN_START").first(),
        lid=pl.col("linkedid").first()).select(
        "g", caller=pl.coalesce("own", "started", "lid"))
    return r.join(caller, on="g", how="left", maintain_order="left").with_columns(
        leg=pl.col("uniqueid") == pl.col("caller"))


def _per_call(r: pl.DataFrame, ctx: CaptureContext) -> pl.DataFrame:
    """`_identify`, `_end` and the facts the outcome needs, per call."""
    leg, kind = pl.col("leg"), pl.col("eventtype")
    first = lambda cond, col: pl.col(col).filter(cond).first()  # noqa: E731
    last = lambda cond, col: pl.col(col).filter(cond).last()  # noqa: E731
    start = leg & (kind == "CHAN_START")
    queue = (kind == "APP_START") & (pl.col("app") == "queue")
    return r.group_by("g", maintain_order=True).agg(
        call_key=pl.col("caller").first(), linkedid=pl.col("linkedid").first(),
        line=pl.col("line").min(), resolution=pl.col("resolution").max(),
        has_start=start.any(), arrival=first(start, "time"), start_exten=first(start, "exten"),
        start_context=first(start, "context"),
        dnid=first(leg & ~pl.col("cid_dnid").is_in(NOT_A_NUMBER), "cid_dnid"),
        caller=first(leg & (pl.col("cid_num") != ""), "cid_num"),
        queue_data=first(queue, "appdata"), queue_entry=first(queue, "time"),
        leg_context=first(leg & pl.col("ctx_site").is_not_null(), "context"),
        any_context=first(pl.col("ctx_site").is_not_null(), "context"),
        is_test=(pl.col("accountcode").is_in(list(ctx.pbx.test_accountcodes))
                 & (pl.col("accountcode") != "")).any(),
        first_channel=first(leg, "channel"), first_dev=first(leg, "dev"),
        first_staff=first(leg, "staff"),
        first_ring=first((kind == "CHAN_START") & ~leg & pl.col("staff"), "time"),
        end=pl.coalesce(last(leg & (kind == "CHAN_END"), "time"),
                        last(leg & (kind == "HANGUP"), "time"),
                        first(kind == "LINKEDID_END", "time")),
        place=first(pl.col("context").is_in(list(ctx.sites.message_contexts))
                    | pl.col("context").is_in(list(ctx.sites.voicemail_contexts)), "context"),
        hangup_extra=last(leg & (kind == "HANGUP"), "extra"),
        person=((kind == "APP_START") & pl.col("app").is_in(list(PERSON_APPS))).any(),
        answered_at=first(leg & (kind == "ANSWER"), "time"),
        answered_context=first(leg & (kind == "ANSWER"), "context"),
        app_name=last(leg & (kind == "APP_START"), "appname"),
        app_context=last(leg & (kind == "APP_START"), "context"),
        closed=(kind == "LINKEDID_END").any(),
        caller_gone=(leg & kind.is_in(["HANGUP", "CHAN_END"])).any(),
    ).with_columns(
        dialed=pl.when(~pl.col("start_exten").is_in(NOT_A_NUMBER)).then(pl.col("start_exten"))
        .otherwise(pl.col("dnid")),
        queue=pl.col("queue_data").str.split(",").list.first().str.strip_chars(),
        context=pl.coalesce("leg_context", "any_context", "start_context"),
    ).with_columns(queue=pl.when(pl.col("queue") != "").then(pl.col("queue")))


def _connections(r: pl.DataFrame, ctx: CaptureContext) -> pl.DataFrame:
    """Every channel an ANSWER / BRIDGE_* record shows connected to the call, the caller leg
    excepted (`_connected_channels`), in order: (g, line, position, channel, device, staff)."""
    answers = r.filter(pl.col("eventtype").is_in(list(reference.ANSWER_EVENTS)))
    own = answers.filter(~pl.col("leg")).select("g", "line", pos=pl.lit(0, pl.Int64()),
                                                channel="channel")
    peers = answers.filter(pl.col("eventtype").is_in(list(reference.BRIDGE_EVENTS))
                           & (pl.col("peer") != "")).select(
        "g", "line", channel=pl.col("peer").str.split(",")).explode("channel").with_columns(
        channel=pl.col("channel").str.strip_chars()).filter(pl.col("channel") != "") \
        .with_columns(pos=pl.int_range(1, pl.len() + 1).over("g", "line"))
    found = pl.concat([own, peers.select(own.columns)]).sort("g", "line", "pos")
    found = found.with_columns(dev=device_of(pl.col("channel").str.strip_chars()))
    return found.with_columns(staff=staff_of(found["dev"], ctx.sites))


def _first_connection(connections: pl.DataFrame, keep: pl.Expr, prefix: str) -> pl.DataFrame:
    return connections.filter(keep).group_by("g").agg(
        pl.col("line").first().alias(f"{prefix}_line"), pl.col("dev").first().alias(f"{prefix}_dev"))


def _calls(records: pl.DataFrame, shapes: pl.DataFrame, ctx: CaptureContext, n: int
           ) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """(builders, skipped, calls without CHAN_START for the reference); `n`: the file's lines,
    after which open calls come."""
    r = _prepare(records, ctx)
    per = _per_call(r, ctx).join(shapes.select("g", "end_line"), on="g", how="left")
    site = sites_for(per.select("dialed", "queue", "context"), ctx.sites)
    e164 = normalized_callers(per["dialed"].fill_null(""), "FR")
    inbound = e164.fill_null("").str.starts_with("+") & ~per["first_staff"].fill_null(False)
    switchboard = site.is_not_null() | inbound
    skipped = _skipped(per.filter(~switchboard), e164.filter(~switchboard), n)
    per = per.filter(switchboard)
    missing = per.filter(~pl.col("has_start"))["g"]
    per = per.filter(pl.col("has_start"))
    times = r.select("g", "line", "time")
    connections = _connections(r.join(per.select("g"), on="g", how="semi"), ctx).join(
        times, on=["g", "line"], how="left")
    device = connections["channel"].str.starts_with("Local/")
    staff = _first_connection(connections, pl.col("staff"), "staff")
    other = _first_connection(connections, (pl.col("channel") != "") & ~pl.col("staff")
                              & ~device, "other")
    local = _first_connection(connections, device & ~pl.col("staff"), "local")
    for found in (staff, other, local):
        per = per.join(found, on="g", how="left")
    per = per.join(times.rename({"line": "staff_line", "time": "staff_time"}),
                   on=["g", "staff_line"], how="left")
    per = per.join(times.rename({"line": "other_line", "time": "other_time"}),
                   on=["g", "other_line"], how="left")
    per = per.join(times.rename({"line": "local_line", "time": "local_time"}),
                   on=["g", "local_line"], how="left")
    builders = _builders(per, ctx, n)
    # still ringing when the records end: the reference keeps them as rejects
    ringing = builders.join(per.select(group="g", gone="caller_gone"), on="group").filter(
        pl.col("incomplete") & pl.col("answer").is_null() & pl.col("outcome").is_null()
        & pl.col("other_device").is_null() & pl.col("machine").is_null() & ~pl.col("gone"))
    if not ringing.is_empty():
        builders = builders.filter(~pl.col("group").is_in(ringing["group"].implode()))
        missing = pl.concat([missing, ringing["group"].alias(missing.name)])
    return builders, skipped, missing


def _unanswered(per: pl.DataFrame, ctx: CaptureContext) -> pl.Series:
    """`_unanswered_outcome`: the first message or voicemail context reached, else the caller's
    last HANGUP (its dial status, else its Q.850 cause)."""
    def from_extra(extra: str | None) -> str | None:
        found = None if extra is None else reference.hangup_outcome(extra)
        return found.value if found else None

    hangup = map_distinct(per["hangup_extra"], from_extra, pl.String())
    place = per["place"]
    return per.select(
        pl.when(place.is_in(list(ctx.sites.message_contexts)))
        .then(pl.lit(Outcome.MESSAGE.value))
        .when(place.is_in(list(ctx.sites.voicemail_contexts))).then(pl.lit(Outcome.VOICEMAIL.value))
        .otherwise(hangup)).to_series()


def _builders(per: pl.DataFrame, ctx: CaptureContext, n: int) -> pl.DataFrame:
    per = per.with_columns(pre=_unanswered(per, ctx))
    staff = pl.col("staff_dev").is_not_null()
    open_ = ~staff & (pl.col("pre").is_null() | (pl.col("pre") == Outcome.NO_ANSWER.value))
    other = open_ & pl.col("other_dev").is_not_null()
    local = open_ & pl.col("other_dev").is_null() & pl.col("local_dev").is_not_null()
    machine_name = pl.coalesce("app_name", pl.lit("Answer"))
    machine_context = pl.when(pl.col("app_name").is_not_null()).then(pl.col("app_context")) \
        .otherwise(pl.col("answered_context"))
    machine_site = context_sites(per.select(machine_context).to_series(), ctx.sites)
    machine = (open_ & pl.col("other_dev").is_null() & pl.col("local_dev").is_null()
               & pl.col("answered_at").is_not_null() & ~pl.col("person")
               & machine_site.is_null())
    built = per.select(
        order=pl.col("end_line").fill_null(n + pl.col("line")), call_key="call_key",
        linkedid=pl.when(pl.col("linkedid") != "").then(pl.col("linkedid")),
        dialed="dialed", queue="queue", context="context", caller="caller",
        arrival="arrival", queue_entry="queue_entry", first_ring="first_ring",
        answer=pl.when(staff).then(pl.col("staff_time")),
        answered_by=pl.when(staff).then(pl.col("staff_dev")),
        end="end", outcome=pl.when(~staff).then(pl.col("pre")),
        other_answer=pl.when(other).then(pl.col("other_time"))
        .when(local).then(pl.col("local_time")),
        other_device=pl.when(other).then(pl.col("other_dev")).when(local).then(pl.col("local_dev")),
        machine_answer=pl.when(machine).then(pl.col("answered_at")),
        machine=pl.when(machine).then(machine_name + "@" + machine_context),
        is_test="is_test", incomplete=~pl.col("closed"), resolution="resolution",
        line="line", group="g")
    return complete_builders(built)


def _skipped(per: pl.DataFrame, e164: pl.Series, n: int) -> pl.DataFrame:
    """`_skipped`: outbound or internal calls of staff phones, else calls of no site."""
    staff = per["first_staff"].fill_null(False)
    reasons = [
        ("outbound call" if (number or "").startswith("+") else
         "internal call between staff phones") if is_staff else no_site_reason(d, q, c)
        for is_staff, number, d, q, c in zip(staff.to_list(), e164.to_list(),
                                             *per.select("dialed", "queue", "context")
                                             .get_columns(), strict=True)]
    return per.select(
        order=pl.col("end_line").fill_null(n + pl.col("line")), line="line",
        reason=pl.Series(reasons, dtype=pl.String()),
        dialed=pl.when(~staff).then(pl.col("dialed")),
        queue=pl.when(~staff).then(pl.col("queue")),
        context=pl.when(~staff).then(pl.when(pl.col("context") != "").then(pl.col("context"))),
        arrival=pl.when(~staff).then(pl.col("arrival")), no_site=~staff)
