"""The central synthesis: the 17 EPS side by side, the city-wide figure, the sites below the
target three months running, the spread between each site's best and worst hours.

"Below target" is stated once and used everywhere: a month is below target when its pickup
rate (the figure of `qualiphone stats`) is lower than the target rate (`--target-rate`, 80 %
by default; the 25 s threshold comes from config/settings.toml). A month without calls is not
below target, and it breaks a run. A site is listed when its last three months are all below
target; in the annual review, when three consecutive months of the year are.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from config import Site
from monitor.metrics.records import records
from reports import commitments
from reports.afterhours import AfterHoursCheck
from reports.coverage import SiteCoverage
from reports.data import DayMark, Figures, Period, Rules
from reports.document import Verdict
from reports.text import (
    NBSP,
    interval,
    month_name,
    num,
    pct,
    period_name,
    plural,
    points,
    rate_digits,
    target_sentence,
)

RUN = 3  # months in a row below target that put a site on the list
MIN_HOUR_CALLS = 30  # an hour of the day with fewer calls is left out of the spread


@dataclass(frozen=True)
class HourRate:
    hour: int
    rate: float
    n: int


@dataclass(frozen=True)
class SiteLine:
    """One EPS in the synthesis."""

    site: Site
    rank: int | None  # 1 = best pickup rate; None without calls in opening hours
    head: dict[str, Any]  # `stats` record of the period, opening hours
    previous: dict[str, Any] | None  # the month before (monthly synthesis)
    trend: list[dict[str, Any]]
    run: int  # months in a row below target, ending with the period's last month
    longest: tuple[int, str, str]  # longest run below target in the trend: (months, first, last)
    worst: HourRate | None
    best: HourRate | None
    coverage: SiteCoverage
    order: int  # position in config/sites.toml
    closed: AfterHoursCheck | None = None  # the month's after-hours check (monthly synthesis)
    verdicts: tuple[Verdict, ...] = field(default_factory=tuple)  # see reports.commitments

    @property
    def unclassified(self) -> int:
        """Calls the site directory cannot classify (unknown device, machine): out of the rate."""
        return int(self.head.get("unclassified") or 0)

    @property
    def rate(self) -> float | None:
        return self.head["pickup_rate"]["value"]

    def flagged_run(self, yearly: bool) -> int:
        """The run that counts: the current one, or the year's longest (annual review)."""
        return self.longest[0] if yearly else self.run

    @property
    def spread(self) -> float | None:
        return None if self.worst is None or self.best is None else self.best.rate - self.worst.rate


@dataclass(frozen=True, eq=False)
class Synthesis:
    period: Period
    rules: Rules
    lines: list[SiteLine]  # best first; sites without calls at the end
    city: dict[str, Any]
    city_trend: list[dict[str, Any]]
    city_worst: HourRate | None
    city_best: HourRate | None
    imports: dict[str, tuple[int, int]]

    @property
    def below(self) -> list[SiteLine]:
        """Sites below target for RUN months running, at the end of the period."""
        return [x for x in self.lines if x.flagged_run(self.period.yearly) >= RUN]

    @property
    def missing(self) -> list[SiteLine]:
        """Sites without a single captured call in the period."""
        return [line for line in self.lines if not line.coverage.calls]

    @property
    def has_data(self) -> bool:
        return any(line.coverage.calls for line in self.lines)

    @property
    def in_site_order(self) -> list[SiteLine]:
        """The sites in the order of config/sites.toml."""
        return sorted(self.lines, key=lambda x: x.order)


def below_runs(trend: list[dict[str, Any]], target: float) -> tuple[int, tuple[int, str, str]]:
    """Months below target in a row at the end of `trend` (monthly `stats` records), and the
    longest such run (months, first, last)."""
    below = [t["pickup_rate"]["value"] is not None and t["pickup_rate"]["value"] < target
             for t in trend]
    run = 0
    for flag in reversed(below):
        if not flag:
            break
        run += 1
    best, length = (0, "", ""), 0
    for i, flag in enumerate(below):
        length = length + 1 if flag else 0
        if length > best[0]:
            best = (length, trend[i - length + 1]["period"], trend[i]["period"])
    return run, best


def _hours(recs: list[dict[str, Any]]) -> tuple[HourRate | None, HourRate | None]:
    """The worst and best hours of the day with at least MIN_HOUR_CALLS calls."""
    ranked = [HourRate(int(r["period"]), r["pickup_rate"]["value"], r["pickup_rate"]["n"])
              for r in recs if r["pickup_rate"]["n"] >= MIN_HOUR_CALLS]
    if not ranked:
        return None, None
    return (min(ranked, key=lambda h: (h.rate, h.hour)),
            max(ranked, key=lambda h: (h.rate, -h.hour)))


def synthesis(f: Figures, closed: dict[str, AfterHoursCheck] | None = None) -> Synthesis:
    """The synthesis of every site from the period's figures (and, for a month, each site's
    after-hours check)."""
    n_months = len(f.period.months)
    hours = records(f.hour)
    closed = closed or {}
    lines = []
    for i, site in enumerate(f.sites):
        trend = f.trend_records[i * n_months:(i + 1) * n_months]
        run, longest = below_runs(trend, f.rules.target_rate)
        worst, best = _hours(hours[i * 24:(i + 1) * 24])
        marks: list[DayMark] = [m for m in f.marks if m.site == site.id]
        check = closed.get(site.id)
        lines.append(SiteLine(site, None, f.headline_records[i],
                              None if f.period.yearly else trend[-2], trend, run, longest,
                              worst, best, f.coverage.sites[site.id], i, check,
                              tuple(commitments.verdicts(f.headline_records[i], f.rules, check,
                                                         marks))))
    ranked = sorted(lines, key=lambda x: (x.rate is None, -(x.rate or 0), x.order))
    lines = [_with_rank(line, k + 1) for k, line in enumerate(ranked)]
    city_worst, city_best = _hours(records(f.city_hour))
    return Synthesis(f.period, f.rules, lines, f.city_record, f.city_trend_records, city_worst,
                     city_best, f.coverage.imports)


def _with_rank(line: SiteLine, rank: int) -> SiteLine:
    return replace(line, rank=None if line.rate is None else rank)


def short_name(site: Site) -> str:
    """"EPS Paris 5e" -> "Paris 5e" (axis labels)."""
    return site.name.removeprefix("EPS ").strip()


def summary(s: Synthesis) -> list[str]:
    """The synthesis in a few plain French sentences."""
    when = period_name(s.period.key)
    if not s.has_data:
        return [f"Aucune donnée pour {when} : aucun appel n'a été capté pour les "
                f"{len(s.lines)} EPS. Vérifiez que les fichiers des PBX de cette période ont été "
                "importés (qualiphone store batches)."]
    p, t = s.city["pickup_rate"], s.rules.target_rate
    ranked = [x for x in s.lines if x.rank is not None]
    reached = sum(1 for x in ranked if x.rate is not None and x.rate >= t)
    first = (f"{'En' if not s.period.yearly else 'Sur'} {when}, {pct(p['value'], rate_digits(p['value'], t))}"
             f" des {plural(p['n'], 'appel')} reçus aux heures d'ouverture des {len(s.lines)} EPS "
             f"ont été décrochés par une personne en moins de {num(s.rules.threshold)} secondes. "
             + target_sentence(p, t) + f" {reached} EPS sur {len(ranked)} atteignent le taux cible.")
    out = [not_met_sentence(s), first]
    if ranked:
        out.append(f"Meilleur taux : {ranked[0].site.name} ({pct(ranked[0].rate, 1)}) ; "
                   f"le moins bon : {ranked[-1].site.name} ({pct(ranked[-1].rate, 1)}).")
    out.append(below_sentence(s))
    if s.missing:
        out.append("Absents de la capture (aucun appel capté) : "
                   + ", ".join(x.site.name for x in s.missing) + ".")
    if s.city_worst and s.city_best:
        out.append(f"Sur l'ensemble des EPS, l'heure la moins bonne est {s.city_worst.hour}{NBSP}h "
                   f"({pct(s.city_worst.rate)}), la meilleure {s.city_best.hour}{NBSP}h "
                   f"({pct(s.city_best.rate)}).")
    return out


def below_definition(s: Synthesis) -> str:
    rule = (f"ses {RUN} derniers mois le sont" if not s.period.yearly else
            f"au moins {RUN} mois consécutifs de l'année le sont")
    return (f"Un mois est sous le taux cible quand son taux de décroché est inférieur à "
            f"{pct(s.rules.target_rate)} (option --target-rate, 80 % par défaut ; seuil de "
            f"{num(s.rules.threshold)} s fixé dans config/settings.toml). Un mois sans appel "
            f"n'est pas sous le taux cible et interrompt la série. Un EPS est signalé quand "
            f"{rule}.")


def _run_text(x: SiteLine, yearly: bool) -> str:
    if not yearly:
        return f"{x.run} mois"
    months, first, last = x.longest
    return f"{months} mois, de {month_name(first)} à {month_name(last)}"


def below_sentence(s: Synthesis) -> str:
    t = pct(s.rules.target_rate)
    when = "depuis" if not s.period.yearly else "pendant"
    if not s.below:
        return f"Aucun EPS n'est sous le taux cible de {t} {when} {RUN} mois ou plus."
    names = ", ".join(f"{x.site.name} ({_run_text(x, s.period.yearly)})" for x in s.below)
    return f"Sous le taux cible de {t} {when} {RUN} mois ou plus : {names}."


def ranking_table(s: Synthesis) -> tuple[list[str], list[list[str]]]:
    last = "Mois sous l'objectif d'affilée" if not s.period.yearly else "Plus longue série"
    head = ["Rang", "EPS", "Appels reçus", "< 25 s", "Taux", "IC 95 %",
            "Évolution" if not s.period.yearly else "Mois sous l'objectif", last]
    rows = []
    for x in s.lines:
        h, p = x.head, x.head["pickup_rate"]
        if s.period.yearly:
            change = str(sum(1 for t in x.trend if t["pickup_rate"]["value"] is not None
                             and t["pickup_rate"]["value"] < s.rules.target_rate))
        else:
            before = x.previous["pickup_rate"]["value"] if x.previous else None
            change = "—" if before is None or p["value"] is None else \
                points(p["value"] - before)
        rows.append(["—" if x.rank is None else str(x.rank), x.site.name, num(h["offered"]),
                     num(h["answered_within"]), pct(p["value"], 1), interval(p["low"], p["high"], 1),
                     change, str(x.flagged_run(s.period.yearly)) if x.rank is not None else "—"])
    return head, rows


def below_table(s: Synthesis) -> tuple[list[str], list[list[str]]]:
    """The sites below target RUN months running, with their last RUN monthly rates (the
    months of their longest run in the annual review)."""
    if s.period.yearly:
        rows = [[x.site.name, _run_text(x, True)] for x in s.below]
        return ["EPS", "Plus longue série sous le taux cible"], rows
    months = [t["period"] for t in s.city_trend[-RUN:]]
    rows = [[x.site.name, f"{x.run} mois", *(pct(t["pickup_rate"]["value"], 1)
                                             for t in x.trend[-RUN:])] for x in s.below]
    return ["EPS", "Sous le taux cible depuis", *(month_name(m) for m in months)], rows


def spread_table(s: Synthesis) -> tuple[list[str], list[list[str]]]:
    rows = []
    for x in sorted(s.lines, key=lambda x: (x.spread is None, -(x.spread or 0), x.site.id)):
        if x.worst is None or x.best is None:
            rows.append([x.site.name, "—", "—", "—"])
            continue
        rows.append([x.site.name, f"{x.worst.hour}{NBSP}h : {pct(x.worst.rate)}",
                     f"{x.best.hour}{NBSP}h : {pct(x.best.rate)}",
                     num((x.spread or 0) * 100) + NBSP + "points"])
    return ["EPS", "Heure la moins bonne", "Heure la meilleure", "Écart"], rows


def coverage_rows(s: Synthesis) -> tuple[list[str], list[list[str]]]:
    rows = []
    for x in s.lines:
        c = x.coverage
        state = "absent de la capture" if not c.calls else "complète" if c.complete else "partielle"
        rows.append([x.site.name, state, num(c.calls), str(len(c.silent_days)), str(len(c.gaps)),
                     num(c.incomplete_total)])
    return ["EPS", "Couverture", "Appels captés", "Jours sans appel", "Coupures AMI",
            "Incomplets"], rows


def not_met(s: Synthesis) -> list[tuple[SiteLine, Verdict]]:
    """Every commitment not met in the period, site by site (in the order of sites.toml)."""
    return [(x, v) for x in s.in_site_order for v in x.verdicts if v.state == "not_met"]


def not_met_sentence(s: Synthesis) -> str:
    when = ("en " if not s.period.yearly else "sur ") + period_name(s.period.key)
    missed = not_met(s)
    if not missed:
        return f"Aucun engagement non tenu {when} parmi ceux qui ont pu être mesurés."
    names = ", ".join(f"{x.site.name} ({v.name.lower()})" for x, v in missed)
    sites = len({x.site.id for x, _ in missed})
    return (f"{plural(len(missed), 'engagement non tenu', 'engagements non tenus')} {when}, "
            f"sur {plural(sites, 'EPS', 'EPS')} : {names}.")


def not_met_table(s: Synthesis) -> tuple[list[str], list[list[str]]]:
    rows = [[x.site.name, v.name, v.figure, v.detail] for x, v in not_met(s)]
    return ["EPS", "Engagement non tenu", "Chiffre", "Détail"], rows


def directory_table(s: Synthesis) -> tuple[list[str], list[list[str]]]:
    """Sites whose figures leave out calls the site directory cannot classify."""
    rows = [[x.site.name, num(x.unclassified), num(x.head.get("unknown_device")),
             num(x.head.get("machine"))] for x in s.in_site_order if x.unclassified]
    return ["EPS (répertoire incomplet)", "Appels non classés", "Poste inconnu", "Machine"], rows


def after_hours_table(s: Synthesis) -> tuple[list[str], list[list[str]]]:
    """Per site: calls while closed, the share the message took, probes, the flag."""
    rows = []
    for x in s.in_site_order:
        c = x.closed
        if c is None:
            continue
        last = c.probes[-1][2] if c.probes else "—"
        flag = "SIGNALÉ" if c.flagged else ("alerte" if c.alerts else "")
        rows.append([x.site.name, num(c.calls), num(c.by_message), pct(c.share), num(c.failures),
                     f"{c.conform} / {len(c.probes)}" if c.probes else "—", last, flag])
    return ["EPS", "Appels site fermé", "Pris par le message", "Part", "Non pris",
            "Sondes conformes", "Dernière sonde", "Signalé"], rows


def after_hours_sentence(s: Synthesis) -> str:
    checked = [x for x in s.lines if x.closed is not None]
    if not checked:
        return "Pas de contrôle hors horaires sur cette période (voir les synthèses mensuelles)."
    flagged = [x.site.name for x in s.in_site_order if x.closed and x.closed.flagged]
    calls = sum(x.closed.calls for x in checked if x.closed)
    taken = sum(x.closed.by_message for x in checked if x.closed)
    text = (f"{plural(calls, 'appel')} arrivé{'s' if calls > 1 else ''} site fermé, "
            f"{num(taken)} pris par le message.")
    if flagged:
        return text + " Sites signalés (trop d'appels non pris par le message) : " + \
            ", ".join(flagged) + "."
    return text + " Aucun site signalé."
