"""The Redis side of SFU nodes: each node's record (refreshed by heartbeat, with an expiry) and session pins.

Keys, under the registry prefix P (SFU_REDIS_PREFIX):
- `P:node:<id>`: the node's `NodeRecord` as JSON, expiring `ttl` seconds after its last refresh: a node that dies
  (or hangs) disappears, and the sessions pinned to it move on.
- `P:pin:<session id>:<city>`: the id of the node serving the session's sockets of that city (its rooms' agents,
  its people whose media city it is), set with NX (the first app process to pin wins) and an expiry refreshed while
  the session has media sockets there. A city with no node of its own is pinned to a node of the other city.
- `P:invited:<session id>`: the trainees invited to speak (a set of user ids): whichever node serves them, and
  after a failover, the invitation holds.
"""

from __future__ import annotations

import json
import logging
from typing import Any, NotRequired, TypedDict, cast

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

PIN_TTL = 3600  # seconds; refreshed while anyone is connected, so it only ever clears abandoned pins

# Delete the pin only if it still names the dead node (another process may have re-pinned it already).
_UNPIN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class NodeRecord(TypedDict):
    id: str
    address: str
    channel: str  # the channel-layer channel the node reads requests on
    sessions: int
    sockets: int
    peers: int
    publishers: int
    subscribers: int
    tracks: int
    updated: float  # the node's clock, seconds since the epoch
    city: NotRequired[str]  # SFU_NODE_CITY (absent from an older node's record: "singapore")
    link_address: NotRequired[str]  # "host:port" other nodes send this node's link RTP to (SFU_LINK_ADVERTISE)
    links: NotRequired[
        list[dict[str, Any]]
    ]  # streaming.sfu.link.LinkStats, one per peer node, as of the last heartbeat
    probe_url: NotRequired[str]  # an URL pages time to find the nearer city ("" when SFU_NODE_PROBE_BIND is unset)


def city_of(node: NodeRecord) -> str:
    return node.get("city") or "singapore"


def node_key(prefix: str, node_id: str) -> str:
    return f"{prefix}:node:{node_id}"


def pin_key(prefix: str, session_id: int, city: str) -> str:
    return f"{prefix}:pin:{session_id}:{city}"


def invited_key(prefix: str, session_id: int) -> str:
    return f"{prefix}:invited:{session_id}"


def parse_record(raw: bytes | str | None) -> NodeRecord | None:
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        logger.warning("a malformed SFU node record was ignored: %r", raw[:200])
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("id"), str)
        or not isinstance(record.get("channel"), str)
    ):
        logger.warning("an SFU node record without id or channel was ignored: %r", record)
        return None
    return cast(NodeRecord, record)


async def node_register(redis: Redis, *, prefix: str, record: NodeRecord, ttl: float) -> None:
    await redis.set(node_key(prefix, record["id"]), json.dumps(record), px=int(ttl * 1000))


async def node_unregister(redis: Redis, *, prefix: str, node_id: str) -> None:
    await redis.delete(node_key(prefix, node_id))


async def node_get(redis: Redis, *, prefix: str, node_id: str) -> NodeRecord | None:
    return parse_record(await redis.get(node_key(prefix, node_id)))


async def nodes_live(redis: Redis, *, prefix: str) -> list[NodeRecord]:
    keys = [key async for key in redis.scan_iter(match=node_key(prefix, "*"), count=100)]
    if not keys:
        return []
    return [record for raw in await redis.mget(keys) if (record := parse_record(raw)) is not None]


def least_loaded(nodes: list[NodeRecord]) -> NodeRecord:
    """Fewest sessions first (a session's size is unknown when it is pinned), then fewest peers."""
    return min(nodes, key=lambda node: (node.get("sessions", 0), node.get("peers", 0), node["id"]))


def choose(nodes: list[NodeRecord], city: str) -> NodeRecord | None:
    """The least-loaded node of `city`; with none there, the least-loaded of another city (served across the
    border); None when no node is live."""
    here = [node for node in nodes if city_of(node) == city]
    return least_loaded(here or nodes) if nodes else None


async def session_pin(redis: Redis, *, prefix: str, session_id: int, city: str) -> NodeRecord | None:
    """The live node serving the session's sockets of `city`, pinning them to a live node (of that city first) if
    they have none (or their node is gone). None when no node is live."""
    key = pin_key(prefix, session_id, city)
    for _ in range(5):
        current = await redis.get(key)
        if current is not None:
            node_id = current.decode() if isinstance(current, bytes) else str(current)
            record = await node_get(redis, prefix=prefix, node_id=node_id)
            if record is not None:
                return record
            await session_unpin(redis, prefix=prefix, session_id=session_id, city=city, node_id=node_id)
            continue
        chosen = choose(await nodes_live(redis, prefix=prefix), city)
        if chosen is None:
            return None
        if await redis.set(key, chosen["id"], nx=True, ex=PIN_TTL):
            logger.info("session %s (%s) pinned to SFU node %s", session_id, city, chosen["id"])
            return chosen
        # Another process pinned it first: read its choice.
    return None


async def session_pinned(redis: Redis, *, prefix: str, session_id: int, city: str) -> NodeRecord | None:
    """The live node serving the session's sockets of `city`, without pinning; None if none."""
    current = await redis.get(pin_key(prefix, session_id, city))
    if current is None:
        return None
    node_id = current.decode() if isinstance(current, bytes) else str(current)
    return await node_get(redis, prefix=prefix, node_id=node_id)


async def session_nodes(redis: Redis, *, prefix: str, session_id: int, cities: tuple[str, ...]) -> list[NodeRecord]:
    """The live nodes serving the session, one per node (a node serving two cities counts once)."""
    found: dict[str, NodeRecord] = {}
    for city in cities:
        record = await session_pinned(redis, prefix=prefix, session_id=session_id, city=city)
        if record is not None:
            found.setdefault(record["id"], record)
    return list(found.values())


async def session_pin_refresh(redis: Redis, *, prefix: str, session_id: int, city: str) -> None:
    await redis.expire(pin_key(prefix, session_id, city), PIN_TTL)


async def session_unpin(redis: Redis, *, prefix: str, session_id: int, city: str, node_id: str) -> None:
    await redis.eval(_UNPIN, 1, pin_key(prefix, session_id, city), node_id)


async def invited(redis: Redis, *, prefix: str, session_id: int) -> set[int]:
    return {int(raw) for raw in await redis.smembers(invited_key(prefix, session_id))}


async def invite(redis: Redis, *, prefix: str, session_id: int, user_id: int, invited: bool) -> None:
    key = invited_key(prefix, session_id)
    if invited:
        await redis.sadd(key, user_id)
        await redis.expire(key, PIN_TTL)
    else:
        await redis.srem(key, user_id)
