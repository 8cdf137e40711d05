"""How many sockets one person may hold open at once (SOCKETS_PER_USER), across every app process.

Each open live or media socket is a member of the person's set, scored with when it lapses: a socket refreshes its
claim as frames arrive (at most once a minute), and a claim that lapses (its process was killed, so it never said
goodbye) stops counting after SOCKET_CLAIM_SECONDS. On Redis the set is a sorted set shared by every process; on
the embedded default, one process holds them all, so a dict does.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy

logger = logging.getLogger(__name__)

TOO_MANY_SOCKETS = gettext_lazy("You have too many Corridor pages open at once: close some, then reload this one.")
SOCKET_CLAIM_SECONDS = 600.0
REFRESH_SECONDS = 60.0

# Redis: drop lapsed claims, count the rest, and add this one only if there is room (atomically, across processes).
_CLAIM = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

_local_claims: dict[int, dict[str, float]] = {}
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
_claimers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _RedisClaims] = weakref.WeakKeyDictionary()


class _RedisClaims:
    """One event loop's claims, sent to Redis together: in a join storm (2,000 trainees in the minute a class
    starts) a claim per socket, each its own round trip, took a connection each and ran the client out of them
    (sockets then let in uncounted). One pipeline at a time carries every claim that gathered while the last was
    out; under a light load that is one claim, sent at once."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.pending: list[tuple[tuple[Any, ...], asyncio.Future[bool]]] = []
        self.worker: asyncio.Task[None] | None = None

    async def claim(self, *args: Any) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append((args, future))
        if self.worker is None or self.worker.done():
            self.worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for args, _future in batch:
                        pipe.eval(_CLAIM, 1, *args)
                    results = await pipe.execute(raise_on_error=False)
            except Exception as error:
                for _args, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_args, future), result in zip(batch, results, strict=True):
                if future.done():  # its socket went away meanwhile
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(bool(result))


def _key(user_id: int) -> str:
    return f"{settings.CHANNEL_LAYER_PREFIX}:sockets:{user_id}"


def _redis() -> Any:
    from redis.asyncio import Redis  # only when REDIS_URL is set

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = Redis.from_url(settings.REDIS_URL)
    return client


def _redis_claims() -> _RedisClaims:
    loop = asyncio.get_running_loop()
    claimer = _claimers.get(loop)
    if claimer is None:
        claimer = _claimers[loop] = _RedisClaims(_redis())
    return claimer


async def socket_claim(*, user_id: int, socket_id: str) -> bool:
    """Count `socket_id` among the person's open sockets; False (and nothing counted) if they hold the most already."""
    now = time.time()
    limit = settings.SOCKETS_PER_USER
    if settings.REDIS_URL:
        return await _redis_claims().claim(
            _key(user_id), now, now + SOCKET_CLAIM_SECONDS, socket_id, limit, int(SOCKET_CLAIM_SECONDS)
        )
    claims = _local_claims.setdefault(user_id, {})
    for lapsed in [sid for sid, until in claims.items() if until <= now]:
        del claims[lapsed]
    if socket_id not in claims and len(claims) >= limit:
        return False
    claims[socket_id] = now + SOCKET_CLAIM_SECONDS
    return True


async def socket_release(*, user_id: int, socket_id: str) -> None:
    if settings.REDIS_URL:
        await _redis().zrem(_key(user_id), socket_id)
        return
    claims = _local_claims.get(user_id)
    if claims is not None:
        claims.pop(socket_id, None)
        if not claims:
            del _local_claims[user_id]


class SocketClaim:
    """One socket's claim, refreshed as its frames arrive (at most once a minute). Redis away: the socket is let in
    uncounted, and a refresh that fails is tried again later (a quota must not drop a live class)."""

    def __init__(self, *, user_id: int, socket_id: str) -> None:
        self.user_id, self.socket_id = user_id, socket_id
        self.claimed = False
        self._refreshed = 0.0

    async def claim(self) -> bool:
        """Whether the socket may stay open."""
        self._refreshed = time.monotonic()
        try:
            self.claimed = await socket_claim(user_id=self.user_id, socket_id=self.socket_id)
        except Exception:
            logger.warning("socket quota unavailable: let in uncounted", exc_info=True)
            return True
        return self.claimed

    async def refresh(self) -> None:
        if self.claimed and time.monotonic() - self._refreshed >= REFRESH_SECONDS:
            await self.claim()

    async def release(self) -> None:
        if self.claimed:
            self.claimed = False
            try:
                await socket_release(user_id=self.user_id, socket_id=self.socket_id)
            except Exception:  # it lapses by itself
                logger.warning("socket claim not released", exc_info=True)
