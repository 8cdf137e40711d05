"""Generated messages thrown at the live socket: each gets one reply, bad ones write nothing, the socket survives."""

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classrooms.models import LiveEvent, PollVote, Question, QuestionVote, RaisedHand
from classrooms.services import polls, qa

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

KNOWN_TYPES = [
    "sync",
    "heartbeat",
    "question.ask",
    "question.vote",
    "question.answer",
    "question.moderate",
    "poll.open",
    "poll.vote",
    "poll.close",
    "hand.raise",
    "hand.lower",
    "session.state",
]
json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=8,
)
# Ids near the real ones (forged, off by one, of the other session) and junk.
ids = st.integers(min_value=-3, max_value=60) | json_values
structured = st.fixed_dictionaries(
    {"type": st.sampled_from(KNOWN_TYPES)},
    optional={
        "question_id": ids,
        "poll_id": ids,
        "choice_id": ids,
        "user_id": ids,
        "text": st.text(max_size=40) | json_values,
        "up": json_values,
        "action": st.sampled_from(["pin", "hide", "unhide", "delete", ""]) | json_values,
        "after": ids,
        "prompt": json_values,
        "choices": json_values,
        "state": st.sampled_from(["live", "ended", "scheduled"]) | json_values,
    },
)
frames = (
    structured.map(json.dumps) | json_values.map(json.dumps) | st.text(min_size=1, max_size=200)
)  # the test client cannot send an empty frame

ERROR_CODES = {
    "malformed_json",
    "invalid_message",
    "unknown_type",
    "invalid_id",
    "invalid_text",
    "invalid_vote",
    "invalid_action",
    "invalid_poll",
    "invalid_choice",
    "question_not_found",
    "question_hidden",
    "poll_not_found",
    "poll_closed",
    "already_voted",
    "forbidden",
    "rate_limited",
    "text_too_long",
    "session_ended",
    "invalid_state",
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(frames, min_size=1, max_size=8))
def test_generated_messages_from_a_trainee(live: Any, connect_sync: Any, batch: list[str]) -> None:
    async def scenario() -> None:
        client = await connect_sync(live.trainee)
        counts_before = await counts()
        acked_asks = 0
        for frame in batch:
            await client.send(frame)
            reply = await client.receive_reply()
            assert reply["type"] in {"ack", "pong", "synced", "welcome", "error"}, reply
            if reply["type"] == "error":
                assert reply["code"] in ERROR_CODES, reply
            elif reply["type"] == "ack" and json.loads(frame).get("type") == "question.ask":
                acked_asks += 1
        counts_after = await counts()
        # A trainee's frames can only add their own question, vote or hand; never anything else.
        assert counts_after["questions"] == counts_before["questions"] + acked_asks
        assert counts_after["answered"] == counts_before["answered"]
        assert counts_after["hidden"] == counts_before["hidden"]
        assert (await client.request({"type": "heartbeat"}))["type"] == "pong"
        await client.close()

    async_to_sync(scenario)()


async def counts() -> dict[str, int]:
    from asgiref.sync import sync_to_async

    def read() -> dict[str, int]:
        return {
            "questions": Question.objects.count(),
            "answered": Question.objects.filter(answered=True).count(),
            "hidden": Question.objects.filter(hidden=True).count(),
            "events": LiveEvent.objects.count(),
            "votes": QuestionVote.objects.count() + PollVote.objects.count() + RaisedHand.objects.count(),
        }

    return await sync_to_async(read)()


@pytest.fixture
def connect_sync(live: Any) -> Any:
    """Open a socket inside the example's own event loop (hypothesis runs examples synchronously)."""
    from channels.testing import WebsocketCommunicator
    from django.conf import settings as django_settings

    from lms.asgi import application
    from tests.support.live import LiveClient, session_cookie

    qa.question_ask(session=live.session, user=live.instructor, text="Seeded question")
    hidden = qa.question_ask(session=live.session, user=live.instructor, text="Seeded hidden")
    qa.question_moderate(session=live.session, user=live.instructor, question_id=hidden.pk, action="hide")
    polls.poll_open(session=live.session, user=live.instructor, prompt="Seeded poll", choices=["a", "b"])
    cookie = session_cookie(live.trainee)

    async def open_socket(user: Any) -> LiveClient:
        headers = [
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
            (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        ]
        communicator = WebsocketCommunicator(application, f"/ws/sessions/{live.session.pk}/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        client = LiveClient(communicator)
        assert (await client.receive())["type"] == "welcome"
        return client

    return open_socket
