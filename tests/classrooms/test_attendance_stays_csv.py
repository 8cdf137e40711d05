"""The attendance report's second CSV: one row per stay (who, join, leave, minutes, place), times with their offset."""

import csv
import io
from typing import Any

import pytest
from django.test import Client

from classrooms.services import attendance
from tests.classrooms.attendance_setup import Class, a_class, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(db: Any) -> Class:
    """A one-hour session from 09:00 Singapore time (01:00 UTC), in a Singapore and a Chongqing room."""
    return a_class(trainees=1)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stays_url(group: Class, language: str = "en") -> str:
    return f"/{language}/live/sessions/{group.session.pk}/attendance-stays.csv"


def rows_of(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def comes_and_goes(group: Class) -> tuple[Any, Any]:
    """Mei joins from home, drops out, comes back; 小明 is marked in the Chongqing room for 20 minutes."""
    session, mei = group.session, group.trainee
    mei.first_name, mei.last_name = "Mei", "Tan"
    mei.save()
    [chinese] = group.add_trainees(1, first_name="小明", last_name="王")
    attendance.remote_presence_start(session=session, user=mei, at=at(0))
    attendance.remote_presence_end(session=session, user=mei, at=at(10))
    attendance.remote_presence_start(session=session, user=mei, at=at(30))  # 20 minutes later: a second stay
    attendance.remote_presence_end(session=session, user=mei, at=at(45, 20))
    room = group.other_room
    attendance.roster_mark(session=session, room=room, user=chinese, present=True, by=group.other_operator, at=at(5))
    attendance.roster_mark(session=session, room=room, user=chinese, present=False, by=group.other_operator, at=at(25))
    return mei, chinese


def test_every_stay_is_a_row_with_join_leave_minutes_and_place(group: Class) -> None:
    mei, chinese = comes_and_goes(group)
    rows = rows_of(signed_in(group.instructor).get(stays_url(group)))
    assert rows[0] == [
        "Name",
        "Email",
        "Joined (Asia/Singapore, ISO 8601)",
        "Left (Asia/Singapore, ISO 8601)",
        "Minutes",
        "Place",
        "City",
        "Recorded by",
    ]
    assert rows[1:] == [
        [
            "Mei Tan",
            mei.email,
            "2026-03-02T09:00:00+08:00",
            "2026-03-02T09:10:00+08:00",
            "10",
            "Remote",
            "",
            "Remote connection",
        ],
        [
            "Mei Tan",
            mei.email,
            "2026-03-02T09:30:00+08:00",
            "2026-03-02T09:45:20+08:00",
            "15",
            "Remote",
            "",
            "Remote connection",
        ],
        [
            "小明 王",
            chinese.email,
            "2026-03-02T09:05:00+08:00",
            "2026-03-02T09:25:00+08:00",
            "20",
            str(group.other_room),
            "Chongqing",
            "Operator's roster",
        ],
    ]
    # The summary CSV is unchanged beside it: one row per trainee.
    summary = rows_of(signed_in(group.instructor).get(f"/en/live/sessions/{group.session.pk}/attendance.csv"))
    assert len(summary) == 3


def test_a_chongqing_reader_gets_the_chongqing_clock_named_in_the_header(group: Class) -> None:
    comes_and_goes(group)
    group.other_operator.home_region = "chongqing"
    group.other_operator.save()
    rows = rows_of(signed_in(group.other_operator).get(stays_url(group, "zh-hans")))
    assert "Asia/Shanghai" in rows[0][2] and "Asia/Shanghai" in rows[0][3]
    assert rows[1][2] == "2026-03-02T09:00:00+08:00"


def test_a_stay_still_going_says_so(group: Class) -> None:
    attendance.roster_mark(
        session=group.session, room=group.room, user=group.trainee, present=True, by=group.operator, at=at(0)
    )
    [_header, row] = rows_of(signed_in(group.admin).get(stays_url(group)))
    assert row[2] == "2026-03-02T09:00:00+08:00"
    assert row[3] == "still here"
    assert (row[5], row[6]) == (str(group.room), "Singapore")


def test_the_report_page_links_to_it(group: Class) -> None:
    page = signed_in(group.operator).get(f"/en/live/sessions/{group.session.pk}/attendance/").content.decode()
    assert f'href="{stays_url(group)}"' in page
    assert "Download every stay (CSV)" in page


@pytest.mark.parametrize("who", ["trainee", "outsider"])
def test_trainees_and_strangers_are_refused(group: Class, who: str) -> None:
    comes_and_goes(group)
    response = signed_in(getattr(group, who)).get(stays_url(group))
    assert response.status_code == 403
    assert b"Remote" not in response.content and b"09:00" not in response.content


def test_a_name_cannot_become_a_formula(group: Class) -> None:
    [sly] = group.add_trainees(1, first_name="=HYPERLINK(1)", last_name="x")
    attendance.remote_presence_start(session=group.session, user=sly, at=at(0))
    attendance.remote_presence_end(session=group.session, user=sly, at=at(1))
    rows = rows_of(signed_in(group.instructor).get(stays_url(group)))
    assert rows[1][0] == "'=HYPERLINK(1) x"
