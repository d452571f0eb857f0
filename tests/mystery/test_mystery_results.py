"""Results files: bad lines refused with line and reason, nothing half-written, the rest imported."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from config import Config
from monitor.store import Store
from mystery.models import mystery_answers, mystery_results
from mystery.planner import Plan, PlannedCall
from mystery.repository import campaign_results
from mystery.results_import import ResultsFileError, import_results
from mystery.scoring import Answer, Outcome

HEADER = ("call_id;role;scorer;outcome;attempts;called_at;decroche-25s;annonce-service;politesse;ecoute;"
          "information-orientation;absence-transfert;mise-en-attente;prise-de-conge;comment")


def line(call: PlannedCall, *, outcome: str = "answered", attempts: str = "1", decroche: str = "12",
         ecoute: str = "3", information: str = "4", role: str = "primary", comment: str = "") -> str:
    absence = "oui" if call.scenario == "personne-absente" else ""
    if outcome != "answered":
        return f"{call.call_id};{role};cl;{outcome};{attempts};;;;;;;;;;{comment}"
    return (f"{call.call_id};{role};cl;{outcome};{attempts};;{decroche};oui;oui;{ecoute};{information};"
            f"{absence};SO;non;{comment}")


def write(tmp_path: Path, lines: list[str], name: str = "results.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_bad_lines_are_refused_the_rest_imported(tmp_path: Path, store: Store, config: Config,
                                                 planned: Plan) -> None:
    c = planned.calls
    path = write(tmp_path, [
        line(c[0]),                                         # 2 ok
        line(c[1]).replace(c[1].call_id, "T26-05-099"),     # 3 unknown call id
        line(c[2], ecoute="5"),                             # 4 out of range
        line(c[3], information=""),                         # 5 missing critical answer
        line(c[4], outcome="no_answer", attempts="3"),      # 6 ok: no answer after three tries
        line(c[5], outcome="perdu"),                        # 7 unknown outcome
        line(c[0], comment="again"),                        # 8 same call twice
        line(c[6], outcome="busy", attempts="2", comment="x"),  # 9 ok
        line(c[8]).replace(";answered;", ";busy;"),         # 10 answers on an unanswered call
        line(c[7], attempts="4"),                           # 11 too many tries
    ])
    summary = import_results(store, config, path)
    assert [(r.line, r.reason) for r in summary.rejected] == [
        (3, 'unknown call id "T26-05-099"; it is not a planned mystery call'),
        (4, 'criterion "ecoute" is "5"; expected a whole number from 1 to 4'),
        (5, 'critical criterion "information-orientation" has no answer'),
        (7, 'outcome is "perdu"; expected one of answered, no_answer, busy, message, voicemail, failed, '
            "not_made"),
        (8, f'call "{c[0].call_id}" (primary) is already on line 2'),
        (10, 'criterion "annonce-service" has an answer but the call was not answered; leave it blank'),
        (11, 'attempts is "4"; expected a whole number from 1 to 3'),
    ]
    assert summary.rejected[0].raw.startswith("T26-05-099;primary;cl;answered")
    assert (summary.imported, summary.replaced, summary.unchanged) == (3, 0, 0)
    stored = {r.call_id: r for r in campaign_results(store, planned.campaign.id)}
    assert set(stored) == {c[0].call_id, c[4].call_id, c[6].call_id}
    assert stored[c[4].call_id].outcome is Outcome.NO_ANSWER and stored[c[4].call_id].attempts == 3
    assert stored[c[6].call_id].comment == "x"
    assert stored[c[0].call_id].answers["ecoute"] == Answer(3.0)
    assert stored[c[0].call_id].answers["mise-en-attente"] == Answer(None, na=True)
    assert stored[c[0].call_id].called_at == c[0].epoch and stored[c[0].call_id].source == "import"


def test_reimport_is_a_no_op_and_replace_is_explicit(tmp_path: Path, store: Store, config: Config,
                                                     planned: Plan) -> None:
    c = planned.calls
    first = write(tmp_path, [line(c[0]), line(c[1], outcome="no_answer", attempts="2")])
    assert import_results(store, config, first).imported == 2
    again = import_results(store, config, first)
    assert (again.imported, again.unchanged, again.rejected) == (0, 2, [])
    changed = write(tmp_path, [line(c[0], ecoute="1")], "changed.csv")
    refused = import_results(store, config, changed)
    assert refused.rejected[0].reason == (f'call "{c[0].call_id}" (primary) already has different results '
                                          "(by cl, import); use --replace to overwrite them")
    assert import_results(store, config, changed, replace=True).replaced == 1
    stored = {r.call_id: r for r in campaign_results(store, planned.campaign.id)}
    assert stored[c[0].call_id].answers["ecoute"] == Answer(1.0)
    with store.engine.connect() as conn:
        n_answers = conn.execute(sa.select(sa.func.count()).select_from(mystery_answers)).scalar_one()
        n_results = conn.execute(sa.select(sa.func.count()).select_from(mystery_results)).scalar_one()
    assert n_results == 2 and n_answers == len(stored[c[0].call_id].answers)


def test_second_scorer_and_french_outcomes(tmp_path: Path, store: Store, config: Config,
                                           planned: Plan) -> None:
    c = planned.calls
    path = write(tmp_path, [line(c[0]), line(c[0], role="second", ecoute="2"),
                            line(c[1], outcome="occupé", attempts="3").replace("occupé", "Occupé")])
    summary = import_results(store, config, path)
    assert summary.imported == 3 and not summary.rejected
    roles = {(r.call_id, r.role): r for r in campaign_results(store, planned.campaign.id)}
    assert roles[(c[0].call_id, "second")].answers["ecoute"] == Answer(2.0)
    assert roles[(c[1].call_id, "primary")].outcome is Outcome.BUSY


def test_unknown_column_refuses_the_file(tmp_path: Path, store: Store, config: Config, planned: Plan) -> None:
    path = tmp_path / "typo.csv"
    path.write_text(HEADER.replace("politesse", "politese") + "\n" + line(planned.calls[0]) + "\n")
    with pytest.raises(ResultsFileError) as err:
        import_results(store, config, path)
    assert str(err.value).startswith(f'{path}: column "politese" is neither a field')
    assert campaign_results(store, planned.campaign.id) == []
