"""The per-person socket quota on Redis under a join storm: claims share round trips, none is let in uncounted."""

import asyncio
import os

import pytest
from django.conf import settings

from lms import socket_quota


async def test_a_burst_of_claims_needs_no_connection_each(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from redis.asyncio import Redis

    # A client allowed two connections: one claim per round trip ran out of them at a class's start (the
    # sockets were then let in uncounted, so nobody's quota held).
    client = Redis.from_url(redis_url, max_connections=2)
    monkeypatch.setattr(socket_quota, "_redis", lambda: client)
    base = 930_000_000 + (os.getpid() % 1000) * 10_000
    try:
        joined = await asyncio.gather(
            *(socket_quota.socket_claim(user_id=base + n, socket_id="page") for n in range(300))
        )
        assert all(joined)
        # One person opening many pages at once still gets only their share.
        crowd = await asyncio.gather(
            *(socket_quota.socket_claim(user_id=base + 5000, socket_id=f"page-{n}") for n in range(30))
        )
        assert sum(crowd) == settings.SOCKETS_PER_USER
    finally:
        await client.delete(*(socket_quota._key(base + n) for n in [*range(300), 5000]))
        await client.aclose()
