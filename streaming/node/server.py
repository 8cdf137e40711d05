"""One SFU node: requests from app processes in, the node's `MediaHub` (and its Sfu), replies and frames out.

Each media socket the node serves is a `RemoteSocket`: the MediaHub delivers its frames (track announcements,
publisher_left, subscription_lost, can_publish) as it would to a local socket, and they travel to the socket's
channel. Sockets join implicitly with their first request, so after a failover the sockets of a session re-register
on the node that inherits it.

A node has a city (SFU_NODE_CITY) and a link (SFU_LINK_BIND, a UDP socket carrying RTP to and from the other nodes):
its `Cascade` brings the tracks of the session's other node over the link, and the node asks other nodes (`link.*`
requests) on their channels as an app process does, reading the replies on its own channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis

from streaming.node import registry
from streaming.node.cascade import Cascade
from streaming.node.config import NodeConfig
from streaming.node.wire import (
    Malformed,
    Op,
    Request,
    SocketInfo,
    arg_int,
    arg_optional_str,
    arg_str,
    parse_reply,
    parse_request,
)
from streaming.sfu import SfuError
from streaming.sfu.link import LinkEndpoint
from streaming.signaling import MediaHub, SessionRecordings

logger = logging.getLogger(__name__)


class ChannelLayer(Protocol):
    """What the node uses of a Channels layer (channels_redis.pubsub.RedisPubSubChannelLayer)."""

    async def send(self, channel: str, message: dict[str, Any]) -> None: ...

    async def receive(self, channel: str) -> dict[str, Any]: ...


def node_channel(layer_prefix: str, node_id: str) -> str:
    return f"{layer_prefix}.sfu-node.{node_id}"


@dataclass(eq=False)
class RemoteSocket:
    """A media socket of an app process, as the node's MediaHub sees it (streaming.signaling.MediaSocket)."""

    layer: ChannelLayer
    session_id: int
    user_id: int
    peer_id: str
    role: str
    room: dict[str, Any] | None
    channel_name: str
    name: str = ""
    city: str = ""

    async def deliver(self, frame: dict[str, Any]) -> None:
        try:
            await self.layer.send(self.channel_name, {"type": "media.frame", "frame": frame})
        except Exception:  # Redis away: the socket misses a frame, the node carries on
            logger.warning("a frame for %s was lost", self.peer_id, exc_info=True)


class SfuNode:
    """Serves requests on its channel until `stop()`; advertises itself in Redis meanwhile."""

    def __init__(
        self, *, config: NodeConfig, layer: ChannelLayer, redis: Redis, recordings: SessionRecordings | None = None
    ) -> None:
        self.config = config
        self.layer = layer
        self.redis = redis
        self.channel = node_channel(config.layer_prefix, config.node_id)
        stun = [{"urls": list(config.stun_urls)}] if config.stun_urls else []
        self.hub = MediaHub(ice_servers=stun, recordings=recordings, ice_policy=config.ice_policy)
        self._sockets: dict[tuple[int, str], RemoteSocket] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self._pending: dict[str, asyncio.Future[Any]] = {}  # this node's requests to other nodes
        self.link: LinkEndpoint | None = None
        self.cascade: Cascade | None = None
        self.probe: asyncio.Server | None = None

    @property
    def probe_url(self) -> str:
        if self.config.probe_url or self.probe is None:
            return self.config.probe_url
        port = self.probe.sockets[0].getsockname()[1]
        return f"http://{self.config.address}:{port}/probe"

    @property
    def link_address(self) -> str:
        if self.config.link_advertise:
            return self.config.link_advertise
        if self.link is None:
            return ""
        host, port = self.link.address[:2]
        return f"{host}:{port}"

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        self.link = await LinkEndpoint.open(*self.config.link_bind)
        if self.config.probe_bind is not None:
            self.probe = await asyncio.start_server(_answer_probe, *self.config.probe_bind)
        self.cascade = Cascade(
            node_id=self.config.node_id,
            hub=self.hub,
            redis=self.redis,
            registry_prefix=self.config.registry_prefix,
            endpoint=self.link,
            link_address=self.link_address,
            call=self.call,
            interval=self.config.cascade_interval,
        )
        await self.advertise()
        logger.info(
            "SFU node %s (%s) serving on %s, link on %s",
            self.config.node_id,
            self.config.city,
            self.channel,
            self.link_address,
        )
        heartbeat = asyncio.ensure_future(self._heartbeat())
        receiving = asyncio.ensure_future(self._receive())
        cascading = asyncio.ensure_future(self.cascade.run())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({heartbeat, receiving, cascading, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in (heartbeat, receiving, cascading):
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for running in (heartbeat, receiving, cascading, stopped):
                running.cancel()
            await asyncio.gather(heartbeat, receiving, cascading, stopped, return_exceptions=True)
            # Gone from Redis first, so the app moves the sessions on while the peers close.
            await registry.node_unregister(self.redis, prefix=self.config.registry_prefix, node_id=self.config.node_id)
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self.cascade.close()
            await self.hub.close()
            await self.link.close()
            if self.probe is not None:
                self.probe.close()
            logger.info("SFU node %s stopped", self.config.node_id)

    def stop(self) -> None:
        self._stopped.set()

    def record(self) -> registry.NodeRecord:
        load = self.hub.load()
        return {
            "id": self.config.node_id,
            "address": self.config.address,
            "channel": self.channel,
            "sessions": load["sessions"],
            "sockets": load["sockets"],
            "peers": load["peers"],
            "publishers": load["publishers"],
            "subscribers": load["subscribers"],
            "tracks": load["tracks"],
            "updated": time.time(),
            "city": self.config.city,
            "link_address": self.link_address,
            "links": [dict(stats) for stats in self.link.stats()] if self.link is not None else [],
            "probe_url": self.probe_url,
        }

    async def advertise(self) -> None:
        await registry.node_register(
            self.redis, prefix=self.config.registry_prefix, record=self.record(), ttl=self.config.ttl
        )

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat)
            try:
                await self.advertise()
            except Exception:  # Redis away for a moment: the record expires if it stays away
                logger.warning("SFU node heartbeat failed", exc_info=True)

    async def _receive(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            if isinstance(message, dict) and message.get("type") == "sfu.reply":
                self._replied(message)
                continue
            try:
                request = parse_request(message)
            except Malformed as error:
                logger.warning("a malformed request was dropped (%s): %.300r", error, message)
                continue
            self._spawn(self._answer(request))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- asking other nodes -------------------------------------------------------------------------------------

    async def call(self, node: registry.NodeRecord, op: Op, session_id: int, args: dict[str, Any]) -> Any:
        """Ask another node, as an app process does; its reply comes back on this node's channel."""
        request_id = uuid.uuid4().hex
        message = {
            "type": "sfu.request",
            "id": request_id,
            "reply_to": self.channel,
            "op": op,
            "session_id": session_id,
            "socket": None,
            "args": args,
        }
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.layer.send(node["channel"], message)
            reply = await asyncio.wait_for(future, self.config.peer_timeout)
        except TimeoutError:
            raise SfuError("sfu_unavailable", f"node {node['id']} did not answer {op}") from None
        finally:
            self._pending.pop(request_id, None)
        if not reply["ok"]:
            raise SfuError(reply["code"], reply["message"])
        return reply.get("result")

    def _replied(self, message: dict[str, Any]) -> None:
        try:
            reply = parse_reply(message)
        except Malformed as error:
            logger.warning("a malformed reply was dropped (%s): %.300r", error, message)
            return
        future = self._pending.get(reply["id"])
        if future is not None and not future.done():
            future.set_result(reply)

    # -- requests ----------------------------------------------------------------------------------------------

    async def _answer(self, request: Request) -> None:
        reply: dict[str, Any] = {"type": "sfu.reply", "id": request["id"]}
        try:
            result = await self.handle(request)
        except Malformed as error:
            logger.warning("a malformed %s request was dropped: %s", request["op"], error)
            return
        except SfuError as error:
            reply |= {"ok": False, "code": error.code, "message": error.message}
        except Exception:
            logger.exception("the %s request failed", request["op"])
            reply |= {"ok": False, "code": "sfu_error", "message": "The media server failed to do that."}
        else:
            reply |= {"ok": True, "result": result}
        try:
            await self.layer.send(request["reply_to"], reply)
        except Exception:
            logger.warning("a reply to %s was lost", request["reply_to"], exc_info=True)

    async def handle(self, request: Request) -> Any:
        op, args, session_id, hub = request["op"], request["args"], request["session_id"], self.hub
        if op == "leave":
            assert request["socket"] is not None
            found = self._sockets.pop((session_id, request["socket"]["peer_id"]), None)
            if found is not None:
                await hub.leave(found)
                await self.advertise()
            return None
        if op.startswith("link."):
            return await self._link(op, session_id, args)
        joined = await self._joined(request["socket"]) if request["socket"] is not None else None
        if op == "join":
            return None
        if op == "tracks":
            return await hub.published(session_id)
        if op == "may_speak":
            return await hub.may_speak(session_id, arg_int(args, "user_id"))
        if op == "invite":
            return await hub.speaker_invite(session_id, arg_int(args, "user_id"))
        if op == "revoke":
            return await hub.speaker_revoke(session_id, arg_int(args, "user_id"))
        if op == "stop_recording":
            return await hub.stop_recording(session_id)
        if joined is None:
            raise Malformed(f"a {op} request names no socket")
        socket = joined
        if op == "publish":
            answer = await hub.publish(socket, sdp=arg_str(args, "sdp"), label=arg_str(args, "label"))
            await self.advertise()
            return answer
        if op == "subscribe":
            track_ids = args.get("track_ids")
            if track_ids is not None and (
                not isinstance(track_ids, list) or not all(isinstance(t, str) for t in track_ids)
            ):
                raise Malformed("`args.track_ids` is not a list of strings")
            offer = await hub.subscribe(socket, track_ids=track_ids)
            await self.advertise()
            return offer
        if op == "answer":
            return await hub.subscriber_answer(socket, sdp=arg_str(args, "sdp"))
        if op == "candidate":
            role = args.get("role")
            if role not in ("publisher", "subscriber"):
                raise Malformed("`args.role` is neither publisher nor subscriber")
            index = args.get("sdp_mline_index")
            return await hub.add_ice_candidate(
                socket,
                role="publisher" if role == "publisher" else "subscriber",
                candidate=arg_str(args, "candidate"),
                sdp_mid=arg_optional_str(args, "sdp_mid"),
                sdp_mline_index=None if index is None else arg_int(args, "sdp_mline_index"),
            )
        if op == "unpublish":
            return await hub.unpublish(socket)
        if op == "record":
            return await hub.record_publisher(socket, label=arg_str(args, "label"))
        raise Malformed(f"unknown op {op!r}")

    async def _link(self, op: Op, session_id: int, args: dict[str, Any]) -> Any:
        """Another node's request about a session this node may serve (streaming.node.cascade)."""
        if self.cascade is None or session_id not in self.hub.session_ids():
            if op == "link.tracks":
                return []
            raise SfuError("unknown_session", "This node does not serve that session.")
        if op == "link.tracks":
            return self.cascade.tracks(session_id)
        if op == "link.pull":
            await self.cascade.pull(session_id, args)
            await self.advertise()
            return None
        self.cascade.drop(session_id, args)
        return None

    async def _joined(self, info: SocketInfo) -> RemoteSocket:
        key = (info["session_id"], info["peer_id"])
        socket = self._sockets.get(key)
        if socket is None:
            socket = self._sockets[key] = RemoteSocket(layer=self.layer, **info)
            await self.hub.join(socket)
            await self.advertise()
        return socket


PROBE_ANSWER = (
    b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: no-store\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)


async def _answer_probe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Any request gets an empty answer at once: a page times the round trip to this node (its "automatic" city)."""
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(PROBE_ANSWER)
        await writer.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()
