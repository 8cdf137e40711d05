"""Role × message over every socket: the live socket (`classrooms.consumers.HANDLERS`), the media socket
(`streaming.consumers.HANDLERS`), the room agents' device socket (`classrooms.device_consumer.HANDLERS`) and the
candidate's exam page socket (`exams.consumers.HANDLERS`).

Each table names, for every message type, what each actor gets back: the reply's type (`ack`, `pong`, ...) or the
error's code (`forbidden` for a person the message is not theirs to send), or `closed:<code>` when the socket itself
is refused (a visitor, someone who is not a participant, another room's agent). Payloads are minimal and valid;
media messages that need real WebRTC use junk SDP: an allowed actor is past authorisation when it gets `bad_sdp`
rather than `forbidden`. The meta-tests fail when a handler has no row.

Sockets query the database from other threads, so the world is committed: built once for the module, and the
database emptied and its migrations' rows put back at the end (as `serialized_rollback` does).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from classrooms import consumers as live_consumers
from classrooms import device_consumer
from classrooms.services import devices, polls, qa
from exams import consumers as exam_consumers
from lms.asgi import application
from streaming import consumers as media_consumers
from tests import factories
from tests.support import authz
from tests.support.authz import (
    ADMIN,
    ANONYMOUS,
    INSTRUCTOR,
    OPERATOR,
    OTHER_INSTRUCTOR,
    OTHER_OPERATOR,
    OUTSIDER,
    TRAINEE,
    World,
)
from tests.support.live import LiveClient, session_cookie

# Room agents, by the token they present (Authorization: Bearer).
AGENT = "room_agent_own"  # room A's agent, in room A's session / on room A's control socket
OTHER_AGENT = "room_agent_other"  # room B's agent, knocking on room A's
REVOKED_AGENT = "room_agent_revoked"  # room A's agent with a revoked token
PEOPLE_AND_AGENTS = (*authz.ACTORS, AGENT, OTHER_AGENT, REVOKED_AGENT)

UNAUTHENTICATED = "closed:unauthenticated"
FORBIDDEN_TO_JOIN = "closed:forbidden"
OUTSIDERS_OF_A = {ANONYMOUS: UNAUTHENTICATED, OUTSIDER: FORBIDDEN_TO_JOIN, OTHER_INSTRUCTOR: FORBIDDEN_TO_JOIN}
OUTSIDERS_OF_A |= {OTHER_OPERATOR: FORBIDDEN_TO_JOIN}


def live(*, trainee: str, instructor: str, operator: str, admin: str) -> dict[str, str]:
    """The live socket: visitors and non-participants never get in; the four parts answer as given."""
    return {**OUTSIDERS_OF_A, TRAINEE: trainee, INSTRUCTOR: instructor, OPERATOR: operator, ADMIN: admin}


def media(*, trainee: str, instructor: str, operator: str, admin: str, agent: str) -> dict[str, str]:
    """The media socket: as the live socket, plus room A's agent (its token); room B's agent is refused."""
    return {
        **live(trainee=trainee, instructor=instructor, operator=operator, admin=admin),
        AGENT: agent,
        OTHER_AGENT: FORBIDDEN_TO_JOIN,
    }


def every_media_participant(reply: str) -> dict[str, str]:
    return media(trainee=reply, instructor=reply, operator=reply, admin=reply, agent=reply)


def everyone_joined(reply: str) -> dict[str, str]:
    return live(trainee=reply, instructor=reply, operator=reply, admin=reply)


def moderators(allowed: str, refused: str = "forbidden") -> dict[str, str]:
    return live(trainee=refused, instructor=allowed, operator=refused, admin=allowed)


@dataclass(frozen=True)
class Row:
    message: Callable[[World], dict[str, Any]]
    expected: dict[str, str]
    label: str = ""


def w(frame: dict[str, Any]) -> Callable[[World], dict[str, Any]]:
    return lambda world: frame


LIVE: dict[str, list[Row]] = {
    "sync": [Row(w({"after": 0}), everyone_joined("synced"))],
    "heartbeat": [Row(w({}), everyone_joined("pong"))],
    # Any participant asks and votes (docs/live-protocol.md: "Who: any participant").
    "question.ask": [Row(w({"text": "Is the cross-border link encrypted?"}), everyone_joined("ack"))],
    "question.vote": [Row(lambda world: {"question_id": world.extra["question"], "up": True}, everyone_joined("ack"))],
    "question.answer": [
        Row(lambda world: {"question_id": world.extra["question"], "text": "Yes, end to end."}, moderators("ack"))
    ],
    "question.moderate": [
        Row(lambda world: {"question_id": world.extra["question"], "action": "pin"}, moderators("ack"))
    ],
    "poll.open": [Row(w({"prompt": "Ready?", "choices": ["Yes", "No"]}), moderators("ack"))],
    "poll.vote": [
        Row(
            lambda world: {"poll_id": world.extra["poll"], "choice_id": world.extra["poll_choice"]},
            everyone_joined("ack"),
        )
    ],
    "poll.close": [Row(lambda world: {"poll_id": world.extra["poll_to_close"]}, moderators("ack"))],
    "hand.raise": [Row(w({}), live(trainee="ack", instructor="forbidden", operator="forbidden", admin="forbidden"))],
    "hand.lower": [
        Row(w({}), everyone_joined("ack"), "their own hand"),
        Row(
            lambda world: {"user_id": world.people[TRAINEE].pk},
            live(trainee="ack", instructor="ack", operator="forbidden", admin="ack"),
            "the trainee's hand",
        ),
    ],
    "session.state": [Row(w({"state": "live"}), moderators("already_live"), "start a live session")],
    "session.recording": [Row(w({"recorded": False}), moderators("ack"))],
}

JUNK_SDP = "v=0 this is not an offer"
MEDIA: dict[str, list[Row]] = {
    # The instructor, administrators and rooms' agents publish; a trainee only when invited (not here).
    "media.publish": [
        Row(
            w({"sdp": JUNK_SDP}),
            media(trainee="forbidden", instructor="bad_sdp", operator="forbidden", admin="bad_sdp", agent="bad_sdp"),
        )
    ],
    # Any participant, on their own connections: nothing published yet, so no tracks and no peer of theirs.
    "media.subscribe": [Row(w({}), every_media_participant("no_tracks"))],
    "media.answer": [Row(w({"sdp": JUNK_SDP}), every_media_participant("unknown_peer"))],
    "media.candidate": [Row(w({"candidate": ""}), every_media_participant("unknown_peer"))],
    "media.unpublish": [Row(w({}), every_media_participant("unknown_peer"))],
    # Moderators only; the operator is not a trainee, so an allowed moderator is told `not_a_trainee`.
    "media.invite": [
        Row(
            lambda world: {"user_id": world.people[OPERATOR].pk},
            media(
                trainee="forbidden",
                instructor="not_a_trainee",
                operator="forbidden",
                admin="not_a_trainee",
                agent="forbidden",
            ),
        )
    ],
    "media.revoke": [
        Row(
            lambda world: {"user_id": world.people[OPERATOR].pk},
            media(
                trainee="forbidden",
                instructor="not_a_trainee",
                operator="forbidden",
                admin="not_a_trainee",
                agent="forbidden",
            ),
        )
    ],
    "media.decline": [
        Row(
            w({}),
            media(
                trainee="not_invited",
                instructor="not_invited",
                operator="not_invited",
                admin="not_invited",
                agent="not_invited",
            ),
        )
    ],
    "media.mute": [
        Row(
            lambda world: {"room_id": world.room.pk, "muted": False},
            media(trainee="forbidden", instructor="ack", operator="forbidden", admin="ack", agent="forbidden"),
        )
    ],
}


def agents(own: str) -> dict[str, str]:
    """The device socket: only a room's own token gets in; a person's cookie is no token."""
    return {
        **dict.fromkeys(authz.ACTORS, UNAUTHENTICATED),
        AGENT: own,
        OTHER_AGENT: "closed:wrong_room",
        REVOKED_AGENT: "closed:invalid_token",
    }


HEALTH = {"data": {"publishing": False, "cpu_pct": 10.0, "devices": [{"kind": "camera", "name": "Front camera"}]}}
DEVICE: dict[str, list[Row]] = {
    "health": [Row(w(HEALTH), agents("ack"))],
    "command.result": [Row(w({"id": "cmd-1", "ok": True}), agents("ack"))],
    "camera.result": [
        Row(
            lambda world: {"id": "cmd-2", "camera_id": world.camera.pk, "ok": True, "outcome": "completed"},
            agents("ack"),
            "its room's camera",
        ),
        Row(
            lambda world: {"id": "cmd-3", "camera_id": world.other_camera.pk, "ok": True, "outcome": "completed"},
            agents("forbidden"),
            "another room's camera",
        ),
    ],
}

# The candidate's exam page socket (exams/consumers.py): only the paper's candidate (the table's trainee) gets in;
# anyone else is told the paper does not exist; visitors are told to sign in.
EXAM: dict[str, list[Row]] = {
    "heartbeat": [
        Row(
            w({}),
            {
                **dict.fromkeys(authz.ACTORS, "closed:not_found"),
                ANONYMOUS: UNAUTHENTICATED,
                TRAINEE: "pong",
            },
        )
    ],
}

SOCKETS: dict[str, tuple[dict[str, list[Row]], dict[str, Any]]] = {
    "live": (LIVE, live_consumers.HANDLERS),
    "media": (MEDIA, media_consumers.HANDLERS),
    "device": (DEVICE, device_consumer.HANDLERS),
    "exam": (EXAM, exam_consumers.HANDLERS),
}


@pytest.mark.parametrize("socket", list(SOCKETS))
def test_every_message_type_has_a_row(socket: str) -> None:
    table, handlers = SOCKETS[socket]
    missing = sorted(set(handlers) - set(table))
    assert not missing, (
        f"{socket} socket message types without a row in tests/security/test_socket_role_table.py: {missing}; add "
        'for each a Row(minimal payload, {actor: reply type or error code}) to the table, e.g. "x.y": '
        '[Row(w({...}), moderators("ack"))]'
    )
    assert not set(table) - set(handlers), f"rows for message types that no longer exist: {set(table) - set(handlers)}"
    for rows in table.values():
        for row in rows:
            assert set(row.expected) >= set(authz.ACTORS), row


# The world, committed once for the module. --------------------------------------------------------------------------


def _migrated_rows() -> str:
    """The rows migrations made (roles, the Wagtail root, locales), serialized as Django's test runner does.

    Transactional tests run before this module (pytest-django's order) and may leave the tables empty, the rows
    kept in the connection's serialized contents; otherwise the database holds them now."""
    from django.contrib.auth.models import Group

    contents = getattr(connection, "_test_serialized_contents", None)
    if Group.objects.exists() or not contents:
        contents = connection.creation.serialize_db_to_string()
    return str(contents)


def _restore(rows: str) -> None:
    """Empty every table and put back the migrations' rows."""
    call_command("flush", interactive=False, verbosity=0, reset_sequences=False, inhibit_post_migrate=True)
    connection.creation.deserialize_db_from_string(rows)


@pytest.fixture(scope="module")
def db(django_db_setup: Any) -> None:
    """Here in place of pytest-django's `db` (a transaction per test, which socket threads would not see): asking
    for it is what makes pytest-django create the test database for these tests. The world below is committed."""


@pytest.fixture(scope="module")
def world(db: None, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock():
        rows = _migrated_rows()
        _restore(rows)
        try:
            built = authz.build_world()
            session, people = built.session, built.people
            built.extra["question"] = qa.question_ask(session=session, user=people[TRAINEE], text="Which codec?").pk
            poll = polls.poll_open(session=session, user=people[INSTRUCTOR], prompt="Hear us?", choices=["Yes", "No"])
            built.extra["poll"], built.extra["poll_choice"] = poll.pk, poll.choices.first().pk  # type: ignore[union-attr]
            built.extra["poll_to_close"] = polls.poll_open(
                session=session, user=people[INSTRUCTOR], prompt="See us?", choices=["Yes", "No"]
            ).pk
            built.extra[REVOKED_AGENT] = devices.device_token_issue(room=built.room).secret
            built.extra[AGENT] = devices.device_token_issue(room=built.room).secret  # revokes the one before
            built.extra[OTHER_AGENT] = devices.device_token_issue(room=built.other_room).secret
            built.extra["paper"] = factories.exam_taking_world(user=people[TRAINEE])["paper"].pk
            yield built
        finally:
            _restore(rows)


# Opening a socket as an actor, and what one message gets back. --------------------------------------------------------


async def open_as(world: World, actor: str, path: str) -> tuple[LiveClient, dict[str, Any]]:
    """A socket opened as `actor` (a person's session cookie, or a room agent's token): the client and its first
    frame (a welcome, or the refusal's error)."""
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    person = world.user(actor)
    if person is not None:
        cookie = await sync_to_async(session_cookie)(person)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    if actor in (AGENT, OTHER_AGENT, REVOKED_AGENT):
        headers.append((b"authorization", f"Bearer {world.extra[actor]}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected  # every socket accepts first, then refuses with a frame and a close code
    client = LiveClient(communicator)
    return client, await client.receive()


async def outcome(world: World, actor: str, path: str, frame: dict[str, Any]) -> str:
    client, first = await open_as(world, actor, path)
    try:
        if first["type"] == "error":
            closed = await client.communicator.receive_output(timeout=3)
            assert closed["type"] == "websocket.close", closed
            return f"closed:{first['code']}"
        assert first["type"] == "welcome", first
        reply = await client.request(frame)
        return str(reply["code"] if reply["type"] == "error" else reply["type"])
    finally:
        with contextlib.suppress(Exception):
            await client.close()


def _params(socket: str) -> list[Any]:
    table, _handlers = SOCKETS[socket]
    return [
        pytest.param(message, index, actor, expected, id=f"{message}[{row.label or index}]-{actor}")
        for message, rows in table.items()
        for index, row in enumerate(rows)
        for actor, expected in row.expected.items()
    ]


def _check(got: str, expected: str, actor: str, socket: str, frame: dict[str, Any]) -> None:
    assert got == expected, f"{actor} on the {socket} socket sent {json.dumps(frame)}: expected {expected}, got {got}"


@pytest.mark.parametrize(("message", "index", "actor", "expected"), _params("live"))
async def test_live_socket(world: World, message: str, index: int, actor: str, expected: str) -> None:
    frame = {"type": message, **LIVE[message][index].message(world)}
    got = await outcome(world, actor, f"/ws/sessions/{world.session.pk}/", frame)
    _check(got, expected, actor, "live", frame)


@pytest.mark.parametrize(("message", "index", "actor", "expected"), _params("media"))
async def test_media_socket(world: World, message: str, index: int, actor: str, expected: str) -> None:
    frame = {"type": message, **MEDIA[message][index].message(world)}
    got = await outcome(world, actor, f"/ws/sessions/{world.session.pk}/media/", frame)
    _check(got, expected, actor, "media", frame)


@pytest.mark.parametrize(("message", "index", "actor", "expected"), _params("exam"))
async def test_exam_paper_socket(world: World, message: str, index: int, actor: str, expected: str) -> None:
    frame = {"type": message, **EXAM[message][index].message(world)}
    got = await outcome(world, actor, f"/ws/exams/papers/{world.extra['paper']}/", frame)
    _check(got, expected, actor, "exam", frame)


@pytest.mark.parametrize(("message", "index", "actor", "expected"), _params("device"))
async def test_device_socket(world: World, message: str, index: int, actor: str, expected: str) -> None:
    frame = {"type": message, **DEVICE[message][index].message(world)}
    got = await outcome(world, actor, f"/ws/rooms/{world.room.pk}/agent/", frame)
    _check(got, expected, actor, "device", frame)
