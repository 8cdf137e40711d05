"""The media sockets of this process and their one Sfu: who is connected, who may speak, what is published.

One `MediaHub` per event loop (`media_hub()`, like `classrooms.fanout.hub()`). It creates the Sfu when the first
media socket joins and closes it when the last one leaves, so every peer connection has an owner and an end.
The Sfu is per process, so a session's media sockets must share a process (one SFU node per city, later).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from streaming.sfu import Sfu, SfuEvent, TrackInfo

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


@dataclass(eq=False)
class _SessionMedia:
    sockets: set[MediaSocket] = field(default_factory=set)
    invited: set[int] = field(default_factory=set)  # trainees the instructor asked to speak


class MediaHub:
    """This process's media sockets per session, their speaking rights, and the Sfu they share."""

    def __init__(self, *, ice_servers: Sequence[Mapping[str, Any]] = ()) -> None:
        self._ice_servers = list(ice_servers)
        self._sessions: dict[int, _SessionMedia] = {}
        self._sfu: Sfu | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    @property
    def sfu(self) -> Sfu:
        if self._sfu is None:
            raise RuntimeError("no media socket has joined")
        return self._sfu

    async def join(self, socket: MediaSocket) -> None:
        async with self._lock:
            if self._sfu is None:
                self._sfu = Sfu(ice_servers=self._ice_servers, on_event=self._on_sfu_event)
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

    def sockets_of(self, session_id: int, user_id: int) -> list[MediaSocket]:
        media = self._sessions.get(session_id)
        return [s for s in media.sockets if s.user_id == user_id] if media else []

    # -- what is published -------------------------------------------------------------------------------------

    def tracks(self, session_id: int) -> list[dict[str, Any]]:
        """The session's published tracks, each with the publishing user's id and role (the page picks its main
        video by role)."""
        if self._sfu is None:
            return []
        media = self._sessions.get(session_id)
        peers = {s.peer_id: s for s in media.sockets} if media else {}
        return [_described(track, peers) for track in self._sfu.tracks(session_key(session_id))]

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
    return {**track, "user_id": socket.user_id if socket else None, "role": socket.role if socket else None}


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MediaHub] = weakref.WeakKeyDictionary()


def media_hub(*, ice_servers: Sequence[Mapping[str, Any]] = ()) -> MediaHub:
    """This process's media hub (one per event loop: each test gets its own loop)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = MediaHub(ice_servers=ice_servers)
    return found
