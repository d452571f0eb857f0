"""The columnar queue_log importer against the reference, call by call, on the real
recordings, simulated days, hand-made callers (every shape of the fold, and the ones left to the
reference), generated files, and through run_batch into SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.columnar.queue_log import ColumnarQueueLog
from ingest.finalize import CaptureContext
from ingest.queue_log import parse_queue_log
from monitor.store import Store, open_store
from tests.ingest.columnar_support import compare, import_all, stored
from tests.ingest.test_queue_log import ALTANAI, KATA, site_context


def both(path: Path, ctx: CaptureContext) -> ColumnarQueueLog:
    fast = ColumnarQueueLog()
    compare(path, parse_queue_log, fast, ctx)
    return fast


def write(path: Path, text: str) -> Path:
    path.write_text(text.strip("\n") + "\n", encoding="utf-8")
    return path


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "queues"), [(KATA, ["9000"]), (ALTANAI, ["support", "sales"])])
def test_real_recordings(real_data: Path, tmp_path: Path, name: Path, queues: list[str]) -> None:
    both(real_data / name, site_context(tmp_path, queues))


def test_simulated_days(simulated: Path, capture: CaptureContext) -> None:
    fast = both(simulated / "queue_log", capture)
    assert fast.delegated_rows < len((simulated / "queue_log").read_bytes().splitlines()) * 0.02


SHAPES = {
    "answered": """
1718000001|1718000000.311|std-05|NONE|ENTERQUEUE||0612345678|1
1718000015|1718000000.311|std-05|Poste 0501|CONNECT|14|1718000001.312|14
1718000162|1718000000.311|std-05|Poste 0501|COMPLETECALLER|14|147|1
""",
    "abandon with ring times": """
1718000403|1718000400.330|std-05|NONE|ENTERQUEUE||0698765432|1
1718000420|1718000400.330|std-05|Poste 0501|RINGNOANSWER|14000
1718000431|1718000400.330|std-05|Poste 0502|RINGCANCELED|25500
1718000431|1718000400.330|std-05|NONE|ABANDON|1|1|28
""",
    "second queue after a timeout": """
1718001003|1718001000.40|std-05|NONE|ENTERQUEUE||0612345678|1
1718001023|1718001000.40|std-05|NONE|EXITWITHTIMEOUT|1|1|20
1718001024|1718001000.40|std-06|NONE|ENTERQUEUE||0612345678|1
1718001030|1718001000.40|std-06|Poste 0601|CONNECT|6|1718001024.45|5
1718001100|1718001000.40|std-06|Poste 0601|COMPLETEAGENT|6|70|1
""",
    "exits": """
1718002003|1718002000.50|std-05|NONE|ENTERQUEUE||0612345678|1
1718002012|1718002000.50|std-05|NONE|EXITEMPTY|1|1|9
1718002103|1718002100.51|std-05|NONE|ENTERQUEUE||0612345678|1
1718002112|1718002100.51|std-05|NONE|EXITWITHKEY|0|1|1|9
1718002203|1718002200.52|std-05|NONE|ENTERQUEUE||0612345678|1
1718002212|1718002200.52|std-05|NONE|WITHDRAW|1|1|9|
""",
    "transfers": """
1718003001|1718003000.70|std-05|NONE|ENTERQUEUE||0612345678|1
1718003011|1718003000.70|std-05|Poste 0501|CONNECT|10|1718003001.71|10
1718003041|1718003000.70|std-05|Poste 0501|BLINDTRANSFER|2000|from-internal|10|30|1
1718003101|1718003100.72|std-05|NONE|ENTERQUEUE||0612345678|1
1718003111|1718003100.72|std-05|Poste 0501|CONNECT|10|1718003101.73|10
1718003141|1718003100.72|std-05|Poste 0501|ATTENDEDTRANSFER|BRIDGE|1718003141.77|10|30|1
""",
    "waiting at the end, withheld, old CONNECT": """
1718004001|1718004000.80|std-05|NONE|ENTERQUEUE||0612345678|1
1718004016|1718004000.80|std-05|Poste 0501|RINGNOANSWER|15000
1718005001|1718005000.90|std-05|NONE|ENTERQUEUE|||1
1718005004|1718005000.90|std-05|NONE|ABANDON|1|1|3
1718005005|1718005000.91|std-05|NONE|ENTERQUEUE||03420254064
1718005010|1718005000.91|std-05|Local/2004@from-internal/n|CONNECT|5|1718005001.539
""",
    "callid forms": """
1718006005|pbx1-1718006000.12|std-05|NONE|ENTERQUEUE||0612345678|1
1718006006|qualiphone-probe-7|std-05|NONE|ENTERQUEUE||0612345678|1
1718006007|1600000000.3|std-05|NONE|ENTERQUEUE||0199009999|1
""",
    "rotated file": "1718007200|1718007000.5|std-05|Poste 0501|COMPLETEAGENT|20|150|1",
    "ignored lines, unknown queues and events, DID": """
1596191926|NONE|NONE|NONE|QUEUESTART|
1596510480|CLI|std-05|SIP/0004f2040001|ADDMEMBER|

1596512941|1596512941.163|std-05|NONE|ENTERQUEUE||7000|1
1596512942|1596512941.163|std-05|NONE|SOMECUSTOMEVENT|x
1596512950|1596512950.170|helpdesk|NONE|ENTERQUEUE||7001|1
1596512951|1596512951.171|std-05|NONE|DID|0199000105
1596512952|1596512952.172|NONE|NONE|DID|0199000999
1596512953|1596512952.172|hotline-it|NONE|ENTERQUEUE||0612345678|1
1596512960|1596512960.173|NONE|NONE|DID|0199000105
1596512961|1596512960.173|std-05|NONE|ENTERQUEUE||0612345678|1
1596512965|1596512960.173|std-05|NONE|ABANDON|1|1|4
""",
    "bad lines": """
1718000001|1718000000.311|std-05|NONE|ENTERQUEUE||0612345678|1
abc|1718000000.311|std-05|NONE|RINGNOANSWER|1000
1718000015|1718000000.311|std-05|Poste 0501|CONNECT|14|1718000001.312|14
1718000016|1718000000.311|std-05
1718000162|1718000000.311|std-05|Poste 0501|COMPLETECALLER|14|147|1
1718000170|1718000169.1|std-05|Poste\x7f|CONNECT|1|x|1
1718000171|1718000171.2|std-05|NONE|ENTERQUEUE||06\xe9|1
""",
    "a caller silent for six hours": """
1718000001|1718000000.1|std-05|NONE|ENTERQUEUE||0612345678|1
1718000010|1718000000.1|std-05|NONE|ABANDON|1|1|9
1718090001|1718090000.2|std-05|NONE|ENTERQUEUE||0612345678|1
""",
    "a callid seen again after six hours": """
1718000001|1718000000.1|std-05|NONE|ENTERQUEUE||0612345678|1
1718090001|1718090000.2|std-05|NONE|ENTERQUEUE||0612345678|1
1718090002|1718000000.1|std-05|NONE|ABANDON|1|1|9
""",
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_callers(capture: CaptureContext, tmp_path: Path, shape: str) -> None:
    both(write(tmp_path / "queue_log", SHAPES[shape]), capture)


def test_all_shapes_in_one_file(capture: CaptureContext, tmp_path: Path) -> None:
    text = "\n".join(SHAPES[k].strip("\n") for k in SHAPES if "six hours" not in k)
    both(write(tmp_path / "queue_log", text), capture)


_EVENTS = st.sampled_from([
    "ENTERQUEUE||0612345678|1", "CONNECT|5|1718000001.9|5", "RINGNOANSWER|15000",
    "RINGCANCELED|2500", "ABANDON|1|1|9", "EXITWITHTIMEOUT|1|1|20", "COMPLETECALLER|5|60|1",
    "COMPLETEAGENT|5|x|1", "BLINDTRANSFER|2000|ctx|5|30|1", "DID|0199000105", "DID|",
    "SOMETHING|x", "PAUSE|", "CONNECT|5", "RINGNOANSWER|abc",
])


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 7_200), _EVENTS,
                                st.sampled_from(["std-05", "std-06", "NONE", "", "it"]),
                                st.sampled_from(["NONE", "Poste 0501", "PJSIP/eps05-0501"])),
                      max_size=30))
def test_generated_files(capture: CaptureContext, tmp_path_factory: pytest.TempPathFactory,
                         lines: list[tuple[int, int, str, str, str]]) -> None:
    base = 1_718_000_000
    text = "\n".join(f"{base + t}|{base + c}.{c}|{queue}|{agent}|{event}"
                     for c, t, event, queue, agent in lines)
    both(write(tmp_path_factory.mktemp("gen") / "queue_log", text or "\n"), capture)


def test_stores_the_same_rows_and_counts(capture: CaptureContext, tmp_path: Path,
                                         simulated: Path, store: Store) -> None:
    reference = open_store(f"sqlite:///{tmp_path / 'reference.db'}")
    paths = [simulated / "queue_log", write(tmp_path / "queue_log", SHAPES["bad lines"])]
    for target, parser in ((reference, parse_queue_log), (store, ColumnarQueueLog())):
        import_all(target, "queue_log", paths, parser, capture)
        import_all(target, "queue_log", paths, parser, capture, again=True)
    assert stored(store) == stored(reference)
    reference.dispose()
