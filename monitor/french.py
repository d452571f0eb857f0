"""French names of months and days, and the dates written with them, for every screen and
document (one spelling everywhere: statements, wallboard, alerts, call sheets)."""

from __future__ import annotations

import datetime as dt

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
SHORT_DAYS = ("lun", "mar", "mer", "jeu", "ven", "sam", "dim")
# the French abbreviations of the months (Lexique des règles typographiques de l'Imprimerie
# nationale): never "jui." for both June and July
SHORT_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
                "nov.", "déc.")


def month_name(key: str, capital: bool = False) -> str:
    """"2026-10" -> "octobre 2026" ("Octobre 2026" with `capital`)."""
    year, month = key.split("-")
    name = f"{MONTHS[int(month) - 1]} {int(year)}"
    return name[0].upper() + name[1:] if capital else name


def long_date(day: dt.date) -> str:
    """"vendredi 16 octobre 2026"."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"
