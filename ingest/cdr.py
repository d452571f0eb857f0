"""Asterisk cdr_csv files (Master.csv) to one CallBuilder per inbound switchboard call.

Reading (`ingest.cdr_layout`): 16 to 21 columns, detected per column count in "auto" mode. The
19-column file whose first column is clid (the cdr_custom.conf.sample mapping, as in the
kelysaina recording) is *detected* and read as layout "19-custom", not rejected. Every row is
checked on its own: a bad row yields a Reject and marks its call incomplete; the call itself is
rejected only when no row of its caller is left.

Grouping: rows are written when Party A hangs up, not in call order (reference §5.2), so a
first pass over the input (`ingest.cdr_plan`) finds the line after which no more rows can join
a call; the second groups a call's rows then, with bounded memory. Rows are grouped by linkedid
(newcdrcolumns), else by the Party A uniqueid (loguniqueid), else by channel name and overlapping
times (fragile: the call key is then `<channel>@<start epoch>`). Without linkedid, the rows of a
`Local/…;2` half join the call whose row dialed its `;1` half.

Per call (reference §5.3, §5.4, §8): the caller is the linkedid's own channel, else the first
channel that is not a Local channel; calls from staff devices and Local channels are internal or
outbound and skipped (a `Skipped` with the reason is yielded for each), like calls that map to
no site, unless they dialed a DID (MIN_DID_DIGITS digits or more): those are kept for finalize to
reject as "unknown site". A person answered
when a caller row is ANSWERED towards a staff device, or towards a `Local;1` whose `;2` half was
ANSWERED by a staff device (the `;2` row's answer is then the instant, its device the answerer).
The earliest such answer counts (transfers). On a caller row, an answer within a second of the
row's start is the dialplan's (welcome message: `answer` is then fixed at the caller leg's first
Up): it is replaced by the end of the cancelled legs of the same dial when that is later, and
the call is marked incomplete so that queue_log or CEL can supply the real time. A call is a
test call when the accountcode or the caller number of one of its caller rows is in the PBX's
test_accountcodes. The end is the latest end of the call's rows (see `_end`).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from ingest.call_direction import dialed_out_through
from ingest.cdr_layout import CdrRow, CdrStats, Clock, LayoutChooser, RowReader
from ingest.cdr_plan import plan
from ingest.finalize import CaptureContext
from ingest.records import Reject, Skipped, unexpected
from ingest.site_map import device_of, looks_like_did
from monitor.call import CallBuilder, Outcome, Source

_SECONDS = re.compile(r"[0-9]{1,9}", re.ASCII)  # a Dial time-out (ASCII digits only)
_FAILURES = {"BUSY": Outcome.BUSY, "FAILED": Outcome.FAILED, "CONGESTION": Outcome.CONGESTION}
_MESSAGE_APPS = frozenset({"playback", "background"})
# Applications that answer the caller themselves: a row that ended in one of them was answered
# by it, even when its dstchannel still names the phone an earlier Dial rang (Asterisk <= 11).
_SELF_ANSWERING = frozenset({
    "answer", "background", "echo", "festival", "milliwatt", "musiconhold", "playback", "read",
    "record", "sayalpha", "saydigits", "saynumber", "voicemail", "voicemailmain", "waitexten",
})
# A caller answered by the dialplan (Playback, Background, Read, WaitExten, Answer then Hangup…)
# whose call never went to a Dial or a Queue, in a context the site's directory does not list,
# was answered by a machine: a call to classify (`qualiphone sites learn`), not an abandon.
MACHINE_APPS = _SELF_ANSWERING - {"voicemail", "voicemailmain"}
PERSON_APPS = frozenset({"dial", "queue"})


def reached_person(rows: Iterable[CdrRow]) -> bool:
    """Whether the call went to a Dial or a Queue (a person was in reach)."""
    return any(r.lastapp.lower() in PERSON_APPS for r in rows)
MACHINE_SECONDS = 1.0  # an answer this close to its row's start was the dialplan's
_LOCAL_DEPTH = 3  # Local channels chained into Local channels, followed this deep
RUN_GAP = 3600.0  # seconds without a row of an id before its next rows are another call


def parse_cdr(
    lines: Iterable[tuple[int, str]], ctx: CaptureContext, *, layout: str = "auto",
    usegmtime: bool = False, stats: CdrStats | None = None,
) -> Iterator[CallBuilder | Reject | Skipped]:
    """Builders of the inbound switchboard calls of a Master.csv, Rejects of bad rows and a
    Skipped per call of no configured switchboard (internal, outbound, originated).

    `layout` is "auto" or a name of `ingest.cdr_layout.REQUESTS`; `usegmtime` says the times
    are UTC (cdr.conf usegmtime=yes) instead of the PBX's local time; `stats`, when given, is
    filled with what became of every line. The input is read twice (`ingest.cdr_plan`; a
    LineReader replays its file, other inputs are kept in a list): a row's reject comes as its
    line is read, a call as soon as its last row is, so memory holds only the calls still open.
    """
    stats = CdrStats(keep_lines=False) if stats is None else stats
    first, second = _two_passes(lines)
    planned = plan(first, layout, lambda: getattr(lines, "partial", None))
    chooser = LayoutChooser(layout)
    chooser.fixed.update(planned.layouts)  # decided by the first pass: no row is held here
    reader = RowReader(chooser, Clock(None if usegmtime else ctx.pbx.tz), stats, ctx.window)
    assembler = _Assembler(ctx, reader.rejected)
    open_calls: dict[int, list[CdrRow]] = {}
    component_of, closes, read_line = planned.component_of, planned.closes, reader.read_line
    with _gc_paused():
        for number, text in second:
            for row in read_line(number, text):
                open_calls.setdefault(component_of(row.line), []).append(row)
            if reader.rejects:
                yield from reader.take_rejects()
            done = closes(number)
            if done is not None and (rows := open_calls.pop(done, None)):
                yield from _assemble(assembler, _grouped(rows), stats)
        for row in reader.finish():  # none unless the input changed between the two passes
            open_calls.setdefault(planned.component_of(row.line), []).append(row)
        yield from reader.take_rejects()
        for component, rows in open_calls.items():
            if component == planned.held:
                yield _held_back(rows, getattr(lines, "partial", None) or (0, ""))
                continue
            yield from _assemble(assembler, _grouped(rows), stats)


HELD_ROW = (
    "a row of this call may be the last line of the file, still being written (line {line}, "
    "held back): read without it the call could look unanswered, so it is not counted yet "
    "(not as an abandon either); importing the file again once it has grown stores it")


def _held_back(rows: list[CdrRow], held: tuple[int, str]) -> Reject:
    """The call that the held-back last line may complete: a reject until the file grows."""
    rows = sorted(rows, key=lambda r: r.line)
    return Reject(rows[0].line, HELD_ROW.format(line=held[0]), "\n".join(r.raw for r in rows),
                  call=True)


def _two_passes(lines: Iterable[tuple[int, str]]
                ) -> tuple[Iterable[tuple[int, str]], Iterable[tuple[int, str]]]:
    """The input for the first pass and for the second."""
    replay = getattr(lines, "replay", None)
    if callable(replay):
        return replay(), lines
    kept = lines if isinstance(lines, list | tuple) else list(lines)
    return kept, kept


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: reading allocates millions of small acyclic objects that it would
    otherwise rescan again and again (a third of the parse time on a month's file)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _assemble(assembler: _Assembler, groups: list[tuple[str, list[CdrRow]]],
              stats: CdrStats) -> list[CallBuilder | Reject | Skipped]:
    """Build every group, counting what became of its rows."""
    items: list[CallBuilder | Reject | Skipped] = []
    for key, rows in _runs_apart(assembler, groups):
        try:
            item = assembler.build(key, rows)
        except Exception as exc:  # one call never costs the others
            item = Reject(min(r.line for r in rows), unexpected(exc), "\n".join(_raw(rows)))
        if isinstance(item, Skipped):
            stats.skipped_rows += len(rows)
            if stats.keep_lines:
                stats.skipped_lines.extend(r.line for r in rows)
        elif isinstance(item, Reject):
            stats.rejected_calls += 1
            stats.rejected_call_rows += len(rows)
        else:
            stats.calls += 1
            stats.call_rows += len(rows)
        items.append(item)
    return items


def _runs_apart(assembler: _Assembler, groups: list[tuple[str, list[CdrRow]]]
                ) -> list[tuple[str, list[CdrRow]]]:
    """Split a group of one id whose rows fall into runs far apart in time: a row starting
    more than RUN_GAP after all earlier rows of its id ended is another call that reused the id
    (a restart, another PBX). Shorter gaps are one call's (a caller waiting in a queue between
    two members' rings has no row). The largest run comes first: it keeps the id; the writer
    stores the others apart (KEY@ARRIVAL). A group with a rejected row is not split: that row
    may have bridged the gap."""
    out = []
    for key, rows in groups:
        if "@" in key or assembler.rejected.get(key) is not None or len(rows) < 2:
            out.append((key, rows))
            continue
        runs: list[list[CdrRow]] = []
        until = float("-inf")
        for row in rows:  # in time order (_grouped)
            if row.start > until + RUN_GAP:
                runs.append([])
            runs[-1].append(row)
            until = max(until, row.end)
        runs.sort(key=lambda run: (-len(run), run[0].start))
        out.extend((key, run) for run in runs)
    return out


def _is_local(channel: str, half: str) -> bool:
    return channel.endswith(half) and channel.startswith("Local/")


def _grouped(rows: list[CdrRow]) -> list[tuple[str, list[CdrRow]]]:
    """The rows of each call, the calls in the order of their first line in the file."""
    groups: dict[str, list[CdrRow]] = {}
    loose: list[CdrRow] = []
    for row in rows:
        key = row.linkedid or row.uniqueid
        if not key:
            loose.append(row)
        elif (group := groups.get(key)) is None:
            groups[key] = [row]
        else:
            group.append(row)
    _cluster_by_channel(loose, groups)
    _attach_local_halves(groups)
    ordered = sorted(groups.items(), key=lambda kv: min(r.line for r in kv[1]))
    for _, group in ordered:
        group.sort(key=_chrono)
    return ordered


def _chrono(row: CdrRow) -> tuple[float, int, int]:
    return row.start, row.sequence, row.line


def _cluster_by_channel(loose: list[CdrRow], groups: dict[str, list[CdrRow]]) -> None:
    """Rows without ids: one call per channel name and run of overlapping times."""
    loose.sort(key=lambda r: (r.channel, r.start))
    channel, until, group = None, 0.0, []
    for row in loose:
        if row.channel != channel or row.start > until:
            channel, until = row.channel, row.end
            group = groups.setdefault(f"{row.channel}@{int(row.start)}", [])
        until = max(until, row.end)
        group.append(row)


def _attach_local_halves(groups: dict[str, list[CdrRow]]) -> None:
    """Without linkedid: move each `Local;2` call into the call that dialed its `;1` half."""
    halves: dict[str, list[str]] = {}
    for key, rows in groups.items():
        channel = rows[0].channel
        if not rows[0].linkedid and _is_local(channel, ";2") and \
                all(r.channel == channel for r in rows):
            halves.setdefault(channel[:-2], []).append(key)
    if not halves:
        return
    dialers: dict[str, list[tuple[float, str]]] = {}
    for key, rows in groups.items():
        for r in rows:
            if r.dstchannel[:-2] in halves and _is_local(r.dstchannel, ";1"):
                dialers.setdefault(r.dstchannel[:-2], []).append((r.start, key))
    owner: dict[str, str] = {}
    for base, children in halves.items():
        for child in children:
            start = min(r.start for r in groups[child])
            earlier = [d for d in dialers.get(base, ()) if d[0] <= start + 1]
            if not earlier:
                continue
            root = max(earlier)[1]
            while root in owner:
                root = owner[root]
            if root != child:
                groups[root].extend(groups.pop(child))
                owner[child] = root


Hit = tuple[float, str, bool]  # answer instant, device, exact (False: the dialplan's answer)


class _Assembler:
    """Turns the rows of one call into a CallBuilder, a Reject or a Skipped (not a switchboard
    call)."""

    def __init__(self, ctx: CaptureContext, rejected: dict[str, int]) -> None:
        self.ctx, self.sites, self.rejected = ctx, ctx.sites, rejected
        self.tests = frozenset(ctx.pbx.test_accountcodes)
        self._staff: dict[str, bool] = {}

    def is_staff(self, channel: str) -> bool:
        """Whether the channel is a staff device of the config (memoized per device)."""
        if not channel:
            return False
        device = device_of(channel)
        known = self._staff.get(device)
        if known is None:
            known = self._staff[device] = self.sites.is_staff(channel)
        return known

    def build(self, key: str, rows: list[CdrRow]) -> CallBuilder | Reject | Skipped:
        """The call of one group of rows (sorted by time), a Reject, or a Skipped with why."""
        bad_line = self.rejected.get(key) or self.rejected.get(rows[0].channel)
        caller = self._caller(rows, bad_line)
        first_line = min(r.line for r in rows)
        if caller is None:
            if bad_line is None:
                return Skipped(first_line, "call originated by the PBX (Local channels only)")
            return Reject(min(r.line for r in rows), "no caller row left for this call: the "
                          f"caller's row on line {bad_line} was rejected; fix that line and "
                          "import the file again", "\n".join(_raw(rows)))
        if caller.startswith("Local/"):
            return Skipped(first_line, "call originated by the PBX (Local channel)")
        if self.is_staff(caller):
            dialed = next((r.dst for r in rows if r.channel == caller), "")
            return Skipped(first_line, "outbound call" if looks_like_did(dialed)
                           else "internal call between staff phones")
        mine = [r for r in rows if r.channel == caller]
        b = self._builder(rows, mine)
        if self.sites.site_for(dialed=b.dialed, queue=b.queue, context=b.context) is None \
                and not looks_like_did(b.dialed):
            return Skipped.no_site(first_line, b.dialed, b.queue, b.context, b.arrival)
        hit = self._human_answer(rows, mine, self.is_staff)
        if hit is not None:
            b.answer, b.answered_by = hit[0], hit[1]
            b.incomplete = b.incomplete or not hit[2]
        elif (outcome := self._unanswered(mine)) is not None:
            b.outcome = outcome
        else:
            self._unclassified(b, rows, mine)
            last = max(mine, key=lambda r: (r.end, r.start, r.sequence, r.line))
            if b.other_device is None and b.machine is None and pbx_ended(last):
                b.outcome = Outcome.NO_ANSWER  # nobody answered and the PBX ended the call
        b.incomplete = b.incomplete or bad_line is not None
        return b

    def _unclassified(self, b: CallBuilder, rows: list[CdrRow], mine: list[CdrRow]) -> None:
        """Nobody the directory knows answered: note a device that is no staff phone, else the
        dialplan that answered the caller without ever trying a person, in a context the site
        does not list (finalize then gives the call an outcome of its own, not an abandon)."""
        hit = self._human_answer(rows, mine, self._unknown_device) or \
            self._human_answer(rows, mine, self._unknown_local)
        if hit is not None:
            b.other_answer, b.other_device = hit[0], hit[1]
            b.incomplete = b.incomplete or not hit[2]
            return
        last = max(mine, key=lambda r: (r.end, r.start, r.sequence, r.line))
        if last.answer is not None and not reached_person(rows) and \
                self.sites.site_for(context=last.dcontext) is None:
            b.machine_answer, b.machine = last.answer, f"{last.lastapp}@{last.dcontext}"

    def _unknown_device(self, channel: str) -> bool:
        """A real device (not a Local channel) that no staff pattern matches."""
        return bool(channel) and not channel.startswith("Local/") and not self.is_staff(channel)

    def _unknown_local(self, channel: str) -> bool:
        """A Local channel that no staff pattern matches, when no real device shows behind it."""
        return channel.startswith("Local/") and not self.is_staff(channel)

    def _caller(self, rows: list[CdrRow], bad_line: int | None) -> str | None:
        """The caller's channel: the linkedid's own, else the first non-Local Party A."""
        linkedid = rows[0].linkedid
        if linkedid:
            for r in rows:
                if r.uniqueid == linkedid:
                    return r.channel
            if rows[0].uniqueid and bad_line is not None:
                return None
        return next((r.channel for r in rows if not r.channel.startswith("Local/")), None)

    def _builder(self, rows: list[CdrRow], mine: list[CdrRow]) -> CallBuilder:
        first = mine[0]
        queue = next((r.lastdata.split(",", 1)[0].strip() for r in mine
                      if r.lastapp.lower() == "queue"), None)
        context = next((r.dcontext for r in mine if self.sites.site_for(context=r.dcontext)),
                       first.dcontext)
        return CallBuilder(
            pbx=self.ctx.pbx.name,
            call_key=first.uniqueid or first.linkedid or f"{first.channel}@{int(first.start)}",
            source=Source.CDR,
            linkedid=first.linkedid or None,
            dialed=first.dst or None,
            queue=queue or None,
            context=context or None,
            caller=first.src,
            arrival=first.start,
            end=_end(rows, mine),
            is_test=any(r.accountcode in self.tests or r.src in self.tests for r in mine),
            resolution=1.0,
            line=min(r.line for r in rows),
            raw=_raw(rows),
            caller_device=device_of(first.channel),
            dialed_out=next((d for r in mine if r.lastapp.lower() == "dial"
                             for d in dialed_out_through(r.lastdata)), None),
        )

    def _human_answer(self, rows: list[CdrRow], mine: list[CdrRow],
                      accept: Callable[[str], bool]) -> Hit | None:
        """The first answer by a device `accept`s (a staff device): exact ones first, else the
        dialplan-timed one."""
        halves: dict[str, list[CdrRow]] = {}
        for r in rows:
            if r.channel.endswith(";2") and r.channel.startswith("Local/"):
                halves.setdefault(r.channel[:-2], []).append(r)
        exact: list[Hit] = []
        rough: list[Hit] = []
        for r in mine:
            if _bridged(r):
                hit = self._through_local(r, halves, 0, accept) or self._direct(r, mine, accept)
                if hit is not None:
                    (exact if hit[2] else rough).append(hit)
        return min(exact or rough, default=None)

    def _through_local(self, row: CdrRow, halves: dict[str, list[CdrRow]], depth: int,
                       accept: Callable[[str], bool]) -> Hit | None:
        """The accepted device's answer behind an answered `Local;1` leg, on its `;2` rows."""
        if not _is_local(row.dstchannel, ";1") or depth > _LOCAL_DEPTH:
            return None
        siblings = halves.get(row.dstchannel[:-2], [])
        hits = [
            hit for r in siblings if _bridged(r)
            and (hit := self._through_local(r, halves, depth + 1, accept)
                 or self._direct(r, siblings, accept, fresh=True))
        ]
        return min(hits, default=None)

    def _direct(self, row: CdrRow, siblings: list[CdrRow], accept: Callable[[str], bool],
                fresh: bool = False) -> Hit | None:
        """An answered row towards an accepted (staff) device.

        A `Local;2` half is created for its dial (`fresh`), so its answer is exact. On a caller
        row, an answer within MACHINE_SECONDS of the row's start may be the dialplan's: it is,
        unless the dial's other legs show that the caller was not Up (no answer on them). It is
        then raised to the end of those cancelled legs (they stop when the device answers)."""
        answer = row.answer
        if answer is None or not accept(row.dstchannel):
            return None
        device = device_of(row.dstchannel)
        if fresh or answer - row.start > MACHINE_SECONDS:
            return answer, device, True
        legs = [r for r in siblings if r is not row and r.dstchannel
                and abs(r.start - row.start) <= 1 and r.disposition != "ANSWERED"]
        if legs and all(r.answer is None for r in legs):
            return answer, device, True
        cancelled = [r.end for r in legs if r.end <= row.end]
        return max([answer, *cancelled]), device, False

    def _unanswered(self, mine: list[CdrRow]) -> Outcome | None:
        """MESSAGE, VOICEMAIL, BUSY, FAILED or CONGESTION from the caller's last row, else None."""
        last = max(mine, key=lambda r: (r.end, r.start, r.sequence, r.line))
        app = last.lastapp.lower()
        if last.dcontext in self.sites.message_contexts and (
                app in _MESSAGE_APPS or last.answer is not None):
            return Outcome.MESSAGE
        if last.dcontext in self.sites.voicemail_contexts or app == "voicemail":
            return Outcome.VOICEMAIL
        return _FAILURES.get(last.disposition)


def pbx_ended(last: CdrRow) -> bool:
    """Whether the PBX, not the caller, ended an unanswered call, from the caller's last row:
    the dialplan ran Hangup(), or a Dial rang for its whole time-out (`Dial(targets,T)`, the
    row lasting T seconds, give or take the second CDR times are truncated to) and nothing
    came after it."""
    app = last.lastapp.lower()
    if app == "hangup":
        return True
    if app != "dial" or last.disposition != "NO ANSWER":
        return False
    fields = last.lastdata.split(",")
    timeout = fields[1].strip() if len(fields) > 1 else ""
    return _SECONDS.fullmatch(timeout) is not None and int(timeout) > 0 and \
        abs(last.duration - int(timeout)) <= 1


def _end(rows: list[CdrRow], mine: list[CdrRow]) -> float:
    """The latest end of the call's rows. When that is the end of a caller row that started at
    the arrival, it is read as arrival + duration: `duration` truncates the true length, where
    two truncated timestamps can be 1 s off (a 4.98 s abandon is not 5 s long)."""
    end = max(r.end for r in rows)
    arrival = mine[0].start
    span = max((r.start + r.duration for r in mine if r.start == arrival), default=arrival)
    return span if 0 <= end - span <= 1 else end


def _bridged(row: CdrRow) -> bool:
    """An ANSWERED row that did not end in an application answering the caller itself."""
    return row.disposition == "ANSWERED" and row.answer is not None and \
        row.lastapp.lower() not in _SELF_ANSWERING


def _raw(rows: list[CdrRow]) -> list[str]:
    return [r.raw for r in sorted(rows, key=lambda r: r.line)]


