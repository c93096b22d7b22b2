"""Secret masking: one credential-key predicate, one mask, every registered secret masked."""

from __future__ import annotations

import html
import json
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "********"
_MASK = MASK  # older spelling
_lock = threading.Lock()
_secrets: set[str] = set()
_forms: list[str] = []  # every written form of every secret, longest first


def _written_forms(secret: str) -> set[str]:
    """The ways a secret can appear in text the run writes: as is, JSON-, HTML-, URL-escaped."""
    forms = {secret, html.escape(secret), html.escape(secret, quote=False)}
    jinja = secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    forms.add(jinja.replace('"', "&#34;").replace("'", "&#39;"))  # markupsafe (Jinja autoescape)
    for ascii_only in (True, False):
        forms.add(json.dumps(secret, ensure_ascii=ascii_only)[1:-1])
    forms.update({quote(secret, safe=""), quote_plus(secret, safe="")})
    forms.add(secret.encode("unicode_escape").decode("ascii"))  # repr() of the str
    return {f for f in forms if len(f) >= 3}


def register_secret(secret: str | None) -> None:
    """Remember a secret so that redact() masks it wherever it appears."""
    if secret and len(secret) >= 3:
        with _lock:
            if secret in _secrets:
                return
            _secrets.add(secret)
            forms = set(_forms) | _written_forms(secret)
            _forms[:] = sorted(forms, key=len, reverse=True)


def registered_secrets() -> list[str]:
    """The registered secrets (for the run-folder sweep and tests)."""
    with _lock:
        return sorted(_secrets, key=len, reverse=True)


def redact(text: str) -> str:
    """Return text with every registered secret (in any written form) replaced by the mask."""
    if not text or not isinstance(text, str):
        return text
    with _lock:
        forms = list(_forms)
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def clear_secrets() -> None:
    """Forget every registered secret (tests only)."""
    with _lock:
        _secrets.clear()
        _forms.clear()


# ----- the one credential-key predicate ------------------------------------------------------
# A key containing one of these words (any case, `*_env` included) holds a credential or the
# name of one. Every writer (evidence, probe parameters, captures, manifests, inventories,
# messages about user files) asks is_credential_key(); there is no other list.
CREDENTIAL_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "api_key",
    "private_key",
    "privatekey",
)
_MIN_QUOTABLE = 3  # shorter values would mask ordinary letters of the message
_doc_secrets: dict[str, set[str]] = {}


def is_credential_key(key: object) -> bool:
    """Whether a mapping key names a credential (password_env, Secret, apiKey, passphrase...)."""
    folded = str(key).casefold().replace("-", "_")
    return any(word in folded for word in CREDENTIAL_WORDS)


def mask_document(doc: Any) -> Any:
    """A copy of a JSON-like document fit for writing.

    A value under a credential key is replaced by the mask (and masked wherever else the
    document repeats it); every registered secret is masked in every string and key.
    """
    local: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if is_credential_key(key) and isinstance(value, str) and len(value) >= 3:
                    local.add(value)
                collect(value)
        elif isinstance(node, list | tuple):
            for item in node:
                collect(item)

    values: list[str] = []

    def scrub_text(text: str) -> str:
        for value in values:
            text = text.replace(value, MASK)
        return redact(text)

    def mask(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                clean_key = scrub_text(key) if isinstance(key, str) else key
                if is_credential_key(key) and value not in (None, ""):
                    out[clean_key] = MASK
                else:
                    out[clean_key] = mask(value)
            return out
        if isinstance(node, list | tuple):
            return [mask(item) for item in node]
        if isinstance(node, str):
            return scrub_text(node)
        return node

    collect(doc)
    values[:] = sorted(local_forms(local), key=len, reverse=True)
    return mask(doc)


def redact_values(doc: Any) -> Any:
    """A copy of a JSON-like document with every registered secret masked in every string
    (keys included); unlike mask_document, nothing is masked for its key's name."""
    if isinstance(doc, dict):
        return {redact(k) if isinstance(k, str) else k: redact_values(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [redact_values(item) for item in doc]
    return redact(doc) if isinstance(doc, str) else doc


def local_forms(values: set[str]) -> set[str]:
    """Every written form of some values (see register_secret)."""
    return {f for v in values for f in _written_forms(v)}


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
            text = text.replace(value, MASK)
    return text
