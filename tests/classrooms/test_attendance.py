"""Attendance: stays merged from remote presence, room check-in and the roster; the live view and the report."""

import json
from datetime import timedelta
from typing import Any, Literal, get_args, get_origin, get_type_hints

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from classrooms.events import AttendancePayload, AttendeePayload, DepartedPayload, RoomCountPayload
from classrooms.models import AttendanceStay, LiveEvent, SessionState
from classrooms.selectors import attendance as attendance_selectors
from classrooms.services import attendance
from classrooms.tasks import close_stale_presence
from lms.errors import CorridorError
from tests.classrooms.attendance_setup import T0, Class, a_class, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(db: Any) -> Class:
    return a_class(trainees=1)


def stays(group: Class, user: Any = None, **filters: Any) -> list[AttendanceStay]:
    user = user or group.trainee
    return list(
        AttendanceStay.objects.filter(record__session=group.session, record__user=user, **filters).order_by(
            "started_at"
        )
    )


def attendance_events(group: Class) -> list[LiveEvent]:
    return list(LiveEvent.objects.filter(session=group.session, kind="attendance.updated").order_by("id"))


def refused(expected: str, call: Any, /, **kwargs: Any) -> CorridorError:
    with pytest.raises(CorridorError) as caught:
        call(**kwargs)
    assert caught.value.code == expected, caught.value.message
    return caught.value


def check_schema(value: Any, schema: Any) -> None:
    """A payload matches its TypedDict: the same keys, each of the declared type (Zulip-style event checks)."""
    hints = get_type_hints(schema)
    assert set(value) == set(hints), set(value) ^ set(hints)
    nested = {"rooms": RoomCountPayload, "here": AttendeePayload, "left": DepartedPayload}
    for key, item in value.items():
        expected = hints[key]
        if schema is AttendancePayload and key in nested:
            for element in item:
                check_schema(element, nested[key])
        elif get_origin(expected) is Literal:
            assert item in get_args(expected), (key, item)
        else:
            allowed = get_args(expected) or (expected,)  # `int | None` allows either
            assert isinstance(item, tuple(type(None) if a is None else a for a in allowed)), (key, item)
            assert not isinstance(item, bool), (key, item)


# Remote presence ----------------------------------------------------------------------------


def test_a_reconnect_within_two_minutes_is_one_stay(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    attendance.remote_presence_end(session=group.session, user=group.trainee, at=at(10))
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(11, 50))

    [stay] = stays(group)
    assert (stay.source, stay.started_at, stay.ended_at, stay.open_sockets) == ("remote", at(0), None, 1)


def test_a_gap_of_more_than_two_minutes_makes_a_second_stay(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    attendance.remote_presence_end(session=group.session, user=group.trainee, at=at(10))
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(12, 1))

    first, second = stays(group)
    assert (first.started_at, first.ended_at) == (at(0), at(10))
    assert (second.started_at, second.ended_at) == (at(12, 1), None)


def test_two_tabs_are_one_stay_that_ends_with_the_last_tab(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    attendance.remote_presence_seen(session_id=group.session.pk, user_ids=[group.trainee.pk], at=at(0, 50))
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(1))
    [stay] = stays(group)
    assert stay.open_sockets == 2

    attendance.remote_presence_end(session=group.session, user=group.trainee, at=at(5))
    [stay] = stays(group)
    assert (stay.open_sockets, stay.ended_at) == (1, None)

    attendance.remote_presence_end(session=group.session, user=group.trainee, at=at(7))
    [stay] = stays(group)
    assert (stay.open_sockets, stay.ended_at) == (0, at(7))
    # Opening the second tab changed nobody's presence: arrival and departure only.
    assert len(attendance_events(group)) == 2


def test_a_burst_of_sockets_opening_is_written_in_one_batch_with_the_same_outcome_as_one_by_one(db: Any) -> None:
    """The socket hub writes a class start's joins in batches: a new trainee, one with two tabs, one back within
    two minutes (the same stay, reopened) and one whose open stay went silent long ago (a new stay), in one call
    of a fixed number of queries, each socket told whether who-is-here changed."""
    group = a_class(trainees=4)
    new, two_tabs, back, stale = group.trainees
    attendance.remote_presence_start(session=group.session, user=back, at=at(0))
    attendance.remote_presence_end(session=group.session, user=back, at=at(5))
    attendance.remote_presence_start(session=group.session, user=stale, at=at(0))  # its process died at 0:00
    sockets = [new.pk, two_tabs.pk, two_tabs.pk, back.pk, stale.pk]

    with CaptureQueriesContext(connection) as queries:
        changed = attendance.remote_presence_start_many(session_id=group.session.pk, user_ids=sockets, at=at(6))

    assert changed == [True, True, False, True, True]
    assert len(queries) <= 8, [q["sql"] for q in queries]  # five, and the transaction's own
    [one_stay] = stays(group, new)
    assert (one_stay.started_at, one_stay.open_sockets, one_stay.ended_at) == (at(6), 1, None)
    [tabs_stay] = stays(group, two_tabs)
    assert tabs_stay.open_sockets == 2
    [back_stay] = stays(group, back)
    assert (back_stay.started_at, back_stay.ended_at, back_stay.open_sockets) == (at(0), None, 1)
    old_stay, fresh_stay = stays(group, stale)
    assert (old_stay.ended_at, old_stay.timed_out) == (at(0), True)
    assert (fresh_stay.started_at, fresh_stay.ended_at, fresh_stay.open_sockets) == (at(6), None, 1)

    # Twice the sockets, the same queries: a class of 2,000 does not cost 2,000 round trips.
    more = a_class(trainees=10)
    with CaptureQueriesContext(connection) as queries_for_more:
        attendance.remote_presence_start_many(
            session_id=more.session.pk, user_ids=[t.pk for t in more.trainees], at=at(6)
        )
    assert len(queries_for_more) <= len(queries)


def test_a_disconnect_without_a_stay_is_ignored(group: Class) -> None:
    attendance.remote_presence_end(session=group.session, user=group.trainee, at=at(1))
    assert stays(group) == []


def test_a_dead_socket_is_closed_at_its_last_heartbeat_after_thirty_seconds(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    attendance.remote_presence_seen(session_id=group.session.pk, user_ids=[group.trainee.pk], at=at(0, 20))

    assert attendance.stale_presence_close(now=at(0, 50)) == 0  # 30 s without a heartbeat: not yet
    assert attendance.stale_presence_close(now=at(0, 51)) == 1

    [stay] = stays(group)
    assert (stay.ended_at, stay.open_sockets, stay.timed_out) == (at(0, 20), 0, True)
    presence = attendance_selectors.presence_now(session=group.session, now=at(1))
    assert presence["present"] == 0
    assert [person["user_id"] for person in presence["left"]] == [group.trainee.pk]
    assert attendance_events(group)[-1].payload["present"] == 0


def test_the_live_view_drops_a_silent_socket_even_before_the_sweep(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    assert attendance_selectors.presence_now(session=group.session, now=at(0, 30))["remote"] == 1
    assert attendance_selectors.presence_now(session=group.session, now=at(0, 31))["remote"] == 0


def test_a_heartbeat_after_the_sweep_reopens_a_socket_that_was_alive(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    attendance.stale_presence_close(now=at(0, 40))  # the server process paused for 40 s

    assert attendance.remote_presence_seen(session_id=group.session.pk, user_ids=[group.trainee.pk], at=at(0, 45)) == 1
    [stay] = stays(group)
    assert (stay.started_at, stay.ended_at, stay.open_sockets, stay.timed_out) == (at(0), None, 1, False)


def test_a_late_heartbeat_does_not_reopen_a_stay_that_ended_cleanly(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    attendance.remote_presence_end(session=group.session, user=group.trainee, at=at(1))

    assert attendance.remote_presence_seen(session_id=group.session.pk, user_ids=[group.trainee.pk], at=at(1, 2)) == 0
    [stay] = stays(group)
    assert stay.ended_at == at(1)


def test_a_reconnect_after_a_crashed_process_counts_its_sockets_afresh(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    # The process holding that socket died: no disconnect, no heartbeat. The user reconnects elsewhere.
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(1))
    attendance.remote_presence_end(session=group.session, user=group.trainee, at=at(5))

    [stay] = stays(group)
    assert (stay.started_at, stay.ended_at) == (at(0), at(5))


def test_heartbeats_are_one_query_and_never_broadcast(group: Class) -> None:
    trainees = group.add_trainees(20)
    for user in trainees:
        attendance.remote_presence_start(session=group.session, user=user, at=at(0))
    events = len(attendance_events(group))

    with CaptureQueriesContext(connection) as queries:
        seen = attendance.remote_presence_seen(
            session_id=group.session.pk, user_ids=[user.pk for user in trainees], at=at(0, 10)
        )
    assert seen == 20
    assert len(queries.captured_queries) == 1
    assert len(attendance_events(group)) == events
    assert {stay.last_seen_at for stay in AttendanceStay.objects.filter(record__session=group.session)} == {at(0, 10)}


def test_the_sweep_runs_every_ten_seconds_as_a_periodic_task(group: Class) -> None:
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == close_stale_presence.name)
    assert entry["schedule"] == timedelta(seconds=10)
    assert close_stale_presence.name in current_app.tasks
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=T0 - timedelta(minutes=5))
    assert close_stale_presence.apply().get() == 1


# In-room check-in ---------------------------------------------------------------------------


def test_a_trainee_who_scans_the_code_is_present_in_that_room(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(0, 5))
    stay = attendance.room_checkin(session=group.session, user=group.trainee, code=code, at=at(0, 20))

    assert (stay.source, stay.room, stay.started_at, stay.ended_at) == ("room", group.room, at(0, 20), None)
    presence = attendance_selectors.presence_now(session=group.session, now=at(1))
    assert {room["room_id"]: room["count"] for room in presence["rooms"]} == {group.room.pk: 1, group.other_room.pk: 0}
    [event] = attendance_events(group)
    assert event.moderators_only
    check_schema(json.loads(json.dumps(event.payload)), AttendancePayload)


def test_a_code_stays_valid_into_the_next_window_only(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(0, 29))  # shown at second 29
    attendance.checkin_code_verify(session=group.session, code=code, at=at(0, 59))  # scanned 30 s later: fine
    refused("checkin_expired", attendance.checkin_code_verify, session=group.session, code=code, at=at(1))


def test_an_expired_code_is_refused(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(0))
    error = refused(
        "checkin_expired", attendance.room_checkin, session=group.session, user=group.trainee, code=code, at=at(1, 5)
    )
    assert "expired" in error.message
    assert stays(group) == []


def test_a_replayed_code_is_refused(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(0))
    attendance.room_checkin(session=group.session, user=group.trainee, code=code, at=at(0, 3))
    error = refused(
        "checkin_replayed", attendance.room_checkin, session=group.session, user=group.trainee, code=code, at=at(0, 9)
    )
    assert error.status == 409
    # The same code still works for the next trainee, once.
    [neighbour] = group.add_trainees(1)
    attendance.room_checkin(session=group.session, user=neighbour, code=code, at=at(0, 10))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda code, group: code[:-1] + ("0" if code[-1] != "0" else "1"),  # a changed signature
        lambda code, group: code.replace(f"{group.room.pk}.", f"{group.other_room.pk}.", 1),  # another room
        lambda code, group: "not-a-code",
        lambda code, group: "",
    ],
)
def test_a_forged_code_is_refused(group: Class, tamper: Any) -> None:
    code = tamper(attendance.checkin_code(session=group.session, room=group.room, at=at(0)), group)
    refused("checkin_invalid", attendance.room_checkin, session=group.session, user=group.trainee, code=code, at=at(0))
    assert stays(group) == []


def test_a_code_from_another_session_or_room_is_refused(group: Class) -> None:
    other = a_class(trainees=0)
    foreign = attendance.checkin_code(session=other.session, room=group.room, at=at(0))
    refused(
        "checkin_invalid", attendance.room_checkin, session=group.session, user=group.trainee, code=foreign, at=at(0)
    )
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(0))
    refused(
        "checkin_invalid",
        attendance.room_checkin,
        session=group.session,
        user=group.trainee,
        code=code,
        room=group.other_room,
        at=at(0),
    )


def test_only_enrolled_trainees_check_in(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(0))
    for user in (group.outsider, group.instructor, group.operator):
        error = refused(
            "checkin_not_enrolled", attendance.room_checkin, session=group.session, user=user, code=code, at=at(0)
        )
        assert error.status == 403
    assert not AttendanceStay.objects.exists()


def test_check_in_is_closed_once_the_session_has_ended(group: Class) -> None:
    group.session.state = SessionState.ENDED
    group.session.save()
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(0))
    refused("session_ended", attendance.room_checkin, session=group.session, user=group.trainee, code=code, at=at(0))


def test_scanning_again_after_a_short_absence_continues_the_same_stay(group: Class) -> None:
    first = attendance.checkin_code(session=group.session, room=group.room, at=at(0))
    attendance.room_checkin(session=group.session, user=group.trainee, code=first, at=at(0))
    attendance.roster_mark(
        session=group.session, room=group.room, user=group.trainee, present=False, by=group.operator, at=at(20)
    )
    again = attendance.checkin_code(session=group.session, room=group.room, at=at(21))
    attendance.room_checkin(session=group.session, user=group.trainee, code=again, at=at(21))

    [stay] = stays(group)
    assert (stay.started_at, stay.ended_at) == (at(0), None)


def test_checking_in_to_another_room_ends_the_stay_in_the_first(group: Class) -> None:
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(0))
    attendance.room_checkin(session=group.session, user=group.trainee, code=code, at=at(0))
    elsewhere = attendance.checkin_code(session=group.session, room=group.other_room, at=at(10))
    attendance.room_checkin(session=group.session, user=group.trainee, code=elsewhere, at=at(10))

    first, second = stays(group)
    assert (first.room, first.ended_at, second.room, second.ended_at) == (group.room, at(10), group.other_room, None)


# The roster ---------------------------------------------------------------------------------


def test_the_rooms_operator_marks_a_trainee_present_then_absent(group: Class) -> None:
    attendance.roster_mark(
        session=group.session, room=group.room, user=group.trainee, present=True, by=group.operator, at=at(3)
    )
    [stay] = stays(group)
    assert (stay.source, stay.room, stay.marked_by, stay.ended_at) == ("roster", group.room, group.operator, None)

    attendance.roster_mark(
        session=group.session, room=group.room, user=group.trainee, present=False, by=group.operator, at=at(40)
    )
    [stay] = stays(group)
    assert stay.ended_at == at(40)
    assert [event.payload["present"] for event in attendance_events(group)] == [1, 0]


def test_marking_present_twice_is_one_stay(group: Class) -> None:
    for minute in (3, 4):
        attendance.roster_mark(
            session=group.session, room=group.room, user=group.trainee, present=True, by=group.operator, at=at(minute)
        )
    assert len(stays(group)) == 1
    assert len(attendance_events(group)) == 1


def test_an_administrator_may_keep_any_rooms_roster(group: Class) -> None:
    attendance.roster_mark(
        session=group.session, room=group.other_room, user=group.trainee, present=True, by=group.admin, at=at(1)
    )
    assert stays(group, room=group.other_room)


@pytest.mark.parametrize("who", ["trainee", "other_operator", "instructor", "outsider"])
def test_only_the_rooms_operators_keep_its_roster(group: Class, who: str) -> None:
    error = refused(
        "forbidden",
        attendance.roster_mark,
        session=group.session,
        room=group.room,
        user=group.trainee,
        present=True,
        by=getattr(group, who),
        at=at(1),
    )
    assert error.status == 403
    assert stays(group) == []


def test_the_roster_is_for_the_sessions_rooms_and_its_trainees(group: Class) -> None:
    elsewhere = a_class(trainees=0)
    elsewhere.room.operators.add(group.operator)
    refused(
        "room_not_in_session",
        attendance.roster_mark,
        session=group.session,
        room=elsewhere.room,
        user=group.trainee,
        present=True,
        by=group.operator,
    )
    refused(
        "not_enrolled",
        attendance.roster_mark,
        session=group.session,
        room=group.room,
        user=group.outsider,
        present=True,
        by=group.operator,
    )


# Who is here ----------------------------------------------------------------------------------


def test_who_is_here_counts_each_trainee_once_per_place_and_lists_who_left(group: Class) -> None:
    in_room, remote, both, gone = group.add_trainees(4)
    mark = {"session": group.session, "room": group.room, "present": True, "by": group.operator}
    attendance.roster_mark(user=in_room, at=at(1), **mark)
    attendance.remote_presence_start(session=group.session, user=remote, at=at(1))
    attendance.roster_mark(user=both, at=at(1), **mark)
    attendance.remote_presence_start(session=group.session, user=both, at=at(2))  # a laptop open in class
    attendance.remote_presence_start(session=group.session, user=gone, at=at(1))
    attendance.remote_presence_end(session=group.session, user=gone, at=at(3))
    attendance.remote_presence_seen(session_id=group.session.pk, user_ids=[remote.pk, both.pk], at=at(3, 50))

    presence = attendance_selectors.presence_now(session=group.session, now=at(4))
    check_schema(presence, AttendancePayload)
    assert (presence["present"], presence["remote"], presence["enrolled"]) == (3, 1, 5)
    assert {room["room_id"]: room["count"] for room in presence["rooms"]} == {group.room.pk: 2, group.other_room.pk: 0}
    where = {person["user_id"]: (person["where"], person["room"]) for person in presence["here"]}
    assert where == {
        in_room.pk: ("room", group.room.name),
        both.pk: ("room", group.room.name),
        remote.pk: ("remote", ""),
    }
    assert presence["left"] == [{"user_id": gone.pk, "name": str(gone), "left_at": at(3).isoformat()}]


# The report -----------------------------------------------------------------------------------


def test_the_report_counts_overlapping_sources_once_and_clips_to_the_schedule(group: Class) -> None:
    overlapping, early, absent = group.trainee, *group.add_trainees(2)
    # Remote 0–30, then checked in 20–50: 50 minutes, not 60.
    attendance.remote_presence_start(session=group.session, user=overlapping, at=at(0))
    attendance.remote_presence_end(session=group.session, user=overlapping, at=at(30))
    code = attendance.checkin_code(session=group.session, room=group.room, at=at(20))
    attendance.room_checkin(session=group.session, user=overlapping, code=code, at=at(20))
    attendance.roster_mark(
        session=group.session, room=group.room, user=overlapping, present=False, by=group.operator, at=at(50)
    )
    # Joined ten minutes early and stayed until ten minutes after the end: 60 minutes, 100 %.
    attendance.remote_presence_start(session=group.session, user=early, at=at(-10))
    attendance.remote_presence_end(session=group.session, user=early, at=at(70))

    report = attendance_selectors.attendance_report(session=group.session, now=at(90))
    rows = {row.user_id: row for row in report.rows}
    assert report.scheduled_minutes == 60
    assert (rows[overlapping.pk].minutes, rows[overlapping.pk].percent) == (50, 83.3)
    assert {(p.label, p.minutes) for p in rows[overlapping.pk].places} == {(str(group.room), 30), ("Remote", 30)}
    assert (rows[early.pk].minutes, rows[early.pk].percent, rows[early.pk].where_from) == (60, 100.0, "Remote")
    assert (rows[absent.pk].minutes, rows[absent.pk].percent, rows[absent.pk].places) == (0, 0.0, ())
    assert report.attended == 2


def test_while_the_session_runs_the_report_counts_up_to_now(group: Class) -> None:
    attendance.roster_mark(
        session=group.session, room=group.room, user=group.trainee, present=True, by=group.operator, at=at(5)
    )
    [row] = attendance_selectors.attendance_report(session=group.session, now=at(20)).rows
    assert (row.minutes, row.percent) == (15, 25.0)
    [row] = attendance_selectors.attendance_report(session=group.session, now=at(200)).rows
    assert row.minutes == 55  # an open stay counts until the scheduled end


def test_the_report_runs_a_fixed_number_of_queries_whatever_the_class_size(group: Class) -> None:
    def fill(trainees: list[Any]) -> None:
        for user in trainees:
            attendance.remote_presence_start(session=group.session, user=user, at=at(1))
            attendance.roster_mark(
                session=group.session, room=group.room, user=user, present=True, by=group.operator, at=at(2)
            )

    def queries() -> int:
        session = type(group.session).objects.get(pk=group.session.pk)
        with CaptureQueriesContext(connection) as captured:
            attendance_selectors.attendance_report(session=session, now=at(30))
            attendance_selectors.attendance_timeline(session=session, now=at(30))
            attendance_selectors.presence_now(session=session, now=at(30))
        return len(captured.captured_queries)

    fill(group.trainees)
    few = queries()
    fill(group.add_trainees(15))
    assert queries() == few


def test_the_timeline_counts_who_was_present_each_minute_per_place(group: Class) -> None:
    in_room, remote = group.trainee, *group.add_trainees(1)
    attendance.roster_mark(
        session=group.session, room=group.room, user=in_room, present=True, by=group.operator, at=at(1)
    )
    attendance.remote_presence_start(session=group.session, user=in_room, at=at(0))  # and a laptop
    attendance.remote_presence_start(session=group.session, user=remote, at=at(2, 30))
    attendance.remote_presence_end(session=group.session, user=remote, at=at(4))

    timeline = attendance_selectors.attendance_timeline(session=group.session, now=at(6))
    assert timeline.times == tuple(at(minute) for minute in range(7))
    series = {s.key: s.counts for s in timeline.series}
    assert series == {
        f"room-{group.room.pk}": (0, 1, 1, 1, 1, 1, 1),
        f"room-{group.other_room.pk}": (0, 0, 0, 0, 0, 0, 0),
        "remote": (1, 0, 0, 1, 1, 0, 0),
    }
    assert timeline.totals == (1, 1, 1, 2, 2, 1, 1)
    assert timeline.enrolled == 2


def test_a_session_that_has_not_started_has_an_empty_timeline(group: Class) -> None:
    timeline = attendance_selectors.attendance_timeline(session=group.session, now=T0 - timedelta(minutes=1))
    assert timeline.times == () and timeline.totals == ()


def test_a_trainee_who_attended_then_left_the_course_stays_in_the_report(group: Class) -> None:
    attendance.remote_presence_start(session=group.session, user=group.trainee, at=at(0))
    attendance.remote_presence_end(session=group.session, user=group.trainee, at=at(10))
    group.trainee.enrolments.all().delete()
    [row] = attendance_selectors.attendance_report(session=group.session, now=at(60)).rows
    assert (row.user_id, row.enrolled, row.minutes) == (group.trainee.pk, False, 10)
