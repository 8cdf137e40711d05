"""Rooms' devices: agent tokens (issued once, hashed, revocable), health, and the operator console."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from classrooms.models import Device, DeviceHealthSample, DeviceKind, DeviceToken, LiveSession, Room, SessionState
from classrooms.selectors import devices as device_selectors
from classrooms.services import devices
from courses.models import CoursePage
from lms.accounts.models import User
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def room_setup() -> Any:
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    room = RoomFactory.create(name="Marina Bay Studio", city="singapore")
    operator = factories.operator(first_name="Ravi", last_name="Kumar")
    room.operators.add(operator)
    session = LiveSessionFactory.create(
        course=course, instructor=factories.instructor(), rooms=[room], title="Networking lab"
    )

    class Setup:
        room: Room
        operator: User
        session: LiveSession
        course: CoursePage

    setup = Setup()
    setup.room, setup.operator, setup.session, setup.course = room, operator, session, course
    return setup


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report(**changes: Any) -> Any:
    data: dict[str, Any] = {
        "publishing": True,
        "session_id": None,
        "cpu_pct": 20.0,
        "temperature_c": None,
        "link": {"rtt_ms": 38.0, "loss_pct": 0.0, "jitter_ms": 2.0},
        "devices": [
            {
                "kind": "camera",
                "name": "Synthetic camera",
                "ok": True,
                "error": "",
                "fps": 30.0,
                "bitrate_kbps": 500.0,
                "frames_sent": 300,
                "level_db": None,
            }
        ],
    }
    data.update(changes)
    return data


# Tokens ---------------------------------------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_as_its_hash_and_replaced_by_the_next(room_setup: Any) -> None:
    first = devices.device_token_issue(room=room_setup.room, by=room_setup.operator)
    assert first.secret.startswith("cra_") and len(first.secret) > 40
    stored = DeviceToken.objects.get()
    assert stored.token_hash == hashlib.sha256(first.secret.encode()).hexdigest()
    assert first.secret not in json.dumps([stored.token_hash, stored.prefix]) and first.secret.startswith(stored.prefix)
    assert stored.device.kind == DeviceKind.AGENT and stored.device.room == room_setup.room
    assert device_selectors.active_token(token=first.secret) == stored

    second = devices.device_token_issue(room=room_setup.room)
    assert device_selectors.active_token(token=first.secret) is None
    assert device_selectors.active_token(token=second.secret) is not None
    kept = devices.device_token_issue(room=room_setup.room, revoke_others=False)
    assert device_selectors.active_token(token=second.secret) is not None

    devices.device_token_revoke(token=DeviceToken.objects.get(token_hash=device_selectors.token_hash(kept.secret)))
    assert devices.agent_authenticate(token=kept.secret) is None
    identity = devices.agent_authenticate(token=second.secret)
    assert identity is not None and (identity.room_id, identity.city) == (room_setup.room.pk, "singapore")
    assert DeviceToken.objects.get(token_hash=device_selectors.token_hash(second.secret)).last_used_at is not None
    assert devices.agent_authenticate(token="") is None and devices.agent_authenticate(token="x" * 500) is None


def test_the_management_command_issues_and_revokes(room_setup: Any, capsys: Any) -> None:
    call_command("issue_room_token", "marina-bay-studio")
    token = capsys.readouterr().out.splitlines()[1].strip()
    assert devices.agent_authenticate(token=token) is not None
    call_command("issue_room_token", str(room_setup.room.pk), "--revoke")
    assert "Revoked 1 token" in capsys.readouterr().out
    assert devices.agent_authenticate(token=token) is None


# Health ---------------------------------------------------------------------------------------------------------


def test_health_is_stored_with_history_and_old_samples_go(room_setup: Any) -> None:
    agent = devices.room_agent_ensure(room=room_setup.room)
    long_ago = timezone.now() - timedelta(hours=1)
    devices.agent_health_record(agent_id=agent.pk, report=report(), now=long_ago)
    devices.agent_health_record(agent_id=agent.pk, report=report(), now=timezone.now())
    # Samples older than KEEP_SAMPLES are deleted as new ones come.
    assert DeviceHealthSample.objects.filter(at=long_ago).count() == 0
    views = {view.device.kind: view for view in device_selectors.room_device_views(room=room_setup.room)}
    assert views[DeviceKind.CAMERA].status == "online"
    assert views[DeviceKind.CAMERA].fps.values == [30.0]
    assert views[DeviceKind.AGENT].rtt.values == [38.0]

    slow = report(devices=[{**report()["devices"][0], "fps": 9.0}])
    devices.agent_health_record(agent_id=agent.pk, report=slow)
    camera = Device.objects.get(kind=DeviceKind.CAMERA)
    assert device_selectors.device_status(camera, now=timezone.now()) == "degraded"
    assert device_selectors.device_status(camera, now=timezone.now() + timedelta(minutes=1)) == "offline"


# The console ----------------------------------------------------------------------------------------------------


def test_the_console_is_for_the_rooms_operators_and_administrators(room_setup: Any) -> None:
    url = f"/en/live/rooms/{room_setup.room.pk}/devices/"
    assert signed_in(room_setup.operator).get(url).status_code == 200
    assert signed_in(factories.administrator()).get(url).status_code == 200
    trainee = factories.trainee()
    for user in (trainee, factories.operator(), factories.instructor()):
        assert signed_in(user).get(url).status_code == 403
        assert signed_in(user).get(f"{url}panel/").status_code == 403
        assert signed_in(user).post(f"/en/live/rooms/{room_setup.room.pk}/tokens/").status_code == 403
    assert signed_in(trainee).get("/en/live/rooms/").status_code == 403
    assert Client().get(url).status_code == 302  # to the login page
    assert signed_in(room_setup.operator).get("/en/live/rooms/9999/devices/").status_code == 404


def test_the_console_shows_health_link_and_the_commands_result(room_setup: Any) -> None:
    agent = devices.room_agent_ensure(room=room_setup.room)
    devices.agent_health_record(agent_id=agent.pk, report=report(session_id=room_setup.session.pk))
    client = signed_in(room_setup.operator)
    page = client.get(f"/en/live/rooms/{room_setup.room.pk}/devices/").content.decode()
    assert "Devices: Marina Bay Studio" in page
    assert "Synthetic camera" in page and "30 fps" in page and "500 kbit/s" in page
    assert "38 ms" in page and "<polyline" in page and "Networking lab" in page
    assert "Round trip (ms)" in page and "%%" not in page
    assert f"into session {room_setup.session.pk}" in page

    response = client.post(f"/en/live/rooms/{room_setup.room.pk}/stream/", {"command": "start"})
    assert response.status_code == 303
    panel = client.get(f"/en/live/rooms/{room_setup.room.pk}/devices/panel/").content.decode()
    assert "waiting for the room agent" in panel
    command = Device.objects.get(pk=agent.pk).last_command
    devices.agent_command_result(
        agent_id=agent.pk,
        result={
            "type": "command.result",
            "id": command["id"],
            "ok": False,
            "message": "camera busy",
            "publishing": False,
            "session_id": None,
        },
    )
    panel = client.get(f"/en/live/rooms/{room_setup.room.pk}/devices/panel/").content.decode()
    assert "failed" in panel and "camera busy" in panel

    # In Chinese too.
    room_setup.operator.preferred_language = "zh-hans"
    room_setup.operator.save()
    panel = client.get(f"/zh-hans/live/rooms/{room_setup.room.pk}/devices/panel/").content.decode()
    assert "设备" in panel


def test_start_needs_a_live_session_in_the_room(room_setup: Any) -> None:
    room_setup.session.state = SessionState.ENDED
    room_setup.session.save()
    client = signed_in(room_setup.operator)
    response = client.post(
        f"/en/live/rooms/{room_setup.room.pk}/stream/", {"command": "start"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_live_session"
    assert client.post(f"/en/live/rooms/{room_setup.room.pk}/stream/", {"command": "dance"}).status_code == 400


def test_a_missing_or_forged_stream_command_is_refused_and_nothing_is_sent(room_setup: Any) -> None:
    agent = devices.room_agent_ensure(room=room_setup.room)
    client = signed_in(room_setup.operator)
    url = f"/en/live/rooms/{room_setup.room.pk}/stream/"
    for posted in ({}, {"command": "reboot"}, {"command": ""}):
        response = client.post(url, posted, headers={"Accept": "application/json"})
        assert response.status_code == 400
        assert response.json()["error"] == {"code": "invalid_command", "message": "Choose start or stop."}
    assert Device.objects.get(pk=agent.pk).last_command == {}


def test_a_token_issued_on_the_console_is_shown_once_and_can_be_revoked(room_setup: Any) -> None:
    client = signed_in(room_setup.operator)
    page = client.post(f"/en/live/rooms/{room_setup.room.pk}/tokens/").content.decode()
    token = DeviceToken.objects.get()
    secret = page.split('id="issued-token" type="text" readonly value="')[1].split('"')[0]
    assert devices.agent_authenticate(token=secret) is not None
    assert token.created_by == room_setup.operator
    # Never again: the page lists the token by its prefix only.
    again = client.get(f"/en/live/rooms/{room_setup.room.pk}/devices/").content.decode()
    assert secret not in again and f"{token.prefix}…" in again

    response = client.post(f"/en/live/rooms/{room_setup.room.pk}/tokens/{token.pk}/revoke/")
    assert response.status_code == 303
    assert devices.agent_authenticate(token=secret) is None
    # A token of another room is not found through this room.
    other = devices.device_token_issue(room=RoomFactory.create()).token
    assert client.post(f"/en/live/rooms/{room_setup.room.pk}/tokens/{other.pk}/revoke/").status_code == 404
