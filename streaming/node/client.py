"""The app side of SFU nodes: `RemoteMediaHub`, a `streaming.signaling.MediaPlane` whose Sfu is on a node.

One per event loop (built by `streaming.media_hubs`). It keeps this process's media sockets per session,
pins each session to a node (`registry.session_pin`), sends requests to the node's channel and waits for the reply
on a channel of its own, at most `timeout` seconds (then `SfuError("sfu_unavailable")`: an error frame, never a
hang). A watcher checks every `check_interval` that each session's node is still advertised; when one is gone
(its heartbeat expired), the session's sockets get `media.node_lost`, the pin is cleared, and the session moves to
a live node, where its sockets are registered again (their pages reconnect and publish or subscribe anew).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any, Protocol, cast

from redis.asyncio import Redis

from streaming.node import registry
from streaming.node.server import ChannelLayer
from streaming.node.wire import Malformed, Op, SocketInfo, parse_reply
from streaming.sfu import PeerRole, PublishAnswer, SfuError, SubscribeOffer
from streaming.signaling import MediaSocket

logger = logging.getLogger(__name__)


class AppChannelLayer(ChannelLayer, Protocol):
    async def new_channel(self, prefix: str = ...) -> str: ...


def _socket_info(socket: MediaSocket) -> SocketInfo:
    return {
        "session_id": socket.session_id,
        "user_id": socket.user_id,
        "peer_id": socket.peer_id,
        "role": socket.role,
        "room": getattr(socket, "room", None),
        "channel_name": str(getattr(socket, "channel_name", "")),
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
        self._serving: dict[int, str] = {}  # session id → the node this process's sockets are registered on
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
            for session_id, node_id in list(self._serving.items()):
                try:
                    await self._check(session_id, node_id)
                except Exception:  # Redis away: try again next time
                    logger.warning("checking the SFU node of session %s failed", session_id, exc_info=True)

    async def _check(self, session_id: int, node_id: str) -> None:
        if await registry.node_get(self._redis, prefix=self._prefix, node_id=node_id) is not None:
            await registry.session_pin_refresh(self._redis, prefix=self._prefix, session_id=session_id)
            return
        if self._serving.get(session_id) != node_id:
            return
        del self._serving[session_id]
        logger.warning("SFU node %s of session %s is gone", node_id, session_id)
        await registry.session_unpin(self._redis, prefix=self._prefix, session_id=session_id, node_id=node_id)
        for socket in list(self._sessions.get(session_id, ())):
            await socket.deliver({"type": "media.node_lost", "reason": "node_gone"})
        with contextlib.suppress(SfuError):
            await self._node_for(session_id)  # move the session's sockets on now, so they hear announcements

    # -- talking to nodes --------------------------------------------------------------------------------------

    async def _node_for(self, session_id: int) -> registry.NodeRecord:
        """The session's node, pinning the session if needed; this process's sockets are registered there."""
        await self._start()
        node = await registry.session_pin(self._redis, prefix=self._prefix, session_id=session_id)
        if node is None:
            raise SfuError("sfu_unavailable", "No SFU node is running.")
        if self._serving.get(session_id) != node["id"]:
            for socket in list(self._sessions.get(session_id, ())):
                await self._call(node, "join", session_id, socket=socket)
            self._serving[session_id] = node["id"]
        return node

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

    async def _request(
        self, op: Op, session_id: int, *, socket: MediaSocket | None = None, args: dict[str, Any] | None = None
    ) -> Any:
        node = await self._node_for(session_id)
        return await self._call(node, op, session_id, socket=socket, args=args)

    # -- MediaPlane --------------------------------------------------------------------------------------------

    async def join(self, socket: MediaSocket) -> None:
        sockets = self._sessions.setdefault(socket.session_id, set())
        if socket in sockets:
            return
        sockets.add(socket)
        try:
            if self._serving.get(socket.session_id) is not None:
                await self._request("join", socket.session_id, socket=socket)
            else:
                await self._node_for(socket.session_id)  # registers every socket of the session, this one too
        except SfuError as error:
            logger.warning("socket %s joined without an SFU node: %s", socket.peer_id, error.message)

    async def leave(self, socket: MediaSocket) -> None:
        sockets = self._sessions.get(socket.session_id)
        if sockets is None or socket not in sockets:
            return
        sockets.discard(socket)
        node_id = self._serving.get(socket.session_id)
        if not sockets:
            del self._sessions[socket.session_id]
            self._serving.pop(socket.session_id, None)
        if node_id is not None:
            node = await registry.node_get(self._redis, prefix=self._prefix, node_id=node_id)
            if node is not None:  # no reply awaited: leaving is idempotent, and a dead node has nothing to free
                await self._call(node, "leave", socket.session_id, socket=socket, wait=False)
        if not self._sessions:
            await self.close()

    async def published(self, session_id: int) -> list[dict[str, Any]]:
        try:
            return cast(list[dict[str, Any]], await self._request("tracks", session_id))
        except SfuError:
            return []

    async def may_speak(self, session_id: int, user_id: int) -> bool:
        try:
            return bool(await self._request("may_speak", session_id, args={"user_id": user_id}))
        except SfuError:
            return False

    async def speaker_invite(self, session_id: int, user_id: int) -> None:
        await self._request("invite", session_id, args={"user_id": user_id})

    async def speaker_revoke(self, session_id: int, user_id: int) -> None:
        await self._request("revoke", session_id, args={"user_id": user_id})

    async def publish(self, socket: MediaSocket, *, sdp: str, label: str) -> PublishAnswer:
        args = {"sdp": sdp, "label": label}
        return cast(PublishAnswer, await self._request("publish", socket.session_id, socket=socket, args=args))

    async def subscribe(self, socket: MediaSocket, *, track_ids: list[str] | None) -> SubscribeOffer:
        args = {"track_ids": track_ids}
        return cast(SubscribeOffer, await self._request("subscribe", socket.session_id, socket=socket, args=args))

    async def subscriber_answer(self, socket: MediaSocket, *, sdp: str) -> None:
        await self._request("answer", socket.session_id, socket=socket, args={"sdp": sdp})

    async def add_ice_candidate(
        self, socket: MediaSocket, *, role: PeerRole, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        args = {"role": role, "candidate": candidate, "sdp_mid": sdp_mid, "sdp_mline_index": sdp_mline_index}
        await self._request("candidate", socket.session_id, socket=socket, args=args)

    async def unpublish(self, socket: MediaSocket) -> None:
        await self._request("unpublish", socket.session_id, socket=socket)

    async def stop_recording(self, session_id: int) -> None:
        await self._request("stop_recording", session_id)


CLOSE_TIMEOUT_SECONDS = 2.0
