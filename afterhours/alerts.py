"""Alert when a site's last probes failed N times in a row (N = 2 by default).

An alert is a log line (ERROR), a row in `afterhours_alerts`, a non-zero exit status of
`qualiphone afterhours probe`, and, when `[alert] command` is set, the French text piped to
that command (e.g. `mail`). It is raised on every run while the site keeps failing, so a daily
probe is also a daily reminder. Probes whose fate is unknown (verdict `error`) are skipped:
they say nothing about the site.
"""

from __future__ import annotations

import datetime as dt
import logging
import shlex
import subprocess
from collections.abc import Sequence

from afterhours.repository import AlertRecord, ProbeRecord, last_probes, save_alert
from afterhours.settings import AlertSettings
from config import Config
from monitor.store import Store

log = logging.getLogger(__name__)

VERDICT_FR = {
    "expected": "message attendu",
    "truncated": "message tronqué",
    "other_site": "message d'un autre site",
    "wrong_kind": "mauvais message (fermeture / hors horaires)",
    "daytime": "accueil de jour au lieu du message",
    "unrecognised": "message non reconnu",
    "silence": "silence",
    "no_answer": "pas de réponse",
    "error": "sonde non aboutie (erreur technique)",
}
REASON_FR = {0: "pas de route", 1: "raccroché", 3: "sonnerie sans réponse", 5: "occupé",
             8: "encombrement"}


def describe(probe: ProbeRecord) -> str:
    """"2026-10-05 20:00 : pas de réponse (encombrement)"."""
    text = VERDICT_FR.get(probe.verdict, probe.verdict)
    if probe.verdict == "no_answer" and probe.reason is not None:
        text += f" ({REASON_FR.get(probe.reason, f'code {probe.reason}')})"
    if probe.verdict == "other_site" and probe.matched:
        text += f" ({probe.matched})"
    return f"{probe.local_date} {probe.local_time[:5]} : {text}"


def alert_text(config: Config, site_id: str, probes: list[ProbeRecord]) -> str:
    site = config.site(site_id)
    lines = [f"ALERTE qualiphone : {site.name} ({site_id}) — {len(probes)} sondes hors horaires "
             "consécutives en échec.",
             *(f"  - {describe(p)}" for p in sorted(probes, key=lambda p: p.started_at)),
             "Vérifier le message hors horaires du standard (engagement 1 du référentiel "
             "QualiPARIS) et l'aiguillage du soir."]
    return "\n".join(lines)


def run_hook(command: str, text: str, timeout: float = 30.0) -> str:
    """Pipe `text` to `command` (no shell); returns "sent" or "failed: …"."""
    try:
        done = subprocess.run(shlex.split(command), input=text, text=True, capture_output=True,
                              timeout=timeout, check=False)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return f"failed: {exc}"
    if done.returncode != 0:
        return f"failed: exit status {done.returncode}: {done.stderr.strip()[:120]}"
    return "sent"


def failed_in_a_row(store: Store, site_id: str, n: int) -> list[ProbeRecord]:
    """The site's last `n` known probes when all of them failed (newest first), else []. The
    alert rule of `qualiphone alerts check` (alerts.rules_batch) decides with this too."""
    probes = last_probes(store, site_id, n)
    if n < 1 or len(probes) < n or not all(p.failed for p in probes):
        return []
    return probes


def raise_alerts(store: Store, config: Config, settings: AlertSettings, sites: Sequence[str],
                 now: float | None = None) -> list[AlertRecord]:
    """Alert for every site among `sites` whose last N known probes all failed."""
    raised = []
    n = settings.consecutive_failures
    for site_id in sites:
        probes = failed_in_a_row(store, site_id, n)
        if not probes:
            continue
        text = alert_text(config, site_id, probes)
        log.error("after-hours alert for %s: %d failed probes in a row (%s)", site_id, n,
                  "; ".join(describe(p) for p in probes))
        hook = run_hook(settings.command, text) if settings.command else ""
        if hook.startswith("failed"):
            log.warning("alert command %r %s", settings.command, hook)
        alert = AlertRecord(site_id, now or dt.datetime.now(dt.UTC).timestamp(),
                            [p.id for p in probes], text, hook)
        save_alert(store, alert)
        raised.append(alert)
    return raised
