"""A trainee's timetable, their personal iCal feed, and the reminder email before each session."""

import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from icalendar import Calendar

from classrooms.models import LiveSession, Room, SessionState
from classrooms.services.reminders import session_reminder_send
from classrooms.tasks import send_session_reminders
from courses.models import CoursePage
from lms.accounts.models import User
from lms.timezones import city_time_zone
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def term(catalogue: Any) -> Any:
    """An English course with a Chinese translation, two rooms, an instructor and two enrolled trainees."""
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1, title="Cross-border logistics")
    chinese_course = course.copy_for_translation(factories.chinese(), copy_parents=True)
    chinese_course.title = "跨境物流"
    chinese_course.save_revision().publish()

    class Term:
        course: CoursePage
        singapore: Room
        chongqing: Room
        instructor: User
        trainee: User
        chinese_trainee: User

    t = Term()
    t.course = course
    t.singapore = RoomFactory.create(name="Marina Room", city="singapore")
    t.chongqing = RoomFactory.create(name="Jiefangbei Room", city="chongqing")
    t.instructor = factories.instructor(first_name="Mei", last_name="Tan")
    t.trainee = factories.trainee(first_name="Wei Ling", home_region="singapore", preferred_language="en")
    t.chinese_trainee = factories.trainee(first_name="小明", home_region="chongqing", preferred_language="zh-hans")
    enrol(t.trainee, course)
    enrol(t.chinese_trainee, chinese_course)  # enrolled through the Chinese page: the same course
    return t


def session_in(term: Any, *, starts_in: timedelta, **kwargs: Any) -> LiveSession:
    starts_at = timezone.now().replace(microsecond=0) + starts_in
    kwargs.setdefault("rooms", [term.singapore, term.chongqing])
    kwargs.setdefault("state", SessionState.SCHEDULED)
    return LiveSessionFactory.create(
        course=term.course,
        instructor=term.instructor,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        **kwargs,
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# The timetable page


def test_timetable_shows_my_sessions_in_my_city_time(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(days=2), title="Port operations walkthrough")
    session.starts_at = session.starts_at.replace(hour=1, minute=0, second=0)  # 09:00 in both cities
    session.ends_at = session.starts_at + timedelta(minutes=90)
    session.save()
    html = signed_in(term.trainee).get("/en/live/timetable/").content.decode()
    assert "Cross-border logistics" in html
    assert "Port operations walkthrough" in html
    assert "09:00–10:30" in html
    assert "Singapore time" in html  # my city, labelled
    assert "in Chongqing" in html  # the other city's clock beside it
    assert "Marina Room" in html and "(Singapore)" in html
    assert "Jiefangbei Room" in html and "(Chongqing)" in html
    assert "Scheduled" in html
    assert f"/en/live/sessions/{session.pk}/" not in html  # no link until the lobby opens, 15 minutes before


def test_the_lobby_opens_15_minutes_before_and_the_instructor_may_open_the_page_to_start_it(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(minutes=10), title="Customs clearance drill")
    page = f"/en/live/sessions/{session.pk}/"
    html = signed_in(term.trainee).get("/en/live/timetable/").content.decode()
    assert page in html and "Open the lobby" in html and "Join" not in html
    html = signed_in(session.instructor).get("/en/live/timetable/").content.decode()
    assert page in html and "Open to start" in html
    LiveSession.objects.filter(pk=session.pk).update(
        starts_at=session.starts_at + timedelta(hours=1), ends_at=session.ends_at + timedelta(hours=1)
    )
    assert page not in signed_in(term.trainee).get("/en/live/timetable/").content.decode()
    assert page in signed_in(session.instructor).get("/en/live/timetable/").content.decode()  # to prepare


def test_chongqing_trainee_sees_chongqing_time_and_the_chinese_title(term: Any) -> None:
    session_in(term, starts_in=timedelta(days=1))
    html = signed_in(term.chinese_trainee).get("/zh-hans/live/timetable/").content.decode()
    assert "跨境物流" in html
    assert "Cross-border logistics" not in html
    assert "/zh-hans/live/timetable/" in html  # the nav link, in the page's language


def test_live_session_has_a_join_link_and_ended_ones_are_recent(term: Any) -> None:
    live = session_in(term, starts_in=timedelta(minutes=-10), state=SessionState.LIVE, title="Happening now")
    ended = session_in(term, starts_in=timedelta(days=-3), state=SessionState.ENDED, title="Last week's class")
    html = signed_in(term.trainee).get("/en/live/timetable/").content.decode()
    assert f'href="/en/live/sessions/{live.pk}/"' in html
    assert f"/en/live/sessions/{ended.pk}/" not in html
    upcoming, recent = html.split('id="recent-heading"')
    assert "Happening now" in upcoming and "Live" in upcoming
    assert "Last week&#x27;s class" in recent and "Ended" in recent


def test_other_peoples_sessions_are_not_shown(term: Any, catalogue: Any) -> None:
    other_course = factories.course_with_lessons(catalogue, modules=1, lessons=1, title="Someone else's course")
    LiveSessionFactory.create(course=other_course, instructor=factories.instructor(), title="Not yours")
    session_in(term, starts_in=timedelta(days=1), title="Yours")
    html = signed_in(term.trainee).get("/en/live/timetable/").content.decode()
    assert "Yours" in html
    assert "Not yours" not in html


def test_instructor_sees_the_sessions_they_teach(term: Any) -> None:
    session_in(term, starts_in=timedelta(days=1), title="Taught by Mei")
    html = signed_in(term.instructor).get("/en/live/timetable/").content.decode()
    assert "Taught by Mei" in html


def test_empty_timetable_says_so_and_still_offers_the_feed(catalogue: Any) -> None:
    trainee = factories.trainee()
    html = signed_in(trainee).get("/en/live/timetable/").content.decode()
    assert "No live sessions on your timetable" in html
    assert f"/calendar/{trainee.calendar_token}.ics" in html
    assert "Reset link" in html


def test_timetable_needs_a_signed_in_user(catalogue: Any) -> None:
    response = Client().get("/en/live/timetable/")
    assert response.status_code == 302
    assert "/en/accounts/login/" in response["Location"]


def test_nav_links_to_the_timetable(term: Any) -> None:
    html = signed_in(term.trainee).get("/en/learning/").content.decode()
    assert 'href="/en/live/timetable/"' in html


def test_timetable_queries_do_not_grow_with_sessions(term: Any) -> None:
    client = signed_in(term.trainee)
    module = term.course.get_children().first().specific
    session_in(term, starts_in=timedelta(days=1), module=module)
    client.get("/en/live/timetable/")
    with CaptureQueriesContext(connection) as few:
        client.get("/en/live/timetable/")
    for day in range(2, 12):
        session_in(term, starts_in=timedelta(days=day), module=module, rooms=[RoomFactory.create(), term.chongqing])
    with CaptureQueriesContext(connection) as many:
        assert client.get("/en/live/timetable/").status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


# The iCal feed


def feed(client: Client, user: User) -> Calendar:
    response = client.get(f"/calendar/{user.calendar_token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> list[Any]:
    return list(calendar.walk("VEVENT"))


def test_feed_lists_my_sessions_as_events_in_utc(term: Any, catalogue: Any) -> None:
    mine = session_in(term, starts_in=timedelta(days=3), title="Customs paperwork")
    online = session_in(term, starts_in=timedelta(days=4), rooms=[])
    other_course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    LiveSessionFactory.create(course=other_course, instructor=factories.instructor(), title="Not yours")
    calendar = feed(Client(), term.trainee)
    found = {str(event["UID"]): event for event in events(calendar)}
    assert set(found) == {f"live-session-{mine.pk}@corridor", f"live-session-{online.pk}@corridor"}
    event = found[f"live-session-{mine.pk}@corridor"]
    assert event.decoded("DTSTART") == mine.starts_at
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == mine.ends_at
    assert "DTSTART:" in event.to_ical().decode() and event.to_ical().decode().count("Z\r\n") >= 2
    assert str(event["SUMMARY"]) == "Cross-border logistics"
    assert str(event["LOCATION"]) == "Jiefangbei Room (Chongqing); Marina Room (Singapore)"
    assert str(event["URL"]) == f"http://testserver/en/live/sessions/{mine.pk}/"
    description = str(event["DESCRIPTION"])
    assert "Customs paperwork" in description and "Mei Tan" in description and "Singapore time" in description
    assert str(found[f"live-session-{online.pk}@corridor"]["LOCATION"]) == "Online"


def test_feed_uids_are_stable_and_follow_a_moved_session(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(days=3))
    before = events(feed(Client(), term.trainee))[0]
    session.starts_at += timedelta(days=1)
    session.ends_at += timedelta(days=1)
    session.save()
    after = events(feed(Client(), term.trainee))[0]
    assert str(after["UID"]) == str(before["UID"])
    assert after.decoded("DTSTART") == before.decoded("DTSTART") + timedelta(days=1)


def test_feed_is_in_my_preferred_language(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(days=3))
    event = events(feed(Client(), term.chinese_trainee))[0]
    assert str(event["SUMMARY"]) == "跨境物流"
    assert str(event["URL"]).endswith(f"/zh-hans/live/sessions/{session.pk}/")


def test_feed_includes_sessions_i_teach(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(days=3))
    assert [str(e["UID"]) for e in events(feed(Client(), term.instructor))] == [f"live-session-{session.pk}@corridor"]


def test_unknown_token_is_404(catalogue: Any) -> None:
    assert Client().get("/calendar/not-a-real-token.ics").status_code == 404
    assert Client().get("/calendar/.ics").status_code == 404


def test_reset_invalidates_the_old_link(term: Any) -> None:
    session_in(term, starts_in=timedelta(days=3))
    client = signed_in(term.trainee)
    old_url = f"/calendar/{term.trainee.calendar_token}.ics"
    assert client.get(old_url).status_code == 200
    assert client.get("/en/live/timetable/calendar-link/reset/").status_code == 405  # a GET changes nothing
    response = client.post("/en/live/timetable/calendar-link/reset/")
    assert response.status_code == 302
    assert response["Location"] == "/en/live/timetable/"
    term.trainee.refresh_from_db()
    new_url = f"/calendar/{term.trainee.calendar_token}.ics"
    assert new_url != old_url
    assert Client().get(old_url).status_code == 404
    assert Client().get(new_url).status_code == 200
    page = client.get("/en/live/timetable/").content.decode()
    assert new_url in page and old_url not in page
    assert "the old link no longer works" in page


def test_tokens_are_unique_and_long(catalogue: Any) -> None:
    tokens = {factories.trainee().calendar_token for _ in range(5)}
    assert len(tokens) == 5
    assert all(len(token) >= 40 for token in tokens)


# Reminder emails


def reminders_to(address: str) -> list[Any]:
    return [message for message in mail.outbox if message.to == [address]]


def test_reminder_goes_once_to_each_trainee_and_the_instructor(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(minutes=20))
    send_session_reminders()
    send_session_reminders()  # the next beat tick, or an overlapping worker
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [term.trainee.email, term.chinese_trainee.email, term.instructor.email]
    )
    session.refresh_from_db()
    assert session.reminder_sent_at is not None


def test_reminder_is_in_the_recipients_language_with_the_join_link(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(minutes=20))
    send_session_reminders()
    [english] = reminders_to(term.trainee.email)
    assert "Cross-border logistics" in english.subject
    assert "Singapore time" in english.subject
    assert f"{settings.WAGTAILADMIN_BASE_URL}/en/live/sessions/{session.pk}/" in english.body
    assert "/en/live/timetable/" in english.body and "iCal" in english.body
    assert "Marina Room (Singapore)" in english.body
    assert "Wei Ling" in english.body
    [chinese] = reminders_to(term.chinese_trainee.email)
    assert "跨境物流" in chinese.subject
    assert "Cross-border logistics" not in chinese.body
    assert f"/zh-hans/live/sessions/{session.pk}/" in chinese.body
    assert "/zh-hans/live/timetable/" in chinese.body
    assert "&" not in chinese.body and "&#" not in english.body  # plain text, not HTML-escaped


def test_sessions_far_ahead_started_or_ended_are_not_reminded(term: Any) -> None:
    far = session_in(term, starts_in=timedelta(minutes=settings.CORRIDOR_REMINDER_MINUTES + 5))
    session_in(term, starts_in=timedelta(minutes=-5), state=SessionState.LIVE)
    session_in(term, starts_in=timedelta(minutes=10), state=SessionState.ENDED)  # called off
    send_session_reminders()
    assert mail.outbox == []
    far.refresh_from_db()
    assert far.reminder_sent_at is None


def test_reminder_window_follows_the_setting(term: Any, settings: Any) -> None:
    settings.CORRIDOR_REMINDER_MINUTES = 90
    session_in(term, starts_in=timedelta(minutes=60))
    send_session_reminders()
    assert len(mail.outbox) == 3


def test_a_claimed_session_is_not_sent_again(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(minutes=20))
    LiveSession.objects.filter(pk=session.pk).update(reminder_sent_at=timezone.now())  # another worker got it
    assert session_reminder_send(session_id=session.pk, now=timezone.now()) == 0
    send_session_reminders()
    assert mail.outbox == []


def test_a_failed_send_is_retried_by_the_next_run(term: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.mail.backends.locmem import EmailBackend

    session = session_in(term, starts_in=timedelta(minutes=20))
    real_send = EmailBackend.send_messages

    def broken(self: Any, messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(EmailBackend, "send_messages", broken)
    send_session_reminders()
    session.refresh_from_db()
    assert session.reminder_sent_at is None
    monkeypatch.setattr(EmailBackend, "send_messages", real_send)
    send_session_reminders()
    assert len(mail.outbox) == 3


def test_beat_runs_the_reminders_every_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["send-session-reminders"]
    assert entry["task"] == "classrooms.tasks.send_session_reminders"
    assert entry["schedule"] == timedelta(seconds=60)
    assert send_session_reminders.name == entry["task"]


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="concurrent writers need PostgreSQL (SQLite serialises the whole database)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_at_once_send_one_reminder(term: Any) -> None:
    session = session_in(term, starts_in=timedelta(minutes=20))
    now = timezone.now()
    barrier = threading.Barrier(2)
    sent: list[int] = []

    def worker() -> None:
        try:
            barrier.wait()
            sent.append(session_reminder_send(session_id=session.pk, now=now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == [0, 3]
    assert len(mail.outbox) == 3


def test_times_in_the_reminder_are_on_the_recipients_clock(term: Any) -> None:
    start = (timezone.now() + timedelta(minutes=20)).replace(second=0, microsecond=0)
    LiveSessionFactory.create(
        course=term.course,
        instructor=term.instructor,
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        state=SessionState.SCHEDULED,
    )
    send_session_reminders()
    [english] = reminders_to(term.trainee.email)
    local = start.astimezone(city_time_zone("singapore"))
    assert f"{local:%H:%M}" in english.subject
    assert "Online" in english.body


def test_the_embedded_scheduler_finds_the_reminder_task() -> None:
    """`manage.py run_scheduler` is not a Celery worker: it must import the apps' tasks itself."""
    probe = (
        "import django; django.setup(); from celery import current_app; "
        "from lms.management.commands.run_scheduler import Command; found = []; "
        "Command._run = lambda self, name, task: found.append(task if task in current_app.tasks else None); "
        "Command().handle(once=True); print(','.join(map(str, found)))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["DJANGO_SETTINGS_MODULE"] = "lms.settings"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    found = out.strip().splitlines()[-1].split(",")
    assert "classrooms.tasks.send_session_reminders" in found
    assert "None" not in found
