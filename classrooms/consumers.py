"""The live-session socket: `/ws/sessions/<id>/`. Protocol: docs/live-protocol.md.

The consumer routes and authorises; services do the work. Every write is
committed (with its LiveEvent) before the broadcast leaves, and a client that
reconnects catches up from the database with `sync`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError
from django.utils import translation
from django.utils.translation import gettext as _

from classrooms import messages
from classrooms.live_hubs import hub
from classrooms.models import LiveSession
from classrooms.selectors import sessions as session_selectors
from classrooms.selectors.participants import (
    MODERATORS,
    Participant,
    SessionEntry,
    session_entry,
    session_participant,
)
from classrooms.services import attendance, hands, polls, qa, sessions
from classrooms.services.audit import audit_record, scope_address
from classrooms.services.recording import session_recording_switch
from lms.accounts.models import User
from lms.close_codes import CloseCode
from lms.db_async import database_parallel
from lms.errors import DATABASE_UNAVAILABLE, CorridorError
from lms.socket_frames import FrameRateLimit, NoFields, Route, error_frame, handler_for, parse_json_frame, with_ref
from lms.socket_quota import TOO_MANY_SOCKETS, SocketClaim

logger = logging.getLogger(__name__)


MAX_MESSAGE_BYTES = 16 * 1024
MESSAGES_PER_SECOND = 20
SYNC_MIN_INTERVAL = 2  # seconds between two `sync` requests of one socket
SYNC_LIMIT = session_selectors.SYNC_LIMIT


class LiveSessionConsumer(AsyncWebsocketConsumer):
    # Sockets do not listen on the channel layer themselves: the process's hub
    # (classrooms.fanout) listens once per session and writes to them directly.
    channel_layer_alias = "live-sockets-use-the-hub"

    session: LiveSession | None = None
    participant: Participant | None = None
    language = "en"
    session_id = 0
    user_id = 0
    is_moderator = False
    counts_attendance = False
    joined = False
    socket_claim: SocketClaim | None = None
    last_sync = 0.0

    async def connect(self) -> None:
        # Daphne turns a close before accept into a bare HTTP 403; accept first so the
        # client gets a close code and a reason it can show.
        await self.accept()
        self.last_heard = time.monotonic()
        user = self.scope.get("user")
        # Error messages speak the user's language (the page does; the socket has no URL prefix).
        self.language = getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE
        with translation.override(self.language):
            await self._connect(user)

    async def _connect(self, user: User | AnonymousUser | None) -> None:
        if user is None or not user.is_authenticated:
            await self._refuse(CloseCode.UNAUTHENTICATED, "unauthenticated", _("Sign in to join this session."))
            return
        try:
            session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        except (KeyError, ValueError):
            session_id = 0
        entry = await self._load(session_id, user)
        self.session, self.participant = entry.session, entry.participant
        if self.session is None:
            await self._refuse(CloseCode.NOT_FOUND, "session_not_found", _("That session does not exist."))
            return
        if self.participant is None:
            await self._refuse(CloseCode.FORBIDDEN, "forbidden", _("You are not a participant of this session."))
            return
        self.socket_claim = SocketClaim(user_id=user.pk, socket_id=secrets.token_hex(8))
        if not await self.socket_claim.claim():
            await self._refuse(CloseCode.FLOODED, "too_many_sockets", str(TOO_MANY_SOCKETS))
            return
        self.user = user
        self.session_id, self.user_id = self.session.pk, user.pk
        self.is_moderator = self.participant in MODERATORS
        self.rate_limit = FrameRateLimit(MESSAGES_PER_SECOND)
        # Events that arrive while the snapshot is read wait here; the client drops
        # any it already has (event_id <= the snapshot's last_event_id).
        self.pending: list[str] | None = []
        live_hub = hub()
        try:
            await live_hub.join(self)
        except ConnectionError:  # the channel layer is away (Redis restarting): try again shortly
            await self.socket_claim.release()
            message = _("Live updates are unavailable for a moment: reconnecting.")
            await self._refuse(CloseCode.SILENT, "unavailable", message)
            return
        self.joined = True
        # Trainees' presence is their attendance; staff are there to teach and run the rooms.
        self.counts_attendance = self.participant == Participant.TRAINEE
        since = live_hub.snapshot_generation(self.session_id)
        # A trainee's presence is written with the other sockets opening now, in one batch (classrooms.batching),
        # while this socket reads its own part of the welcome.
        presence = (
            asyncio.ensure_future(live_hub.presence_writer.submit(self.session_id, user.pk))
            if self.counts_attendance and live_hub.presence_writer is not None
            else None
        )
        if self.is_moderator or entry.has_voted:
            personal = await self._personal(entry.hand_raised)
        else:  # known from the entry query: no query, no hop to a database thread
            personal = session_selectors.session_personal_snapshot(
                session=self.session,
                participant=self.participant,
                user=user,
                hand_raised=entry.hand_raised,
                has_voted=False,
            )
        presence_changed = await presence if presence is not None else False
        if self.is_moderator:  # a few per session: hidden questions, hands, who is here; read afresh
            shared = await database_parallel(session_selectors.session_shared_snapshot)(
                session=self.session, include_hidden=True
            )
        else:
            shared = await live_hub.shared_snapshot(self.session_id, since, self._shared_snapshot)
        snapshot = session_selectors.session_snapshot_for(
            session=self.session,
            recorded=self.session.recorded,  # just read, with the session
            participant=self.participant,
            user=user,
            shared=shared,
            personal=personal,
        )
        live_hub.saw_event(self.session_id, snapshot["last_event_id"])
        if presence_changed:
            live_hub.attendance_changed(self.session_id)
        await self._send({"type": "welcome", "data": snapshot})
        while self.pending:
            await self.send(text_data=self.pending.pop(0))
        self.pending = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch first closes stale database connections on the shared sync
        # thread: a thread hop for every frame a client sends (a sixth of the server's time
        # under bench/live_load.py). This consumer reaches the database only through
        # database_sync_to_async, which does that around each call itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code: int) -> None:
        await self._leave()
        if self.socket_claim is not None:
            await self.socket_claim.release()

    async def _leave(self) -> None:
        if not self.joined:
            return
        self.joined = False
        await hub().leave(self)
        if self.counts_attendance:
            changed = await database_sync_to_async(attendance.remote_presence_end)(
                session=self.session, user=self.user, announce=False
            )
            if changed:
                hub().attendance_changed(self.session_id)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None or self.participant is None:
            return
        with translation.override(self.language):
            await self._receive(text_data, bytes_data)

    async def _receive(self, text_data: str | None, bytes_data: bytes | None) -> None:
        self.last_heard = time.monotonic()
        if self.socket_claim is not None:
            await self.socket_claim.refresh()
        ref: Any = None
        try:
            self.rate_limit.spend()
            message = parse_json_frame(
                text_data, max_bytes=MAX_MESSAGE_BYTES, too_large=_("A message is limited to 16 KB.")
            )
            ref = message.get("ref")
            reply = await handler_for(HANDLERS, message)(self, message)
            if reply is not None:
                await self._send_reply(with_ref(reply, ref))
        except (OperationalError, InterfaceError):
            # The database is away (restarting, cut off): the write rolled back with its transaction, so say so
            # and keep the socket; closing it would only make every page reconnect into the same outage.
            logger.warning("live socket message refused: the database is unavailable", exc_info=True)
            await self._send_error(CorridorError("database_unavailable", DATABASE_UNAVAILABLE, status=503), ref)
        except CorridorError as error:
            await self._send_error(error, ref)
            if error.code == "flooded":
                await self.close(code=CloseCode.FLOODED, reason="flooded")
                await self._leave()

    # The hub's side (classrooms.fanout.LocalSocket) -----------------------------------

    async def deliver(self, text: str) -> None:
        if self.pending is not None:
            self.pending.append(text)
        elif self.joined:
            await self.base_send({"type": "websocket.send", "text": text})

    async def force_close(self, code: str, message: str) -> None:
        if not self.joined:
            return
        reconnect = {"timeout": CloseCode.SILENT, "resync": CloseCode.SILENT}
        close_code = {**reconnect, "forbidden_now": CloseCode.FORBIDDEN}.get(code, CloseCode.SIGNED_OUT)
        if not message:
            with translation.override(self.language):
                if code == "resync":
                    message = _("The connection missed too much: reconnecting.")
                else:
                    message = _("You are no longer a participant of this session.")
        await self._send({"type": "error", "code": code, "message": message})
        await self.close(code=close_code, reason=code)
        # Leave now: the server's disconnect may come later, and nothing more may be sent.
        await self._leave()

    def set_participant(self, participant: Any) -> None:
        self.participant = participant
        self.is_moderator = participant in MODERATORS

    async def recheck_role(self) -> bool:
        """Is the user still a participant? Updates their part in the session."""
        assert self.session is not None
        participant = await database_sync_to_async(session_participant)(session=self.session, user=self.user)
        if participant is None:
            return False
        self.participant = participant
        self.is_moderator = participant in MODERATORS
        return True

    # Parsing and guards --------------------------------------------------------------

    def require_moderator(self) -> None:
        if self.participant not in MODERATORS:
            raise CorridorError("forbidden", _("Only the instructor or a moderator can do that."), status=403)

    # Outgoing ------------------------------------------------------------------------

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def _send_reply(self, frame: dict[str, Any]) -> None:
        try:
            await self._send(frame)
        except Exception:
            # The client left while its request was being handled (the write is done): the server
            # raises on a send to a closed socket, and there is nobody left to tell.
            logger.info("reply to a closed socket dropped", exc_info=True)

    async def _send_error(self, error: CorridorError, ref: Any) -> None:
        await self._send(error_frame(error.code, str(error.message), ref))

    async def _refuse(self, code: int, error_code: str, message: str) -> None:
        await self._send(error_frame(error_code, message, None))
        await self.close(code=code, reason=error_code)

    # Database helpers ----------------------------------------------------------------

    @database_parallel
    def _load(self, session_id: int, user: User) -> SessionEntry:
        return session_entry(session_id=session_id, user=user)

    @database_parallel
    def _personal(self, hand_raised: bool) -> dict[str, Any]:
        """The user's own part of the welcome (their votes, their questions, their hand)."""
        assert self.session is not None
        assert self.participant is not None
        return session_selectors.session_personal_snapshot(
            session=self.session, participant=self.participant, user=self.user, hand_raised=hand_raised
        )

    async def _shared_snapshot(self) -> dict[str, Any]:
        """What every trainee's welcome holds (built once for a burst of joins by the hub)."""
        assert self.session is not None
        return await database_parallel(session_selectors.session_shared_snapshot)(
            session=self.session, include_hidden=False
        )

    @database_sync_to_async
    def _snapshot(self) -> dict[str, Any]:
        assert self.session is not None
        assert self.participant is not None
        return session_selectors.session_snapshot(session=self.session, participant=self.participant, user=self.user)

    async def audit(self, action: str, details: dict[str, Any]) -> None:
        """Record a moderator's action on the session in the audit log (address: the socket's client)."""
        await database_sync_to_async(audit_record)(
            actor=self.user,
            action=action,
            target=f"session {self.session_id}",
            address=scope_address(self.scope),
            details={**details, "via": "socket"},
        )

    async def call(self, service: Callable[..., Any], **kwargs: Any) -> Any:
        return await database_sync_to_async(service)(session=self.session, user=self.user, **kwargs)


# Message handlers: one per type, each authorising its own message, which its schema has checked. ------------


async def handle_sync(consumer: LiveSessionConsumer, message: messages.Sync) -> dict[str, Any]:
    # Catching up reads the database (and may rebuild the whole snapshot): a page needs it once per reconnect.
    now = time.monotonic()
    if now - consumer.last_sync < SYNC_MIN_INTERVAL:
        raise CorridorError(
            "rate_limited", _("Catching up is allowed once every %(seconds)d seconds.") % {"seconds": SYNC_MIN_INTERVAL}
        )
    consumer.last_sync = now
    is_moderator = consumer.participant in MODERATORS
    events = await database_sync_to_async(session_selectors.events_since)(
        session=consumer.session, after_id=message.after, include_moderator_events=is_moderator, limit=SYNC_LIMIT + 1
    )
    if len(events) > SYNC_LIMIT:  # too far behind: start again from a fresh snapshot
        return {"type": "welcome", "data": await consumer._snapshot()}
    return {
        "type": "synced",
        "events": [{"type": e.kind, "event_id": e.pk, "data": e.payload} for e in events],
    }


async def handle_heartbeat(consumer: LiveSessionConsumer, message: NoFields) -> dict[str, Any]:
    return {"type": "pong"}


async def handle_question_ask(consumer: LiveSessionConsumer, message: messages.QuestionAsk) -> dict[str, Any]:
    question = await consumer.call(qa.question_ask, text=message.text)
    return {"type": "ack", "id": question.pk}


async def handle_question_vote(consumer: LiveSessionConsumer, message: messages.QuestionVote) -> dict[str, Any]:
    vote_writer = hub().vote_writer
    assert vote_writer is not None  # the application's hub is built with its hooks (classrooms.live_hubs)
    outcome: qa.VoteOutcome = await vote_writer.submit(
        consumer.session_id, qa.VoteRequest(consumer.user_id, message.question_id, message.up)
    )
    if outcome.changed:
        hub().votes_changed(consumer.session_id, outcome.question.pk)
    return {"type": "ack", "id": outcome.question.pk, "votes": outcome.question.vote_count}


async def handle_question_answer(consumer: LiveSessionConsumer, message: messages.QuestionAnswer) -> dict[str, Any]:
    consumer.require_moderator()
    question = await consumer.call(qa.question_answer, question_id=message.question_id, text=message.text)
    return {"type": "ack", "id": question.pk}


async def handle_question_moderate(consumer: LiveSessionConsumer, message: messages.QuestionModerate) -> dict[str, Any]:
    consumer.require_moderator()
    question = await consumer.call(qa.question_moderate, question_id=message.question_id, action=message.action)
    return {"type": "ack", "id": question.pk}


async def handle_poll_open(consumer: LiveSessionConsumer, message: messages.PollOpen) -> dict[str, Any]:
    consumer.require_moderator()
    poll = await consumer.call(polls.poll_open, prompt=message.prompt, choices=message.choices)
    return {"type": "ack", "id": poll.pk}


async def handle_poll_vote(consumer: LiveSessionConsumer, message: messages.PollVote) -> dict[str, Any]:
    poll = await consumer.call(polls.poll_vote, poll_id=message.poll_id, choice_id=message.choice_id)
    return {"type": "ack", "id": poll.pk}


async def handle_poll_close(consumer: LiveSessionConsumer, message: messages.PollClose) -> dict[str, Any]:
    consumer.require_moderator()
    poll = await consumer.call(polls.poll_close, poll_id=message.poll_id)
    return {"type": "ack", "id": poll.pk}


async def handle_hand_raise(consumer: LiveSessionConsumer, message: NoFields) -> dict[str, Any]:
    if consumer.participant != Participant.TRAINEE:
        raise CorridorError("forbidden", _("Only trainees raise hands."), status=403)
    await consumer.call(hands.hand_raise)
    return {"type": "ack"}


async def handle_hand_lower(consumer: LiveSessionConsumer, message: messages.HandLower) -> dict[str, Any]:
    user_id = consumer.user.pk if message.user_id is None else message.user_id
    if user_id != consumer.user.pk:
        consumer.require_moderator()
    await consumer.call(hands.hand_lower, user_id=user_id)
    return {"type": "ack"}


async def handle_session_state(consumer: LiveSessionConsumer, message: messages.SessionStateChange) -> dict[str, Any]:
    """The instructor (or an administrator) starts and ends the session: the same services (and row lock) as the
    page's buttons, so a socket opened before the session ended, holding a stale copy, cannot reopen it."""
    consumer.require_moderator()
    assert consumer.session is not None
    # The services refresh the consumer's copy of the session's state in place.
    session = await database_sync_to_async(sessions.session_set_state)(
        session=consumer.session, state=message.state, by=consumer.user
    )
    await consumer.audit("session.state", {"state": message.state})
    return {"type": "ack", "id": session.pk, "state": session.state}


async def handle_session_recording(consumer: LiveSessionConsumer, message: messages.SessionRecording) -> dict[str, Any]:
    """A moderator switches recording on or off; the service checks who asks and re-reads the session."""
    session = await database_sync_to_async(session_recording_switch)(
        session=consumer.session, by=consumer.user, recorded=message.recorded
    )
    await consumer.audit("session.recording", {"recorded": message.recorded})
    return {"type": "ack", "recorded": session.recorded}


# Each message type: the schema its fields are checked against (classrooms.messages), and its handler.
HANDLERS: dict[str, Route[LiveSessionConsumer, Any, dict[str, Any] | None]] = {
    "sync": Route(messages.Sync, handle_sync),
    "heartbeat": Route(NoFields, handle_heartbeat),
    "question.ask": Route(messages.QuestionAsk, handle_question_ask),
    "question.vote": Route(messages.QuestionVote, handle_question_vote),
    "question.answer": Route(messages.QuestionAnswer, handle_question_answer),
    "question.moderate": Route(messages.QuestionModerate, handle_question_moderate),
    "poll.open": Route(messages.PollOpen, handle_poll_open),
    "poll.vote": Route(messages.PollVote, handle_poll_vote),
    "poll.close": Route(messages.PollClose, handle_poll_close),
    "hand.raise": Route(NoFields, handle_hand_raise),
    "hand.lower": Route(messages.HandLower, handle_hand_lower),
    "session.state": Route(messages.SessionStateChange, handle_session_state),
    "session.recording": Route(messages.SessionRecording, handle_session_recording),
}
