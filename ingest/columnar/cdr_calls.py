"""The rows of a Master.csv grouped into calls over columns, by the rules of `ingest.cdr`.

Rows are grouped by linkedid and ordered in each group as the reference orders them (start,
sequence, line). Per group this module decides, with joins and group aggregations, what
`ingest.cdr._Assembler.build` decides: the caller leg, skipped calls (originated, outbound,
internal, of no site), the builder's fields, the first answer by a staff device (directly or
behind a `Local;1`/`Local;2` pair), the unanswered outcome, an unknown device or a machine.

It handles the common shapes only and says which groups it leaves to the reference:
a Local channel answered through another Local channel (chains), and an answer within
MACHINE_SECONDS of its row's start on a caller row, whose timing depends on the other legs of
the same dial (the welcome-message rule). Those groups are returned as `delegated`.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ingest import cdr as reference
from ingest.columnar.lookup import context_sites, device_of, looks_like_did, sites_for, staff_of
from ingest.finalize import CaptureContext
from ingest.records import no_site_reason
from monitor.call import Outcome

ORIGINATED_LOCAL_ONLY = "call originated by the PBX (Local channels only)"
ORIGINATED_LOCAL = "call originated by the PBX (Local channel)"
SORT = ("g", "start", "sequence", "line")


@dataclass
class Assembled:
    builders: pl.DataFrame  # one row per call, builder columns (see finalize.BUILDER_SCHEMA)
    skipped: pl.DataFrame  # order, line, reason, dialed, queue, context, arrival, no_site
    delegated: pl.Series  # linkedids of the groups left to the reference


def prepare(rows: pl.DataFrame, ctx: CaptureContext) -> pl.DataFrame:
    """Sort into groups and add the per-row facts the rules use."""
    rows = rows.with_columns(g=pl.col("linkedid")).sort(SORT)
    rows = rows.with_columns(
        app=pl.col("lastapp").str.to_lowercase(),
        chan_local=pl.col("channel").str.starts_with("Local/"),
        half=pl.col("channel").str.starts_with("Local/") & pl.col("channel").str.ends_with(";2"),
        dst_local1=pl.col("dstchannel").str.starts_with("Local/")
        & pl.col("dstchannel").str.ends_with(";1"),
        chan_dev=device_of(pl.col("channel")),
        dst_dev=device_of(pl.col("dstchannel")),
    )
    bridged = ((pl.col("disposition") == "ANSWERED") & pl.col("answer").is_not_null()
               & ~pl.col("app").is_in(list(reference._SELF_ANSWERING)))
    return rows.with_columns(
        bridged=bridged,
        chan_staff=staff_of(rows["chan_dev"], ctx.sites),
        dst_staff=staff_of(rows["dst_dev"], ctx.sites),
        ctx_site=context_sites(rows["dcontext"], ctx.sites),
    ).with_columns(
        accept_staff=pl.col("dst_staff"),
        accept_device=(pl.col("dstchannel") != "") & ~pl.col("dstchannel").str.starts_with("Local/")
        & ~pl.col("dst_staff"),
        accept_local=pl.col("dstchannel").str.starts_with("Local/") & ~pl.col("dst_staff"),
    )


def callers(rows: pl.DataFrame) -> pl.DataFrame:
    """Per group: its caller channel (`_Assembler._caller`), first line and first row's channel."""
    return rows.group_by("g", maintain_order=True).agg(
        c1=pl.col("channel").filter(pl.col("uniqueid") == pl.col("linkedid")).first(),
        c2=pl.col("channel").filter(~pl.col("chan_local")).first(),
        line=pl.col("line").min(),
        first_channel=pl.col("channel").first(),
        end_max=pl.col("end").max(),
        reached_person=pl.col("app").is_in(list(reference.PERSON_APPS)).any(),
    ).with_columns(caller=pl.coalesce("c1", "c2")).drop("c1", "c2")


def mine_fields(mine: pl.DataFrame, tests: list[str]) -> pl.DataFrame:
    """Per group, from the caller's rows: `_Assembler._builder` and the last row's facts."""
    last = mine.sort("g", "end", "start", "sequence", "line").group_by("g").agg(
        last_context=pl.col("dcontext").last(), last_app=pl.col("app").last(),
        last_lastapp=pl.col("lastapp").last(), last_answer=pl.col("answer").last(),
        last_disposition=pl.col("disposition").last(), last_ctx_site=pl.col("ctx_site").last(),
        last_data=pl.col("lastdata").last(), last_duration=pl.col("duration").last())
    first = mine.group_by("g", maintain_order=True).agg(
        call_key=pl.col("uniqueid").first(),
        dialed=pl.col("dst").first(),
        caller_src=pl.col("src").first(),
        arrival=pl.col("start").first(),
        queue_data=pl.col("lastdata").filter(pl.col("app") == "queue").first(),
        context_known=pl.col("dcontext").filter(pl.col("ctx_site").is_not_null()).first(),
        context_first=pl.col("dcontext").first(),
        is_test=(pl.col("accountcode").is_in(tests) | pl.col("src").is_in(tests)).any(),
        span=(pl.col("start") + pl.col("duration")).filter(
            pl.col("start") == pl.col("start").first()).max(),
    )
    return first.join(last, on="g", how="left").with_columns(
        queue=pl.col("queue_data").str.split(",").list.first().str.strip_chars(),
        context=pl.coalesce("context_known", "context_first"),
    ).with_columns(
        queue=pl.when(pl.col("queue") != "").then(pl.col("queue")),
        context=pl.when(pl.col("context") != "").then(pl.col("context")),
        dialed=pl.when(pl.col("dialed") != "").then(pl.col("dialed")),
    )


def stage_hits(rows: pl.DataFrame, accept: str) -> pl.DataFrame:
    """Per group: the first exact answer by a device `accept` allows (`_human_answer`), and
    whether a row of the stage is one the columns do not decide (quick answer, Local chain)."""
    mine = rows.filter(pl.col("mine") & pl.col("bridged"))
    halves = rows.filter(pl.col("half") & pl.col("bridged")).select(
        "g", sib=pl.col("channel"), s_answer=pl.col("answer"), s_dev=pl.col("dst_dev"),
        s_accept=pl.col(accept), s_chain=pl.col("dst_local1"))
    local = mine.filter(pl.col("dst_local1")).with_columns(
        sib=pl.col("dstchannel").str.slice(0, pl.col("dstchannel").str.len_chars() - 1) + "2"
    ).join(halves, on=["g", "sib"], how="inner")
    chains = local.filter(pl.col("s_chain")).select("g").unique()
    local_hits = local.filter(pl.col("s_accept") & ~pl.col("s_chain")).select(
        "g", "line", answer_at=pl.col("s_answer"), device=pl.col("s_dev"))
    direct = mine.join(local_hits.select("g", "line").unique(), on=["g", "line"], how="anti") \
        .filter(pl.col(accept))
    exact = direct.filter(pl.col("answer") - pl.col("start") > reference.MACHINE_SECONDS).select(
        "g", "line", answer_at=pl.col("answer"), device=pl.col("dst_dev"))
    hits = pl.concat([local_hits, exact]).sort("g", "answer_at", "device") \
        .group_by("g", maintain_order=True).agg(pl.col("answer_at").first(),
                                               pl.col("device").first())
    # A quick answer is exact or not depending on the dial's other legs; it cannot change the
    # result when an exact answer comes before it (then `min(exact)` wins either way).
    quick = direct.filter(pl.col("answer") - pl.col("start") <= reference.MACHINE_SECONDS) \
        .join(hits, on="g", how="left").filter(
            pl.col("answer_at").is_null() | (pl.col("answer") < pl.col("answer_at"))
            | ((pl.col("answer") == pl.col("answer_at")) & (pl.col("dst_dev") < pl.col("device")))
        ).select("g").unique()
    unsure = pl.concat([chains, quick]).unique().with_columns(unsure=pl.lit(True))
    return hits.join(unsure, on="g", how="full", coalesce=True).with_columns(
        pl.col("unsure").fill_null(False))


def _with_stage(per: pl.DataFrame, rows: pl.DataFrame, accept: str, prefix: str) -> pl.DataFrame:
    hits = stage_hits(rows, accept).rename(
        {"answer_at": f"{prefix}_answer", "device": f"{prefix}_device", "unsure": f"{prefix}_unsure"})
    return per.join(hits, on="g", how="left").with_columns(pl.col(f"{prefix}_unsure").fill_null(False))


def unanswered(sites_message: list[str], sites_voicemail: list[str]) -> pl.Expr:
    """`_Assembler._unanswered` from the caller's last row."""
    app = pl.col("last_app")
    failures = {k: v.value for k, v in reference._FAILURES.items()}
    return (pl.when(pl.col("last_context").is_in(sites_message)
                    & (app.is_in(list(reference._MESSAGE_APPS)) | pl.col("last_answer").is_not_null()))
            .then(pl.lit(Outcome.MESSAGE.value))
            .when(pl.col("last_context").is_in(sites_voicemail) | (app == "voicemail"))
            .then(pl.lit(Outcome.VOICEMAIL.value))
            .otherwise(pl.col("last_disposition").replace_strict(failures, default=None)))


def pbx_ended() -> pl.Expr:
    """`ingest.cdr.pbx_ended` of the caller's last row: Hangup(), or a Dial that rang for its
    whole time-out (`Dial(targets,T)`, T seconds give or take one) without an answer."""
    timeout = pl.col("last_data").str.split(",").list.get(1, null_on_oob=True).str.strip_chars()
    seconds = timeout.str.to_integer(strict=False)
    rang_out = (pl.col("last_app") == "dial") & (pl.col("last_disposition") == "NO ANSWER") \
        & timeout.str.contains(r"^[0-9]+$") & (seconds > 0) \
        & ((pl.col("last_duration") - seconds).abs() <= 1)
    return ((pl.col("last_app") == "hangup") | rang_out).fill_null(False)


def assemble(rows: pl.DataFrame, ctx: CaptureContext) -> Assembled:
    rows = prepare(rows, ctx)
    groups = callers(rows)
    rows = rows.join(groups.select("g", "caller"), on="g", how="left", maintain_order="left") \
        .with_columns(mine=pl.col("channel") == pl.col("caller"))
    staff_caller = groups.join(rows.filter(pl.col("mine")).select("g", "chan_staff").unique("g"),
                               on="g", how="left")["chan_staff"].fill_null(False)
    groups = groups.with_columns(staff_caller=staff_caller)
    skipped_early = _early_skips(groups, rows)
    per = groups.filter(pl.col("caller").is_not_null() & ~pl.col("caller").str.starts_with("Local/")
                        & ~pl.col("staff_caller"))
    per = per.join(mine_fields(rows.filter(pl.col("mine")), list(ctx.pbx.test_accountcodes)),
                   on="g", how="left")
    site = sites_for(per.select("dialed", "queue", "context"), ctx.sites)
    no_site = site.is_null() & ~per.select(looks_like_did(pl.col("dialed"))).to_series()
    skipped = pl.concat([skipped_early, _no_site_skips(per.filter(no_site))])
    per = per.filter(~no_site)
    return _outcomes(per, rows, ctx, skipped)


def _early_skips(groups: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """Calls originated by the PBX, outbound and internal calls (before the site check)."""
    dialed = rows.filter(pl.col("mine")).group_by("g").agg(caller_dst=pl.col("dst").first())
    g = groups.join(dialed, on="g", how="left")
    reason = (pl.when(pl.col("caller").is_null()).then(pl.lit(ORIGINATED_LOCAL_ONLY))
              .when(pl.col("caller").str.starts_with("Local/")).then(pl.lit(ORIGINATED_LOCAL))
              .when(pl.col("staff_caller") & looks_like_did(pl.col("caller_dst")))
              .then(pl.lit("outbound call"))
              .when(pl.col("staff_caller")).then(pl.lit("internal call between staff phones")))
    return g.with_columns(reason=reason).filter(pl.col("reason").is_not_null()).select(
        order=pl.col("line"), line=pl.col("line"), reason=pl.col("reason"),
        dialed=pl.lit(None, pl.String()), queue=pl.lit(None, pl.String()),
        context=pl.lit(None, pl.String()), arrival=pl.lit(None, pl.Float64()),
        no_site=pl.lit(False))


def _no_site_skips(per: pl.DataFrame) -> pl.DataFrame:
    """`Skipped.no_site` of calls whose identifiers match no site and dialed no DID."""
    reasons = [no_site_reason(d, q, c) for d, q, c in
               per.select("dialed", "queue", "context").iter_rows()]
    return per.select(
        order=pl.col("line"), line=pl.col("line"), reason=pl.Series(reasons, dtype=pl.String()),
        dialed="dialed", queue="queue", context="context",
        arrival=pl.col("arrival").cast(pl.Float64()), no_site=pl.lit(True))


def _outcomes(per: pl.DataFrame, rows: pl.DataFrame, ctx: CaptureContext,
              skipped: pl.DataFrame) -> Assembled:
    """The answer stages in the reference's order: staff, unanswered, unknown device, machine."""
    rows = rows.join(per.select("g"), on="g", how="semi")
    per = _with_stage(per, rows, "accept_staff", "a").with_columns(
        pre=unanswered(list(ctx.sites.message_contexts), list(ctx.sites.voicemail_contexts)))
    # the unknown-device stages only for the calls nobody of the staff answered, unclassified
    open_ = per.filter(pl.col("a_answer").is_null() & pl.col("pre").is_null()).select("g")
    rows = rows.join(open_, on="g", how="semi")
    for accept, prefix in (("accept_device", "b"), ("accept_local", "c")):
        per = _with_stage(per, rows, accept, prefix)
    staff = pl.col("a_answer").is_not_null()
    other = ~staff & pl.col("pre").is_null()
    unknown = other & pl.col("b_answer").is_not_null()
    local = other & pl.col("b_answer").is_null() & pl.col("c_answer").is_not_null()
    unsure = (pl.col("a_unsure") | (other & pl.col("b_unsure"))
              | (other & pl.col("b_answer").is_null() & pl.col("c_unsure")))
    machine = (other & pl.col("b_answer").is_null() & pl.col("c_answer").is_null()
               & pl.col("last_answer").is_not_null() & ~pl.col("reached_person")
               & pl.col("last_ctx_site").is_null())
    end = pl.when((pl.col("end_max") - pl.col("span")).is_between(0, 1)) \
        .then(pl.col("span")).otherwise(pl.col("end_max"))
    built = per.with_columns(unsure=unsure).select(
        "g", "unsure", order=pl.col("line"), call_key="call_key", linkedid=pl.col("g"),
        dialed="dialed", queue="queue", context="context", caller=pl.col("caller_src"),
        arrival=pl.col("arrival").cast(pl.Float64()), end=end.cast(pl.Float64()),
        answer=pl.when(staff).then(pl.col("a_answer")).cast(pl.Float64()),
        answered_by=pl.when(staff).then(pl.col("a_device")),
        other_answer=pl.when(unknown).then(pl.col("b_answer"))
        .when(local).then(pl.col("c_answer")).cast(pl.Float64()),
        other_device=pl.when(unknown).then(pl.col("b_device"))
        .when(local).then(pl.col("c_device")),
        machine_answer=pl.when(machine).then(pl.col("last_answer")).cast(pl.Float64()),
        machine=pl.when(machine).then(pl.col("last_lastapp") + "@" + pl.col("last_context")),
        outcome=pl.when(~staff & pl.col("pre").is_not_null()).then(pl.col("pre"))
        .when(other & ~unknown & ~local & ~machine & pbx_ended())
        .then(pl.lit(Outcome.NO_ANSWER.value)),
        is_test="is_test", incomplete=pl.lit(False), resolution=pl.lit(1.0), line="line")
    delegated = built.filter(pl.col("unsure"))["g"]
    return Assembled(built.filter(~pl.col("unsure")).drop("g", "unsure"), skipped, delegated)
