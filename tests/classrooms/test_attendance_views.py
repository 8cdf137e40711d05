"""Attendance pages: the room display, check-in from a phone, the roster, the report and its CSV."""

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone

from classrooms.models import AttendanceSource, AttendanceStay
from classrooms.services import attendance
from tests.classrooms.attendance_setup import Class, a_class

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(db: Any) -> Class:
    """A session that started five minutes ago, in two rooms, with one enrolled trainee."""
    return a_class(trainees=1, starts_at=None)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def display_url(group: Class, room: Any = None) -> str:
    return f"/en/live/sessions/{group.session.pk}/rooms/{(room or group.room).pk}/display/"


def checkin_url(group: Class, code: str, room: Any = None) -> str:
    return f"/en/live/checkin/{group.session.pk}/{(room or group.room).pk}/{code}/"


def report_url(group: Class) -> str:
    return f"/en/live/sessions/{group.session.pk}/attendance/"


def room_stays(group: Class, user: Any) -> list[AttendanceStay]:
    return list(
        AttendanceStay.objects.filter(record__session=group.session, record__user=user).exclude(
            source=AttendanceSource.REMOTE
        )
    )


# The room display ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["operator", "instructor", "admin"])
def test_the_room_display_shows_a_qr_code_and_a_countdown(group: Class, who: str) -> None:
    response = signed_in(getattr(group, who)).get(display_url(group))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<svg viewBox="0 0' in page and 'class="qr-code"' in page
    assert "data-countdown" in page
    assert f"/live/sessions/{group.session.pk}/rooms/{group.room.pk}/display/code/" in page
    assert response.headers["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("who", ["trainee", "outsider", "other_operator"])
def test_others_may_not_open_the_room_display(group: Class, who: str) -> None:
    client = signed_in(getattr(group, who))
    assert client.get(display_url(group)).status_code == 403
    assert client.get(display_url(group) + "code/", HTTP_ACCEPT="application/json").status_code == 403


def test_the_room_display_needs_a_sign_in_and_a_room_of_the_session(group: Class) -> None:
    response = Client().get(display_url(group))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    unbooked = a_class(trainees=0).room
    unbooked.operators.add(group.operator)
    assert signed_in(group.operator).get(display_url(group, unbooked)).status_code == 404


def test_the_display_fetches_the_current_code_as_json(group: Class) -> None:
    data = signed_in(group.operator).get(display_url(group) + "code/").json()
    assert set(data) == {"code", "url", "svg", "rotates_in", "window_seconds"}
    assert 1 <= data["rotates_in"] <= 30 and data["window_seconds"] == 30
    attendance.checkin_code_verify(session=group.session, code=data["code"], room=group.room)
    # No language in the URL: the trainee's phone gets the page in its own language.
    assert data["url"] == f"http://testserver/live/checkin/{group.session.pk}/{group.room.pk}/{data['code']}/"
    assert data["svg"].startswith("<svg")


def test_a_check_in_url_without_a_language_opens_in_the_phones_language(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room)
    response = signed_in(group.trainee).get(
        f"/live/checkin/{group.session.pk}/{group.room.pk}/{code}/", HTTP_ACCEPT_LANGUAGE="zh-Hans"
    )
    assert response.status_code == 302
    assert response["Location"] == f"/zh-hans/live/checkin/{group.session.pk}/{group.room.pk}/{code}/"


# Check-in -----------------------------------------------------------------------------------


def test_a_trainee_confirms_and_is_checked_in(group: Class) -> None:
    client = signed_in(group.trainee)
    url = checkin_url(group, attendance.checkin_code(session=group.session, room=group.room))
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert '<form method="post">' in confirm.content.decode()
    assert room_stays(group, group.trainee) == []  # looking is not checking in

    response = client.post(url)
    assert response.status_code == 303
    landing = client.get(response["Location"])
    assert "You are checked in" in landing.content.decode()
    [stay] = room_stays(group, group.trainee)
    assert (stay.room, stay.source) == (group.room, "room")


def test_check_in_asks_a_signed_out_phone_to_sign_in_first(group: Class) -> None:
    url = checkin_url(group, attendance.checkin_code(session=group.session, room=group.room))
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/en/accounts/login/?next=") and "checkin" in response["Location"]


@pytest.mark.parametrize(
    ("case", "status", "code", "words"),
    [
        ("expired", 400, "checkin_expired", "expired"),
        ("forged", 400, "checkin_invalid", "not valid"),
        ("replayed", 409, "checkin_replayed", "already used"),
        ("not_enrolled", 403, "checkin_not_enrolled", "Only trainees enrolled"),
    ],
)
def test_a_refused_check_in_says_why(group: Class, case: str, status: int, code: str, words: str) -> None:
    user = group.outsider if case == "not_enrolled" else group.trainee
    moment = timezone.now() - timedelta(seconds=90) if case == "expired" else None
    checkin_code = attendance.checkin_code(session=group.session, room=group.room, at=moment)
    if case == "forged":
        checkin_code = checkin_code[:-4] + "0000"
    client = signed_in(user)
    if case == "replayed":
        assert client.post(checkin_url(group, checkin_code)).status_code == 303

    response = client.post(checkin_url(group, checkin_code))
    assert response.status_code == status
    page = response.content.decode()
    assert f'data-error-code="{code}"' in page and words in page
    assert len(room_stays(group, user)) == (1 if case == "replayed" else 0)


def test_an_expired_code_is_refused_before_the_confirm_button(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room, at=timezone.now() - timedelta(minutes=2))
    response = signed_in(group.trainee).get(checkin_url(group, code))
    assert response.status_code == 400
    assert "checkin_expired" in response.content.decode()


def test_a_code_for_one_room_does_not_check_in_to_another(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room)
    response = signed_in(group.trainee).post(checkin_url(group, code, room=group.other_room))
    assert response.status_code == 400
    assert room_stays(group, group.trainee) == []


# The roster ---------------------------------------------------------------------------------


def roster_url(group: Class, room: Any = None) -> str:
    return f"/en/live/sessions/{group.session.pk}/rooms/{(room or group.room).pk}/roster/"


def test_the_operator_marks_trainees_present_and_absent_on_the_roster(group: Class) -> None:
    client = signed_in(group.operator)
    page = client.get(roster_url(group)).content.decode()
    assert str(group.trainee) in page and "Not here" in page

    response = client.post(roster_url(group), {"user_id": group.trainee.pk, "present": "1"})
    assert response.status_code == 303
    assert response["Location"].endswith(f"#trainee-{group.trainee.pk}")
    [stay] = room_stays(group, group.trainee)
    assert (stay.source, stay.marked_by, stay.ended_at) == ("roster", group.operator, None)
    assert "Mark absent" in client.get(roster_url(group)).content.decode()

    client.post(roster_url(group), {"user_id": group.trainee.pk, "present": "0"})
    [stay] = room_stays(group, group.trainee)
    assert stay.ended_at is not None


@pytest.mark.parametrize("who", ["trainee", "other_operator", "instructor"])
def test_only_the_rooms_operators_and_administrators_keep_the_roster(group: Class, who: str) -> None:
    client = signed_in(getattr(group, who))
    assert client.get(roster_url(group)).status_code == 403
    assert client.post(roster_url(group), {"user_id": group.trainee.pk, "present": "1"}).status_code == 403
    assert room_stays(group, group.trainee) == []
    assert signed_in(group.admin).get(roster_url(group)).status_code == 200


def test_a_roster_mark_must_name_a_trainee(group: Class) -> None:
    client = signed_in(group.operator)
    assert client.post(roster_url(group), {"user_id": "x", "present": "1"}).status_code == 400
    assert client.post(roster_url(group), {"user_id": group.outsider.pk, "present": "1"}).status_code == 400


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"present": "1"}, "Choose a trainee, and present or absent."),
        ({"user_id": "x", "present": "1"}, "Choose a trainee of this session."),
        ({"user_id": "outsider", "present": "1"}, "Choose a trainee of this session."),
        ({"user_id": "99999999", "present": "1"}, "Choose a trainee of this session."),
        ({"user_id": "trainee"}, "Choose a trainee, and present or absent."),
        ({"user_id": "trainee", "present": "yes"}, "Choose present or absent."),
    ],
)
def test_a_forged_roster_mark_is_refused_with_the_reason_and_marks_nobody(
    group: Class, posted: dict[str, str], message: str
) -> None:
    people = {"trainee": str(group.trainee.pk), "outsider": str(group.outsider.pk)}
    data = {key: people.get(value, value) for key, value in posted.items()}
    response = signed_in(group.operator).post(roster_url(group), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert room_stays(group, group.trainee) == [] and room_stays(group, group.outsider) == []


# The report ---------------------------------------------------------------------------------


def fill_in(group: Class) -> Any:
    """The trainee joined remotely at the start; a Chinese-named trainee is in the room; one more is absent."""
    start = group.session.starts_at
    chinese, absent = group.add_trainees(1, first_name="小明", last_name="王") + group.add_trainees(1)
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=start)
    attendance.remote_presence_end(session=group.session, user=group.trainee, at=start + timedelta(minutes=3))
    attendance.roster_mark(
        session=group.session, room=group.room, user=chinese, present=True, by=group.operator, at=start
    )
    return chinese, absent


@pytest.mark.parametrize("who", ["instructor", "admin", "operator", "other_operator"])
def test_the_report_shows_minutes_percentages_places_and_a_chart(group: Class, who: str) -> None:
    _chinese, absent = fill_in(group)
    response = signed_in(getattr(group, who)).get(report_url(group))
    assert response.status_code == 200
    page = response.content.decode()
    assert "小明" in page and str(absent) in page
    assert re.search(r'<svg viewBox="0 0 720 280" role="img" aria-labelledby="chart-title chart-desc"', page)
    assert "<polygon" in page and '<desc id="chart-desc">From ' in page
    assert "The chart&#x27;s data as a table" in page or "The chart's data as a table" in page
    assert "Who is here" in page and "Has left" in page
    assert f"/live/sessions/{group.session.pk}/attendance.csv" in page


@pytest.mark.parametrize("who", ["trainee", "outsider"])
def test_trainees_may_not_see_the_report(group: Class, who: str) -> None:
    client = signed_in(getattr(group, who))
    assert client.get(report_url(group)).status_code == 403
    assert client.get(f"/en/live/sessions/{group.session.pk}/attendance.csv").status_code == 403
    assert client.get(report_url(group) + "now/").status_code == 403


def test_the_report_of_a_session_with_nobody_enrolled_says_so(db: Any) -> None:
    group = a_class(trainees=0, starts_at=timezone.now() + timedelta(days=1))
    page = signed_in(group.instructor).get(report_url(group)).content.decode()
    assert "No trainees are enrolled yet" in page
    assert "The session has not started yet" in page
    assert "Nobody is here yet." in page


def test_the_presence_panel_refreshes_on_its_own(group: Class) -> None:
    fill_in(group)
    page = signed_in(group.instructor).get(report_url(group) + "now/").content.decode()
    assert "小明" in page and "Here now" in page
    assert "1 here of 3 enrolled" in page


def test_the_csv_export_opens_in_excel_with_chinese_names(group: Class) -> None:
    chinese, absent = fill_in(group)
    response = signed_in(group.instructor).get(f"/en/live/sessions/{group.session.pk}/attendance.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="attendance-session-{group.session.pk}.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:7] == [
        "Name",
        "Email",
        "Enrolled",
        "Minutes present",
        "Scheduled minutes",
        "Percentage of scheduled time",
        "Where from",
    ]
    by_email = {row[1]: row for row in rows[1:]}
    assert set(by_email) == {group.trainee.email, chinese.email, absent.email}
    assert by_email[group.trainee.email][2:7] == ["yes", "3", "60", "5.0", "Remote (3 min)"]
    assert by_email[chinese.email][0] == "小明 王"
    assert by_email[chinese.email][6] == f"{group.room} (5 min)"
    assert by_email[absent.email][3:7] == ["0", "60", "0.0", ""]


def test_the_csv_export_does_not_let_a_name_become_a_formula(group: Class) -> None:
    group.add_trainees(1, first_name="=HYPERLINK(1)", last_name="x")
    response = signed_in(group.admin).get(f"/en/live/sessions/{group.session.pk}/attendance.csv")
    names = [row[0] for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")))]
    assert "'=HYPERLINK(1) x" in names


# The instructor sees it live ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_instructor_is_told_when_a_trainee_arrives_and_trainees_are_not(connect: Any, live: Any) -> None:
    instructor = await joined(connect, live.instructor, live.session)
    trainee = await joined(connect, live.trainee, live.session)

    await sync_to_async(attendance.roster_mark)(
        session=live.session, room=live.room, user=live.trainee, present=True, by=live.operator
    )

    # The trainee's own socket counts as remote presence (once the consumer reports it): that is
    # one update; the roster mark is the one that puts them in the room.
    while True:
        frame = await instructor.receive_type("attendance.updated")
        if frame["data"]["rooms"][0]["count"]:
            break
    assert (frame["data"]["present"], frame["data"]["remote"]) == (1, 0)
    assert frame["data"]["here"][0]["user_id"] == live.trainee.pk
    assert frame["data"]["rooms"] == [
        {"room_id": live.room.pk, "name": live.room.name, "city": "Singapore", "count": 1}
    ]
    assert await trainee.nothing_more()


async def joined(connect: Any, user: Any, session: Any) -> Any:
    connected, _, client = await connect(user, session.pk)
    assert connected
    assert (await client.receive())["type"] == "welcome"
    return client


def test_a_room_display_for_an_ended_session_shows_no_code(group: Class) -> None:
    group.session.state = "ended"
    group.session.save()
    client = signed_in(group.operator)
    page = client.get(display_url(group)).content.decode()
    assert "This session has ended" in page and "qr-code" not in page
    assert client.get(display_url(group) + "code/", HTTP_ACCEPT="application/json").status_code == 410
