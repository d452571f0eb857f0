"""The console's tables, on the store's metadata (migration 0007).

* `web_users`: one account per person; `role` is one of web.roles.ROLES; `sites` the
  comma-separated site ids a site-scoped role may see; `caller` the campaign caller id of a
  mystery caller; `password_hash` an argon2id hash (never the password); `generation` grows at
  every password reset or disabling, which ends the account's sessions.
* `web_sessions`: a signed-in browser; the cookie holds a random id whose SHA-256 is the key
  here (a database leak gives no usable cookie).
* `web_audit`: who did what and when (logins, scores, actions, accounts, statements); the
  action follow-up's history is read from it.
"""

from __future__ import annotations

import sqlalchemy as sa

from monitor.store.models import metadata

web_users = sa.Table(
    "web_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("display_name", sa.String(200), nullable=False, default=""),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("sites", sa.Text, nullable=False, default=""),
    sa.Column("caller", sa.String(64), nullable=False, default=""),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("must_change", sa.Boolean, nullable=False, default=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("generation", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.UniqueConstraint("username"),
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("web_users.id"), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("last_seen", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double),
    sa.Index("ix_web_sessions_user_id", "user_id"),
)

web_audit = sa.Table(
    "web_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),  # a username, or "cli:<system user>"
    sa.Column("action", sa.String(64), nullable=False),  # e.g. login_failed, score_saved
    sa.Column("target", sa.String(200), nullable=False, default=""),  # e.g. "action:12"
    sa.Column("detail", sa.Text, nullable=False, default="{}"),  # JSON
    sa.Column("client", sa.String(64), nullable=False, default=""),  # the client's address
    sa.Index("ix_web_audit_target_at", "target", "at"),
    sa.Index("ix_web_audit_action_at", "action", "at"),
)
