"""The invigilator's console socket `/ws/exams/sittings/<id>/console/` through the real ASGI stack: the room's
invigilators and administrators get the console's state on connect and again at once whenever the sitting changes;
everyone else is closed with a code that says why."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from exams import invigilation
from lms.asgi import application
from lms.close_codes import CloseCode
from tests import factories
from tests.exams.console_support import paper_saved, paper_start, sitting_in_progress
from tests.support.live import LiveClient, session_cookie

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
async def console() -> AsyncIterator[Callable[..., Any]]:
    opened: list[LiveClient] = []

    async def open_socket(user: Any, sitting_id: int) -> LiveClient:
        headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
        if user is not None:
            cookie = await sync_to_async(session_cookie)(user)
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        communicator = WebsocketCommunicator(application, f"/ws/exams/sittings/{sitting_id}/console/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected  # accepted first, so a refusal can say why
        client = LiveClient(communicator)
        opened.append(client)
        return client

    yield open_socket
    for client in opened:
        with contextlib.suppress(Exception):
            await client.close()


def _rows(frame: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["seat"]: row for row in frame["rows"]}


async def test_the_console_gets_the_sittings_state_and_every_change_at_once(console) -> None:
    sitting, candidates, invigilator = await sync_to_async(sitting_in_progress)(candidates=2)
    first, second = candidates
    client = await console(invigilator, sitting.pk)
    state = await client.receive_type("console")
    assert [row["state"] for row in state["rows"]] == ["checked_in", "checked_in"]
    assert state["counts"]["checked_in"] == 2 and state["counts"]["started"] == 0 and state["log"] == []

    await sync_to_async(paper_start)(first)
    started = _rows(await client.receive_type("console"))
    assert started[1]["state"] == "started" and started[1]["running"] and started[1]["started_at"]
    assert started[2]["state"] == "checked_in"

    await sync_to_async(paper_saved)(first)
    saved = _rows(await client.receive_type("console"))
    assert saved[1]["last_saved_at"] is not None

    await sync_to_async(invigilation.papers_pause)(
        sitting=sitting, candidate=first, cause="health", explanation="Nosebleed.", by=invigilator
    )
    frame = await client.receive_type("console")
    assert _rows(frame)[1]["state"] == "paused" and not _rows(frame)[1]["running"]
    assert frame["counts"]["paused"] == 1
    assert [(e["what"], e["kind"], e["seat"], e["text"]) for e in frame["log"]] == [
        ("action", "pause", 1, "Nosebleed.")
    ]

    await sync_to_async(invigilation.incident_record)(
        sitting=sitting, candidate=None, category="disturbance", note="Drilling next door.", by=invigilator
    )
    frame = await client.receive_type("console")
    assert frame["log"][-1]["what"] == "incident" and frame["log"][-1]["seat"] is None
    assert second.pk in {row["candidate_id"] for row in frame["rows"]}

    # The socket has no messages of its own to take.
    reply = await client.request({"type": "pause"})
    assert reply["type"] == "error" and reply["code"] == "unknown_type"


async def test_administrators_get_the_console_of_any_room(console) -> None:
    sitting, _candidates, _invigilator = await sync_to_async(sitting_in_progress)(candidates=1)
    client = await console(await sync_to_async(factories.administrator)(), sitting.pk)
    assert (await client.receive_type("console"))["counts"]["all"] == 1


@pytest.mark.parametrize(
    ("who", "code", "reason"),
    [
        ("visitor", CloseCode.UNAUTHENTICATED, "unauthenticated"),
        ("other_invigilator", CloseCode.FORBIDDEN, "forbidden"),
        ("candidate", CloseCode.FORBIDDEN, "forbidden"),
        ("unknown_sitting", CloseCode.NOT_FOUND, "sitting_not_found"),
    ],
)
async def test_anyone_else_is_closed_saying_why(console, who, code, reason) -> None:
    sitting, candidates, invigilator = await sync_to_async(sitting_in_progress)(candidates=1)
    user = {
        "visitor": None,
        "other_invigilator": await sync_to_async(factories.invigilator)(),
        "candidate": await sync_to_async(lambda: candidates[0].user)(),
        "unknown_sitting": invigilator,
    }[who]
    client = await console(user, sitting.pk + 1000 if who == "unknown_sitting" else sitting.pk)
    frame = await client.receive()
    assert frame["type"] == "error" and frame["code"] == reason
    closed = await client.communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": code, "reason": reason}


async def test_an_invigilator_taken_off_the_room_is_closed_at_the_next_change(console) -> None:
    sitting, (first,), invigilator = await sync_to_async(sitting_in_progress)(candidates=1)
    client = await console(invigilator, sitting.pk)
    await client.receive_type("console")
    await sync_to_async(sitting.room.invigilators.remove)(invigilator)
    await sync_to_async(paper_start)(first)
    frame = await client.receive()
    assert frame["type"] == "error" and frame["code"] == "forbidden"
    closed = await client.communicator.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": CloseCode.FORBIDDEN, "reason": "forbidden"}
