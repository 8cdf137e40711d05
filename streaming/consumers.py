"""The media signaling socket: `/ws/sessions/<id>/media/`. Protocol: docs/live-protocol.md ("Media signaling").

Thin: it admits and authorises (like the session socket, with the same close codes), then hands SDP and ICE to
the process's Sfu through `streaming.signaling.media_hub()`. SfuError and CorridorError become error frames in
`_receive`, the one place; the socket stays open after an error.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from classrooms import selectors as classroom_selectors
from classrooms.models import LiveSession
from classrooms.selectors import MODERATORS, Participant
from lms.errors import CorridorError
from streaming.selectors import ice_servers_for_user
from streaming.sfu import SfuError
from streaming.signaling import MediaHub, media_hub, session_key

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024  # a browser's offer with several m-lines and candidates
MESSAGES_PER_SECOND = 50  # trickled ICE candidates come in bursts
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
# Who may publish without an invitation (room agents will join them).
PUBLISHERS = frozenset({Participant.INSTRUCTOR, Participant.ADMINISTRATOR})

# The Sfu speaks English without Django; its codes get the user's language here.
SFU_MESSAGES = {
    "bad_sdp": gettext_lazy("That session description could not be used."),
    "no_codec": gettext_lazy("Your browser offered no audio or video codec the server can forward."),
    "bad_candidate": gettext_lazy("That ICE candidate could not be parsed."),
    "unknown_mid": gettext_lazy("That ICE candidate names a media section that does not exist."),
    "unknown_track": gettext_lazy("No such track in this session."),
    "unknown_peer": gettext_lazy("You have nothing to do that with: publish or subscribe first."),
    "no_tracks": gettext_lazy("Nothing is published in this session yet."),
    "closed": gettext_lazy("The media server is shutting down; reconnect in a moment."),
}

Handler = Callable[["MediaConsumer", dict[str, Any]], Awaitable[dict[str, Any]]]


class MediaConsumer(AsyncWebsocketConsumer):
    session: LiveSession | None = None
    participant: Participant | None = None
    language = "en"
    session_id = 0
    user_id = 0
    peer_id = ""
    role = ""
    joined = False

    async def connect(self) -> None:
        # Accept first, as the session socket does: the client gets a close code, not a bare HTTP 403.
        await self.accept()
        user = self.scope.get("user")
        self.language = getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE
        with translation.override(self.language):
            await self._connect(user)

    async def _connect(self, user: Any) -> None:
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED, "unauthenticated", _("Sign in to join this session."))
            return
        try:
            session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        except (KeyError, ValueError):
            session_id = 0
        self.session, self.participant, ice_servers = await self._load(session_id, user)
        if self.session is None:
            await self._refuse(CLOSE_NOT_FOUND, "session_not_found", _("That session does not exist."))
            return
        if self.participant is None:
            await self._refuse(CLOSE_FORBIDDEN, "forbidden", _("You are not a participant of this session."))
            return
        self.user = user
        self.session_id, self.user_id, self.role = self.session.pk, user.pk, str(self.participant)
        # One peer per socket: a second tab of the same user is a second peer, not a replacement.
        self.peer_id = f"{user.pk}-{secrets.token_hex(4)}"
        self.bucket_started, self.bucket_count = time.monotonic(), 0
        await self.hub.join(self)
        self.joined = True
        welcome = {
            "ice_servers": ice_servers,
            "peer_id": self.peer_id,
            "can_publish": self.can_publish(),
            "tracks": self.hub.tracks(self.session_id),
        }
        await self._send({"type": "welcome", "data": welcome})

    async def disconnect(self, code: int) -> None:
        if self.joined:
            self.joined = False
            await self.hub.leave(self)

    @property
    def hub(self) -> MediaHub:
        stun = [{"urls": list(settings.STUN_URLS)}] if settings.STUN_URLS else []
        return media_hub(ice_servers=stun)

    @property
    def key(self) -> str:
        return session_key(self.session_id)

    def can_publish(self) -> bool:
        return self.participant in PUBLISHERS or (
            self.participant == Participant.TRAINEE and self.hub.is_invited(self.session_id, self.user_id)
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.joined:
            return
        with translation.override(self.language):
            await self._receive(text_data)

    async def _receive(self, text_data: str | None) -> None:
        ref: Any = None
        try:
            message = self._parse(text_data)
            ref = message.get("ref")
            self._rate_limit()
            handler = HANDLERS.get(message["type"])
            if handler is None:
                raise CorridorError("unknown_type", _("Unknown message type: %(type)s") % {"type": message["type"]})
            reply = await handler(self, message)
            await self._send_quietly({**reply, "ref": ref} if ref is not None else reply)
        except CorridorError as error:
            await self._send_error(error.code, str(error.message), ref)
        except SfuError as error:
            await self._send_error(error.code, str(SFU_MESSAGES.get(error.code, error.message)), ref)

    # The hub's side (streaming.signaling.MediaSocket) -----------------------------------

    async def deliver(self, frame: dict[str, Any]) -> None:
        if self.joined:
            await self._send_quietly(frame)

    # Guards --------------------------------------------------------------------------------

    def _parse(self, text_data: str | None) -> dict[str, Any]:
        if text_data is None:
            raise CorridorError("invalid_message", _("Messages are JSON text frames."))
        if len(text_data.encode()) > MAX_MESSAGE_BYTES:
            raise CorridorError("too_large", _("A media message is limited to 64 KB."))
        try:
            message = json.loads(text_data)
        except ValueError:
            raise CorridorError("malformed_json", _("That message is not valid JSON.")) from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise CorridorError("invalid_message", _("A message is a JSON object with a string `type`."))
        return message

    def _rate_limit(self) -> None:
        now = time.monotonic()
        if now - self.bucket_started >= 1.0:
            self.bucket_started, self.bucket_count = now, 0
        self.bucket_count += 1
        if self.bucket_count > MESSAGES_PER_SECOND:
            raise CorridorError("rate_limited", _("Too many messages; slow down."))

    async def recheck_role(self) -> None:
        """Per-message authorisation for what changes rights: the user's part in the session, read again."""
        assert self.session is not None
        self.participant = await database_sync_to_async(classroom_selectors.session_participant)(
            session=self.session, user=self.user
        )
        if self.participant is None:
            raise CorridorError("forbidden", _("You are no longer a participant of this session."), status=403)
        self.role = str(self.participant)

    # Outgoing ------------------------------------------------------------------------------

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def _send_quietly(self, frame: dict[str, Any]) -> None:
        try:
            await self._send(frame)
        except Exception:
            logger.info("media frame to a closed socket dropped", exc_info=True)

    async def _send_error(self, code: str, message: str, ref: Any) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if ref is not None:
            frame["ref"] = ref
        await self._send_quietly(frame)

    async def _refuse(self, code: int, error_code: str, message: str) -> None:
        await self._send({"type": "error", "code": error_code, "message": message})
        await self.close(code=code, reason=error_code)

    @database_sync_to_async
    def _load(self, session_id: int, user: Any) -> tuple[LiveSession | None, Participant | None, list[Any]]:
        session = LiveSession.objects.select_related("course").filter(pk=session_id).first()
        if session is None:
            return None, None, []
        participant = classroom_selectors.session_participant(session=session, user=user)
        return session, participant, list(ice_servers_for_user(user=user)) if participant else []


# Message handlers: one per type, each authorising its own message. ------------------------------


def _sdp(message: dict[str, Any]) -> str:
    sdp = message.get("sdp")
    if not isinstance(sdp, str):
        raise CorridorError("bad_sdp", _("`sdp` is the session description text."))
    return sdp


async def handle_publish(consumer: MediaConsumer, message: dict[str, Any]) -> dict[str, Any]:
    sdp = _sdp(message)
    await consumer.recheck_role()
    if not consumer.can_publish():
        raise CorridorError("forbidden", _("Only the instructor, or a trainee invited to speak, can publish."))
    answer = await consumer.hub.sfu.publish(session_key=consumer.key, publisher_id=consumer.peer_id, offer_sdp=sdp)
    await consumer.hub.announce_tracks(consumer.session_id)
    return {"type": "media.answer", "sdp": answer["sdp"], "tracks": answer["tracks"]}


async def handle_subscribe(consumer: MediaConsumer, message: dict[str, Any]) -> dict[str, Any]:
    track_ids = message.get("track_ids")
    if track_ids is not None and (not isinstance(track_ids, list) or not all(isinstance(t, str) for t in track_ids)):
        raise CorridorError("invalid_message", _("`track_ids` is a list of track ids."))
    offer = await consumer.hub.sfu.subscribe(
        session_key=consumer.key, subscriber_id=consumer.peer_id, track_ids=track_ids
    )
    return {"type": "media.offer", "sdp": offer["sdp"], "tracks": offer["tracks"]}


async def handle_answer(consumer: MediaConsumer, message: dict[str, Any]) -> dict[str, Any]:
    await consumer.hub.sfu.subscriber_answer(
        session_key=consumer.key, subscriber_id=consumer.peer_id, answer_sdp=_sdp(message)
    )
    return {"type": "ack"}


async def handle_candidate(consumer: MediaConsumer, message: dict[str, Any]) -> dict[str, Any]:
    candidate, mid, index = message.get("candidate", ""), message.get("mid"), message.get("mline_index")
    role = message.get("role", "publisher")
    if (
        not isinstance(candidate, str)
        or not (mid is None or isinstance(mid, str))
        or not (index is None or (isinstance(index, int) and not isinstance(index, bool)))
        or role not in ("publisher", "subscriber")
    ):
        raise CorridorError(
            "invalid_message",
            _("A candidate has a string `candidate`, a `mid` and a `role` (publisher or subscriber)."),
        )
    await consumer.hub.sfu.add_ice_candidate(
        session_key=consumer.key,
        peer_id=consumer.peer_id,
        role="publisher" if role == "publisher" else "subscriber",
        candidate=candidate,
        sdp_mid=mid,
        sdp_mline_index=index,
    )
    return {"type": "ack"}


async def handle_unpublish(consumer: MediaConsumer, message: dict[str, Any]) -> dict[str, Any]:
    # The Sfu's publisher_left event announces the change to everyone.
    await consumer.hub.sfu.unpublish(session_key=consumer.key, publisher_id=consumer.peer_id)
    return {"type": "ack"}


async def _speaker(consumer: MediaConsumer, message: dict[str, Any]) -> int:
    """The trainee named by a moderator's invite or revoke."""
    await consumer.recheck_role()
    if consumer.participant not in MODERATORS:
        raise CorridorError("forbidden", _("Only the instructor or a moderator can do that."), status=403)
    user_id = message.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise CorridorError("invalid_id", _("`user_id` is a user's id."))
    assert consumer.session is not None
    if await _part_of(consumer.session, user_id) != Participant.TRAINEE:
        raise CorridorError("not_a_trainee", _("Only a trainee of this session can be invited to speak."))
    return user_id


@database_sync_to_async
def _part_of(session: LiveSession, user_id: int) -> Participant | None:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return classroom_selectors.session_participant(session=session, user=user) if user else None


async def handle_invite(consumer: MediaConsumer, message: dict[str, Any]) -> dict[str, Any]:
    user_id = await _speaker(consumer, message)
    consumer.hub.invite(consumer.session_id, user_id)
    for socket in consumer.hub.sockets_of(consumer.session_id, user_id):
        await socket.deliver({"type": "media.can_publish", "can_publish": True})
    return {"type": "ack", "user_id": user_id}


async def handle_revoke(consumer: MediaConsumer, message: dict[str, Any]) -> dict[str, Any]:
    user_id = await _speaker(consumer, message)
    hub = consumer.hub
    hub.revoke(consumer.session_id, user_id)
    published = {track["publisher_id"] for track in hub.tracks(consumer.session_id) if track["user_id"] == user_id}
    for socket in hub.sockets_of(consumer.session_id, user_id):
        await socket.deliver({"type": "media.can_publish", "can_publish": False})
        if socket.peer_id in published:
            await hub.sfu.unpublish(session_key=consumer.key, publisher_id=socket.peer_id)
    return {"type": "ack", "user_id": user_id}


HANDLERS: dict[str, Handler] = {
    "media.publish": handle_publish,
    "media.subscribe": handle_subscribe,
    "media.answer": handle_answer,
    "media.candidate": handle_candidate,
    "media.unpublish": handle_unpublish,
    "media.invite": handle_invite,
    "media.revoke": handle_revoke,
}
