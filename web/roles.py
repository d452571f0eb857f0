"""Roles, what each may do, and which sites it sees.

* admin: accounts, the audit log, the directory check, and everything the quality team sees;
* quality (the central quality team): every page, all sites; generates statements; scores calls;
* director: their sites' figures, statements, after-hours checks, live view and actions;
* supervisor: their sites' live view and history (the figures explorer);
* caller (mystery caller): only their planned calls and the scoring form.

A site-scoped role (director, supervisor) sees only the sites of its account: every page and
download filters with `User.sees(site)` / `User.visible(sites)`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    QUALITY = "quality"
    DIRECTOR = "director"
    SUPERVISOR = "supervisor"
    CALLER = "caller"


ROLE_LABELS = {
    Role.ADMIN: "administrateur",
    Role.QUALITY: "équipe qualité",
    Role.DIRECTOR: "direction d'EPS",
    Role.SUPERVISOR: "superviseur",
    Role.CALLER: "appelant mystère",
}


class Cap(enum.StrEnum):
    """What a page needs."""

    ACCOUNTS = "accounts"  # accounts, audit log, directory check
    FIGURES = "figures"  # stats explorer and downloads
    STATEMENTS = "statements"  # list and download statements
    GENERATE = "generate"  # generate statements on demand, synthesis and tracking table
    LIVE = "live"
    AFTERHOURS = "afterhours"
    CAMPAIGNS = "campaigns"  # plan view, campaign report, agreement, every call
    ACTIONS = "actions"  # the action follow-up (site-scoped for a director)
    SCORE = "score"  # the scoring form


CAPS: dict[Role, frozenset[Cap]] = {
    Role.ADMIN: frozenset(Cap),
    Role.QUALITY: frozenset(Cap) - {Cap.ACCOUNTS},
    Role.DIRECTOR: frozenset({Cap.FIGURES, Cap.STATEMENTS, Cap.LIVE, Cap.AFTERHOURS, Cap.ACTIONS}),
    Role.SUPERVISOR: frozenset({Cap.FIGURES, Cap.LIVE}),
    Role.CALLER: frozenset({Cap.SCORE}),
}
SITE_SCOPED = frozenset({Role.DIRECTOR, Role.SUPERVISOR})


@dataclass(frozen=True)
class User:
    """The signed-in account, as pages see it."""

    id: int
    username: str
    display_name: str
    role: Role
    sites: tuple[str, ...]  # only meaningful for a site-scoped role
    caller: str = ""
    must_change: bool = False

    @property
    def scoped(self) -> bool:
        return self.role in SITE_SCOPED

    @property
    def name(self) -> str:
        return self.display_name or self.username

    def can(self, cap: Cap) -> bool:
        return cap in CAPS[self.role]

    def sees(self, site: str) -> bool:
        """Whether this account may see the site's data."""
        if self.role is Role.CALLER:
            return False
        return not self.scoped or site in self.sites

    def visible(self, sites: Iterable[str]) -> list[str]:
        """The sites among `sites` this account may see, in their order."""
        return [s for s in sites if self.sees(s)]
