"""The device registry and camera presets: operators register and edit their rooms' devices on the console
(administrators in the admin too), agents' reports fill in state within a cap and unknown names wait for review,
and a preset command travels console → agent socket → agent → camera and back. Operators act only on their own
rooms: a forged room or camera id is refused on the page, on the socket and at the agent (tests/classrooms/
test_visca.py has the agent's side)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from classrooms.models import AuditEntry, Device, DeviceKind, DeviceReview
from classrooms.realtime import group_send
from classrooms.services import devices
from classrooms.services.devices import agent_group
from lms.errors import CorridorError
from tests import factories
from tests.classrooms.factories import RoomFactory
from tests.support.live import a_live_session

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def camera_in(room: Any, *, name: str = "Front camera", port: int | None = 52381) -> Device:
    return devices.device_register(
        room=room,
        kind=DeviceKind.CAMERA,
        name=name,
        model="Sony SRG-X120",
        address="127.0.0.1",
        visca_port=port,
        presets={"2": "Whiteboard"},
    )


def health(*names: str) -> Any:
    return {
        "publishing": False,
        "session_id": None,
        "cpu_pct": 5.0,
        "temperature_c": None,
        "link": {"rtt_ms": None, "loss_pct": None, "jitter_ms": None},
        "devices": [
            {"kind": "camera", "name": name, "ok": True, "error": "", "fps": None, "bitrate_kbps": None}
            for name in names
        ],
    }


# The registry on the console -------------------------------------------------------------------------------------


def test_an_operator_registers_a_camera_with_its_visca_port_and_preset_names() -> None:
    live = a_live_session()
    console = signed_in(live.operator)
    page = console.get(f"/en/live/rooms/{live.room.pk}/devices/new/")
    assert page.status_code == 200 and "VISCA port" in page.content.decode()
    posted = console.post(
        f"/en/live/rooms/{live.room.pk}/devices/new/",
        {
            "kind": "camera",
            "name": "Front camera",
            "model": "Sony SRG-X120",
            "address": "10.0.8.21",
            "visca_port": "52381",
            "preset_1": "Lectern",
            "preset_2": "Whiteboard",
        },
    )
    assert posted.status_code == 303
    camera = Device.objects.get(room=live.room, kind=DeviceKind.CAMERA)
    assert (camera.model, camera.address, camera.visca_port, camera.review) == (
        "Sony SRG-X120",
        "10.0.8.21",
        52381,
        DeviceReview.ACCEPTED,
    )
    assert camera.presets == {"1": "Lectern", "2": "Whiteboard"}
    shown = console.get(f"/en/live/rooms/{live.room.pk}/devices/").content.decode()
    assert "Preset 2: Whiteboard" in shown and "Preset 6" in shown and "10.0.8.21" in shown

    # Edit: a bad port is refused with the field's error, nothing changes; a good one is saved.
    edit = f"/en/live/rooms/{live.room.pk}/devices/{camera.pk}/edit/"
    refused = console.post(edit, {"name": "Front camera", "address": "10.0.8.21", "visca_port": "70000"})
    assert refused.status_code == 400 and "65535" in refused.content.decode()
    assert Device.objects.get(pk=camera.pk).visca_port == 52381
    console.post(edit, {"name": "Front camera", "address": "10.0.8.22", "visca_port": "1259", "preset_3": "Class"})
    camera.refresh_from_db()
    assert (camera.address, camera.visca_port, camera.presets) == ("10.0.8.22", 1259, {"3": "Class"})

    # Two devices of a kind cannot share a name.
    again = console.post(f"/en/live/rooms/{live.room.pk}/devices/new/", {"kind": "camera", "name": "Front camera"})
    assert again.status_code == 400 and "already has a device" in again.content.decode()

    # Each registry change is in the audit log, refused ones too; opening the forms is not.
    entries = AuditEntry.objects.order_by("pk")
    assert [(entry.action, entry.result) for entry in entries] == [
        ("device.register", "ok"),
        ("device.update", "failed"),
        ("device.update", "ok"),
        ("device.register", "failed"),
    ]
    assert all(entry.actor == live.operator and entry.room == live.room for entry in entries)
    assert entries[0].details["name"] == "Front camera" and entries[0].details["address"] == "10.0.8.21"


def test_the_cap_holds_for_registrations_and_for_names_agents_report(settings: Any) -> None:
    settings.ROOM_DEVICE_CAP = 3
    live = a_live_session()
    agent = devices.room_agent_ensure(room=live.room)  # 1
    camera_in(live.room)  # 2
    # The agent reports its camera, and two names nobody registered: one fits, the other is beyond the cap.
    devices.agent_health_record(agent_id=agent.pk, report=health("Front camera", "USB camera 1", "USB camera 2"))
    pending = Device.objects.filter(room=live.room, review=DeviceReview.PENDING)
    assert [device.name for device in pending] == ["USB camera 1"]
    assert not Device.objects.filter(name="USB camera 2").exists()
    panel = signed_in(live.operator).get(f"/en/live/rooms/{live.room.pk}/devices/panel/").content.decode()
    assert "Unknown, needs review" in panel and "reported 1 more device than" in panel
    with pytest.raises(CorridorError) as refused:
        devices.device_register(room=live.room, kind=DeviceKind.DISPLAY, name="Projector")
    assert refused.value.code == "device_cap"


def test_an_operator_accepts_or_dismisses_a_name_the_agent_reported() -> None:
    live = a_live_session()
    agent = devices.room_agent_ensure(room=live.room)
    devices.agent_health_record(agent_id=agent.pk, report=health("USB camera", "Phone camera"))
    usb, phone = (Device.objects.get(name=name) for name in ("USB camera", "Phone camera"))
    console = signed_in(live.operator)
    page = console.get(f"/en/live/rooms/{live.room.pk}/devices/").content.decode()
    assert page.count("Unknown, needs review") >= 2

    review = f"/en/live/rooms/{live.room.pk}/devices/%d/review/"
    assert console.post(review % usb.pk, {"decision": "accept"}).status_code == 303
    assert console.post(review % phone.pk, {"decision": "dismiss"}).status_code == 303
    assert Device.objects.get(pk=usb.pk).review == DeviceReview.ACCEPTED
    assert Device.objects.get(pk=phone.pk).review == DeviceReview.DISMISSED
    # The dismissed name's next report is ignored: no new state, not on the panel.
    seen = {device.pk: device.last_seen for device in (usb, phone)}
    devices.agent_health_record(agent_id=agent.pk, report=health("USB camera", "Phone camera"))
    assert Device.objects.get(pk=phone.pk).last_seen == seen[phone.pk]
    usb_seen, usb_before = Device.objects.get(pk=usb.pk).last_seen, seen[usb.pk]
    assert usb_seen is not None and usb_before is not None and usb_seen > usb_before
    panel = console.get(f"/en/live/rooms/{live.room.pk}/devices/panel/").content.decode()
    assert "USB camera" in panel and "Phone camera" not in panel


def test_administrators_keep_the_registry_in_the_admin() -> None:
    live = a_live_session()
    admin = signed_in(live.admin)
    listing = admin.get("/admin/snippets/classrooms/device/")
    assert listing.status_code == 200
    created = admin.post(
        "/admin/snippets/classrooms/device/add/",
        {
            "room": live.room.pk,
            "kind": "camera",
            "name": "Rear camera",
            "model": "PTZOptics 20X",
            "address": "10.0.8.30",
            "visca_port": "1259",
            "preset_1": "Door",
        },
    )
    assert created.status_code == 302, created.content.decode()[:2000]
    camera = Device.objects.get(name="Rear camera")
    assert (camera.visca_port, camera.presets, camera.review) == (1259, {"1": "Door"}, DeviceReview.ACCEPTED)
    edit = f"/admin/snippets/classrooms/device/edit/{camera.pk}/"
    assert 'value="Door"' in admin.get(edit).content.decode()
    edited = admin.post(
        edit, {"name": "Rear camera", "address": "10.0.8.31", "visca_port": "52381", "preset_2": "Aisle"}
    )
    assert edited.status_code == 302, edited.content.decode()[:2000]
    camera.refresh_from_db()
    assert (camera.room_id, camera.kind, camera.address, camera.presets) == (
        live.room.pk,
        DeviceKind.CAMERA,
        "10.0.8.31",
        {"2": "Aisle"},
    )
    # Operators have no admin for devices.
    assert signed_in(live.operator).get("/admin/snippets/classrooms/device/").status_code in (302, 403)


# Forged ids on the page --------------------------------------------------------------------------------------------


def test_a_forged_room_or_camera_id_is_refused_on_the_page() -> None:
    live = a_live_session()
    other = RoomFactory.create(name="Jiefangbei Studio", city="chongqing")
    theirs = camera_in(other, name="Their camera")
    ours = camera_in(live.room)
    console = signed_in(live.operator)
    preset = {"action": "recall", "preset": "2"}
    # Another room in the URL: not this operator's room.
    assert console.post(f"/en/live/rooms/{other.pk}/cameras/{theirs.pk}/preset/", preset).status_code == 403
    assert console.get(f"/en/live/rooms/{other.pk}/devices/new/").status_code == 403
    assert console.post(f"/en/live/rooms/{other.pk}/devices/{theirs.pk}/edit/", {"name": "x"}).status_code == 403
    # Their own room in the URL, another room's camera: no such camera here.
    assert console.post(f"/en/live/rooms/{live.room.pk}/cameras/{theirs.pk}/preset/", preset).status_code == 404
    assert console.get(f"/en/live/rooms/{live.room.pk}/cameras/{theirs.pk}/").status_code == 404
    forged_edit = console.post(f"/en/live/rooms/{live.room.pk}/devices/{theirs.pk}/edit/", {"name": "Mine now"})
    assert forged_edit.status_code == 404
    review = console.post(f"/en/live/rooms/{live.room.pk}/devices/{theirs.pk}/review/", {"decision": "dismiss"})
    assert review.status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.review, theirs.last_command) == ("Their camera", DeviceReview.ACCEPTED, {})
    # A trainee has no console at all.
    assert (
        signed_in(live.trainee).post(f"/en/live/rooms/{live.room.pk}/cameras/{ours.pk}/preset/", preset).status_code
        == 403
    )
    # A preset outside 1–6 is refused.
    assert (
        console.post(
            f"/en/live/rooms/{live.room.pk}/cameras/{ours.pk}/preset/", {"action": "recall", "preset": "7"}
        ).status_code
        == 400
    )


# The socket ------------------------------------------------------------------------------------------------------


async def test_a_preset_goes_to_the_agent_socket_and_the_cameras_answer_comes_back(room_agent_sockets: Any) -> None:
    live = await sync_to_async(a_live_session)()
    camera = await sync_to_async(camera_in)(live.room)
    agent, _welcome = await room_agent_sockets.open(live.room)
    await agent.request({"type": "health", "data": health("Front camera")})  # the agent is online

    def press(preset: str) -> Any:
        console = signed_in(live.operator)
        return console.post(
            f"/en/live/rooms/{live.room.pk}/cameras/{camera.pk}/preset/",
            {"action": "recall", "preset": preset},
            headers={"Accept": "application/json"},
        )

    sent = await sync_to_async(press)("2")
    assert sent.status_code == 200 and sent.json()["state"] == "pending"
    frame = await agent.receive_type("camera")
    assert frame == {
        "type": "camera",
        "id": sent.json()["command"]["id"],
        "room_id": live.room.pk,
        "camera_id": camera.pk,
        "action": "recall",
        "preset": 2,
        "address": "127.0.0.1",
        "port": 52381,
    }
    answer = {"type": "camera.result", "id": frame["id"], "camera_id": camera.pk, "ok": True}
    reply = await agent.request({**answer, "outcome": "acknowledged", "message": "acknowledged by the camera"})
    assert reply["type"] == "ack"

    def state() -> Any:
        return signed_in(live.operator).get(f"/en/live/rooms/{live.room.pk}/cameras/{camera.pk}/").json()

    shown = await sync_to_async(state)()
    assert (shown["state"], shown["text"]) == ("ok", "Recall preset 2: acknowledged by the camera.")

    # A silent camera: the agent reports the timeout, the console says so.
    sent = await sync_to_async(press)("3")
    frame = await agent.receive_type("camera")
    timeout = {**answer, "id": frame["id"], "ok": False, "outcome": "timeout", "message": "no acknowledgement"}
    await agent.request(timeout)
    shown = await sync_to_async(state)()
    assert shown["state"] == "failed" and "no acknowledgement from the camera within 2 seconds" in shown["text"]


async def test_the_agent_socket_refuses_another_rooms_camera(room_agent_sockets: Any) -> None:
    live = await sync_to_async(a_live_session)()
    other = await sync_to_async(RoomFactory.create)(name="Jiefangbei Studio", city="chongqing")
    theirs = await sync_to_async(camera_in)(other, name="Their camera")
    await sync_to_async(camera_in)(live.room)
    agent, _ = await room_agent_sockets.open(live.room)

    # A command for another room's camera on this room's group (forged, or a bug): the socket does not pass it on.
    forged = {"type": "agent.camera", "id": "f1", "camera_id": theirs.pk, "action": "recall", "preset": 2}
    await sync_to_async(group_send)(agent_group(live.room.pk), {**forged, "room_id": live.room.pk})
    await sync_to_async(group_send)(agent_group(live.room.pk), {**forged, "room_id": other.pk})
    assert await agent.nothing_more()

    # Nor may this room's agent report an answer for it.
    result = await agent.request(
        {"type": "camera.result", "id": "f1", "camera_id": theirs.pk, "ok": True, "outcome": "acknowledged"}
    )
    assert (result["type"], result["code"]) == ("error", "forbidden")
    await asyncio.sleep(0.1)
    assert (await sync_to_async(Device.objects.get)(pk=theirs.pk)).last_command == {}


def test_a_preset_needs_a_registered_camera_with_an_address_and_an_online_agent() -> None:
    live = a_live_session()
    agent = devices.room_agent_ensure(room=live.room)
    camera = camera_in(live.room, port=None)
    with pytest.raises(CorridorError) as refused:
        devices.camera_preset_send(room=live.room, camera=camera, action="recall", preset=1)
    assert refused.value.code == "no_visca_address"
    camera = devices.device_update(device=camera, name="Front camera", address="127.0.0.1", visca_port=52381)
    with pytest.raises(CorridorError) as refused:
        devices.camera_preset_send(room=live.room, camera=camera, action="recall", preset=1)
    assert refused.value.code == "agent_offline"
    devices.agent_connected(agent_id=agent.pk)
    sent = devices.camera_preset_send(room=live.room, camera=camera, action="store", preset=6, by=live.operator)
    assert (sent["command"], sent["preset"], sent["ok"]) == ("store", 6, None)
    other_operator = factories.operator()
    assert signed_in(other_operator).get(f"/en/live/rooms/{live.room.pk}/cameras/{camera.pk}/").status_code == 403


def test_a_room_an_operator_stops_is_paused_for_that_session_only_until_started() -> None:
    from classrooms.selectors.devices import session_paused_rooms

    live = a_live_session()
    devices.room_agent_ensure(room=live.room)
    devices.agent_command_send(room=live.room, command="stop", by=live.operator)
    assert session_paused_rooms(session=live.session) == [
        {"id": live.room.pk, "name": live.room.name, "city": live.room.city}
    ]
    devices.agent_command_send(room=live.room, command="start", by=live.operator)
    assert session_paused_rooms(session=live.session) == []


def test_the_room_agent_is_in_the_registry_with_its_model_and_address_and_keeps_its_name() -> None:
    live = a_live_session()
    agent = devices.room_agent_ensure(room=live.room)
    console = signed_in(live.operator)
    edit = f"/en/live/rooms/{live.room.pk}/devices/{agent.pk}/edit/"
    page = console.get(edit).content.decode()
    assert page.count("Room agent") >= 1 and "VISCA port" not in page
    posted = console.post(edit, {"name": "Something else", "model": "Intel NUC 13", "address": "10.0.8.2"})
    assert posted.status_code == 303
    agent.refresh_from_db()
    assert (agent.name, agent.model, agent.address, agent.kind) == (
        devices.AGENT_NAME,
        "Intel NUC 13",
        "10.0.8.2",
        DeviceKind.AGENT,
    )
    shown = console.get(f"/en/live/rooms/{live.room.pk}/devices/").content.decode()
    assert "Intel NUC 13" in shown and "10.0.8.2" in shown
    # Nobody dismisses the agent.
    review = console.post(f"/en/live/rooms/{live.room.pk}/devices/{agent.pk}/review/", {"decision": "dismiss"})
    assert review.status_code == 400
    assert Device.objects.get(pk=agent.pk).review == DeviceReview.ACCEPTED
