"""The audit log: operators' and administrators' actions (who, what, when, result, from where) are recorded,
administrators read, filter and export them, and nobody can change or delete them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone

from classrooms.models import AuditEntry, DeviceToken
from classrooms.services.audit import audit_record
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.support.live import a_live_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(db: Any) -> Any:
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    room = RoomFactory.create(name="Marina Bay Studio", city="singapore")
    operator = factories.operator(first_name="Ravi", last_name="Kumar", email="ravi@example.com")
    room.operators.add(operator)
    session = LiveSessionFactory.create(course=course, instructor=factories.instructor(), rooms=[room])

    class Console:
        pass

    setup = Console()
    setup.room, setup.operator, setup.session = room, operator, session  # type: ignore[attr-defined]
    return setup


def signed_in(user: Any, address: str = "203.0.113.7") -> Client:
    client = Client(REMOTE_ADDR=address)
    client.force_login(user)
    return client


def test_console_actions_are_recorded_with_who_what_result_and_address(console: Any) -> None:
    client = signed_in(console.operator)
    room = console.room
    assert client.post(f"/en/live/rooms/{room.pk}/stream/", {"command": "stop"}).status_code == 303
    assert client.post(f"/en/live/rooms/{room.pk}/microphone/", {"muted": "1"}).status_code == 303
    assert client.post(f"/en/live/rooms/{room.pk}/tokens/").status_code == 200
    token = DeviceToken.objects.get()
    assert client.post(f"/en/live/rooms/{room.pk}/tokens/{token.pk}/revoke/").status_code == 303

    entries = list(AuditEntry.objects.order_by("pk"))
    assert [entry.action for entry in entries] == [
        "room.stream",
        "room.microphone",
        "device.token.issue",
        "device.token.revoke",
    ]
    for entry in entries:
        assert entry.actor == console.operator and entry.actor_name == "Ravi Kumar <ravi@example.com>"
        assert entry.room == room and entry.result == "ok" and entry.address == "203.0.113.7"
        assert entry.target == "room Marina Bay Studio"
    assert entries[0].details == {"command": "stop"}
    assert entries[1].details == {"muted": "1"}
    assert entries[3].details == {"token_id": token.pk}
    assert token.token_hash not in str([entry.details for entry in entries])


def test_refused_and_failed_actions_are_recorded_too(console: Any) -> None:
    stranger = factories.operator(email="eve@example.com")
    assert (
        signed_in(stranger, "198.51.100.9")
        .post(f"/en/live/rooms/{console.room.pk}/stream/", {"command": "stop"})
        .status_code
        == 403
    )
    refused = AuditEntry.objects.get()
    assert (refused.actor, refused.result, refused.address, refused.details["error"]) == (
        stranger,
        "refused",
        "198.51.100.9",
        "forbidden",
    )
    console.session.state = "ended"
    console.session.save()
    signed_in(console.operator).post(f"/en/live/rooms/{console.room.pk}/stream/", {"command": "start"})
    failed = AuditEntry.objects.latest("pk")
    assert failed.result == "failed" and failed.details == {"command": "start", "error": "no_live_session"}


def test_session_start_and_end_on_the_page_are_recorded(console: Any) -> None:
    console.session.state = "scheduled"
    console.session.save()
    client = signed_in(console.session.instructor)
    assert client.post(f"/en/live/sessions/{console.session.pk}/state/", {"state": "live"}).status_code == 303
    entry = AuditEntry.objects.get()
    assert entry.action == "session.state" and entry.target == f"session {console.session.pk}"
    assert entry.details == {"state": "live", "session_id": console.session.pk}


def test_nobody_can_change_or_delete_the_log(console: Any) -> None:
    entry = audit_record(actor=console.operator, action="room.stream", room=console.room, address="10.0.0.1")
    entry.result = "refused"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry.pk).update(result="refused")
    with pytest.raises(TypeError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().result == "ok"
    # A forged address is not stored as one.
    assert audit_record(actor=None, action="x", address="not-an-ip").address is None


def test_only_administrators_read_filter_and_export_it(console: Any) -> None:
    admin = factories.administrator(email="admin@example.com")
    now = timezone.now()
    audit_record(actor=console.operator, action="room.stream", room=console.room, address="10.0.0.1", now=now)
    audit_record(actor=admin, action="device.token.issue", room=console.room, result="ok", now=now)
    audit_record(actor=console.operator, action="room.microphone", result="refused", now=now - timedelta(days=3))

    for user in (console.operator, factories.trainee(), console.session.instructor):
        assert signed_in(user).get("/en/live/audit/").status_code == 403
        assert signed_in(user).get("/en/live/audit.csv").status_code == 403
    client = signed_in(admin)
    page = client.get("/en/live/audit/").content.decode()
    assert page.count("data-audit-action=") == 3
    assert client.get("/en/live/audit/?action=room.").content.decode().count("data-audit-action=") == 2
    assert client.get("/en/live/audit/?actor=admin@").content.decode().count("data-audit-action=") == 1
    assert client.get("/en/live/audit/?result=refused").content.decode().count("data-audit-action=") == 1
    since = (now - timedelta(days=1)).date().isoformat()
    assert client.get(f"/en/live/audit/?since={since}").content.decode().count("data-audit-action=") == 2
    assert client.get(f"/en/live/audit/?room={console.room.pk}").content.decode().count("data-audit-action=") == 2
    bad = client.get("/en/live/audit/?since=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.content.decode()

    response = client.get("/en/live/audit.csv?action=room.")
    assert response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["at_utc", "who", "action", "target", "room", "result", "from", "details"]
    assert sorted(row[2] for row in rows[1:]) == ["room.microphone", "room.stream"]
    assert {row[6] for row in rows[1:]} == {"10.0.0.1", ""}

    # The console and the Wagtail admin link to it for administrators only.
    assert "data-audit-log-link" in client.get("/en/live/rooms/").content.decode()
    assert "data-audit-log-link" not in signed_in(console.operator).get("/en/live/rooms/").content.decode()
    assert "/en/live/audit/" in client.get("/admin/").content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_moderators_socket_actions_are_recorded(connect: Any) -> None:
    live = await sync_to_async(a_live_session)()
    _, _, instructor = await connect(live.instructor, live.session.pk)
    await instructor.receive_type("welcome")
    assert (await instructor.request({"type": "session.recording", "recorded": True}))["type"] == "ack"
    assert (await instructor.request({"type": "session.state", "state": "ended"}))["type"] == "ack"

    def read() -> list[dict[str, Any]]:
        return [dict(row) for row in AuditEntry.objects.order_by("pk").values("actor", "action", "target", "details")]

    entries = await sync_to_async(read)()
    target = f"session {live.session.pk}"
    assert entries == [
        {
            "actor": live.instructor.pk,
            "action": "session.recording",
            "target": target,
            "details": {"recorded": True, "via": "socket"},
        },
        {
            "actor": live.instructor.pk,
            "action": "session.state",
            "target": target,
            "details": {"state": "ended", "via": "socket"},
        },
    ]
