"""What a client may send on the media signaling socket: one schema per message type (docs/live-protocol.md,
"Media signaling"). `consumers.HANDLERS` pairs each with its handler; `lms.socket_frames` checks a message against it
before the handler runs. Whether the SDP or the candidate makes sense is the Sfu's to say (`bad_sdp`, ...)."""

from __future__ import annotations

from typing import Literal

from lms.socket_frames import MessageSchema


class Publish(MessageSchema):
    """The browser's offer (sendonly audio and/or video)."""

    error_codes = {"sdp": "bad_sdp"}
    sdp: str


class Subscribe(MessageSchema):
    """`track_ids` absent or null: every track but the sender's own."""

    track_ids: list[str] | None = None


class Answer(MessageSchema):
    """The browser's answer to the server's `media.offer`."""

    error_codes = {"sdp": "bad_sdp"}
    sdp: str


class Candidate(MessageSchema):
    """A trickled ICE candidate ("" ends them) for one of the sender's two connections."""

    candidate: str = ""
    mid: str | None = None
    mline_index: int | None = None
    role: Literal["publisher", "subscriber"] = "publisher"


class Speaker(MessageSchema):
    """A moderator's `media.invite` or `media.revoke` of a trainee."""

    error_codes = {"user_id": "invalid_id"}
    user_id: int


class RoomMute(MessageSchema):
    """A moderator's `media.mute`: mute (or, with `muted` false, unmute) a room of the session."""

    error_codes = {"room_id": "invalid_id"}
    room_id: int
    muted: bool = True
