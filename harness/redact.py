"""Process-wide secret registry: every secret the harness handles is registered and masked."""

from __future__ import annotations

import threading

_MASK = "********"
_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(secret: str | None) -> None:
    """Remember a secret so that redact() masks it wherever it appears."""
    if secret and len(secret) >= 3:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """Return text with every registered secret replaced by a mask."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


def clear_secrets() -> None:
    """Forget every registered secret (tests only)."""
    with _lock:
        _secrets.clear()


# ----- values of user files that must never be quoted back ---------------------------------
# A key containing one of these words (any case, `*_env` included) holds a credential or the
# name of one; every string below it is withheld from messages about that file.
CREDENTIAL_WORDS = ("password", "passwd", "secret", "token", "credential", "apikey", "api_key")
_MIN_QUOTABLE = 3  # shorter values would mask ordinary letters of the message
_doc_secrets: dict[str, set[str]] = {}


def is_credential_key(key: object) -> bool:
    """Whether a mapping key names a credential (password_env, Secret, apiKey, ...)."""
    folded = str(key).casefold()
    return any(word in folded for word in CREDENTIAL_WORDS)


def looks_secret(text: str) -> bool:
    """Whether a value looks like a password or token typed where it does not belong."""
    if len(text) < 8 or any(ch.isspace() for ch in text) or text[:1] in ("\\", "/"):
        return False
    if len(text) > 2 and text[1] == ":" and text[2] in "\\/":  # a Windows path
        return False
    classes = sum(
        (
            any(ch.islower() for ch in text),
            any(ch.isupper() for ch in text),
            any(ch.isdigit() for ch in text),
            any(not ch.isalnum() and ch not in "._-" for ch in text),
        )
    )
    return classes == 4 or (classes == 3 and len(text) >= 16)


def _collect(value: object, under_credential: bool, out: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _collect(item, under_credential or is_credential_key(key), out)
    elif isinstance(value, list):
        for item in value:
            _collect(item, under_credential, out)
    elif isinstance(value, str) and (under_credential or looks_secret(value)):
        out.add(value)


def note_document(source: str, doc: object) -> None:
    """Remember the values of `source` that messages about it must not quote."""
    found: set[str] = set()
    _collect(doc, False, found)
    with _lock:
        _doc_secrets.setdefault(source, set()).update(found)


def scrub(source: str, text: str) -> str:
    """`text` with every withheld value of `source` replaced by a mask."""
    with _lock:
        values = sorted(_doc_secrets.get(source, ()), key=len, reverse=True)
    for value in values:
        if len(value) >= _MIN_QUOTABLE and value in text:
            text = text.replace(value, _MASK)
    return text
