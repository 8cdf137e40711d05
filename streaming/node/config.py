"""An SFU node's settings, from the environment (the node's media path does not load Django)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streaming.sfu.ice_policy import IcePolicy


def default_layer_prefix(environ: Mapping[str, str]) -> str:
    """The app's CHANNEL_LAYER_PREFIX, computed as lms/settings/channels.py does (keep the two alike)."""
    explicit = environ.get("CHANNEL_LAYER_PREFIX")
    if explicit:
        return explicit
    return "corridor-" + (urlsplit(environ.get("DATABASE_URL", "")).path.strip("/") or "embedded")


# lms.accounts.models.Region's values (the node loads no Django): a node's city, a socket's city.
CITIES: tuple[str, ...] = ("singapore", "chongqing")


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
    city: str = "singapore"  # SFU_NODE_CITY: the sockets of this city's rooms and people come here first
    link_bind: tuple[str, int] = ("127.0.0.1", 0)  # SFU_LINK_BIND host:port: the node-to-node RTP link's socket
    link_advertise: str = ""  # SFU_LINK_ADVERTISE host:port, what other nodes send to ("" = the bound address)
    cascade_interval: float = 0.5  # SFU_CASCADE_INTERVAL: seconds between looks at the other node's tracks
    peer_timeout: float = 2.0  # seconds another node has to answer this one
    # SFU_NODE_PROBE_BIND host:port: a tiny HTTP answer that pages time (a person's "automatic" media city)
    probe_bind: tuple[str, int] | None = None
    probe_url: str = ""  # SFU_NODE_PROBE_URL, what pages fetch (default http://<address>:<probe port>/probe)
    # SFU_ICE_ADDRESSES, SFU_ICE_MAX_CANDIDATES: which remote candidates the node's Sfu tries, as for the app's own
    ice_policy: IcePolicy = field(default_factory=IcePolicy)

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
        city = env.get("SFU_NODE_CITY", "singapore").lower()
        if city not in CITIES:
            raise ValueError(f"SFU_NODE_CITY is {city!r}: it must be one of {', '.join(CITIES)}")
        link_bind = parse_address(env.get("SFU_LINK_BIND", "127.0.0.1:0"), name="SFU_LINK_BIND")
        link_advertise = env.get("SFU_LINK_ADVERTISE", "")
        if link_advertise:
            parse_address(link_advertise, name="SFU_LINK_ADVERTISE")
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
            city=city,
            link_bind=link_bind,
            link_advertise=link_advertise,
            cascade_interval=float(env.get("SFU_CASCADE_INTERVAL", "0.5")),
            probe_bind=parse_address(env["SFU_NODE_PROBE_BIND"], name="SFU_NODE_PROBE_BIND")
            if env.get("SFU_NODE_PROBE_BIND")
            else None,
            probe_url=env.get("SFU_NODE_PROBE_URL", ""),
            ice_policy=IcePolicy.parse(
                env.get("SFU_ICE_ADDRESSES", "public"), int(env.get("SFU_ICE_MAX_CANDIDATES", "40"))
            ),
        )


def parse_address(value: str, *, name: str = "address") -> tuple[str, int]:
    """ "host:port" (port 0: any free port) as a (host, port) pair; ValueError naming the setting otherwise."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{name} is {value!r}: it must be host:port")
    return host.strip("[]"), int(port)
