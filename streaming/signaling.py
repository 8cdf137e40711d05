"""The media sockets of this process and their one Sfu: who is connected, who may speak, what is published.

One `MediaHub` per event loop, built where the application is built (`streaming.media_hubs`, with its ICE servers
and recordings; an SFU node builds its own). It creates the Sfu when the first media socket joins and closes it
when the last one leaves, so every peer connection has an owner and an end.
The Sfu is per process, so a session's media sockets must share a process. With SFU_MODE "nodes" a `MediaHub`
runs inside each SFU node (`python -m streaming.node`) and the app's sockets reach it through
`streaming.node.client.RemoteMediaHub`; both are a `MediaPlane`, all the media socket sees.

On an SFU node of a two-city session, some publishers are *relayed*: published on the other city's node and brought
over the node-to-node link (`streaming.node.cascade`); the hub announces them like its own, described as their own
node described them (`relay_publish`).

Recording goes through `SessionRecordings`, the hub's one window on the recording services (the Django side is
`streaming.live_recordings`): asked for a sink when someone publishes, the sinks closed when the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from streaming.sfu import (
    EncodedFrameSink,
    PeerRole,
    PublishAnswer,
    SessionStats,
    Sfu,
    SfuError,
    SfuEvent,
    SubscribeOffer,
    TrackInfo,
)
from streaming.sfu.ice_policy import IcePolicy

logger = logging.getLogger(__name__)


def session_key(session_id: int) -> str:
    return f"session-{session_id}"


class MediaSocket(Protocol):
    """What the hub needs of a connected media socket (streaming.consumers.MediaConsumer)."""

    session_id: int
    user_id: int
    peer_id: str
    role: str

    async def deliver(self, frame: dict[str, Any]) -> None: ...


class SessionRecordings(Protocol):
    """What the hub needs to record publishers (streaming.live_recordings.LiveRecordings on the Django side)."""

    async def sink_for(
        self, *, session_id: int, publisher_id: str, label: str, kinds: Collection[Literal["audio", "video"]]
    ) -> EncodedFrameSink | None:
        """A sink to write this publisher's frames to, or None when the session is not recorded. `label` names the
        publisher to viewers of the recording (a room's name, "instructor").

        The Sfu closes the sink (in a worker thread) when the publisher leaves, fails or is replaced, when recording
        stops at the session's end, and when the Sfu closes: closing finishes the file and hands it to the upload.
        """
        ...


class MediaPlane(Protocol):
    """What the media socket needs of the media plane, whichever process runs the Sfu: `MediaHub` here (SFU_MODE
    "local"), or `streaming.node.client.RemoteMediaHub` in front of SFU node processes (SFU_MODE "nodes").

    Refusals are `SfuError` (a node that does not answer: code `sfu_unavailable`). `join` never fails: a socket
    whose media plane is unreachable is still welcome, and its next request says what is wrong.
    """

    async def join(self, socket: MediaSocket) -> None: ...

    async def leave(self, socket: MediaSocket) -> None: ...

    async def published(self, session_id: int) -> list[dict[str, Any]]:
        """The session's tracks as `media.tracks` lists them."""
        ...

    async def published_to(self, socket: MediaSocket) -> list[dict[str, Any]]:
        """The tracks this socket can subscribe to now: what its own SFU (its city's node) serves, as the
        `media.tracks` frames it will hear list them. A welcome lists these, never a track another node has not
        relayed yet (a subscribe to it would be refused, and the page would wait for an announcement it has had)."""
        ...

    async def may_speak(self, session_id: int, user_id: int) -> bool:
        """Whether a moderator invited this trainee to speak."""
        ...

    async def speaker_invite(self, session_id: int, user_id: int) -> None: ...

    async def speaker_revoke(self, session_id: int, user_id: int) -> None:
        """Withdraw the invitation and stop what the trainee publishes."""
        ...

    async def publish(self, socket: MediaSocket, *, sdp: str, label: str) -> PublishAnswer:
        """Publish, record if the session is recorded (`label` names the publisher), announce the tracks."""
        ...

    async def subscribe(self, socket: MediaSocket, *, track_ids: list[str] | None) -> SubscribeOffer: ...

    async def subscriber_answer(self, socket: MediaSocket, *, sdp: str) -> None: ...

    async def add_ice_candidate(
        self, socket: MediaSocket, *, role: PeerRole, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None: ...

    async def unpublish(self, socket: MediaSocket) -> None: ...

    async def stop_recording(self, session_id: int) -> None: ...

    async def record_publisher(self, socket: MediaSocket, *, label: str) -> bool:
        """Recording was switched on mid-session: record what `socket` publishes now, unless it already is."""
        ...


@dataclass(eq=False)
class _SessionMedia:
    sockets: set[MediaSocket] = field(default_factory=set)
    invited: set[int] = field(default_factory=set)  # trainees the instructor asked to speak
    # Publishers relayed from another node: publisher id → its description there (user_id, role, room, name).
    relayed: dict[str, dict[str, Any]] = field(default_factory=dict)


class MediaHub:
    """This process's media sockets per session, their speaking rights, and the Sfu they share."""

    def __init__(
        self,
        *,
        ice_servers: Sequence[Mapping[str, Any]] = (),
        recordings: SessionRecordings | None = None,
        ice_policy: IcePolicy | None = None,
    ) -> None:
        self._ice_servers = list(ice_servers)
        self._ice_policy = ice_policy
        self._recordings = recordings
        self._sessions: dict[int, _SessionMedia] = {}
        self._sfu: Sfu | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        # Publishers whose recording is being set up (a publish, or recording switched on): never two at once.
        self._recording_setup: set[tuple[int, str]] = set()
        # Called with a session id when its own publishers change (an SFU node's cascade then tells the other node).
        # (session id, the publisher that published, or None when one left)
        self.on_local_tracks_changed: Callable[[int, str | None], None] | None = None

    @property
    def sfu(self) -> Sfu:
        if self._sfu is None:
            raise RuntimeError("no media socket has joined")
        return self._sfu

    async def join(self, socket: MediaSocket) -> None:
        async with self._lock:
            if self._sfu is None:
                self._sfu = Sfu(ice_servers=self._ice_servers, on_event=self._on_sfu_event, ice_policy=self._ice_policy)
            self._sessions.setdefault(socket.session_id, _SessionMedia()).sockets.add(socket)

    async def leave(self, socket: MediaSocket) -> None:
        """Stop what the socket published and received; the last socket of the process closes the Sfu."""
        async with self._lock:
            media = self._sessions.get(socket.session_id)
            if media is None or socket not in media.sockets:
                return
            media.sockets.discard(socket)
            if self._sfu is not None:
                await self._sfu.leave(session_key=session_key(socket.session_id), peer_id=socket.peer_id)
            if not media.sockets:
                del self._sessions[socket.session_id]
            if not self._sessions:
                await self.close()

    async def close(self) -> None:
        sfu, self._sfu = self._sfu, None
        if sfu is not None:
            await sfu.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- speaking rights ---------------------------------------------------------------------------------------

    def is_invited(self, session_id: int, user_id: int) -> bool:
        media = self._sessions.get(session_id)
        return media is not None and user_id in media.invited

    def invite(self, session_id: int, user_id: int) -> None:
        self._sessions.setdefault(session_id, _SessionMedia()).invited.add(user_id)

    def revoke(self, session_id: int, user_id: int) -> None:
        media = self._sessions.get(session_id)
        if media is not None:
            media.invited.discard(user_id)

    def session_ids(self) -> list[int]:
        return list(self._sessions)

    def sockets_of(self, session_id: int, user_id: int) -> list[MediaSocket]:
        media = self._sessions.get(session_id)
        return [s for s in media.sockets if s.user_id == user_id] if media else []

    def session_stats(self) -> dict[int, SessionStats]:
        """Per session with media here, its Sfu figures (publisher tracks, subscriber legs), for /metrics."""
        sfu = self._sfu
        if sfu is None:
            return {}
        return {session_id: sfu.stats(session_key(session_id)) for session_id in list(self._sessions)}

    def load(self) -> dict[str, int]:
        """What an SFU node advertises: sessions, sockets, and the Sfu's publishers, subscribers and tracks."""
        publishers, subscribers, tracks = self._sfu.peer_counts() if self._sfu is not None else (0, 0, 0)
        return {
            "sessions": len(self._sessions),
            "sockets": sum(len(media.sockets) for media in self._sessions.values()),
            "peers": publishers + subscribers,
            "publishers": publishers,
            "subscribers": subscribers,
            "tracks": tracks,
        }

    # -- the MediaPlane operations (streaming.consumers calls these, in this process or on an SFU node) --------

    async def published(self, session_id: int) -> list[dict[str, Any]]:
        return self.tracks(session_id)

    async def published_to(self, socket: MediaSocket) -> list[dict[str, Any]]:
        return self.tracks(socket.session_id)

    async def may_speak(self, session_id: int, user_id: int) -> bool:
        return self.is_invited(session_id, user_id)

    async def speaker_invite(self, session_id: int, user_id: int) -> None:
        self.invite(session_id, user_id)
        for socket in self.sockets_of(session_id, user_id):
            await socket.deliver({"type": "media.can_publish", "can_publish": True})

    async def speaker_revoke(self, session_id: int, user_id: int) -> None:
        self.revoke(session_id, user_id)
        published = {track["publisher_id"] for track in self.tracks(session_id) if track["user_id"] == user_id}
        for socket in self.sockets_of(session_id, user_id):
            await socket.deliver({"type": "media.can_publish", "can_publish": False})
            if socket.peer_id in published:
                await self.sfu.unpublish(session_key=session_key(session_id), publisher_id=socket.peer_id)

    async def publish(self, socket: MediaSocket, *, sdp: str, label: str) -> PublishAnswer:
        answer = await self.sfu.publish(
            session_key=session_key(socket.session_id), publisher_id=socket.peer_id, offer_sdp=sdp
        )
        await self.record(socket, answer["tracks"], label=label)
        await self.announce_tracks(socket.session_id)
        self._local_changed(socket.session_id, socket.peer_id)
        return answer

    async def subscribe(self, socket: MediaSocket, *, track_ids: list[str] | None) -> SubscribeOffer:
        return await self.sfu.subscribe(
            session_key=session_key(socket.session_id), subscriber_id=socket.peer_id, track_ids=track_ids
        )

    async def subscriber_answer(self, socket: MediaSocket, *, sdp: str) -> None:
        await self.sfu.subscriber_answer(
            session_key=session_key(socket.session_id), subscriber_id=socket.peer_id, answer_sdp=sdp
        )

    async def add_ice_candidate(
        self, socket: MediaSocket, *, role: PeerRole, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        await self.sfu.add_ice_candidate(
            session_key=session_key(socket.session_id),
            peer_id=socket.peer_id,
            role=role,
            candidate=candidate,
            sdp_mid=sdp_mid,
            sdp_mline_index=sdp_mline_index,
        )

    async def unpublish(self, socket: MediaSocket) -> None:
        # The Sfu's publisher_left event announces the change to everyone.
        await self.sfu.unpublish(session_key=session_key(socket.session_id), publisher_id=socket.peer_id)

    # -- recording ---------------------------------------------------------------------------------------------

    async def record(self, socket: MediaSocket, tracks: Sequence[TrackInfo], *, label: str) -> bool:
        """Record what `socket` has just published, if its session is recorded; whether a recording started."""
        if self._recordings is None or self._sfu is None or not tracks:
            return False
        setup = (socket.session_id, socket.peer_id)
        if setup in self._recording_setup:
            return False
        self._recording_setup.add(setup)
        try:
            return await self._record(socket, tracks, label=label)
        finally:
            self._recording_setup.discard(setup)

    async def _record(self, socket: MediaSocket, tracks: Sequence[TrackInfo], *, label: str) -> bool:
        assert self._recordings is not None
        try:
            sink = await self._recordings.sink_for(
                session_id=socket.session_id,
                publisher_id=socket.peer_id,
                label=label,
                kinds=sorted({track["kind"] for track in tracks}),
            )
        except Exception:  # the class goes on unrecorded rather than not at all
            logger.exception("could not start recording %s in session %s", socket.peer_id, socket.session_id)
            return False
        if sink is None:
            return False
        try:
            await self.sfu.set_recording_sink(
                session_key=session_key(socket.session_id), publisher_id=socket.peer_id, sink=sink
            )
        except (SfuError, RuntimeError):
            # Gone while the recording was being set up: finish the (empty) file all the same.
            await asyncio.get_running_loop().run_in_executor(None, sink.close)
            return False
        return True

    async def record_publisher(self, socket: MediaSocket, *, label: str) -> bool:
        """Recording was switched on mid-session: record what `socket` publishes now (if it publishes, in a
        recorded session, and is not recorded already); whether a recording started."""
        if self._sfu is None:
            return False
        key = session_key(socket.session_id)
        if self._sfu.is_recording(session_key=key, publisher_id=socket.peer_id):
            return False
        tracks = [track for track in self._sfu.tracks(key) if track["publisher_id"] == socket.peer_id]
        return await self.record(socket, tracks, label=label)

    async def stop_recording(self, session_id: int) -> None:
        """The session ended, or recording was switched off: close this process's recorders of its publishers (each
        then queues its upload).

        Idempotent; the publishers keep publishing.
        """
        if self._sfu is None:
            return
        sfu, key = self._sfu, session_key(session_id)
        publisher_ids = sorted({track["publisher_id"] for track in sfu.tracks(key)})
        results = await asyncio.gather(
            *(sfu.set_recording_sink(session_key=key, publisher_id=pid, sink=None) for pid in publisher_ids),
            return_exceptions=True,
        )
        for publisher_id, result in zip(publisher_ids, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, SfuError):  # SfuError: it just left
                logger.error("stopping the recording of %s failed", publisher_id, exc_info=result)

    # -- relayed publishers (an SFU node's cascade) -------------------------------------------------------------

    def local_tracks(self, session_id: int) -> list[dict[str, Any]]:
        """The session's tracks published on this hub's Sfu (not relayed from another node), described."""
        media = self._sessions.get(session_id)
        relayed = media.relayed if media else {}
        return [track for track in self.tracks(session_id) if track["publisher_id"] not in relayed]

    def relayed_publishers(self, session_id: int) -> dict[str, dict[str, Any]]:
        media = self._sessions.get(session_id)
        return dict(media.relayed) if media else {}

    def relay_described(self, session_id: int, publisher_id: str, described: dict[str, Any]) -> None:
        """Remember how the publisher's own node describes a publisher relayed here (before its tracks appear)."""
        media = self._sessions.get(session_id)
        if media is not None:
            media.relayed[publisher_id] = described

    async def relay_unpublish(self, session_id: int, publisher_id: str) -> None:
        """A relayed publisher is gone from its own node: its subscribers here hear `publisher_left`."""
        media = self._sessions.get(session_id)
        if media is None or media.relayed.pop(publisher_id, None) is None or self._sfu is None:
            return
        with contextlib.suppress(SfuError):
            await self._sfu.unpublish(session_key=session_key(session_id), publisher_id=publisher_id)

    def _local_changed(self, session_id: int, publisher_id: str | None) -> None:
        if self.on_local_tracks_changed is not None:
            self.on_local_tracks_changed(session_id, publisher_id)

    # -- what is published -------------------------------------------------------------------------------------

    def tracks(self, session_id: int) -> list[dict[str, Any]]:
        """The session's published tracks, each with the publishing user's id and role (the page picks its main
        video by role)."""
        if self._sfu is None:
            return []
        media = self._sessions.get(session_id)
        peers = {s.peer_id: s for s in media.sockets} if media else {}
        relayed = media.relayed if media else {}
        return [
            {**track, **relayed[track["publisher_id"]]}
            if track["publisher_id"] in relayed
            else _described(track, peers)
            for track in self._sfu.tracks(session_key(session_id))
        ]

    async def announce_tracks(self, session_id: int) -> None:
        await self.broadcast(session_id, {"type": "media.tracks", "tracks": self.tracks(session_id)})

    async def broadcast(self, session_id: int, frame: dict[str, Any]) -> None:
        media = self._sessions.get(session_id)
        for socket in list(media.sockets) if media else []:
            await socket.deliver(frame)

    def _on_sfu_event(self, event: SfuEvent) -> None:
        session_id = int(event["session_key"].removeprefix("session-"))
        if event["type"] == "publisher_left":
            frame = {
                "type": "media.publisher_left",
                "publisher_id": event["publisher_id"],
                "track_ids": event["track_ids"],
                "reason": event["reason"],
            }
            self._spawn(self._publisher_left(session_id, frame))
        elif event["reason"] == "failed":
            # The subscriber's connection died: its page reconnects with a fresh subscribe.
            frame = {"type": "media.subscription_lost", "reason": event["reason"]}
            self._spawn(self._tell_peer(session_id, event["subscriber_id"], frame))

    async def _publisher_left(self, session_id: int, frame: dict[str, Any]) -> None:
        await self.broadcast(session_id, frame)
        await self.announce_tracks(session_id)
        media = self._sessions.get(session_id)
        if media is not None and frame["publisher_id"] not in media.relayed:
            self._local_changed(session_id, None)

    async def _tell_peer(self, session_id: int, peer_id: str, frame: dict[str, Any]) -> None:
        media = self._sessions.get(session_id)
        for socket in list(media.sockets) if media else []:
            if socket.peer_id == peer_id:
                await socket.deliver(frame)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _described(track: TrackInfo, peers: Mapping[str, MediaSocket]) -> dict[str, Any]:
    socket = peers.get(track["publisher_id"])
    if socket is None:
        return {**track, "user_id": None, "role": None, "room": None, "name": ""}
    # A room agent's socket has no user (user_id 0) and names its room ({id, name, city}): the page labels it.
    # `name` is the publisher's display name (a person's, or the room's): an invited speaker's tile shows it.
    return {
        **track,
        "user_id": socket.user_id or None,
        "role": socket.role,
        "room": getattr(socket, "room", None),
        "name": getattr(socket, "name", ""),
    }
