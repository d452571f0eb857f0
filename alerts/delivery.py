"""The channels: e-mail through the City's SMTP relay, a JSON webhook, and the log.

Standard library only: `smtplib` (STARTTLS with certificate checks, optional login) and
`urllib.request` (one JSON POST with a bearer token, a timeout, retries with doubling delays,
no redirects followed); a dependency would add nothing these need. Secrets (the SMTP password,
the webhook token) come from an environment variable or a private file (mode 600), never from
alerts.toml, the command line or the logs; every text a channel reports is scrubbed of them.
"""

from __future__ import annotations

import base64
import email.utils
import json
import logging
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from alerts.model import Delivery, Notice, NoticeKind
from alerts.settings import AlertsSettings, EmailSettings, WebhookSettings
from alerts.texts import body, subject_line
from monitor.private_file import read_private_file

log = logging.getLogger(__name__)
# Lines up to RFC 5322's limit: Python folds a long all-ASCII subject before its first word
MAIL_POLICY = policy.SMTP.clone(max_line_length=998)


class AlertSecretError(Exception):
    """A secret the channels need is missing, or its file is not private."""


class Channel(Protocol):
    name: str

    def send(self, notice: Notice) -> Delivery: ...


class Scrubber:
    """Removes secrets (and their base64 forms, as AUTH PLAIN/LOGIN send them) from text."""

    def __init__(self, *secrets: str | None) -> None:
        forms: set[str] = set()
        for s in filter(None, secrets):
            forms.add(s)
            forms.add(base64.b64encode(s.encode()).decode())
        self.forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self.forms:
            text = text.replace(form, "[secret]")
        return text


def _secret(env: str, file: str, label: str) -> str | None:
    """From the private `file` when set, else from the variable `env`; None when neither."""
    if file:
        return read_private_file(Path(file).expanduser(), label, AlertSecretError).strip("\r\n") or None
    return (os.environ.get(env) or None) if env else None


class EmailChannel:
    name = "email"

    def __init__(self, settings: EmailSettings, password: str | None) -> None:
        self.settings, self._password = settings, password
        self.scrub = Scrubber(password)

    @property
    def relay(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def message(self, notice: Notice, recipients: list[str]) -> EmailMessage:
        msg = EmailMessage(policy=MAIL_POLICY)
        msg["Subject"] = subject_line(notice)
        msg["From"] = self.settings.sender
        msg["To"] = ", ".join(recipients)
        msg["Date"] = email.utils.formatdate(notice.at, localtime=False)
        msg["Message-ID"] = email.utils.make_msgid(domain=self.settings.sender.partition("@")[2] or None)
        msg["X-Qualiphone-Alert"] = f"{notice.kind.value} {notice.rule} {notice.subject}"
        msg.set_content(body(notice))
        return msg

    def send(self, notice: Notice) -> Delivery:
        s = self.settings
        recipients = s.recipients(notice.site)
        target = f"{', '.join(recipients)} via {self.relay}"
        if not recipients:
            return Delivery(self.name, f"(no recipient) via {self.relay}", False,
                            "no recipient: set email.central or email.sites")
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=s.ca_file or None))
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, self._password or "")
                refused = smtp.send_message(self.message(notice, recipients), to_addrs=recipients)
        except (smtplib.SMTPException, OSError) as exc:
            return Delivery(self.name, target, False, self.scrub(f"{type(exc).__name__}: {exc}"))
        if refused:
            return Delivery(self.name, target, False, self.scrub(f"refused by the relay: {refused}"))
        return Delivery(self.name, target, True, "accepted by the relay")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failure: the body and the token must not go elsewhere."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        raise urllib.error.HTTPError(req.full_url, code, f"redirected ({msg}); set webhook.url to "
                                     "the final address", headers, fp)


def payload(notice: Notice) -> dict[str, Any]:
    """The JSON body: machine fields plus `text` (French), which chat webhooks display."""
    return {"kind": notice.kind.value, "rule": notice.rule, "subject": notice.subject,
            "site": notice.site, "at": notice.at, "fired_at": notice.fired_at,
            "title": notice.title, "text": f"{subject_line(notice)}\n\n{body(notice)}",
            "summary": notice.summary, "data": notice.data, "alert_id": notice.alert_id}


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: WebhookSettings, token: str | None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings, self._token, self.sleep = settings, token, sleep
        self.scrub = Scrubber(token)
        parts = urlsplit(settings.url)
        self.target = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # no path: it may be a key
        self._opener = urllib.request.build_opener(_NoRedirect)

    def _post_once(self, data: bytes) -> tuple[bool, bool, str]:
        """(ok, worth retrying, detail)."""
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "qualiphone"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.settings.url, data=data, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.settings.timeout_seconds) as response:
                return True, False, f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            retry = exc.code >= 500 or exc.code in (408, 429)
            return False, retry, f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            return False, True, f"{type(exc).__name__}: {getattr(exc, 'reason', None) or exc}"

    def send(self, notice: Notice) -> Delivery:
        data = json.dumps(payload(notice), ensure_ascii=False, default=str).encode()
        delay, attempts, detail = self.settings.retry_delay_seconds, 0, ""
        for attempt in range(1 + self.settings.retries):
            attempts = attempt + 1
            ok, retry, detail = self._post_once(data)
            if ok or not retry:
                return Delivery(self.name, self.target, ok, self.scrub(detail), attempts)
            if attempt < self.settings.retries:
                self.sleep(delay)
                delay *= 2
        return Delivery(self.name, self.target, False, self.scrub(detail), attempts)


LOG_VERB = {NoticeKind.FIRED: "fired", NoticeKind.REPEAT: "still firing",
            NoticeKind.CLEARED: "cleared", NoticeKind.TEST: "test message"}


class LogChannel:
    """One WARNING line per notice (English), in the process's log (the journal under systemd)."""

    name = "log"

    def send(self, notice: Notice) -> Delivery:
        log.warning("alert %s: %s %s: %s", LOG_VERB[notice.kind], notice.rule, notice.subject,
                    notice.summary)
        return Delivery(self.name, "log", True)


def build_channels(settings: AlertsSettings) -> list[Channel]:
    """The enabled channels, with their secrets read now (AlertSecretError when missing)."""
    channels: list[Channel] = []
    if settings.log.enabled:
        channels.append(LogChannel())
    e = settings.email
    if e.enabled:
        password = None
        if e.username:
            password = _secret(e.password_env, e.password_file, "SMTP password file")
            if password is None:
                variable = e.password_env or "the variable named by email.password_env"
                raise AlertSecretError(
                    f'no SMTP password for user "{e.username}": set {variable} or '
                    f"email.password_file in {settings.path} (a file of mode 600); never in "
                    "alerts.toml or on the command line")
        channels.append(EmailChannel(e, password))
    w = settings.webhook
    if w.enabled:
        channels.append(WebhookChannel(w, _secret(w.token_env, w.token_file, "webhook token file")))
    return channels
