"""Where the media hubs are built, with everything they need from settings: one module, not the first consumer.

One hub per event loop (each server process has its own; each test its own loop), built on first use, as
`classrooms.live_hubs.hub()` builds the live hub. `media_plane()` is what a media socket talks to, chosen by
SFU_MODE: "local", this process's own `MediaHub`, its Sfu given the STUN servers of STUN_URLS and recording through
`RECORDINGS`; "nodes", a `RemoteMediaHub` reaching the SFU nodes over the channel layer and Redis (each node builds
its own `MediaHub` from its own configuration: `streaming.node.server.SfuNode`). The media path (`streaming.sfu`,
`streaming.node`, `streaming.signaling`) reads no settings: only this module does. A test wanting another hub
builds its own `MediaHub`.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from redis.asyncio import Redis

from streaming.live_recordings import LiveRecordings
from streaming.node.client import RemoteMediaHub
from streaming.sfu.ice_policy import IcePolicy
from streaming.signaling import MediaHub, MediaPlane

RECORDINGS = LiveRecordings()  # stateless: the recording services, for this process's media hub

_local_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaHub] = weakref.WeakKeyDictionary()
_remote_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RemoteMediaHub] = weakref.WeakKeyDictionary()


def local_ice_servers() -> list[dict[str, Any]]:
    """The ICE servers of this process's Sfu: STUN_URLS, if any (the Sfu needs no TURN of its own)."""
    return [{"urls": list(settings.STUN_URLS)}] if settings.STUN_URLS else []


def local_ice_policy() -> IcePolicy:
    """Which remote candidates this process's Sfu tries: SFU_ICE_ADDRESSES, SFU_ICE_MAX_CANDIDATES."""
    return IcePolicy.parse(settings.SFU_ICE_ADDRESSES, settings.SFU_ICE_MAX_CANDIDATES)


def media_hub() -> MediaHub:
    """This process's media hub (one per event loop), built with its ICE servers and recordings the first time."""
    loop = asyncio.get_running_loop()
    found = _local_hubs.get(loop)
    if found is None:
        found = _local_hubs[loop] = MediaHub(
            ice_servers=local_ice_servers(), recordings=RECORDINGS, ice_policy=local_ice_policy()
        )
    return found


def local_media_hubs() -> list[MediaHub]:
    """Every local media hub of this process (one per event loop that has one), for the metrics collector."""
    try:
        return list(_local_hubs.values())
    except RuntimeError:  # a loop's hub was added or collected while this thread read the table
        return []


def remote_media_hub() -> RemoteMediaHub:
    """This process's way to the SFU nodes (one per event loop), built from the SFU_* settings the first time."""
    loop = asyncio.get_running_loop()
    found = _remote_hubs.get(loop)
    if found is None:
        found = _remote_hubs[loop] = RemoteMediaHub(
            layer=get_channel_layer(),
            redis=Redis.from_url(settings.REDIS_URL),
            prefix=settings.SFU_REDIS_PREFIX,
            timeout=settings.SFU_REQUEST_TIMEOUT,
            check_interval=settings.SFU_NODE_CHECK_INTERVAL,
        )
    return found


async def remote_media_hub_close() -> None:
    """Close this event loop's remote media hub, if it has one (at shutdown, and after each test)."""
    found = _remote_hubs.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.close()


def media_plane() -> MediaPlane:
    """What a media socket talks to: this process's Sfu (SFU_MODE "local") or the SFU nodes ("nodes")."""
    if settings.SFU_MODE == "nodes":
        return remote_media_hub()
    return media_hub()


async def media_probes() -> dict[str, str]:
    """With SFU nodes in both cities: per city, the probe URL of a live node there (pages time them to find the
    nearer); {} otherwise."""
    if settings.SFU_MODE != "nodes":
        return {}
    return await remote_media_hub().probes()
