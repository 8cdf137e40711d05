"""What a browser may send on the live-session socket: one schema per message type (docs/live-protocol.md).

`consumers.HANDLERS` pairs each type with its schema; `lms.socket_frames` checks a message against it before the
handler runs, so handlers and services receive typed values. Types are checked here; the rules that need the
session or the database (blank text, lengths, whose question) stay in the services, with their codes.
"""

from __future__ import annotations

from pydantic import Field

from classrooms.models import SessionState
from classrooms.services.qa import ModerationAction
from lms.socket_frames import MessageSchema


class Sync(MessageSchema):
    error_codes = {"after": "invalid_id"}
    after: int = Field(default=0, ge=0)


class QuestionAsk(MessageSchema):
    error_codes = {"text": "invalid_text"}
    text: str


class QuestionVote(MessageSchema):
    error_codes = {"question_id": "invalid_id", "up": "invalid_vote"}
    question_id: int
    up: bool = True


class QuestionAnswer(MessageSchema):
    error_codes = {"question_id": "invalid_id", "text": "invalid_text"}
    question_id: int
    text: str


class QuestionModerate(MessageSchema):
    error_codes = {"action": "invalid_action", "question_id": "invalid_id"}
    # `action` first: an unknown action is refused before the question is looked at.
    action: ModerationAction
    question_id: int


class PollOpen(MessageSchema):
    error_codes = {"prompt": "invalid_poll", "choices": "invalid_poll"}
    prompt: str
    choices: list[str]


class PollVote(MessageSchema):
    error_codes = {"poll_id": "invalid_id", "choice_id": "invalid_choice"}
    poll_id: int
    choice_id: int


class PollClose(MessageSchema):
    error_codes = {"poll_id": "invalid_id"}
    poll_id: int


class HandLower(MessageSchema):
    """`user_id` absent: the sender's own hand."""

    error_codes = {"user_id": "invalid_id"}
    user_id: int | None = None


class SessionStateChange(MessageSchema):
    error_codes = {"state": "invalid_state"}
    # Not strict: the JSON string "live" is the enum's value.
    state: SessionState = Field(strict=False)


class SessionRecording(MessageSchema):
    """Switch the session's recording on (`recorded: true`) or off."""

    recorded: bool
