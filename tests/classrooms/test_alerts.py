"""Operators' alerts: a silent agent or device, or a lossy link, raises one alert (a record, one email per operator
in their language, a banner on the console and the live page); recovery clears it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.test import Client, override_settings
from django.utils import timezone

from classrooms.models import Alert, AlertKind, Device, DeviceKind, LinkSample, LinkScope
from classrooms.services import devices
from classrooms.services.alerts import agent_report_observe, alerts_check
from classrooms.services.link_quality import link_sample_room_record, link_samples_cross_record
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.support.live import a_live_session


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


START = timezone.now().replace(microsecond=0)


def a_report(*, loss: float = 0.0, devices: list[dict[str, Any]] | None = None) -> Any:
    return {
        "publishing": True,
        "session_id": None,
        "cpu_pct": 10.0,
        "temperature_c": None,
        "link": {"rtt_ms": 40.0, "loss_pct": loss, "jitter_ms": 3.0},
        "devices": devices
        if devices is not None
        else [
            {
                "kind": "camera",
                "name": "Front camera",
                "ok": True,
                "error": "",
                "fps": 30.0,
                "bitrate_kbps": 600.0,
                "frames_sent": 1,
                "level_db": None,
            }
        ],
    }


@pytest.fixture
def room_with_operators(db: Any) -> Any:
    room = RoomFactory.create(name="Marina Bay Studio", city="singapore")
    english = factories.operator(email="ravi@example.com", preferred_language="en")
    chinese = factories.operator(email="li@example.com", preferred_language="zh-hans")
    room.operators.add(english, chinese)
    agent = devices.room_agent_ensure(room=room)
    return room, agent, english, chinese


def body_to(address: str) -> str:
    """The body of the one alert email sent to `address` (recipients are not emailed in a fixed order)."""
    [body] = [message.body for message in mail.outbox if message.to == [address]]
    return str(body)


def reported(agent: Device, *, now: datetime, loss: float = 0.0, **changes: Any) -> None:
    report = a_report(loss=loss, **changes)
    devices.agent_health_record(agent_id=agent.pk, report=report, now=now)
    agent_report_observe(room_id=agent.room_id, report=report, now=now)


def test_a_silent_agent_raises_one_alert_emailed_once_in_each_language_and_recovery_clears_it(
    room_with_operators: Any,
) -> None:
    room, agent, _english, _chinese = room_with_operators
    reported(agent, now=at(0))
    assert alerts_check(now=at(15)) == []  # 15 s is the limit, not past it
    assert not Alert.objects.exists()

    raised = alerts_check(now=at(16))
    assert [alert.kind for alert in raised] == [AlertKind.SILENT]
    alert = Alert.objects.get()
    assert alert.room == room and alert.device == agent and alert.cleared_at is None
    # Its devices are silent too, but the agent's alert says it once.
    assert Device.objects.filter(room=room, kind=DeviceKind.CAMERA).exists()
    assert len(mail.outbox) == 2
    by_address = {message.to[0]: message for message in mail.outbox}
    assert "Marina Bay Studio" in by_address["ravi@example.com"].subject
    assert "The room agent of Marina Bay Studio has been silent for 16 seconds." in by_address["ravi@example.com"].body
    # Each in the operator's language (the Chinese words come with the coordinator's compiled catalogue).
    assert by_address["ravi@example.com"].extra_headers["Content-Language"] == "en"
    assert by_address["li@example.com"].extra_headers["Content-Language"] == "zh-hans"
    assert "Marina Bay Studio" in by_address["li@example.com"].body

    # Checked again and again: still one alert, no more email.
    alerts_check(now=at(20))
    alerts_check(now=at(25))
    assert Alert.objects.count() == 1 and len(mail.outbox) == 2

    # It reports again: the report clears it at once (no wait for the periodic check).
    reported(agent, now=at(30))
    alert.refresh_from_db()
    assert alert.cleared_at == at(30)
    # Silent again later: a new alert, a new email.
    alerts_check(now=at(50))
    assert Alert.objects.filter(cleared_at__isnull=True).count() == 1
    assert Alert.objects.count() == 2 and len(mail.outbox) == 4


def test_a_device_the_agent_stops_reporting_is_alerted_while_the_agent_lives(room_with_operators: Any) -> None:
    _room, agent, *_ = room_with_operators
    reported(agent, now=at(0))
    reported(agent, now=at(10), devices=[])  # the camera is gone from the reports
    alerts_check(now=at(14))
    assert not Alert.objects.exists()
    reported(agent, now=at(16), devices=[])  # the report's own check raises it
    alert = Alert.objects.get()
    assert alert.device is not None and alert.device.kind == DeviceKind.CAMERA
    assert "Front camera in Marina Bay Studio has not been reported for 16 seconds." in body_to("ravi@example.com")
    reported(agent, now=at(20))  # back
    assert Alert.objects.get().cleared_at == at(20)


def test_a_returning_agent_has_the_limit_to_report_its_devices_before_they_are_alerted(
    room_with_operators: Any,
) -> None:
    _room, agent, *_ = room_with_operators
    reported(agent, now=at(0))
    alerts_check(now=at(40))
    [agent_alert] = Alert.objects.all()
    assert agent_alert.device == agent
    # The agent reconnects: its alert clears, and the camera (silent for 46 s, not yet reported by the returning
    # agent) raises nothing.
    devices.agent_connected(agent_id=agent.pk, now=at(45))
    alerts_check(now=at(46))
    assert Alert.objects.get(pk=agent_alert.pk).cleared_at == at(46)
    assert not Alert.objects.filter(device__kind=DeviceKind.CAMERA).exists()
    # Its first report names no camera; a limit after its return the camera is alerted.
    reported(agent, now=at(47), devices=[])
    alerts_check(now=at(60))
    assert not Alert.objects.filter(device__kind=DeviceKind.CAMERA).exists()
    alerts_check(now=at(61))
    assert Alert.objects.filter(cleared_at__isnull=True, device__kind=DeviceKind.CAMERA).count() == 1


def test_a_link_losing_more_than_3_percent_for_10_seconds_raises_an_alert(room_with_operators: Any) -> None:
    room, agent, *_ = room_with_operators
    reported(agent, now=at(0), loss=1.0)
    reported(agent, now=at(5), loss=6.0)
    reported(agent, now=at(10), loss=5.0)
    assert not Alert.objects.exists()  # lossy for 5 s so far
    reported(agent, now=at(15), loss=8.0)
    alert = Alert.objects.get()
    assert alert.kind == AlertKind.LINK_LOSS and alert.room == room
    assert alert.details["loss_pct"] == pytest.approx((6 + 5 + 8) / 3, abs=0.01)
    assert "is losing 6.3 % of its packets" in body_to("ravi@example.com")
    reported(agent, now=at(20), loss=4.0)
    assert Alert.objects.count() == 1
    reported(agent, now=at(25), loss=0.5)
    assert Alert.objects.get().cleared_at == at(25)


def test_brief_loss_and_loss_at_the_threshold_raise_nothing(room_with_operators: Any) -> None:
    _room, agent, *_ = room_with_operators
    for second, loss in ((0, 9.0), (5, 9.0), (10, 0.0), (15, 3.0), (20, 3.0), (25, 3.0), (30, 3.0)):
        reported(agent, now=at(second), loss=loss)
    assert not Alert.objects.exists()


@override_settings(ALERT_SILENT_SECONDS=60, ALERT_LOSS_PCT=10.0)
def test_the_thresholds_are_settings(room_with_operators: Any) -> None:
    _room, agent, *_ = room_with_operators
    for second in (0, 5, 10, 15):
        reported(agent, now=at(second), loss=8.0)
    assert alerts_check(now=at(45)) == []
    assert [alert.kind for alert in alerts_check(now=at(76))] == [AlertKind.SILENT]


def test_the_cross_border_link_from_the_nodes_records(room_with_operators: Any) -> None:
    _room, _agent, _english, _chinese = room_with_operators
    other = RoomFactory.create(name="Jiefangbei Room", city="chongqing")
    far_operator = factories.operator(email="wang@example.com")
    other.operators.add(far_operator)

    def nodes(loss: float, now: datetime) -> list[dict[str, Any]]:
        link = {"peer": "10.0.0.2:7000", "rtt_ms": 64.0, "loss_pct": loss, "jitter_ms": 4.0, "send_kbps": 900.0}
        return [{"id": "sg-1", "city": "singapore", "links": [{**link, "at": now.timestamp()}]}]

    for second in (0, 5, 10):
        assert link_samples_cross_record(nodes=nodes(5.0, at(second)), now=at(second)) == 1
        alerts_check(now=at(second))
    alert = Alert.objects.get()
    assert alert.room is None and alert.kind == AlertKind.LINK_LOSS
    assert {message.to[0] for message in mail.outbox} == {"ravi@example.com", "li@example.com", "wang@example.com"}
    assert "The Singapore–Chongqing link is losing 5.0 % of its packets." in body_to("ravi@example.com")
    assert "新加坡–重庆链路正在丢失 5.0 % 的数据包。" in body_to("li@example.com")
    sample = LinkSample.objects.filter(scope=LinkScope.CROSS).last()
    assert sample is not None and sample.peer == "singapore→10.0.0.2:7000" and sample.rtt_ms == 64.0
    # Its figures stop (the nodes' link is gone): the alert clears after the silence limit.
    alerts_check(now=at(26))
    assert Alert.objects.get().cleared_at == at(26)


def test_the_console_banner_feed_shows_the_readers_rooms_only(room_with_operators: Any) -> None:
    room, agent, english, chinese = room_with_operators
    other = RoomFactory.create(name="Jiefangbei Room", city="chongqing")
    stranger = factories.operator()
    other.operators.add(stranger)
    reported(agent, now=timezone.now() - timedelta(seconds=20))
    alerts_check()

    def feed(user: Any, language: str = "en") -> Any:
        client = Client()
        client.force_login(user)
        return client.get(f"/{language}/live/alerts/active/")

    alerts = feed(english).json()["alerts"]
    assert [alert["kind"] for alert in alerts] == ["silent"]
    assert alerts[0]["room_id"] == room.pk and "Marina Bay Studio" in alerts[0]["text"]
    chinese_text = feed(chinese, "zh-hans").json()["alerts"][0]["text"]
    assert chinese_text == alerts[0]["message"]["zh-hans"]
    assert feed(stranger).json() == {"alerts": []}
    assert feed(factories.administrator()).json()["alerts"][0]["key"] == alerts[0]["key"]
    assert feed(factories.trainee()).status_code == 403

    # The console pages carry the banner that polls the feed.
    client = Client()
    client.force_login(english)
    page = client.get(f"/en/live/rooms/{room.pk}/devices/").content.decode()
    assert "data-alerts-banner" in page and "/en/live/alerts/active/" in page


def test_a_session_id_the_agent_names_is_kept_only_for_a_session_in_its_room(room_with_operators: Any) -> None:
    room, _agent, _english, _ = room_with_operators
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    mine = LiveSessionFactory.create(course=course, instructor=factories.instructor(), rooms=[room])
    elsewhere = LiveSessionFactory.create(course=course, instructor=factories.instructor(), rooms=[])
    kept = link_sample_room_record(room_id=room.pk, session_id=mine.pk, link={"loss_pct": 1}, bitrate_kbps=None)
    dropped = link_sample_room_record(room_id=room.pk, session_id=elsewhere.pk, link={}, bitrate_kbps=None)
    assert kept.session_id == mine.pk and dropped.session_id is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_live_page_of_the_rooms_operators_hears_alerts_and_trainees_do_not(connect: Any) -> None:
    live = await sync_to_async(a_live_session)()
    agent = await sync_to_async(devices.room_agent_ensure)(room=live.room)
    _, _, operator = await connect(live.operator, live.session.pk)
    _, _, trainee = await connect(live.trainee, live.session.pk)
    await operator.receive_type("welcome")
    await trainee.receive_type("welcome")

    await sync_to_async(Device.objects.filter(pk=agent.pk).update)(last_seen=timezone.now() - timedelta(seconds=30))
    await sync_to_async(alerts_check)()
    raised = await operator.receive_type("alert.raised")
    assert raised["data"]["kind"] == "silent" and raised["data"]["room_id"] == live.room.pk
    assert "has been silent" in raised["data"]["message"]["en"]

    await sync_to_async(Device.objects.filter(pk=agent.pk).update)(last_seen=timezone.now())
    await sync_to_async(alerts_check)()
    cleared = await operator.receive_type("alert.cleared")
    assert cleared["data"]["id"] == raised["data"]["id"] and cleared["data"]["cleared_at"]
    assert await trainee.nothing_more()


def test_the_live_page_starts_with_the_open_alerts_for_staff_only(db: Any) -> None:
    live = a_live_session()
    agent = devices.room_agent_ensure(room=live.room)
    Device.objects.filter(pk=agent.pk).update(last_seen=timezone.now() - timedelta(seconds=20))
    alerts_check()

    def page(user: Any) -> str:
        client = Client()
        client.force_login(user)
        return client.get(f"/en/live/sessions/{live.session.pk}/").content.decode()

    for user in (live.operator, live.instructor):
        html = page(user)
        assert "data-alerts-banner" in html and "has been silent for" in html  # in data-initial, as JSON
        assert f"/en/live/sessions/{live.session.pk}/links/" in html
    trainee_page = page(live.trainee)
    assert "data-alerts-banner" not in trainee_page and "has been silent" not in trainee_page
