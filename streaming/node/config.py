"""An SFU node's settings, from the environment (the node's media path does not load Django)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


def default_layer_prefix(environ: Mapping[str, str]) -> str:
    """The app's CHANNEL_LAYER_PREFIX, computed as lms/settings/channels.py does (keep the two alike)."""
    explicit = environ.get("CHANNEL_LAYER_PREFIX")
    if explicit:
        return explicit
    return "corridor-" + (urlsplit(environ.get("DATABASE_URL", "")).path.strip("/") or "embedded")


def default_registry_prefix(layer_prefix: str) -> str:
    """Where nodes and session pins live in Redis: SFU_REDIS_PREFIX, or the layer prefix + ":sfu"."""
    return f"{layer_prefix}:sfu"


@dataclass(frozen=True)
class NodeConfig:
    redis_url: str
    layer_prefix: str  # the app's channel-layer prefix: the node talks on the same layer
    registry_prefix: str
    node_id: str
    address: str  # advertised to operators and the app (informational: the SDP carries the ICE candidates)
    heartbeat: float  # seconds between refreshes of the node's record
    ttl: float  # seconds the record outlives the last refresh: a node silent this long is gone
    stun_urls: tuple[str, ...]
    recordings: bool  # record recorded sessions (sets up Django for streaming.live_recordings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NodeConfig:
        # An empty variable means "not set", as for the app's settings (lms/settings/env.py).
        env = {name: value for name, value in (os.environ if environ is None else environ).items() if value}
        redis_url = env.get("REDIS_URL", "")
        if not redis_url:
            raise ValueError("REDIS_URL is not set: an SFU node is coordinated through Redis")
        layer_prefix = default_layer_prefix(env)
        heartbeat = float(env.get("SFU_NODE_HEARTBEAT", "1.0"))
        ttl = float(env.get("SFU_NODE_TTL", "5.0"))
        if heartbeat <= 0 or ttl <= heartbeat:
            raise ValueError("SFU_NODE_TTL must be longer than SFU_NODE_HEARTBEAT (both in seconds, above 0)")
        return cls(
            redis_url=redis_url,
            layer_prefix=layer_prefix,
            registry_prefix=env.get("SFU_REDIS_PREFIX") or default_registry_prefix(layer_prefix),
            node_id=env.get("SFU_NODE_ID") or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}",
            address=env.get("SFU_NODE_ADDRESS") or socket.gethostname(),
            heartbeat=heartbeat,
            ttl=ttl,
            stun_urls=tuple(url for url in env.get("STUN_URLS", "").split(",") if url),
            recordings=env.get("SFU_NODE_RECORDINGS", "1").lower() not in ("0", "false", "no", "off", ""),
        )
