"""The cascade: a session served by one node per city has each published track cross to the other node once.

Each node runs one `Cascade` beside its MediaHub. Every `interval` (and at once when one of its own publishers
publishes), for each session it serves, it asks the session's other nodes (their pins in Redis) what is published
there (`link.tracks`): for a publisher it does not relay yet, it opens one link receiver per track (SSRCs of its
choosing), makes the publisher a relayed publisher of its own Sfu (same publisher and track ids, described as its own
node describes it, so the pages here see it like any other) and asks the origin to send (`link.pull`). The origin
taps each track once per peer node, however many subscribers are on the far side, and sends its RTP over the link;
keyframe requests come back as PLIs on the link. A publisher gone from the origin, or an origin node gone, ends the
relayed publisher here: its subscribers hear `publisher_left`. A republish (a new `epoch`) is relayed anew.

The origin forgets a peer's taps when the peer is no longer a node of the session, so a dead or replaced node costs
nothing for long; a replacement node pulls again on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from aiortc.rtp import RtpPacket
from redis.asyncio import Redis

from streaming.node import registry
from streaming.node.config import CITIES, parse_address
from streaming.node.wire import Malformed, Op, arg_str
from streaming.sfu import SfuError
from streaming.sfu.link import LinkEndpoint, LinkReceiver, LinkSender
from streaming.signaling import MediaHub, session_key

logger = logging.getLogger(__name__)

# Ask another node (its record, an op, a session, args) and return its reply's result (SfuError if it fails).
NodeCall = Callable[[registry.NodeRecord, Op, int, dict[str, Any]], Awaitable[Any]]


@dataclass(eq=False)
class _Outgoing:
    sender: LinkSender
    untap: Callable[[], None]
    ssrc: int

    def close(self) -> None:
        self.untap()
        self.sender.close()


@dataclass(eq=False)
class _Relayed:
    """A publisher of another node, relayed here."""

    node: registry.NodeRecord  # its own node
    epoch: int
    track_ids: tuple[str, ...]
    receivers: dict[str, LinkReceiver] = field(default_factory=dict)

    @property
    def node_id(self) -> str:
        return self.node["id"]

    def close(self) -> None:
        for receiver in self.receivers.values():
            receiver.close()
        self.receivers.clear()


class Cascade:
    def __init__(
        self,
        *,
        node_id: str,
        hub: MediaHub,
        redis: Redis,
        registry_prefix: str,
        endpoint: LinkEndpoint,
        link_address: str,
        call: NodeCall,
        interval: float = 0.5,
    ) -> None:
        self.node_id = node_id
        self.hub = hub
        self.redis = redis
        self.prefix = registry_prefix
        self.endpoint = endpoint
        self.link_address = link_address
        self.call = call
        self.interval = interval
        self._outgoing: dict[tuple[int, str, str], _Outgoing] = {}  # (session, track id, peer link address)
        self._relayed: dict[tuple[int, str], _Relayed] = {}  # (session, publisher id)
        self._epochs: dict[tuple[int, str], int] = {}  # (session, own publisher id) → its publish count
        self._nudge = asyncio.Event()
        self._tasks: set[asyncio.Future[None]] = set()
        self._lock = asyncio.Lock()
        hub.on_local_tracks_changed = self._local_changed

    # -- the loop ----------------------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), self.interval)
            self._nudge.clear()
            try:
                await self.reconcile()
            except Exception:  # Redis or a peer away for a moment: next time
                logger.warning("the cascade could not reconcile", exc_info=True)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for outgoing in self._outgoing.values():
            outgoing.close()
        self._outgoing.clear()
        for relayed in self._relayed.values():
            relayed.close()
        self._relayed.clear()

    def _local_changed(self, session_id: int, publisher_id: str | None) -> None:
        if publisher_id is not None:  # (re)published: what went before is stale on the far side
            key = (session_id, publisher_id)
            self._epochs[key] = self._epochs.get(key, 0) + 1
            for out_key in [k for k in self._outgoing if k[0] == session_id and k[1].startswith(publisher_id + ":")]:
                self._outgoing.pop(out_key).close()
        self._nudge.set()

    async def reconcile(self) -> None:
        async with self._lock:
            served = set(self.hub.session_ids())
            for session_id, publisher_id in [key for key in self._relayed if key[0] not in served]:
                await self._stop_pulling(session_id, self._relayed.pop((session_id, publisher_id)))
            for key in [key for key in self._outgoing if key[0] not in served]:
                self._outgoing.pop(key).close()
            for session_id in served:
                await self._reconcile_session(session_id)

    async def _reconcile_session(self, session_id: int) -> None:
        nodes = await registry.session_nodes(self.redis, prefix=self.prefix, session_id=session_id, cities=CITIES)
        peers = [node for node in nodes if node["id"] != self.node_id and node.get("link_address")]
        # The origin side: stop sending what no peer of the session wants any more.
        local = {track["track_id"] for track in self.hub.local_tracks(session_id)}
        addresses = {node["link_address"] for node in peers}
        for key in [k for k in self._outgoing if k[0] == session_id and (k[1] not in local or k[2] not in addresses)]:
            self._outgoing.pop(key).close()
        # The far side: relay what the peers publish.
        wanted: dict[str, tuple[registry.NodeRecord, list[dict[str, Any]]]] = {}
        for peer in peers:
            try:
                tracks = cast(list[dict[str, Any]], await self.call(peer, "link.tracks", session_id, {}))
            except SfuError as error:
                logger.warning("node %s did not list session %s's tracks: %s", peer["id"], session_id, error.message)
                # Keep what is relayed from it: a slow answer is not a dead node (its pin goes when it dies).
                for (sid, publisher_id), kept in self._relayed.items():
                    if sid == session_id and kept.node_id == peer["id"]:
                        wanted[publisher_id] = (peer, [])
                continue
            for track in tracks:
                wanted.setdefault(track["publisher_id"], (peer, []))[1].append(track)
        for (sid, publisher_id), was in list(self._relayed.items()):
            if sid != session_id:
                continue
            found = wanted.get(publisher_id)
            if found is None or found[0]["id"] != was.node_id:
                await self._unrelay(session_id, publisher_id)
        for publisher_id, (peer, tracks) in wanted.items():
            if not tracks:
                continue
            epoch = int(tracks[0].get("epoch", 0))
            track_ids = tuple(sorted(track["track_id"] for track in tracks))
            current = self._relayed.get((session_id, publisher_id))
            if current is not None and (current.epoch, current.track_ids) == (epoch, track_ids):
                continue
            await self._relay(session_id, peer, publisher_id, epoch, tracks)

    # -- the far side ------------------------------------------------------------------------------------------

    async def _relay(
        self, session_id: int, peer: registry.NodeRecord, publisher_id: str, epoch: int, tracks: list[dict[str, Any]]
    ) -> None:
        old = self._relayed.pop((session_id, publisher_id), None)
        if old is not None:
            old.close()
        origin = await resolve(peer["link_address"])
        relayed = _Relayed(node=peer, epoch=epoch, track_ids=tuple(sorted(t["track_id"] for t in tracks)))
        sfu, key = self.hub.sfu, session_key(session_id)
        first = tracks[0]
        self.hub.relay_described(
            session_id,
            publisher_id,
            {name: first.get(name) for name in ("user_id", "role", "room", "name")},
        )

        def request_keyframe(track_id: str) -> None:
            receiver = relayed.receivers.get(track_id)
            if receiver is not None:
                receiver.request_keyframe()

        publisher = await sfu.relay_publish(
            session_key=key,
            publisher_id=publisher_id,
            tracks=[{"info": _info(track), "codec": track["link_codec"]} for track in tracks],
            request_keyframe=request_keyframe,
        )
        ssrcs: dict[str, int] = {}
        for track in tracks:
            track_id = track["track_id"]
            ssrc = ssrcs[track_id] = secrets.randbits(32) or 1

            def on_packet(packet: RtpPacket, track_id: str = track_id) -> Awaitable[None]:
                return publisher.push(track_id, packet)

            relayed.receivers[track_id] = self.endpoint.open_receiver(
                peer=origin,
                ssrc=ssrc,
                kind=track["kind"],
                clock_rate=int(track["link_codec"]["clockRate"]),
                on_packet=on_packet,
            )
        self._relayed[(session_id, publisher_id)] = relayed
        await self.hub.announce_tracks(session_id)
        args = {"link_address": self.link_address, "ssrcs": ssrcs}
        try:
            await self.call(peer, "link.pull", session_id, args)
        except SfuError as error:  # tried again next round
            logger.warning("node %s would not send %s: %s", peer["id"], publisher_id, error.message)
            await self._unrelay(session_id, publisher_id)
            return
        logger.info("session %s: relaying %s from node %s", session_id, publisher_id, peer["id"])

    async def _unrelay(self, session_id: int, publisher_id: str) -> None:
        relayed = self._relayed.pop((session_id, publisher_id), None)
        if relayed is not None:
            await self._stop_pulling(session_id, relayed)
        await self.hub.relay_unpublish(session_id, publisher_id)

    async def _stop_pulling(self, session_id: int, relayed: _Relayed) -> None:
        """Close the receivers, and tell the origin (if it is still there) to stop sending: nobody here wants it."""
        relayed.close()
        args = {"link_address": self.link_address, "track_ids": list(relayed.track_ids)}

        async def drop() -> None:
            with contextlib.suppress(SfuError):  # gone, or no longer serving the session: nothing is sent anyway
                await self.call(relayed.node, "link.drop", session_id, args)

        # Not awaited: a dead origin would hold up relaying from its replacement for the whole timeout.
        task = asyncio.ensure_future(drop())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the origin side (requests from other nodes) -----------------------------------------------------------

    def tracks(self, session_id: int) -> list[dict[str, Any]]:
        """`link.tracks`: this node's own tracks of the session, each with its codec (`link_codec`) and epoch."""
        sfu, key = self.hub.sfu if self.hub.session_ids() else None, session_key(session_id)
        if sfu is None:
            return []
        found = []
        for track in self.hub.local_tracks(session_id):
            try:
                codec = sfu.track_codec(session_key=key, track_id=track["track_id"])
            except SfuError:  # not negotiated yet, or just gone
                continue
            epoch = self._epochs.get((session_id, track["publisher_id"]), 0)
            found.append({**track, "link_codec": codec, "epoch": epoch})
        return found

    async def pull(self, session_id: int, args: dict[str, Any]) -> None:
        """`link.pull`: send these tracks to that node's link address (once per track and peer)."""
        address = arg_str(args, "link_address")
        peer = await resolve(address)
        ssrcs = args.get("ssrcs")
        if not isinstance(ssrcs, dict) or not all(
            isinstance(t, str) and isinstance(s, int) and 0 < s < 2**32 for t, s in ssrcs.items()
        ):
            raise Malformed("`args.ssrcs` is not an object of track ids to SSRCs")
        sfu, key = self.hub.sfu, session_key(session_id)
        local = {track["track_id"]: track for track in self.hub.local_tracks(session_id)}
        for track_id, ssrc in ssrcs.items():
            if track_id not in local:
                raise SfuError("unknown_track", f"{track_id} is not published on this node.")
            out_key = (session_id, track_id, address)
            found = self._outgoing.get(out_key)
            if found is not None and found.ssrc == ssrc:
                continue  # already crossing: once per track and peer
            if found is not None:
                self._outgoing.pop(out_key).close()
            codec = sfu.track_codec(session_key=key, track_id=track_id)

            def keyframe(track_id: str = track_id) -> None:
                with contextlib.suppress(SfuError):
                    sfu.request_keyframe(session_key=key, track_id=track_id)

            sender = self.endpoint.open_sender(
                peer=peer,
                ssrc=ssrc,
                kind=local[track_id]["kind"],
                clock_rate=int(codec["clockRate"]),
                on_keyframe_request=keyframe,
            )
            untap = sfu.tap_track(session_key=key, track_id=track_id, on_packet=sender.send)
            self._outgoing[out_key] = _Outgoing(sender=sender, untap=untap, ssrc=ssrc)
            logger.info("session %s: sending %s to %s", session_id, track_id, address)
            sfu.request_keyframe(session_key=key, track_id=track_id)  # the far side starts with a picture

    def drop(self, session_id: int, args: dict[str, Any]) -> None:
        address = arg_str(args, "link_address")
        track_ids = args.get("track_ids")
        if not isinstance(track_ids, list):
            raise Malformed("`args.track_ids` is not a list")
        for track_id in track_ids:
            found = self._outgoing.pop((session_id, str(track_id), address), None)
            if found is not None:
                found.close()

    def streams_out(self) -> int:
        return len(self._outgoing)


async def resolve(address: str) -> tuple[str, int]:
    """A link address ("host:port", the host a name or an IP) as the numeric (ip, port) the link sends to."""
    host, port = parse_address(address, name="link_address")
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as error:
        raise SfuError("bad_link_address", f"{address} does not resolve: {error}") from None
    ip, resolved_port = found[0][4][:2]
    return str(ip), int(resolved_port)


def _info(track: dict[str, Any]) -> Any:
    return {name: track[name] for name in ("track_id", "publisher_id", "kind", "codec", "mid")}
