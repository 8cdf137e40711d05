"""The app side of SFU nodes: `RemoteMediaHub`, a `streaming.signaling.MediaPlane` whose Sfu is on a node.

One per event loop (built by `streaming.media_hubs`). It keeps this process's media sockets per session, each of a
city (a room agent's: its room's; a person's: their media city, see `socket_city`), pins each (session, city) to a
node of that city (`registry.session_pin`; another city's when that city has none), sends requests to the node's
channel and waits for the reply on a channel of its own, at most `timeout` seconds (then
`SfuError("sfu_unavailable")`: an error frame, never a hang). The two nodes of a session exchange its tracks over
their link (`streaming.node.cascade`), so each socket sees the whole session on its own city's node.

A watcher checks every `check_interval` that each (session, city)'s node is still advertised; when one is gone (its
heartbeat expired), or a node of the city has appeared for sockets served across the border, those sockets get
`media.node_lost`, the pin is cleared, and they move to a live node, where they are registered again (their pages
reconnect and publish or subscribe anew). Invitations to speak live in Redis, so they outlast any node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, Protocol, cast

from redis.asyncio import Redis

from streaming.node import registry
from streaming.node.config import CITIES
from streaming.node.server import ChannelLayer
from streaming.node.wire import Malformed, Op, SocketInfo, parse_reply
from streaming.sfu import PeerRole, PublishAnswer, SfuError, SubscribeOffer
from streaming.signaling import MediaSocket

logger = logging.getLogger(__name__)


class AppChannelLayer(ChannelLayer, Protocol):
    async def new_channel(self, prefix: str = ...) -> str: ...


def socket_city(socket: MediaSocket) -> str:
    """The city whose node serves the socket: its own `city` (a person's media city), else its room's, else
    Singapore."""
    room = getattr(socket, "room", None) or {}
    for city in (getattr(socket, "city", ""), room.get("city", "")):
        if city in CITIES:
            return str(city)
    return CITIES[0]


def _socket_info(socket: MediaSocket) -> SocketInfo:
    return {
        "session_id": socket.session_id,
        "user_id": socket.user_id,
        "peer_id": socket.peer_id,
        "role": socket.role,
        "room": getattr(socket, "room", None),
        "channel_name": str(getattr(socket, "channel_name", "")),
        "name": str(getattr(socket, "name", "")),
        "city": socket_city(socket),
    }


class RemoteMediaHub:
    """This process's media sockets, served by SFU node processes through Redis."""

    def __init__(
        self, *, layer: AppChannelLayer, redis: Redis, prefix: str, timeout: float, check_interval: float
    ) -> None:
        self._layer = layer
        self._redis = redis
        self._prefix = prefix
        self._timeout = timeout
        self._check_interval = check_interval
        self._sessions: dict[int, set[MediaSocket]] = {}
        # (session id, city) → the node this process's sockets of that city are registered on
        self._serving: dict[tuple[int, str], str] = {}
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._reply_channel = ""
        self._workers: list[asyncio.Task[None]] = []
        self._start_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def _start(self) -> None:
        async with self._start_lock:
            if self._workers:
                return
            self._reply_channel = await self._layer.new_channel("sfu-reply.")
            self._workers = [asyncio.ensure_future(self._read_replies()), asyncio.ensure_future(self._watch())]

    async def close(self) -> None:
        workers, self._workers = self._workers, []
        for task in workers:
            task.cancel()
        # A cancelled receive unsubscribes from Redis on its way out; never let that hold up shutting down.
        await asyncio.wait(workers, timeout=CLOSE_TIMEOUT_SECONDS) if workers else None
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._serving.clear()

    async def _read_replies(self) -> None:
        while True:
            message = await self._layer.receive(self._reply_channel)
            try:
                reply = parse_reply(message)
            except Malformed as error:
                logger.warning("a malformed SFU reply was dropped (%s): %.300r", error, message)
                continue
            future = self._pending.get(reply["id"])
            if future is not None and not future.done():
                future.set_result(reply)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._check_interval)
            for (session_id, city), node_id in list(self._serving.items()):
                try:
                    await self._check(session_id, city, node_id)
                except Exception:  # Redis away: try again next time
                    logger.warning("checking the SFU node of session %s failed", session_id, exc_info=True)

    async def _check(self, session_id: int, city: str, node_id: str) -> None:
        record = await registry.node_get(self._redis, prefix=self._prefix, node_id=node_id)
        reason = "node_gone"
        if record is not None:
            if registry.city_of(record) == city or not await self._city_has_node(city):
                await registry.session_pin_refresh(self._redis, prefix=self._prefix, session_id=session_id, city=city)
                return
            reason = "node_moved"  # served across the border, and now the city has a node of its own
        if self._serving.get((session_id, city)) != node_id:
            return
        del self._serving[(session_id, city)]
        logger.warning("SFU node %s of session %s (%s): %s", node_id, session_id, city, reason)
        await registry.session_unpin(
            self._redis, prefix=self._prefix, session_id=session_id, city=city, node_id=node_id
        )
        for socket in self._sockets_of(session_id, city):
            await socket.deliver({"type": "media.node_lost", "reason": reason})
        with contextlib.suppress(SfuError):
            await self._node_for(session_id, city)  # move the sockets on now, so they hear announcements

    async def _city_has_node(self, city: str) -> bool:
        return any(
            registry.city_of(node) == city for node in await registry.nodes_live(self._redis, prefix=self._prefix)
        )

    def _sockets_of(self, session_id: int, city: str) -> list[MediaSocket]:
        return [socket for socket in self._sessions.get(session_id, ()) if socket_city(socket) == city]

    # -- talking to nodes --------------------------------------------------------------------------------------

    async def _node_for(self, session_id: int, city: str) -> registry.NodeRecord:
        """The node of the session's sockets of `city`, pinning them if needed; this process's sockets of that city
        are registered there."""
        await self._start()
        node = await registry.session_pin(self._redis, prefix=self._prefix, session_id=session_id, city=city)
        if node is None:
            raise SfuError("sfu_unavailable", "No SFU node is running.")
        if self._serving.get((session_id, city)) != node["id"]:
            for socket in self._sockets_of(session_id, city):
                await self._call(node, "join", session_id, socket=socket)
            self._serving[(session_id, city)] = node["id"]
        return node

    async def _session_nodes(self, session_id: int) -> list[registry.NodeRecord]:
        await self._start()
        return await registry.session_nodes(self._redis, prefix=self._prefix, session_id=session_id, cities=CITIES)

    async def _call(
        self,
        node: registry.NodeRecord,
        op: Op,
        session_id: int,
        *,
        socket: MediaSocket | None = None,
        args: dict[str, Any] | None = None,
        wait: bool = True,
    ) -> Any:
        request_id = uuid.uuid4().hex
        message = {
            "type": "sfu.request",
            "id": request_id,
            "reply_to": self._reply_channel,
            "op": op,
            "session_id": session_id,
            "socket": _socket_info(socket) if socket is not None else None,
            "args": args or {},
        }
        if not wait:
            await self._layer.send(node["channel"], message)
            return None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._layer.send(node["channel"], message)
            reply = await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            logger.warning("SFU node %s did not answer %s within %ss", node["id"], op, self._timeout)
            raise SfuError("sfu_unavailable", f"The media server did not answer within {self._timeout:g} s.") from None
        finally:
            self._pending.pop(request_id, None)
        if not reply["ok"]:
            raise SfuError(reply["code"], reply["message"])
        return reply.get("result")

    async def _request(self, op: Op, socket: MediaSocket, *, args: dict[str, Any] | None = None) -> Any:
        node = await self._node_for(socket.session_id, socket_city(socket))
        return await self._call(node, op, socket.session_id, socket=socket, args=args)

    async def _each_node(self, op: Op, session_id: int, *, args: dict[str, Any] | None = None) -> list[Any]:
        """Ask every node serving the session; a node that fails to answer is left out."""
        nodes = await self._session_nodes(session_id)
        results = await asyncio.gather(
            *(self._call(node, op, session_id, args=args) for node in nodes), return_exceptions=True
        )
        for node, result in zip(nodes, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("SFU node %s failed %s: %s", node["id"], op, result)
        return [result for result in results if not isinstance(result, BaseException)]

    async def probes(self) -> dict[str, str]:
        """Per city, the probe URL of its least-loaded live node; {} unless both cities have one that probes."""
        try:
            nodes = await registry.nodes_live(self._redis, prefix=self._prefix)
        except Exception:  # Redis away: the page stays where it is
            logger.warning("could not list the SFU nodes", exc_info=True)
            return {}
        found: dict[str, str] = {}
        for city in CITIES:
            here = [node for node in nodes if registry.city_of(node) == city and node.get("probe_url")]
            if here:
                found[city] = registry.least_loaded(here)["probe_url"]
        return found if len(found) == len(CITIES) else {}

    # -- MediaPlane --------------------------------------------------------------------------------------------

    async def join(self, socket: MediaSocket) -> None:
        sockets = self._sessions.setdefault(socket.session_id, set())
        if socket in sockets:
            return
        sockets.add(socket)
        city = socket_city(socket)
        try:
            node_id = self._serving.get((socket.session_id, city))
            if node_id is not None:
                node = await self._node_for(socket.session_id, city)
                if node["id"] == node_id:
                    await self._call(node, "join", socket.session_id, socket=socket)
            else:
                await self._node_for(socket.session_id, city)  # registers every socket of the city, this one too
        except SfuError as error:
            logger.warning("socket %s joined without an SFU node: %s", socket.peer_id, error.message)

    async def leave(self, socket: MediaSocket) -> None:
        sockets = self._sessions.get(socket.session_id)
        if sockets is None or socket not in sockets:
            return
        sockets.discard(socket)
        city = socket_city(socket)
        node_id = self._serving.get((socket.session_id, city))
        if not self._sockets_of(socket.session_id, city):
            self._serving.pop((socket.session_id, city), None)
        if not sockets:
            del self._sessions[socket.session_id]
        if node_id is not None:
            node = await registry.node_get(self._redis, prefix=self._prefix, node_id=node_id)
            if node is not None:  # no reply awaited: leaving is idempotent, and a dead node has nothing to free
                await self._call(node, "leave", socket.session_id, socket=socket, wait=False)
        if not self._sessions:
            await self.close()

    async def published(self, session_id: int) -> list[dict[str, Any]]:
        """Every node of the session lists its tracks and the other's relayed ones: the union, by track id (a
        publisher's own node describes it best)."""
        try:
            answers = await self._each_node("tracks", session_id)
        except SfuError:
            return []
        found: dict[str, dict[str, Any]] = {}
        for tracks in answers:
            for track in cast(list[dict[str, Any]], tracks or []):
                known = found.get(track["track_id"])
                if known is None or (known.get("role") is None and track.get("role") is not None):
                    found[track["track_id"]] = track
        return list(found.values())

    async def published_to(self, socket: MediaSocket) -> list[dict[str, Any]]:
        """What the socket's own node serves (its city's tracks and those it relays): what it can subscribe to."""
        try:
            return cast(list[dict[str, Any]], await self._request("tracks", socket) or [])
        except SfuError:
            return []

    async def may_speak(self, session_id: int, user_id: int) -> bool:
        try:
            return user_id in await registry.invited(self._redis, prefix=self._prefix, session_id=session_id)
        except Exception:  # Redis away
            logger.warning("could not read the invitations of session %s", session_id, exc_info=True)
            return False

    async def speaker_invite(self, session_id: int, user_id: int) -> None:
        await registry.invite(self._redis, prefix=self._prefix, session_id=session_id, user_id=user_id, invited=True)
        await self._each_node("invite", session_id, args={"user_id": user_id})

    async def speaker_revoke(self, session_id: int, user_id: int) -> None:
        await registry.invite(self._redis, prefix=self._prefix, session_id=session_id, user_id=user_id, invited=False)
        await self._each_node("revoke", session_id, args={"user_id": user_id})

    async def publish(self, socket: MediaSocket, *, sdp: str, label: str) -> PublishAnswer:
        args = {"sdp": sdp, "label": label}
        return cast(PublishAnswer, await self._request("publish", socket, args=args))

    async def subscribe(self, socket: MediaSocket, *, track_ids: list[str] | None) -> SubscribeOffer:
        args = {"track_ids": track_ids}
        return cast(SubscribeOffer, await self._request("subscribe", socket, args=args))

    async def subscriber_answer(self, socket: MediaSocket, *, sdp: str) -> None:
        await self._request("answer", socket, args={"sdp": sdp})

    async def add_ice_candidate(
        self, socket: MediaSocket, *, role: PeerRole, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        args = {"role": role, "candidate": candidate, "sdp_mid": sdp_mid, "sdp_mline_index": sdp_mline_index}
        await self._request("candidate", socket, args=args)

    async def unpublish(self, socket: MediaSocket) -> None:
        await self._request("unpublish", socket)

    async def stop_recording(self, session_id: int) -> None:
        await self._each_node("stop_recording", session_id)

    async def record_publisher(self, socket: MediaSocket, *, label: str) -> bool:
        return bool(await self._request("record", socket, args={"label": label}))


CLOSE_TIMEOUT_SECONDS = 2.0
