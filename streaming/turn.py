"""Short-lived TURN credentials for coturn's `use-auth-secret` mode (the "TURN REST API" scheme).

The app and coturn share a static secret. For each participant the app mints a
username ``"<expiry unix time>:<user key>"`` and a password
``base64(HMAC-SHA1(secret, username))``; coturn recomputes the HMAC and refuses
the allocation once the expiry has passed. The secret itself never leaves the
server. Pure functions, no Django: the SFU and the tests use them directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict

# coturn's default `rest-api-separator`.
SEPARATOR = ":"


class IceServer(TypedDict):
    """One entry of an RTCConfiguration's ``iceServers``, as a browser (or aiortc) takes it."""

    urls: list[str]
    username: NotRequired[str]
    credential: NotRequired[str]


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    credential: str
    expires_at: int  # unix seconds; coturn refuses the username after this

    def as_ice_server(self, urls: Sequence[str]) -> IceServer:
        return {"urls": list(urls), "username": self.username, "credential": self.credential}


def turn_password(*, username: str, secret: str) -> str:
    """The password coturn expects for `username`: base64 of HMAC-SHA1 keyed with the shared secret."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_credentials(*, user_key: str, secret: str, ttl_s: int, now: float) -> TurnCredentials:
    """Credentials valid for `ttl_s` seconds from `now` (unix time) for the participant `user_key`.

    `user_key` ends up in coturn's logs: pass an opaque id, not an email address.
    """
    if not secret:
        raise ValueError("a TURN secret is required")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    if not user_key or SEPARATOR in user_key:
        raise ValueError(f"user_key must be non-empty and must not contain {SEPARATOR!r}")
    expires_at = int(now) + ttl_s
    username = f"{expires_at}{SEPARATOR}{user_key}"
    return TurnCredentials(
        username=username, credential=turn_password(username=username, secret=secret), expires_at=expires_at
    )


def ice_servers(
    *,
    turn_urls: Sequence[str],
    stun_urls: Sequence[str] = (),
    credentials: TurnCredentials | None = None,
) -> list[IceServer]:
    """The ICE server list handed to one participant: STUN (no credentials), then TURN with `credentials`.

    TURN URLs without credentials are left out: a browser rejects a TURN entry
    without a username and credential.
    """
    servers: list[IceServer] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and credentials is not None:
        servers.append(credentials.as_ice_server(turn_urls))
    return servers
