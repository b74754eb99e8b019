"""Join tokens.

A participant's token is derived from the server secret (HMAC of the event,
the participant's key and a version number), and only its SHA-256 is stored.
So a stolen database opens no session, yet ``tribune links`` can print every
link again; ``tribune revoke`` raises ``token_version`` and stores the new
hash (server/revocation.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def join_token(secret: str, event_slug: str, participant_key: str, version: int) -> str:
    message = f"join:{event_slug}:{participant_key}:{version}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def link_token(secret: str, purpose: str, event_slug: str, key: str, version: int) -> str:
    """A private link's token for another purpose than joining: a focal
    point's nomination page (``focal``, the delegation's key) or a member's
    registration form (``register``, the participant's key). Same rule as
    join tokens: derived, only the hash stored, a new version voids the old."""
    message = f"{purpose}:{event_slug}:{key}:{version}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def nominate_url(base_url: str, token: str) -> str:
    return f"{base_url}/nominate/{token}"


def register_url(base_url: str, token: str) -> str:
    return f"{base_url}/register/{token}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def join_url(base_url: str, token: str) -> str:
    return f"{base_url}/join/{token}"
