"""What streaming does when something happens in the layers below it (connected in StreamingConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from classrooms.models import LiveSession, Room
from classrooms.signals import room_microphone_changed, room_stream_changed, session_ended, session_recording_changed
from streaming import services


@receiver(session_ended, sender=LiveSession)
def _close_recordings_when_session_ends(sender: type[LiveSession], session: LiveSession, **kwargs: Any) -> None:
    # Inside the ending transaction: the service defers its effects to after commit.
    services.session_recordings_close(session=session)


@receiver(session_recording_changed, sender=LiveSession)
def _switch_recordings_mid_session(
    sender: type[LiveSession], session: LiveSession, recorded: bool, **kwargs: Any
) -> None:
    # Inside the switching transaction: the service tells the media sockets after commit.
    services.session_recordings_switch(session=session, recorded=recorded)


@receiver(room_microphone_changed, sender=Room)
def _tell_media_sockets_of_mute(sender: type[Room], room: Room, muted: bool, **kwargs: Any) -> None:
    services.room_microphone_announce(room=room, muted=muted)


@receiver(room_stream_changed, sender=Room)
def _tell_media_sockets_of_pause(
    sender: type[Room], room: Room, session: LiveSession, paused: bool, **kwargs: Any
) -> None:
    services.room_stream_announce(room=room, session=session, paused=paused)
