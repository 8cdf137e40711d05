"""Streaming: TURN credentials for participants, and where session recordings are kept."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .channels import CHANNEL_LAYER_PREFIX
from .env import REDIS_URL, VAR_DIR, env

# coturn URLs handed to browsers, e.g. "turn:turn.sg.corridor.example:3478?transport=udp".
# Empty (the embedded default): no TURN, peers use host (and STUN) candidates only.
TURN_URLS: list[str] = env.list("TURN_URLS", default=[])
# coturn's `static-auth-secret`. It stays on the server: browsers get HMAC credentials derived from it.
TURN_SECRET: str = env.str("TURN_SECRET", default="")
TURN_TTL_SECONDS: int = env.int("TURN_TTL_SECONDS", default=3600)
# Optional STUN servers (coturn answers STUN on its TURN port too).
STUN_URLS: list[str] = env.list("STUN_URLS", default=[])

if TURN_URLS and not TURN_SECRET:
    raise ImproperlyConfigured("TURN_URLS is set but TURN_SECRET is empty: coturn would refuse every credential.")
# "relay": every browser sends and receives media through TURN only, never straight to the SFU (for networks that
# must not reach the media nodes directly); "all" (the default): ordinary ICE, TURN as the fallback. A single page
# can ask for relay with `?relay=1`, to check the TURN path from where it is.
ICE_TRANSPORT_POLICY: str = env.str("ICE_TRANSPORT_POLICY", default="all")
if ICE_TRANSPORT_POLICY not in {"all", "relay"}:
    raise ImproperlyConfigured(f"ICE_TRANSPORT_POLICY is {ICE_TRANSPORT_POLICY!r}: it must be all or relay.")
if ICE_TRANSPORT_POLICY == "relay" and not TURN_URLS:
    raise ImproperlyConfigured("ICE_TRANSPORT_POLICY is relay but TURN_URLS is empty: no media could flow.")

# Which remote ICE candidates the SFU tries: "public" (the default: globally routable addresses only, so no browser
# can steer the SFU at the machines around it), "private" (also 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7:
# a deployment inside one network), "any" (loopback and mDNS too; development only). Peers behind a refused address
# still connect: the SFU answers the address their checks come from.
SFU_ICE_ADDRESSES: str = env.str("SFU_ICE_ADDRESSES", default="public")
# Remote candidates one peer connection may name (SDP and trickle together); more get `too_many_candidates`.
SFU_ICE_MAX_CANDIDATES: int = env.int("SFU_ICE_MAX_CANDIDATES", default=40)
if SFU_ICE_ADDRESSES not in {"public", "private", "any"}:
    raise ImproperlyConfigured(f"SFU_ICE_ADDRESSES is {SFU_ICE_ADDRESSES!r}: it must be public, private or any.")

# The SFU writes recordings here while a session runs; a Celery task moves them to storage afterwards.
RECORDINGS_DIR = Path(env.str("RECORDINGS_DIR", default=str(VAR_DIR / "recordings")))
# Storage key prefix of uploaded recordings.
RECORDINGS_STORAGE_PREFIX: str = env.str("RECORDINGS_STORAGE_PREFIX", default="recordings")
# How long a recording's signed URL (S3 presigned, or the local signed link) stays valid.
RECORDING_URL_MAX_AGE: int = env.int("RECORDING_URL_MAX_AGE", default=300)
# Multipart part size for the S3 upload (S3's minimum is 5 MiB for every part but the last).
RECORDING_UPLOAD_PART_SIZE: int = env.int("RECORDING_UPLOAD_PART_SIZE", default=8 * 1024 * 1024)

# Where the SFU runs. "local" (the default, and `make run`): in each server process, as one MediaHub per process.
# "nodes": in SFU node processes (`python -m streaming.node`, infra/systemd/corridor-sfu-node.service), found in
# Redis; a session is pinned to one node, sessions spread over nodes. Needs REDIS_URL.
SFU_MODE: str = env.str("SFU_MODE", default="local")
if SFU_MODE not in {"local", "nodes"}:
    raise ImproperlyConfigured(f"SFU_MODE is {SFU_MODE!r}: it must be local or nodes.")
if SFU_MODE == "nodes" and not REDIS_URL:
    raise ImproperlyConfigured("SFU_MODE is nodes but REDIS_URL is empty: SFU nodes are found through Redis.")
# Redis key prefix of node records and session pins; the nodes must use the same (their SFU_REDIS_PREFIX default
# is computed the same way, streaming/node/config.py).
SFU_REDIS_PREFIX: str = env.str("SFU_REDIS_PREFIX", default=f"{CHANNEL_LAYER_PREFIX}:sfu")
# Seconds the app waits for a node's reply before answering `sfu_unavailable`.
SFU_REQUEST_TIMEOUT: float = env.float("SFU_REQUEST_TIMEOUT", default=5.0)
# Seconds between checks that each session's node is still advertised (then `media.node_lost`).
SFU_NODE_CHECK_INTERVAL: float = env.float("SFU_NODE_CHECK_INTERVAL", default=1.0)
