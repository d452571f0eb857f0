"""The admin's directory page shows the same directory check as `qualiphone sites check`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from starlette.testclient import TestClient

from monitor.call import Call, Outcome, Source
from monitor.store.writer import write_calls
from web.console import Console


def test_the_directory_page_lists_the_gaps(console: Console,
                                           client_for: Callable[[str], TestClient]) -> None:
    now = time.time() - 3600
    today = dt.date.today().isoformat()
    unknown = Call(pbx="paris-eps", call_key="u-1", site="eps-05", arrival=now,
                   outcome=Outcome.UNKNOWN_DEVICE, source=Source.CDR, answer=now + 8.0,
                   end=now + 60, answered_by="PJSIP/201", local_date=today, local_hour=10)
    with console.store.engine.begin() as conn:
        write_calls(conn, [unknown])
    page = client_for("admin").get("/admin/annuaire")
    assert page.status_code == 200
    text = page.text
    assert "poste inconnu de staff_devices" in text and "PJSIP/201" in text
    assert "au-delà de la limite" in text  # 1 call of 1: the whole figure depends on it
    assert client_for("dir05").get("/admin/annuaire").status_code in (403, 404)


def test_an_after_hours_machine_gap_is_described_by_its_effect_on_the_message_share(
        console: Console, client_for: Callable[[str], TestClient]) -> None:
    """A machine answer at night moves the share of calls taken by the message, not the pickup
    rate: the page says so, like `qualiphone sites check`."""
    now = time.time() - 3600
    today = dt.date.today().isoformat()
    night = Call(pbx="paris-eps", call_key="m-1", site="eps-05", arrival=now,
                 outcome=Outcome.MACHINE, source=Source.CDR, answer=now + 1.0, end=now + 30,
                 answered_by="Playback@nuit-05", in_hours=False, local_date=today, local_hour=22)
    with console.store.engine.begin() as conn:
        write_calls(conn, [night])
    text = client_for("admin").get("/admin/annuaire").text
    assert "Playback@nuit-05" in text
    assert "hors horaires : 1 appel, 100,0 points de la part prise par le message" in text
    assert "points du taux de décroché" not in text
