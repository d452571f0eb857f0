"""Mystery calls in the browser's forms: a caller's calls, the scoring form (only the scenario's
criteria, each answer checked, drafts), the PBX's time beside the caller's, double scoring and
kappa, the campaign report, the action follow-up with its history."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from monitor.store.models import calls
from mystery.models import mystery_actions, mystery_planned_calls
from mystery.repository import campaign_results
from tests.web.web_support import answered_form, plan_shipped_campaign, post
from web.console import Console

CRITERIA = ["decroche-25s", "annonce-service", "politesse", "ecoute", "information-orientation",
            "absence-transfert", "mise-en-attente", "prise-de-conge"]


@pytest.fixture
def planned(console: Console) -> Console:
    plan_shipped_campaign(console.store, console.config)
    return console


def _calls(console: Console, **where: object) -> list[sa.Row]:
    query = sa.select(mystery_planned_calls).order_by(mystery_planned_calls.c.call_id)
    for key, value in where.items():
        query = query.where(getattr(mystery_planned_calls.c, key) == value)
    with console.store.engine.connect() as conn:
        return list(conn.execute(query))


def _without(criteria: list[str], *removed: str) -> list[str]:
    return [c for c in criteria if c not in removed]


def test_caller_sees_only_their_calls(planned: Console,
                                      client_for: Callable[[str], TestClient]) -> None:
    caller = client_for("appelant")
    page = caller.get("/mystere/mes-appels").text
    mine, others = _calls(planned, caller="appelant-a"), _calls(planned, caller="appelant-b")
    assert all(c.call_id in page for c in mine)
    assert not any(c.call_id in page for c in others)
    assert "01 99 00 01 05" in page or "01 99 00" in page  # the number to dial
    assert caller.get(f"/mystere/appel/{others[0].call_id}").status_code == 404
    assert caller.get(f"/mystere/appel/{mine[0].call_id}?role=second").status_code == 404
    for url in ("/mystere", "/stats", "/releves", "/live", "/hors-horaires", "/mystere/actions"):
        assert caller.get(url).status_code == 403, url


def test_form_shows_only_the_scenarios_criteria(planned: Console,
                                                client_for: Callable[[str], TestClient]) -> None:
    caller = client_for("appelant")
    other = next(c for c in _calls(planned, caller="appelant-a") if c.scenario != "personne-absente")
    absent = next(c for c in _calls(planned, caller="appelant-a") if c.scenario == "personne-absente")
    shown = re.findall(r'data-criterion="([^"]+)"', caller.get(f"/mystere/appel/{other.call_id}").text)
    assert shown == _without(CRITERIA, "absence-transfert")
    shown = re.findall(r'data-criterion="([^"]+)"', caller.get(f"/mystere/appel/{absent.call_id}").text)
    assert shown == CRITERIA


def test_each_answer_is_checked_and_drafts_are_kept(planned: Console,
                                                    client_for: Callable[[str], TestClient]) -> None:
    caller = client_for("appelant")
    call = next(c for c in _calls(planned, caller="appelant-a") if c.scenario != "personne-absente")
    url = f"/mystere/appel/{call.call_id}"
    criteria = _without(CRITERIA, "absence-transfert")
    bad = post(caller, url, answered_form(criteria, **{"c:ecoute": "7", "c:politesse": "peut-être"}),
               page=url)
    assert bad.status_code == 400
    assert "Réponse « 7 » refusée : répondez par un niveau de 1 à 4." in bad.text
    assert "Réponse « peut-être » refusée : répondez oui ou non." in bad.text
    assert campaign_results(planned.store, "eps-2026") == []  # nothing saved
    draft = answered_form(criteria, **{"c:information-orientation": "", "save": "brouillon"})
    assert "brouillon" in post(caller, url, draft, page=url).text
    [stored] = campaign_results(planned.store, "eps-2026")
    assert stored.status == "in_progress" and "information-orientation" not in stored.answers
    final = answered_form(criteria, **{"c:information-orientation": ""})
    refused = post(caller, url, final, page=url)
    assert refused.status_code == 400 and "Réponse obligatoire (critère critique)." in refused.text
    wrong = answered_form(criteria, **{"outcome": "no_answer", "c:decroche-25s": ""})
    assert "laissez ce critère vide" in post(caller, url, wrong, page=url).text


def test_after_saving_the_pbx_time_is_shown_beside_the_callers(
        planned: Console, client_for: Callable[[str], TestClient]) -> None:
    call = next(c for c in _calls(planned, caller="appelant-a") if c.scenario != "personne-absente")
    with planned.store.engine.begin() as conn:  # a captured call of that site, answered
        captured = conn.execute(sa.select(calls).where(
            calls.c.site == call.site, calls.c.outcome == "answered", calls.c.in_hours)
            .order_by(calls.c.arrival).limit(1)).one()
        # the mystery call as the PBX marks it (its caller line is in test_accountcodes): only
        # the campaign's own calls are ever attached, never a citizen's
        conn.execute(sa.update(calls).where(calls.c.id == captured.id).values(is_test=True))
    import datetime as dt
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromtimestamp(captured.arrival, ZoneInfo("Europe/Paris"))
    caller = client_for("appelant")
    url = f"/mystere/appel/{call.call_id}"
    form = answered_form(_without(CRITERIA, "absence-transfert"),
                         called_at=local.strftime("%Y-%m-%d %H:%M"))
    page = post(caller, url, form, page=url).text
    assert "Saisie enregistrée" in page
    pbx = re.search(r'id="pbx-seconds">([^<]+)<', page).group(1)
    assert pbx == f"{captured.time_to_answer:.1f} s".replace(".", ",")
    assert re.search(r'id="observed-seconds">([^<]+)<', page).group(1) == "12,0 s"


def test_double_scoring_gives_the_kappa(planned: Console,
                                        client_for: Callable[[str], TestClient]) -> None:
    doubles = [c for c in _calls(planned) if c.double_scored and c.scenario != "personne-absente"][:2]
    criteria = _without(CRITERIA, "absence-transfert")
    quality = client_for("qualite")
    for i, call in enumerate(doubles):
        url = f"/mystere/appel/{call.call_id}"
        first = answered_form(criteria, **{"c:politesse": "oui" if i else "non"})
        second = answered_form(criteria, **{"c:politesse": "non"})
        assert post(quality, url, first, page=url).status_code == 200
        assert post(quality, f"{url}?role=second", second, page=url).status_code == 200
    report = quality.get("/mystere/campagne/eps-2026/rapport").text
    row = re.search(r'<tr data-criterion="politesse"[^>]*>(.*?)</tr>', report, re.S).group(1)
    assert '<td class="pairs">2</td>' in row
    assert '<td class="kappa">0,00</td>' in row  # one agreement of two: pₒ = pₑ = 0.5
    row = re.search(r'<tr data-criterion="annonce-service"[^>]*>(.*?)</tr>', report, re.S).group(1)
    assert '<td class="kappa">—</td>' in row  # always "oui" from both: kappa undefined
    pdf = quality.get("/mystere/campagne/eps-2026/rapport.pdf")
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"


def test_caller_comment_stays_text(planned: Console,
                                   client_for: Callable[[str], TestClient]) -> None:
    caller = client_for("appelant")
    call = next(c for c in _calls(planned, caller="appelant-a") if c.scenario != "personne-absente")
    url = f"/mystere/appel/{call.call_id}"
    form = answered_form(_without(CRITERIA, "absence-transfert"),
                         comment='<script>alert("x")</script>')
    page = post(caller, url, form, page=url).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def _add_action(console: Console, site: str) -> int:
    import time

    with console.store.engine.begin() as conn:
        return int(conn.execute(sa.insert(mystery_actions).values(
            campaign_id="eps-2026", site=site, criterion="politesse", finding="constat",
            action="former l'équipe", owner="", due="", status="open", comment="",
            created_at=time.time(), updated_at=time.time()).returning(mystery_actions.c.id)).scalar_one())


def test_action_edit_and_history(planned: Console,
                                 client_for: Callable[[str], TestClient]) -> None:
    mine, other = _add_action(planned, "eps-05"), _add_action(planned, "eps-13")
    director = client_for("dir05")
    listing = director.get("/mystere/actions").text
    assert f'data-action="{mine}"' in listing and f'data-action="{other}"' not in listing
    assert director.get(f"/mystere/actions/{other}").status_code == 404
    url = f"/mystere/actions/{mine}"
    done = post(director, url, {"owner": "Mme <b>Durand</b>", "due": "2027-01-31",
                                "status": "in_progress", "comment": "formation prévue"}, page=url)
    assert done.status_code == 200
    history = re.search(r'<table id="history".*?</table>', done.text, re.S).group(0)
    assert "responsable : « — » → « Mme &lt;b&gt;Durand&lt;/b&gt; »" in history
    assert "échéance : « — » → « 2027-01-31 »" in history
    assert "statut : « à faire » → « en cours »" in history
    assert "commentaire : « — » → « formation prévue »" in history
    assert "Dir05" in history or "dir05" in history
    refused = post(director, f"/mystere/actions/{other}", {"owner": "x", "status": "done"}, page=url)
    assert refused.status_code == 404
