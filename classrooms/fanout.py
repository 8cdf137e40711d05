"""Per-process fan-out of live-session events to this process's sockets.

A plain Channels consumer joins the session's group itself, so the layer hands
every event to every socket (one deserialisation and one queue hop each) and
each socket serialises it again. Here one hub per process (per event loop)
listens on the layer once per session and writes the event's JSON text, made
once by the sender, straight to the sockets it holds. Closing a user's sockets
(sign-out, lost role) goes through one control group the same way.

Vote counts and attendance are coalesced: a burst of votes on a question becomes
one `question.voted` event per `VOTE_FLUSH_SECONDS` per process, and a burst of
trainees joining (each of which changes who is here) one `attendance.updated` per
`ATTENDANCE_FLUSH_SECONDS`: that payload lists everyone present, so sending it per
join would make a class of N cost N² to fill.

The layer may go away (Redis restarted): events published meanwhile are lost to the
hub, and a client cannot notice, since later events move its `sync` point past
them. So the hub probes the layer (a message to itself every LAYER_PROBE_SECONDS);
once a probe comes back after some failed, it sends each socket, as one `synced`
frame, every event of its session since the last one it had delivered when the
layer was last known good (clients apply each event_id once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

from classrooms.batching import WriteBatcher

logger = logging.getLogger(__name__)

CONTROL_GROUP = "live-control"
VOTE_FLUSH_SECONDS = 0.25
ATTENDANCE_FLUSH_SECONDS = 2.0
SWEEP_SECONDS = 5.0
# Trainees' remote presence is written in one batch per session this often
# (heartbeats themselves never touch the database).
PRESENCE_REPORT_SECONDS = 10.0
# A socket that has sent nothing (not even a heartbeat) for this long is dead.
SILENCE_LIMIT_SECONDS = 30.0
# Every socket's right to be there is re-read this often, one query batch per session: role
# changes made through the app close sockets at once (the control group), this catches the
# rest (a change made in another process without Redis, an account deactivated by SQL).
ROLE_RECHECK_SECONDS = 15.0
# The layer is probed this often (one message to the hub itself); one not back within LAYER_PROBE_TIMEOUT_SECONDS
# means the layer is down.
LAYER_PROBE_SECONDS = 1.0
LAYER_PROBE_TIMEOUT_SECONDS = 2.0
# A session's shared snapshot (questions, polls: what every trainee's welcome holds) is read once per process per
# change, and at least this often (a change made without an event, e.g. in the admin, shows within this long).
SNAPSHOT_MAX_AGE_SECONDS = 1.0


def session_group(session_id: int) -> str:
    return f"live-session-{session_id}"


class LocalSocket(Protocol):
    """What the hub needs of a connected participant (the consumer implements it)."""

    session_id: int
    user_id: int
    is_moderator: bool
    counts_attendance: bool
    last_heard: float

    async def deliver(self, text: str) -> None: ...

    async def force_close(self, code: str, message: str) -> None: ...

    async def recheck_role(self) -> bool: ...

    def set_participant(self, participant: Any) -> None: ...


class _SessionFanout:
    def __init__(self) -> None:
        self.sockets: set[LocalSocket] = set()
        self.channel: str | None = None
        self.listener: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.last_event_id = 0  # the newest event this process has had for the session (live, or in a welcome)
        # Events this hub has handed out for the session: the version of what a snapshot read before them shows.
        self.generation = 0
        self.snapshot: _Snapshot | None = None  # the last shared snapshot built (see LiveHub.shared_snapshot)
        self.building: _Snapshot | None = None  # the one being built, its value a future


@dataclass
class _Snapshot:
    generation: int  # the session's generation when its reading began
    started: float  # time.monotonic() then
    value: Any  # the snapshot, or (while building) a future of it


Publisher = Callable[[int, list[int]], Coroutine[Any, Any, None]]
# (session id, user ids) → {user id: their part}; users left out may no longer be there.
RoleReader = Callable[[int, list[int]], Coroutine[Any, Any, dict[int, Any]]]
# (session id, after event id) → the `synced` frame text for moderators and for everyone else, with the session's
# events after that id; None if there are too many (the sockets reconnect and start from a welcome instead).
MissedReader = Callable[[int, int], Coroutine[Any, Any, "tuple[str, str] | None"]]


@dataclass(frozen=True)
class LiveHubHooks:
    """The hub's Django side, handed to it when it is built (`classrooms.live_hubs`), never installed later."""

    announce_votes: Publisher  # a question's coalesced vote counts
    announce_attendance: Publisher  # who is here, coalesced
    report_presence: Publisher  # the trainees this process holds, every PRESENCE_REPORT_SECONDS
    read_roles: RoleReader
    apply_votes: Callable[[int, list[Any]], Awaitable[list[Any]]]  # a batch of votes (classrooms.batching)
    # A batch of trainees' sockets opening (user ids): whether each changed who is here (classrooms.batching).
    start_presence: Callable[[int, list[int]], Awaitable[list[Any]]]
    read_missed: MissedReader | None = None  # what sockets missed while the layer was down
    # Metrics (classrooms/metrics.py): a socket joined; an event reached this process's sockets this many seconds
    # after it was sent.
    joined: Callable[[], None] = lambda: None
    delivered: Callable[[float], None] = lambda _seconds: None


class Coalescer:
    """Collects (session, item) marks and hands each session's items to `publisher` once per `delay`."""

    def __init__(self, delay: float, publisher: Publisher | None) -> None:
        self.delay = delay
        self.publisher = publisher
        self.dirty: dict[int, set[int]] = defaultdict(set)
        self.timer: asyncio.TimerHandle | None = None

    def mark(self, session_id: int, item: int) -> None:
        self.dirty[session_id].add(item)
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.delay, self._flush)

    def _flush(self) -> None:
        self.timer = None
        dirty, self.dirty = self.dirty, defaultdict(set)
        if self.publisher is None:
            return
        for session_id, items in dirty.items():
            task = asyncio.create_task(self._publish(self.publisher, session_id, sorted(items)))
            _background.add(task)
            task.add_done_callback(_background.discard)

    @staticmethod
    async def _publish(publisher: Publisher, session_id: int, items: list[int]) -> None:
        try:
            await publisher(session_id, items)
        except Exception:
            logger.exception("coalesced publish failed for session %s", session_id)


class LiveHub:
    def __init__(self, layer: BaseChannelLayer | None, hooks: LiveHubHooks | None = None) -> None:
        """`hooks` None: a hub with no Django side (it fans out, and publishes, reports and re-checks nothing)."""
        self.layer = layer
        self.sessions: dict[int, _SessionFanout] = {}
        self.by_user: dict[int, set[LocalSocket]] = defaultdict(set)
        self.control_task: asyncio.Task[None] | None = None
        self.sweeper: asyncio.Task[None] | None = None
        self.layer_watch: asyncio.Task[None] | None = None
        self.layer_down = False
        self.missed_reader: MissedReader | None = hooks.read_missed if hooks else None
        self.votes = Coalescer(VOTE_FLUSH_SECONDS, hooks.announce_votes if hooks else None)
        self.attendance = Coalescer(ATTENDANCE_FLUSH_SECONDS, hooks.announce_attendance if hooks else None)
        self.presence_reporter: Publisher | None = hooks.report_presence if hooks else None
        self.role_reader: RoleReader | None = hooks.read_roles if hooks else None
        # Votes are written in batches (classrooms.batching).
        self.vote_writer: WriteBatcher[Any, Any] | None = WriteBatcher(hooks.apply_votes) if hooks else None
        self.presence_writer: WriteBatcher[int, bool] | None = WriteBatcher(hooks.start_presence) if hooks else None
        self.on_joined: Callable[[], None] = hooks.joined if hooks else lambda: None
        self.on_delivered: Callable[[float], None] = hooks.delivered if hooks else lambda _seconds: None

    # Membership ---------------------------------------------------------------------

    async def join(self, socket: LocalSocket) -> None:
        """Start hearing the session's events; returns once the layer subscription is in place."""
        fanout = self.sessions.get(socket.session_id)
        if fanout is None:
            fanout = self.sessions[socket.session_id] = _SessionFanout()
        if fanout.listener is None or fanout.listener.done():
            # The session's first socket here, or its listener could not subscribe (the layer was away): listen
            # (again); otherwise every later socket of the session would wait for a subscription that never comes.
            fanout.ready = asyncio.Event()
            fanout.listener = asyncio.create_task(self._listen(socket.session_id, fanout))
        fanout.sockets.add(socket)
        self.by_user[socket.user_id].add(socket)
        self._ensure_background()
        ready = asyncio.ensure_future(fanout.ready.wait())
        await asyncio.wait({ready, fanout.listener}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not fanout.ready.is_set():
            ready.cancel()
            await self.leave(socket)  # not left behind, half joined: the client reconnects and tries again
            raise ConnectionError(f"could not subscribe to session {socket.session_id}'s events")
        self.on_joined()

    async def leave(self, socket: LocalSocket) -> None:
        fanout = self.sessions.get(socket.session_id)
        if fanout is not None:
            fanout.sockets.discard(socket)
            if not fanout.sockets:
                del self.sessions[socket.session_id]
                await self._stop_listening(socket.session_id, fanout)
        user_sockets = self.by_user.get(socket.user_id)
        if user_sockets is not None:
            user_sockets.discard(socket)
            if not user_sockets:
                del self.by_user[socket.user_id]

    def members(self) -> dict[int, list[int]]:
        """Per session with sockets here, the user id of each socket (read from another thread by /metrics)."""
        return {session_id: [s.user_id for s in list(f.sockets)] for session_id, f in list(self.sessions.items())}

    def saw_event(self, session_id: int, event_id: int) -> None:
        """A socket's welcome held the session's events up to `event_id`: there is nothing to catch up before it."""
        fanout = self.sessions.get(session_id)
        if fanout is not None:
            fanout.last_event_id = max(fanout.last_event_id, event_id)

    def local_sockets(self, session_id: int) -> list[LocalSocket]:
        fanout = self.sessions.get(session_id)
        return list(fanout.sockets) if fanout else []

    # Listening ----------------------------------------------------------------------

    async def _listen(self, session_id: int, fanout: _SessionFanout) -> None:
        if self.layer is None:
            fanout.ready.set()
            return
        fanout.channel = await self.layer.new_channel("live-hub.")
        await self.layer.group_add(session_group(session_id), fanout.channel)
        fanout.ready.set()
        while True:
            message = await self.layer.receive(fanout.channel)
            try:
                await self._dispatch(fanout, message)
            except Exception:  # one bad event must not silence the session
                logger.exception("live fan-out failed for session %s", session_id)

    async def _stop_listening(self, session_id: int, fanout: _SessionFanout) -> None:
        if fanout.listener is not None:
            fanout.listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fanout.listener
        if self.layer is not None and fanout.channel is not None:
            try:
                await self.layer.group_discard(session_group(session_id), fanout.channel)
            except Exception:  # the layer is away: the subscription went with its connection anyway
                logger.info("leaving session %s's group failed", session_id, exc_info=True)

    async def _dispatch(self, fanout: _SessionFanout, message: dict[str, Any]) -> None:
        # Whatever the event changed, a snapshot read before it no longer shows.
        fanout.generation += 1
        fanout.snapshot = None
        text: str = message["text"]
        moderators_only: bool = message.get("moderators_only", False)
        private: dict[str, Any] | None = message.get("private")
        # A moderators-only message may name other users who receive it too (a room's operators: alerts).
        audience: frozenset[int] = frozenset(message.get("audience") or ())
        for socket in list(fanout.sockets):
            try:
                if not moderators_only or socket.is_moderator or socket.user_id in audience:
                    await socket.deliver(text)
                elif private is not None and private["user_id"] == socket.user_id:
                    await socket.deliver(private["text"])
            except Exception:
                # A socket whose client just went (its disconnect not yet handled) raises on send;
                # the sockets after it in this loop must still get the event.
                logger.info("live fan-out to one socket of session %s failed", socket.session_id, exc_info=True)
        event_id = message.get("event_id")
        if isinstance(event_id, int):
            fanout.last_event_id = max(fanout.last_event_id, event_id)
        sent_at = message.get("sent_at")
        if isinstance(sent_at, float) and fanout.sockets:
            self.on_delivered(max(0.0, time.time() - sent_at))

    # Shared snapshots ----------------------------------------------------------------

    def snapshot_generation(self, session_id: int) -> int:
        """How many events this hub has handed out for the session: read once a socket has joined."""
        fanout = self.sessions.get(session_id)
        return fanout.generation if fanout is not None else -1

    async def shared_snapshot(self, session_id: int, since: int, build: Callable[[], Awaitable[Any]]) -> Any:
        """The part of a welcome that is the same for every trainee, read once for a burst of joins.

        `since`: the session's generation when the asking socket had joined (`snapshot_generation`). Every event
        handed out after that reaches the socket, so any snapshot whose reading began no earlier (no event handed
        out in between) is one it may start from: together they miss nothing. A snapshot is shared while no event
        has come since its reading began, for at most SNAPSHOT_MAX_AGE_SECONDS; joins arriving while one is read
        wait for it rather than read their own. The caller must not change the value.
        """
        fanout = self.sessions.get(session_id)
        if fanout is None or since < 0:
            return await build()
        now = time.monotonic()
        for candidate in (fanout.snapshot, fanout.building):
            if (
                candidate is not None
                and candidate.generation == fanout.generation
                and candidate.generation >= since
                and now - candidate.started < SNAPSHOT_MAX_AGE_SECONDS
            ):
                if candidate is fanout.snapshot:
                    return candidate.value
                try:
                    return await asyncio.shield(candidate.value)
                except asyncio.CancelledError:
                    if not candidate.value.cancelled():
                        raise  # this join was cancelled, not the reading it waited for
                    return await build()  # that reading failed: its own caller has the error
        building = _Snapshot(fanout.generation, now, asyncio.get_running_loop().create_future())
        fanout.building = building
        try:
            value = await build()
        except BaseException:
            building.value.cancel()
            raise
        finally:
            if fanout.building is building:
                fanout.building = None
        building.value.set_result(value)
        if fanout.generation == building.generation:
            fanout.snapshot = _Snapshot(building.generation, building.started, value)
        return value

    # Control: closing a user's sockets from anywhere ----------------------------------

    def _ensure_background(self) -> None:
        if self.control_task is None or self.control_task.done():
            self.control_task = asyncio.create_task(self._listen_control())
        if self.sweeper is None or self.sweeper.done():
            self.sweeper = asyncio.create_task(self._sweep())
        if self.layer is not None and (self.layer_watch is None or self.layer_watch.done()):
            self.layer_watch = asyncio.create_task(self._watch_layer())

    # The layer going away and coming back -------------------------------------------

    async def _watch_layer(self) -> None:
        """Probe the layer while sessions have sockets here; after an outage, catch every socket up."""
        assert self.layer is not None
        probes = itertools.count(1)
        channel: str | None = None
        confirmed: dict[int, int] = {}  # per session, the last event delivered when the layer was last known good
        while self.sessions:
            await asyncio.sleep(LAYER_PROBE_SECONDS)
            number = next(probes)
            try:
                async with asyncio.timeout(LAYER_PROBE_TIMEOUT_SECONDS):
                    if channel is None:
                        channel = await self.layer.new_channel("live-probe.")
                    await self.layer.send(channel, {"type": "live.probe", "number": number})
                    while (await self.layer.receive(channel)).get("number") != number:
                        pass  # a late answer to an earlier probe
            except Exception:  # ConnectionError, TimeoutError, whatever the layer's client raises
                if not self.layer_down:
                    logger.warning("the channel layer is unavailable: live events are not reaching this process")
                self.layer_down = True
                continue
            if self.layer_down:
                self.layer_down = False
                logger.warning("the channel layer is back: catching live sockets up on what they missed")
                await self.catch_up(confirmed)
            confirmed = {session_id: fanout.last_event_id for session_id, fanout in self.sessions.items()}

    async def catch_up(self, after: dict[int, int]) -> None:
        """Send each session's sockets the events after `after[session]` (what this process had delivered before)."""
        if self.missed_reader is None:
            return
        for session_id, fanout in list(self.sessions.items()):
            # Events missed in the outage never bumped the generation: a cached shared snapshot may predate them.
            fanout.generation += 1
            fanout.snapshot = None
            since = after.get(session_id, fanout.last_event_id)
            try:
                frames = await self.missed_reader(session_id, since)
            except Exception:
                logger.exception("catching up session %s after a layer outage failed", session_id)
                continue
            for socket in list(fanout.sockets):
                try:
                    if frames is None:
                        await socket.force_close("resync", "")  # too much missed: reconnect for a fresh welcome
                    else:
                        await socket.deliver(frames[0] if socket.is_moderator else frames[1])
                except Exception:
                    logger.info("catch-up of one socket of session %s failed", session_id, exc_info=True)

    async def _listen_control(self) -> None:
        if self.layer is None:
            return
        channel = await self.layer.new_channel("live-control.")
        await self.layer.group_add(CONTROL_GROUP, channel)
        try:
            while True:
                message = await self.layer.receive(channel)
                try:
                    await self._control(message)
                except Exception:
                    logger.exception("live control message failed")
        finally:
            # The in-memory layer outlives event loops (each test has its own):
            # leave no channel behind that belongs to a closed loop.
            await self.layer.group_discard(CONTROL_GROUP, channel)

    async def _control(self, message: dict[str, Any]) -> None:
        sockets = list(self.by_user.get(message["user_id"], ()))
        for socket in sockets:
            if message.get("code") == "role_changed" and await socket.recheck_role():
                continue  # the change was not about this session
            await socket.force_close(message.get("code", "signed_out"), message.get("message", ""))

    async def _sweep(self) -> None:
        """Close sockets that went silent (a dead link is noticed within the silence limit)
        and report who is still here, so attendance knows the living from the dead."""
        last_report = last_recheck = time.monotonic()
        while self.sessions:
            await asyncio.sleep(SWEEP_SECONDS)
            await self.close_silent()
            if time.monotonic() - last_report >= PRESENCE_REPORT_SECONDS:
                last_report = time.monotonic()
                await self.report_presence()
            if time.monotonic() - last_recheck >= ROLE_RECHECK_SECONDS:
                last_recheck = time.monotonic()
                await self.recheck_roles()

    async def recheck_roles(self) -> None:
        """Close the sockets of users who lost their part in the session; update the others'."""
        if self.role_reader is None:
            return
        for session_id, fanout in list(self.sessions.items()):
            sockets = list(fanout.sockets)
            try:
                parts = await self.role_reader(session_id, sorted({s.user_id for s in sockets}))
            except Exception:
                logger.exception("role recheck failed for session %s", session_id)
                continue
            for socket in sockets:
                part = parts.get(socket.user_id)
                if part is None:
                    await socket.force_close("forbidden_now", "")
                else:
                    socket.set_participant(part)

    async def close_silent(self) -> None:
        deadline = time.monotonic() - SILENCE_LIMIT_SECONDS
        for fanout in list(self.sessions.values()):
            for socket in list(fanout.sockets):
                if socket.last_heard < deadline:
                    await socket.force_close("timeout", "No heartbeat for 30 seconds.")

    async def report_presence(self) -> None:
        if self.presence_reporter is None:
            return
        for session_id, fanout in list(self.sessions.items()):
            user_ids = [s.user_id for s in fanout.sockets if s.counts_attendance]
            if user_ids:
                try:
                    await self.presence_reporter(session_id, user_ids)
                except Exception:
                    logger.exception("presence report failed for session %s", session_id)

    # Coalescing --------------------------------------------------------------------

    def votes_changed(self, session_id: int, question_id: int) -> None:
        self.votes.mark(session_id, question_id)

    def attendance_changed(self, session_id: int) -> None:
        self.attendance.mark(session_id, session_id)


_background: set[asyncio.Task[None]] = set()
