"""Typed payloads of the live-session events (see docs/live-protocol.md)."""

from __future__ import annotations

from typing import Literal, TypedDict


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


class PresencePayload(TypedDict):
    user_id: int
    name: str
    role: str
    where: str
    present: bool


EventKind = Literal[
    "question.created",
    "question.updated",
    "question.voted",
    "poll.updated",
    "hands.updated",
    "presence.changed",
    "session.state",
]


class EventFrame(TypedDict):
    """What a socket receives for each event: the event id lets a client resume after a reconnect."""

    type: EventKind
    event_id: int
    data: object
