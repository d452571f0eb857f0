"""French text for people (e-mail subject and body, webhook text) and number formats."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

from alerts.model import Notice, NoticeKind
from alerts.settings import Rule

PARIS = ZoneInfo("Europe/Paris")

RULE_FR = {
    Rule.RATE_HOUR: "taux de décroché de la dernière heure sous l'objectif",
    Rule.RATE_DAY: "taux de décroché du jour sous l'objectif",
    Rule.LONG_RING: "appel qui sonne trop longtemps",
    Rule.LISTENER_DOWN: "écoute du standard (AMI) interrompue",
    Rule.AFTERHOURS_PROBE: "message hors horaires en échec (sondes)",
    Rule.MONTH_BELOW_TARGET: "mois sous l'objectif de taux de décroché",
    Rule.DIRECTORY_GAP: "écart dans l'annuaire des standards",
}
KIND_FR = {NoticeKind.FIRED: "Alerte", NoticeKind.REPEAT: "Rappel",
           NoticeKind.CLEARED: "Fin d'alerte", NoticeKind.TEST: "Test"}
SIGNATURE = "— qualiphone, suivi de la qualité d'accueil téléphonique des EPS"


def pct(value: float | None, digits: int = 1) -> str:
    """0.721 → "72,1 %" (French decimal comma, narrow space omitted); None → "–"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{digits}f} %".replace(".", ",")


def duration_fr(seconds: float) -> str:
    """75 → "1 min 15 s", 4000 → "1 h 6 min", 42 → "42 s", 604800 → "7 jours"."""
    seconds = max(0, round(seconds))
    if seconds >= 86400:
        days, hours = divmod(round(seconds / 3600), 24)
        unit = "jours" if days > 1 else "jour"
        return f"{days} {unit} {hours} h" if hours else f"{days} {unit}"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def when_fr(epoch: float) -> str:
    """"le 05/10/2026 à 10:15" (Paris time)."""
    local = dt.datetime.fromtimestamp(epoch, PARIS)
    return f"le {local:%d/%m/%Y} à {local:%H:%M}"


def rule_fr(rule: str) -> str:
    try:
        return RULE_FR[Rule(rule)]
    except ValueError:
        return rule


def subject_line(notice: Notice) -> str:
    """The e-mail subject: "[qualiphone] Alerte : EPS Paris 13e : …"."""
    return f"[qualiphone] {KIND_FR[notice.kind]} : {notice.title}"


def body(notice: Notice) -> str:
    """The e-mail body (and the webhook's text)."""
    lines = [f"{KIND_FR[notice.kind]} : {notice.title}", "", notice.text, ""]
    if notice.kind is NoticeKind.TEST:
        lines.append("Ce message vérifie seulement que les alertes de qualiphone parviennent "
                     "à leurs destinataires ; aucune action n'est demandée.")
    else:
        lines.append(f"Règle : {rule_fr(notice.rule)}.")
        lines.append(f"Alerte déclenchée {when_fr(notice.fired_at)} (heure de Paris).")
    if notice.kind in (NoticeKind.FIRED, NoticeKind.REPEAT):
        lines.append(f"Si la situation dure, un rappel sera envoyé dans "
                     f"{duration_fr(notice.cooldown_minutes * 60)} au plus tôt ; un message "
                     "annoncera sa fin.")
    elif notice.kind is NoticeKind.CLEARED:
        lines.append(f"Alerte levée {when_fr(notice.at)}, après "
                     f"{duration_fr(notice.at - notice.fired_at)}.")
    lines += ["", SIGNATURE]
    return "\n".join(lines)
