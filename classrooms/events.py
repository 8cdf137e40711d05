"""Typed payloads of the live-session events (see docs/live-protocol.md)."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class QuestionPayload(TypedDict):
    id: int
    text: str
    author: str
    author_id: int
    created_at: str
    votes: int
    pinned: bool
    hidden: bool
    answered: bool
    answer: str
    answered_by: str


class VotePayload(TypedDict):
    id: int
    votes: int


class VoteCountsPayload(TypedDict):
    counts: list[VotePayload]


class PollChoicePayload(TypedDict):
    id: int
    text: str
    votes: int


class PollPayload(TypedDict):
    id: int
    prompt: str
    is_open: bool
    choices: list[PollChoicePayload]
    total: int


class HandPayload(TypedDict):
    user_id: int
    name: str
    raised_at: str


class HandsPayload(TypedDict):
    queue: list[HandPayload]
    lowered_user_id: NotRequired[int]


class AttendeePayload(TypedDict):
    user_id: int
    name: str
    where: Literal["room", "remote"]
    room_id: int | None
    room: str
    since: str


class DepartedPayload(TypedDict):
    user_id: int
    name: str
    left_at: str


class RoomCountPayload(TypedDict):
    room_id: int
    name: str
    city: str
    count: int


class AttendancePayload(TypedDict):
    """Who is here now (moderators only): counts per room and remote, names, and who has left.

    A trainee in a room who also has the session open on a laptop counts once, in the room.
    """

    at: str
    present: int
    remote: int
    rooms: list[RoomCountPayload]
    enrolled: int
    here: list[AttendeePayload]
    left: list[DepartedPayload]


EventKind = Literal[
    "question.created",
    "question.updated",
    "questions.voted",
    "poll.updated",
    "hands.updated",
    "question.hidden",
    "attendance.updated",
    "session.state",
    "session.recording",
]


class RecordingPayload(TypedDict):
    """Whether the session is recorded from now on (`session.recording`)."""

    recorded: bool


class EventFrame(TypedDict):
    """What a socket receives for each event: the event id lets a client resume after a reconnect."""

    type: EventKind
    event_id: int
    data: object
