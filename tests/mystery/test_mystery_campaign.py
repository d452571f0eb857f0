"""The shipped campaign loads; a malformed campaign names its file, key and reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from config import SHIPPED_DIR, Config, ConfigError
from mystery.campaign import CriterionType, find_campaign, load_campaign

SHIPPED_CAMPAIGN = SHIPPED_DIR / "campaigns" / "eps-2026.toml"


def test_shipped_campaign(config: Config) -> None:
    campaign = load_campaign(find_campaign("eps-2026", config), config)
    assert campaign.id == "eps-2026" and campaign.code == "EPS26" and campaign.year == 2026
    assert len(campaign.sites) == 17 and campaign.calls_per_site == 8
    assert campaign.required_score == 7.0
    pickup = campaign.pickup_criterion
    assert pickup is not None and pickup.type is CriterionType.SECONDS and pickup.target_seconds == 25
    assert pickup.critical
    assert [c.id for c in campaign.criteria] == [
        "decroche-25s", "annonce-service", "politesse", "ecoute", "information-orientation",
        "absence-transfert", "mise-en-attente", "prise-de-conge"]
    assert campaign.criterion("absence-transfert").scenarios == ("personne-absente",)
    assert campaign.criterion("mise-en-attente").na_allowed
    assert {b.id: b.before_closing for b in campaign.bands}["fermeture"] == 30
    assert campaign.weekday_weights[0] > campaign.weekday_weights[4]
    assert campaign.max_attempts == 3 and len(campaign.callers) == 4 and len(campaign.scenarios) == 5
    assert campaign.source == SHIPPED_CAMPAIGN.read_text(encoding="utf-8")


def test_unknown_campaign_name_lists_the_shipped_ones(config: Config) -> None:
    with pytest.raises(ConfigError) as err:
        find_campaign("eps-2031", config)
    assert 'key (file) is "eps-2031"; expected a campaign TOML file or one of eps-2026' in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("calls_per_site = 8", "calls_per_site = 0",
         'key calls_per_site is "0"; expected a whole number >= 1'),
        ('sites = "all"', 'sites = ["eps-05", "eps-21"]', 'key sites is "eps-21"; expected a site id of'),
        ("end = 2026-11-13", "end = 2026-10-01",
         'key end is "2026-10-01"; expected a date on or after start (2026-10-12)'),
        ('code = "EPS26"', 'code = "EPS-26"', 'key code is "EPS-26"; expected letters and digits only'),
        ('type = "scale"', 'type = "stars"', 'criterion "ecoute".type is "stars"; expected one of '
         '"yesno", "scale", "seconds"'),
        ("target_seconds = 25\n", "", 'criterion "decroche-25s".target_seconds is missing; '
         "expected a number of seconds > 0"),
        ('commitment = "delai"', 'commitment = "delais"', 'criterion "decroche-25s".commitment is "delais"; '
         "expected one of delai, regles-accueil, information"),
        ('scenarios = ["personne-absente"]', 'scenarios = ["absent"]',
         'criterion "absence-transfert".scenarios is "absent"; expected scenario ids among'),
        ('hours = "08:30-10:00"', 'hours = "10:00-08:30"',
         'band "ouverture".hours is "10:00-08:30"; expected an interval "HH:MM-HH:MM"'),
        ("before_closing_minutes = 30", 'before_closing_minutes = 30\nhours = "16:00-17:00"',
         'band "fermeture".hours is "16:00-17:00"; expected either hours'),
        ("weight = 3.0\ncritical = true", "weight = 0\ncritical = true",
         'criterion "decroche-25s".weight is "0.0"; expected a number > 0'),
        ('id = "appelant-b"', 'id = "appelant-a"',
         'caller[1].id is "appelant-a"; expected an id used by no other'),
        ('unavailable = ["2026-10-26"', 'unavailable = ["2026-13-26"',
         'caller "appelant-b".unavailable[0] is "2026-13-26"; expected a date YYYY-MM-DD'),
        ("pickup = true", "pickup = true\nsurprise = 1",
         'criterion "decroche-25s".surprise is "surprise"; expected one of the keys'),
        ("share = 0.15", "share = 1.5", 'key double_scoring.share is "1.5"; expected a number from 0 to 1'),
        ('levels = ["insuffisante", "à améliorer", "satisfaisante", "très satisfaisante"]',
         'levels = ["bof", "bien"]',
         'criterion "ecoute".levels is "[\'bof\', \'bien\']"; expected four labels'),
        ("year = 2026", "year = 2026\nyear = 2027", "key (syntax) is"),
    ],
)
def test_malformed_campaign(tmp_path: Path, config: Config, old: str, new: str, message: str) -> None:
    text = SHIPPED_CAMPAIGN.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_campaign(path, config)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_second_pickup_criterion_is_refused(write_campaign: Callable[..., Path], config: Config) -> None:
    path = write_campaign()
    text = path.read_text(encoding="utf-8").replace(
        'type = "yesno"\nweight = 2.0',
        'type = "seconds"\ntarget_seconds = 10\npickup = true\nweight = 2.0', 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r'criterion "annonce-service".pickup is "True"; expected a single '
                                          r'pickup criterion \(already "decroche-25s"\)'):
        load_campaign(path, config)
