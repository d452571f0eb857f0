"""truth.csv: the model's ground truth, one row per inbound call, in arrival order.

arrival/answer/end are UTC epochs with 6 decimals; answer is the first moment a person's phone
was connected (empty when nobody answered); outcome is a `monitor.call.Outcome` value.
"""

from __future__ import annotations

import csv
from typing import TextIO

from simulator.timeline import SimCall

COLUMNS = ("call_key", "site", "arrival", "answer", "end", "outcome", "answered_by", "is_test")


def truth_row(call: SimCall) -> tuple[str, ...]:
    return (
        call.key,
        call.site,
        f"{call.arrival:.6f}",
        "" if call.answer is None else f"{call.answer:.6f}",
        f"{call.end:.6f}",
        call.outcome.value,
        call.answered_by,
        "true" if call.is_test else "false",
    )


class TruthFile:
    def __init__(self, out: TextIO) -> None:
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(COLUMNS)

    def feed(self, call: SimCall) -> None:
        self.writer.writerow(truth_row(call))

    def close(self) -> None:
        pass
