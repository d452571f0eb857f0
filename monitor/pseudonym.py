"""Caller numbers become a keyed hash at capture (HMAC-SHA256 over the E.164 form)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import phonenumbers

from config import CaptureSettings

log = logging.getLogger(__name__)

WITHHELD = {"", "anonymous", "<unknown>", "unknown", "restricted", "private", "withheld"}


class KeyFileError(Exception):
    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"pseudonym key file {path}: {reason}")


@lru_cache(maxsize=131072)
def normalize_number(raw: str | None, region: str = "FR") -> str | None:
    """E.164 where the number parses, else the digits as written; None when withheld."""
    if raw is None:
        return None
    text = raw.strip()
    if text.lower() in WITHHELD:
        return None
    fast = _fast_e164(text, region)
    if fast is not None:
        return fast
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(parsed):
        return text
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _fast_e164(text: str, region: str) -> str | None:
    """E.164 of the common plain-digit forms without the full parser (same result, 50x faster)."""
    if text.startswith("+") and text[1:].isdigit() and 8 <= len(text) - 1 <= 15:
        return text if text[1] != "0" else None
    if region == "FR" and text.isdigit():
        if len(text) == 10 and text[0] == "0" and text[1] != "0":
            return "+33" + text[1:]
        if len(text) == 13 and text.startswith("0033") and text[4] != "0":
            return "+" + text[2:]
    return None


def load_or_create_key(env_name: str, key_file: Path) -> bytes:
    """The key from the environment, else from the key file (created 0600 when absent)."""
    value = os.environ.get(env_name)
    if value:
        return value.encode()
    if key_file.exists():
        if key_file.stat().st_mode & 0o077:
            raise KeyFileError(key_file, "is readable by others; run chmod 600 on it")
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32))
    log.warning("created a new pseudonym key in %s; back it up with the database", key_file)
    return key_file.read_bytes().strip()


@dataclass(frozen=True)
class Pseudonymizer:
    key: bytes
    region: str = "FR"

    def caller_hash(self, normalized: str | None) -> str | None:
        if normalized is None:
            return None
        return hmac.new(self.key, normalized.encode(), hashlib.sha256).hexdigest()[:32]


def pseudonymizer_for(capture: CaptureSettings) -> Pseudonymizer | None:
    """The capture's pseudonymizer (None when callers are stored in clear): the same key, so
    the same number gets the same hash wherever it is computed."""
    if not capture.pseudonymize_callers:
        return None
    from monitor.store.engine import data_dir

    key_file = Path(capture.pseudonym_key_file) if capture.pseudonym_key_file else (
        data_dir() / "pseudonym.key")
    return Pseudonymizer(load_or_create_key(capture.pseudonym_key_env, key_file),
                         capture.default_region)
