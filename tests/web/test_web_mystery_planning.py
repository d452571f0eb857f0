"""Planning a campaign from the console: the campaign files listed, a plan drawn and shown with
its balance before anything is stored, the same plan stored on request (once), its files as a
ZIP; only the quality team (and admins) may, with the form's CSRF token."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from mystery.campaign import find_campaign, load_campaign
from mystery.models import mystery_planned_calls
from mystery.planner import plan_campaign
from tests.web.web_support import post
from web.console import Console

PREVIEW = "/mystere/planifier/eps-2026"


def _save(client: TestClient, seed: str, **kwargs: object):  # type: ignore[no-untyped-def]
    """Save the plan of the preview of `seed`, as its form does (seed and file fingerprint)."""
    page = client.get(f"{PREVIEW}?graine={seed}").text
    found = re.search(r'name="empreinte" value="([0-9a-f]{16})"', page)
    assert found is not None, "no fingerprint in the preview's form"
    return post(client, PREVIEW, {"graine": seed, "empreinte": found.group(1)}, page=PREVIEW,
                **kwargs)


def _stored(console: Console) -> list[tuple[str, str, str]]:
    with console.store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(
            mystery_planned_calls.c.call_id, mystery_planned_calls.c.site,
            mystery_planned_calls.c.local_start).order_by(mystery_planned_calls.c.call_id))]


def test_a_plan_is_shown_then_stored_as_drawn(console: Console,
                                              client_for: Callable[[str], TestClient]) -> None:
    quality = client_for("qualite")
    listing = quality.get("/mystere/planifier").text
    assert 'data-name="eps-2026"' in listing and f'href="{PREVIEW}"' in listing
    page = quality.get(PREVIEW).text
    campaign = load_campaign(find_campaign("eps-2026", console.config), console.config)
    expected = plan_campaign(campaign, console.config, campaign.year)
    assert f"{len(expected.calls)} appels, {len(campaign.sites)} sites" in page
    assert f"graine {campaign.year}" in page and "Enregistrer ce plan" in page
    sites = re.findall(r"<tr><td class=\"text\">([^<]+)</td><td>(\d+)</td></tr>",
                       page.split('id="balance-sites"')[1].split("</table>")[0])
    assert len(sites) == len(campaign.sites)
    assert sum(int(n) for _, n in sites) == len(expected.calls)
    assert _stored(console) == []  # a preview stores nothing
    done = _save(quality, str(campaign.year), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/mystere/campagne/eps-2026"
    drawn = sorted((c.call_id, c.site, c.start.strftime("%Y-%m-%d %H:%M")) for c in expected.calls)
    assert _stored(console) == drawn  # the plan shown is the plan stored
    fingerprint = re.search(r'name="empreinte" value="([0-9a-f]{16})"', page)
    assert fingerprint is not None
    again = post(quality, PREVIEW, {"graine": "7", "empreinte": fingerprint.group(1)},
                 page=PREVIEW)
    assert again.status_code == 409 and "déjà un plan enregistré" in again.text
    assert _stored(console) == drawn  # kept
    assert "planifiée" in quality.get("/mystere/planifier").text


def test_another_seed_draws_another_plan(console: Console,
                                         client_for: Callable[[str], TestClient]) -> None:
    """The seed asked is the one shown, kept in the form, and the one the stored plan uses."""
    quality = client_for("qualite")
    page = quality.get(f"{PREVIEW}?graine=2").text
    assert "graine 2 " in page and 'name="graine" value="2"' in page
    assert 'name="graine" value="3"' in page  # "Tirer un autre plan" offers the next seed
    campaign = load_campaign(find_campaign("eps-2026", console.config), console.config)
    one, two = (plan_campaign(campaign, console.config, seed) for seed in (1, 2))
    assert [c.start for c in one.calls] != [c.start for c in two.calls]
    _save(quality, "2")
    assert _stored(console) == sorted((c.call_id, c.site, c.start.strftime("%Y-%m-%d %H:%M"))
                                      for c in two.calls)
    assert quality.get(f"{PREVIEW}?graine=abc").status_code == 400


def test_the_plan_files_come_as_one_zip(console: Console,
                                        client_for: Callable[[str], TestClient]) -> None:
    quality = client_for("qualite")
    _save(quality, "2026")
    assert 'id="plan-files"' in quality.get("/mystere/campagne/eps-2026").text
    got = quality.get("/mystere/campagne/eps-2026/fichiers.zip")
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(got.content)).namelist()
    assert "plan-eps-2026.csv" in names and "resultats-eps-2026.csv" in names
    assert any(n.endswith(".ics") for n in names) and any(n.endswith(".pdf") for n in names)
    assert quality.get("/mystere/campagne/nope/fichiers.zip").status_code == 404


def test_only_the_quality_team_plans_and_only_listed_files(
        console: Console, client_for: Callable[[str], TestClient]) -> None:
    for who in ("dir05", "sup13", "appelant"):
        client = client_for(who)
        assert client.get("/mystere/planifier").status_code == 403, who
        assert client.get(PREVIEW).status_code == 403, who
    quality = client_for("qualite")
    for name in ("..%2F..%2Fsettings", "nope", "eps-2026.toml"):
        assert quality.get(f"/mystere/planifier/{name}").status_code == 404, name
    no_token = quality.post(PREVIEW, data={"graine": "2026"})
    assert no_token.status_code == 403 and _stored(console) == []


def test_a_campaign_file_in_error_says_so(console: Console, tmp_path: Path,
                                          client_for: Callable[[str], TestClient],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that does not load is listed with its error, and its preview says why no plan
    can be drawn (nothing to store)."""
    import web.pages.mystery_planning as pages

    broken = tmp_path / "broken.toml"
    broken.write_text('id = "broken"\nname = 3\n', encoding="utf-8")
    monkeypatch.setattr(pages, "campaign_names", lambda config: ["broken", "eps-2026"])
    found = pages.configured_campaign
    monkeypatch.setattr(pages, "configured_campaign",
                        lambda name, config: broken if name == "broken" else found(name, config))
    quality = client_for("qualite")
    listing = quality.get("/mystere/planifier").text
    assert "Fichier en erreur" in listing and str(broken) in listing
    page = quality.get("/mystere/planifier/broken")
    assert page.status_code == 422 and "Le plan ne peut pas être tiré" in page.text
    assert "Enregistrer ce plan" not in page.text
    assert post(quality, "/mystere/planifier/broken", {"graine": "1"},
                page="/mystere/planifier").status_code == 422
    assert _stored(console) == []


def test_a_seed_out_of_range_is_refused(console: Console,
                                        client_for: Callable[[str], TestClient]) -> None:
    quality = client_for("qualite")
    for seed in ("3000000000", "-1", str(10**20)):
        assert quality.get(f"{PREVIEW}?graine={seed}").status_code == 400, seed
        assert post(quality, PREVIEW, {"graine": seed}, page=PREVIEW).status_code == 400, seed
    assert _stored(console) == []


def test_a_file_changed_since_the_preview_is_shown_again_not_stored(
        console: Console, client_for: Callable[[str], TestClient]) -> None:
    quality = client_for("qualite")
    page = quality.get(PREVIEW).text
    shown = re.search(r'name="empreinte" value="([0-9a-f]{16})"', page)
    assert shown is not None
    changed = post(quality, PREVIEW, {"graine": "2026", "empreinte": "0" * 16}, page=PREVIEW)
    assert changed.status_code == 409 and "a changé depuis l" in changed.text
    assert _stored(console) == []
    kept = post(quality, PREVIEW, {"graine": "2026", "empreinte": shown.group(1)}, page=PREVIEW,
                follow_redirects=False)
    assert kept.status_code == 303 and _stored(console) != []


def test_a_name_is_never_a_path_of_the_working_directory(
        console: Console, client_for: Callable[[str], TestClient], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory or file named like the campaign where the server runs (e.g. the output of
    `mystery plan --out eps-2026`) is not what the page reads."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "eps-2026").mkdir()
    (tmp_path / "eps-2026.toml").write_text('id = "other"\n', encoding="utf-8")
    page = client_for("qualite").get(PREVIEW)
    assert page.status_code == 200 and "Enregistrer ce plan" in page.text

