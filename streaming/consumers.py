"""The media signaling socket: `/ws/sessions/<id>/media/`. Protocol: docs/live-protocol.md ("Media signaling").

Thin: it admits and authorises (like the session socket, with the same close codes), then hands SDP and ICE to
the media plane built by `streaming.media_hubs.media_plane()`: the process's Sfu (SFU_MODE "local"), or the
session's SFU node (SFU_MODE "nodes"; the node's frames for this socket arrive on its channel as `media.frame`).
SfuError and CorridorError become error frames in `_receive`, the one place; the socket stays open after an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from classrooms.agent.protocol import bearer_token
from classrooms.models import LiveSession
from classrooms.realtime import user_group
from classrooms.selectors import devices as device_selectors
from classrooms.selectors.attendance import recording_consent_given
from classrooms.selectors.participants import MODERATORS, Participant, session_participant
from classrooms.services import devices as device_services
from classrooms.services import hands as hand_services
from classrooms.services.devices import AgentIdentity
from lms.accounts.models import MediaRegion, Region, User
from lms.close_codes import CloseCode
from lms.db_async import database_parallel
from lms.errors import CorridorError
from lms.socket_frames import FrameRateLimit, NoFields, Route, error_frame, handler_for, parse_json_frame, with_ref
from lms.socket_quota import TOO_MANY_SOCKETS, SocketClaim
from streaming import messages
from streaming import services as publications
from streaming.media_hubs import media_plane, media_probes
from streaming.models import PublicationKind
from streaming.selectors import PUBLICATION_REFRESH_SECONDS, ice_servers_for_user
from streaming.services import media_group, recording_group
from streaming.sfu import SfuError
from streaming.signaling import MediaPlane, session_key

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024  # a browser's offer with several m-lines and candidates
MESSAGES_PER_SECOND = 50  # trickled ICE candidates come in bursts
# Who may publish without an invitation (and room agents, authenticated by their room's device token).
PUBLISHERS = frozenset({Participant.INSTRUCTOR, Participant.ADMINISTRATOR})

# The Sfu speaks English without Django; its codes get the user's language here.
SFU_MESSAGES = {
    "bad_sdp": gettext_lazy("That session description could not be used."),
    "no_codec": gettext_lazy("Your browser offered no audio or video codec the server can forward."),
    "bad_candidate": gettext_lazy("That ICE candidate could not be parsed."),
    "unknown_mid": gettext_lazy("That ICE candidate names a media section that does not exist."),
    "too_many_candidates": gettext_lazy("This connection has named too many ICE candidates; the rest are ignored."),
    "unknown_track": gettext_lazy("No such track in this session."),
    "unknown_peer": gettext_lazy("You have nothing to do that with: publish or subscribe first."),
    "no_tracks": gettext_lazy("Nothing is published in this session yet."),
    "closed": gettext_lazy("The media server is shutting down; reconnect in a moment."),
    "sfu_unavailable": gettext_lazy("The media server is not answering; try again in a moment."),
}


class MediaConsumer(AsyncWebsocketConsumer):
    session: LiveSession | None = None
    participant: Participant | None = None
    language = "en"
    session_id = 0
    user_id = 0
    peer_id = ""
    role = ""
    joined = False
    # A room agent's socket (Authorization: Bearer <device token>, no user): its room, for labelling its tracks.
    agent: AgentIdentity | None = None
    room: dict[str, Any] | None = None
    groups_joined: tuple[str, ...] = ()
    socket_claim: SocketClaim | None = None
    # The publisher's name on its tile (a person's name, a room's name): streaming.signaling._described.
    name = ""
    # Whose SFU node serves the socket with one node per city (streaming.node.client.socket_city): a person's home
    # region; a room agent's socket goes by its room's city.
    city = ""
    # While this socket publishes: its streaming.Publication is open and refreshed by this task.
    publication_refresher: asyncio.Task[None] | None = None
    # Frames the hub delivers between joining and the welcome, held so the page hears the welcome first: a
    # media.tracks sent before it would be overwritten by the welcome's (possibly older) list of tracks.
    held_before_welcome: list[dict[str, Any]] | None = None

    async def connect(self) -> None:
        # Accept first, as the session socket does: the client gets a close code, not a bare HTTP 403.
        await self.accept()
        user = self.scope.get("user")
        self.language = getattr(user, "preferred_language", "") or settings.LANGUAGE_CODE
        with translation.override(self.language):
            await self._connect(user)

    async def _connect(self, user: User | AnonymousUser | None) -> None:
        token = bearer_token(self.scope.get("headers", []))
        if token is not None and (user is None or not user.is_authenticated):
            await self._connect_room_agent(token)
            return
        if user is None or not user.is_authenticated:
            await self._refuse(CloseCode.UNAUTHENTICATED, "unauthenticated", _("Sign in to join this session."))
            return
        try:
            session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        except (KeyError, ValueError):
            session_id = 0
        self.session, self.participant, ice_servers = await self._load(session_id, user)
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
        self.session_id, self.user_id, self.role = self.session.pk, user.pk, str(self.participant)
        self.name = user.get_full_name() or user.email
        self.city = _media_city(user, self.scope.get("query_string", b""))
        # One peer per socket: a second tab of the same user is a second peer, not a replacement.
        self.peer_id = f"{user.pk}-{secrets.token_hex(4)}"
        self.rate_limit = FrameRateLimit(MESSAGES_PER_SECOND)
        # Mutes and declines reach every process's sockets of the session (streaming.services.media_relay); signing
        # out, unenrolment and role changes reach the person's own group (classrooms.realtime.close_user_sockets).
        self.groups_joined = (media_group(self.session_id), user_group(user.pk))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.held_before_welcome = []
        await self.hub.join(self)
        self.joined = True
        welcome = {
            "ice_servers": ice_servers,
            "ice_transport_policy": settings.ICE_TRANSPORT_POLICY,
            "peer_id": self.peer_id,
            "can_publish": await self.can_publish(),
            "tracks": await self.hub.published_to(self),
            "muted_rooms": await database_sync_to_async(_muted_rooms)(self.session),
            "paused_rooms": await database_sync_to_async(_paused_rooms)(self.session),
            # With one SFU node per city: the city serving this socket, and, for a person who asked for the nearest,
            # each city's probe for the page to time (it reconnects with `?city=` when the other is nearer).
            "media_city": self.city,
            "media_probes": await media_probes() if _wants_nearest(user) else {},
        }
        await self._welcome(welcome)

    async def _connect_room_agent(self, token: str) -> None:
        """A room agent publishes its room's camera and microphone, only into a live session held in its room."""
        try:
            session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        except (KeyError, ValueError):
            session_id = 0
        agent = await database_sync_to_async(device_services.agent_authenticate)(token=token)
        if agent is None:
            await self._refuse(
                CloseCode.UNAUTHENTICATED, "invalid_token", _("That device token is unknown or revoked.")
            )
            return
        self.session, allowed = await self._load_for_agent(session_id, agent)
        if self.session is None:
            await self._refuse(CloseCode.NOT_FOUND, "session_not_found", _("That session does not exist."))
            return
        if not allowed:
            await self._refuse(CloseCode.FORBIDDEN, "forbidden", _("This room is not part of that live session."))
            return
        self.agent = agent
        self.room = {"id": agent.room_id, "name": agent.room_name, "city": agent.city}
        self.name = agent.room_name
        self.session_id, self.user_id, self.role = self.session.pk, 0, "room"
        self.peer_id = f"room{agent.room_id}-{secrets.token_hex(4)}"
        self.rate_limit = FrameRateLimit(MESSAGES_PER_SECOND)
        # Revoking the token closes this socket too (services.devices.device_token_revoke).
        self.groups_joined = (device_services.token_group(agent.token_id),)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.held_before_welcome = []
        await self.hub.join(self)
        self.joined = True
        # The TURN username names the room, never a person.
        ice_servers = list(ice_servers_for_user(user=SimpleNamespace(pk=f"room-{agent.room_id}")))
        welcome = {
            "ice_servers": ice_servers,
            "ice_transport_policy": settings.ICE_TRANSPORT_POLICY,
            "peer_id": self.peer_id,
            "can_publish": True,
            "tracks": await self.hub.published_to(self),
            "muted_rooms": await database_sync_to_async(_muted_rooms)(self.session),
            "paused_rooms": await database_sync_to_async(_paused_rooms)(self.session),
        }
        await self._welcome(welcome)

    async def _welcome(self, welcome: dict[str, Any]) -> None:
        """Send the welcome, then what the hub delivered while it was being put together. A media.tracks among those
        may be older or newer than the welcome's list, so it is replaced by the list as it is now."""
        await self._send({"type": "welcome", "data": welcome})
        held, self.held_before_welcome = self.held_before_welcome or [], None
        tracks_changed = False
        for frame in held:
            if frame.get("type") == "media.tracks":
                tracks_changed = True
            else:
                await self._send_quietly(frame)
        if tracks_changed and self.joined:
            await self._send_quietly({"type": "media.tracks", "tracks": await self.hub.published_to(self)})

    async def hear_session_end(self) -> None:
        """A publisher's socket hears of the session's end, to close the recordings of what it publishes."""
        group = recording_group(self.session_id)
        if self.channel_layer is not None and group not in self.groups:
            # Channels leaves `self.groups` when the socket disconnects.
            self.groups.append(group)
            await self.channel_layer.group_add(group, self.channel_name)

    async def media_session_ended(self, message: dict[str, Any]) -> None:
        """The session ended (streaming.services.session_recordings_close): close this process's recorders of it."""
        try:
            await self.hub.stop_recording(self.session_id)
        except SfuError as error:
            logger.warning("could not stop recording session %s: %s", self.session_id, error.message)

    async def media_recording_changed(self, message: dict[str, Any]) -> None:
        """Recording was switched on or off mid-session (streaming.services.session_recordings_switch): record what
        this socket publishes now, or close this process's recorders of the session (their uploads follow)."""
        try:
            if message.get("recorded") and not await self.consents_to_recording():
                # A trainee speaking without having agreed to be recorded is stopped, not recorded: their page asks
                # them now (live.js), and they may be invited again once they agree.
                await self.stop_speaking_unconsented()
            elif message.get("recorded"):
                await self.hub.record_publisher(self, label=_recording_label(self))
            else:
                await self.hub.stop_recording(self.session_id)
        except SfuError as error:
            logger.warning("could not switch recording in session %s: %s", self.session_id, error.message)

    async def media_frame(self, message: dict[str, Any]) -> None:
        """A frame for this socket from its session's SFU node (SFU_MODE "nodes")."""
        frame = message.get("frame")
        if isinstance(frame, dict) and isinstance(frame.get("type"), str):
            await self.deliver(frame)

    async def media_relay(self, message: dict[str, Any]) -> None:
        """A frame for the session's media sockets from another part of the app (streaming.services.media_relay)."""
        frame = message.get("frame")
        if message.get("moderators_only") and self.participant not in MODERATORS:
            return
        if isinstance(frame, dict) and isinstance(frame.get("type"), str):
            await self.deliver(frame)

    async def live_control(self, message: dict[str, Any]) -> None:
        """The person signed out, or their enrolment, groups or rooms changed: close, unless (for a change of role)
        they still belong to this session."""
        if self.agent is not None or not self.joined or message.get("user_id") != self.user_id:
            return
        code = str(message.get("code") or "signed_out")
        if code == "role_changed":
            assert self.session is not None
            participant = await database_sync_to_async(session_participant)(session=self.session, user=self.user)
            if participant is not None:
                self.participant, self.role = participant, str(participant)
                return
        with translation.override(self.language):
            text = str(message.get("message") or "") or _("You are no longer a participant of this session.")
        await self._refuse(CloseCode.SIGNED_OUT, code, text)
        self.joined = False
        await self.hub.leave(self)
        await self.publication_end()

    async def device_token_revoked(self, message: dict[str, Any]) -> None:
        """The channel layer's word that this socket's device token was revoked."""
        if self.agent is not None and message.get("token_id") == self.agent.token_id and self.joined:
            await self._refuse(CloseCode.UNAUTHENTICATED, "token_revoked", _("This device token has been revoked."))
            self.joined = False
            await self.hub.leave(self)
            await self.publication_end()

    async def disconnect(self, code: int) -> None:
        if self.socket_claim is not None:
            await self.socket_claim.release()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.groups_joined = ()
        if self.joined:
            self.joined = False
            await self.hub.leave(self)
        await self.publication_end()

    # Publications: who published when (streaming.models.Publication) ----------------------------------------

    @property
    def publication_kind(self) -> PublicationKind:
        if self.agent is not None:
            return PublicationKind.ROOM
        if self.participant == Participant.INSTRUCTOR:
            return PublicationKind.INSTRUCTOR
        if self.participant == Participant.TRAINEE:
            return PublicationKind.SPEAKER
        return PublicationKind.STAFF

    async def publication_start(self) -> None:
        """This socket's publish succeeded: open its publication and keep it fresh while it lasts."""
        await database_sync_to_async(publications.publication_start)(
            session_id=self.session_id,
            peer_id=self.peer_id,
            kind=self.publication_kind,
            label=self.name or self.role,
            user_id=self.user_id or None,
            room_id=self.agent.room_id if self.agent is not None else None,
        )
        if self.publication_refresher is None:
            self.publication_refresher = asyncio.ensure_future(self._refresh_publication())

    async def _refresh_publication(self) -> None:
        while True:
            await asyncio.sleep(PUBLICATION_REFRESH_SECONDS)
            try:
                await database_sync_to_async(publications.publication_touch)(
                    session_id=self.session_id, peer_id=self.peer_id
                )
            except Exception:  # a database hiccup: the next refresh tries again
                logger.warning("could not refresh the publication of %s", self.peer_id, exc_info=True)

    async def publication_end(self) -> None:
        """This socket stopped publishing (unpublished, left, failed, was stopped). Idempotent."""
        refresher, self.publication_refresher = self.publication_refresher, None
        if refresher is None:
            return
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await database_sync_to_async(publications.publication_end)(session_id=self.session_id, peer_id=self.peer_id)

    async def _publisher_left(self, frame: dict[str, Any]) -> None:
        """The Sfu says this socket's publisher is gone; unless it already published again (a publish replaces the
        previous one, whose departure is announced too), its publication ends."""
        if self.publication_refresher is None:
            return
        published = await self.hub.published(self.session_id)
        if not any(track.get("publisher_id") == self.peer_id for track in published):
            await self.publication_end()

    @property
    def hub(self) -> MediaPlane:
        return media_plane()

    @property
    def key(self) -> str:
        return session_key(self.session_id)

    async def can_publish(self) -> bool:
        return (
            self.agent is not None
            or self.participant in PUBLISHERS
            # A one-to-one's other person speaks without being invited: the call is theirs.
            or (
                self.participant == Participant.TRAINEE
                and self.session is not None
                and self.session.one_to_one_with_id == self.user_id
            )
            or (self.participant == Participant.TRAINEE and await self.hub.may_speak(self.session_id, self.user_id))
        )

    async def consents_to_recording(self) -> bool:
        """May this socket be published (and recorded) now? Rooms and staff yes; a trainee unless the session is
        recorded and they have not agreed (classrooms.services.consent), read from the database each time."""
        if self.agent is not None or self.participant != Participant.TRAINEE:
            return True
        return bool(
            await database_sync_to_async(recording_consent_given)(session_id=self.session_id, user_id=self.user_id)
        )

    async def stop_speaking_unconsented(self) -> None:
        """Recording came on while a trainee who has not agreed to it may speak: withdraw the invitation (which
        unpublishes them) and end their publication."""
        await self.hub.speaker_revoke(self.session_id, self.user_id)  # unpublishes this user's sockets too
        await self.publication_end()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.joined:
            return
        with translation.override(self.language):
            await self._receive(text_data)

    async def _receive(self, text_data: str | None) -> None:
        ref: Any = None
        if self.socket_claim is not None:
            await self.socket_claim.refresh()
        try:
            self.rate_limit.spend()
            message = parse_json_frame(
                text_data, max_bytes=MAX_MESSAGE_BYTES, too_large=_("A media message is limited to 64 KB.")
            )
            ref = message.get("ref")
            reply = await handler_for(HANDLERS, message)(self, message)
            await self._send_quietly(with_ref(reply, ref))
        except CorridorError as error:
            await self._send_error(error.code, str(error.message), ref)
            if error.code == "flooded":
                await self.close(code=CloseCode.FLOODED, reason="flooded")
        except SfuError as error:
            await self._send_error(error.code, str(SFU_MESSAGES.get(error.code, error.message)), ref)

    # The hub's side (streaming.signaling.MediaSocket) -----------------------------------

    async def deliver(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "media.publisher_left" and frame.get("publisher_id") == self.peer_id:
            await self._publisher_left(frame)
        elif frame.get("type") == "media.can_publish" and not frame.get("can_publish"):
            await self.publication_end()  # revoked: the hub unpublishes it
        if self.held_before_welcome is not None:
            self.held_before_welcome.append(frame)
        elif self.joined:
            await self._send_quietly(frame)

    # Guards --------------------------------------------------------------------------------

    async def recheck_role(self) -> None:
        """Per-message authorisation for what changes rights: the user's part in the session, read again."""
        assert self.session is not None
        if self.agent is not None:
            if not await database_sync_to_async(_agent_still_allowed)(self.agent, self.session.pk):
                raise CorridorError("forbidden", _("This room may no longer publish into this session."), status=403)
            return
        self.participant = await database_sync_to_async(session_participant)(session=self.session, user=self.user)
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
        await self._send_quietly(error_frame(code, message, ref))

    async def _refuse(self, code: int, error_code: str, message: str) -> None:
        await self._send(error_frame(error_code, message, None))
        await self.close(code=code, reason=error_code)

    @database_parallel
    def _load(self, session_id: int, user: User) -> tuple[LiveSession | None, Participant | None, list[Any]]:
        session = LiveSession.objects.select_related("course").filter(pk=session_id).first()
        if session is None:
            return None, None, []
        participant = session_participant(session=session, user=user)
        return session, participant, list(ice_servers_for_user(user=user)) if participant else []

    @database_sync_to_async
    def _load_for_agent(self, session_id: int, agent: AgentIdentity) -> tuple[LiveSession | None, bool]:
        session = LiveSession.objects.filter(pk=session_id).first()
        if session is None:
            return None, False
        return session, device_selectors.agent_may_publish(room_id=agent.room_id, session=session)


def _agent_still_allowed(agent: AgentIdentity, session_id: int) -> bool:
    """The agent's token is still valid and its room still holds the session, live."""
    if not device_selectors.token_is_active(token_id=agent.token_id):
        return False
    session = LiveSession.objects.filter(pk=session_id).first()
    return session is not None and device_selectors.agent_may_publish(room_id=agent.room_id, session=session)


# Message handlers: one per type, each authorising its own message. ------------------------------


async def handle_publish(consumer: MediaConsumer, message: messages.Publish) -> dict[str, Any]:
    await consumer.recheck_role()
    if not await consumer.can_publish():
        raise CorridorError("forbidden", _("Only the instructor, or a trainee invited to speak, can publish."))
    if not await consumer.consents_to_recording():
        raise CorridorError(
            "recording_consent_required",
            _("This session is recorded and you have not agreed to be recorded, so you cannot speak."),
            status=403,
        )
    await consumer.hear_session_end()
    answer = await consumer.hub.publish(consumer, sdp=message.sdp, label=_recording_label(consumer))
    await consumer.publication_start()
    return {"type": "media.answer", "sdp": answer["sdp"], "tracks": answer["tracks"]}


def _recording_label(consumer: MediaConsumer) -> str:
    """How a recording names its publisher on the course page: the room, "instructor", or the person."""
    room = getattr(consumer, "room", None)
    if room:
        return str(room["name"])
    if consumer.participant == Participant.INSTRUCTOR:
        return "instructor"
    user = getattr(consumer, "user", None)
    return (user.get_full_name() if user is not None else "") or consumer.role


async def handle_subscribe(consumer: MediaConsumer, message: messages.Subscribe) -> dict[str, Any]:
    offer = await consumer.hub.subscribe(consumer, track_ids=message.track_ids)
    return {"type": "media.offer", "sdp": offer["sdp"], "tracks": offer["tracks"]}


async def handle_answer(consumer: MediaConsumer, message: messages.Answer) -> dict[str, Any]:
    await consumer.hub.subscriber_answer(consumer, sdp=message.sdp)
    return {"type": "ack"}


async def handle_candidate(consumer: MediaConsumer, message: messages.Candidate) -> dict[str, Any]:
    await consumer.hub.add_ice_candidate(
        consumer,
        role=message.role,
        candidate=message.candidate,
        sdp_mid=message.mid,
        sdp_mline_index=message.mline_index,
    )
    return {"type": "ack"}


async def handle_unpublish(consumer: MediaConsumer, message: NoFields) -> dict[str, Any]:
    # The Sfu's publisher_left event announces the change to everyone.
    await consumer.hub.unpublish(consumer)
    await consumer.publication_end()
    return {"type": "ack"}


async def _speaker(consumer: MediaConsumer, message: messages.Speaker) -> int:
    """The trainee named by a moderator's invite or revoke."""
    await consumer.recheck_role()
    if consumer.participant not in MODERATORS:
        raise CorridorError("forbidden", _("Only the instructor or a moderator can do that."), status=403)
    user_id = message.user_id
    assert consumer.session is not None
    if await _part_of(consumer.session, user_id) != Participant.TRAINEE:
        raise CorridorError("not_a_trainee", _("Only a trainee of this session can be invited to speak."))
    return user_id


@database_sync_to_async
def _part_of(session: LiveSession, user_id: int) -> Participant | None:
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return session_participant(session=session, user=user) if user else None


async def handle_invite(consumer: MediaConsumer, message: messages.Speaker) -> dict[str, Any]:
    user_id = await _speaker(consumer, message)
    if not await database_sync_to_async(recording_consent_given)(session_id=consumer.session_id, user_id=user_id):
        raise CorridorError(
            "not_consented", _("This trainee has not agreed to be recorded, so cannot speak while it is recorded.")
        )
    await consumer.hub.speaker_invite(consumer.session_id, user_id)
    # Invited, their raised hand is answered: it goes down (moderators see the queue change, they hear of it).
    assert consumer.session is not None
    await database_sync_to_async(hand_services.hand_lower)(
        session=consumer.session, user=consumer.user, user_id=user_id
    )
    return {"type": "ack", "user_id": user_id}


async def handle_revoke(consumer: MediaConsumer, message: messages.Speaker) -> dict[str, Any]:
    user_id = await _speaker(consumer, message)
    await consumer.hub.speaker_revoke(consumer.session_id, user_id)
    return {"type": "ack", "user_id": user_id}


async def handle_decline(consumer: MediaConsumer, message: NoFields) -> dict[str, Any]:
    """An invited trainee says no: the invitation is withdrawn and the session's moderators are told who."""
    if consumer.participant != Participant.TRAINEE or not await consumer.hub.may_speak(
        consumer.session_id, consumer.user_id
    ):
        raise CorridorError("not_invited", _("You have not been invited to speak."))
    await consumer.hub.speaker_revoke(consumer.session_id, consumer.user_id)
    frame = {"type": "media.declined", "user_id": consumer.user_id, "name": consumer.name}
    await consumer.channel_layer.group_send(
        media_group(consumer.session_id), {"type": "media.relay", "frame": frame, "moderators_only": True}
    )
    return {"type": "ack"}


async def handle_mute(consumer: MediaConsumer, message: messages.RoomMute) -> dict[str, Any]:
    """A moderator mutes or unmutes a room of this session (its agent then sends silence; every tile shows it)."""
    await consumer.recheck_role()
    if consumer.participant not in MODERATORS:
        raise CorridorError("forbidden", _("Only the instructor or a moderator can mute a room."), status=403)
    assert consumer.session is not None
    if not await database_sync_to_async(_mute_room)(consumer.session, message.room_id, message.muted, consumer.user):
        raise CorridorError("unknown_room", _("That room is not part of this session."))
    return {"type": "ack", "room_id": message.room_id, "muted": message.muted}


def _mute_room(session: LiveSession, room_id: int, muted: bool, by: User) -> bool:
    room = session.rooms.filter(pk=room_id).first()
    if room is None:
        return False
    device_services.room_microphone_set(room=room, muted=muted, by=by)
    return True


def _muted_rooms(session: LiveSession | None) -> list[int]:
    return device_selectors.session_muted_rooms(session=session) if session is not None else []


def _paused_rooms(session: LiveSession | None) -> list[dict[str, Any]]:
    return device_selectors.session_paused_rooms(session=session) if session is not None else []


# Each message type: the schema its fields are checked against (streaming.messages), and its handler.
HANDLERS: dict[str, Route[MediaConsumer, Any, dict[str, Any]]] = {
    "media.publish": Route(messages.Publish, handle_publish),
    "media.subscribe": Route(messages.Subscribe, handle_subscribe),
    "media.answer": Route(messages.Answer, handle_answer),
    "media.candidate": Route(messages.Candidate, handle_candidate),
    "media.unpublish": Route(NoFields, handle_unpublish),
    "media.invite": Route(messages.Speaker, handle_invite),
    "media.revoke": Route(messages.Speaker, handle_revoke),
    "media.decline": Route(NoFields, handle_decline),
    "media.mute": Route(messages.RoomMute, handle_mute),
}


def _wants_nearest(user: Any) -> bool:
    return getattr(user, "media_region", "") == MediaRegion.AUTOMATIC


def _media_city(user: Any, query_string: bytes) -> str:
    """A person's media city: their home region, or, when they asked for the nearest, the city their page measured
    nearer (`?city=`, one of the regions; anything else is ignored)."""
    if _wants_nearest(user):
        asked = parse_qs(query_string.decode("latin-1")).get("city", [""])[0]
        if asked in Region.values:
            return asked
    return str(getattr(user, "home_region", "") or "")
