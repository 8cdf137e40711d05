"""A trainee's answer to the recording consent (the live page's dialog posts it), kept on their attendance record and
shown to staff in the attendance report and its CSV."""

import csv
import io
from typing import Any

import pytest
from django.test import Client

from classrooms.models import AttendanceRecord, LiveSession, RecordingConsent, SessionState
from tests.classrooms.attendance_setup import Class, a_class

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(db: Any) -> Class:
    """A recorded session that started five minutes ago, with two enrolled trainees."""
    group = a_class(trainees=2, starts_at=None)
    LiveSession.objects.filter(pk=group.session.pk).update(recorded=True, state=SessionState.LIVE)
    return group


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def consent(group: Class, user: Any, answer: str, *, json: bool = True) -> Any:
    headers = {"Accept": "application/json"} if json else {}
    return signed_in(user).post(
        f"/en/live/sessions/{group.session.pk}/recording-consent/", {"answer": answer}, headers=headers
    )


def test_agreeing_is_kept_with_the_attendance_record_and_shown_in_the_report(group: Class) -> None:
    response = consent(group, group.trainee, "agreed")
    assert response.status_code == 200
    assert response.json()["consent"] == "agreed"
    record = AttendanceRecord.objects.get(session=group.session, user=group.trainee)
    assert record.recording_consent == RecordingConsent.AGREED
    assert record.recording_consent_at is not None and record.recording_consent_while_recorded
    declined = group.trainees[1]
    assert consent(group, declined, "declined").json()["consent"] == "declined"

    page = signed_in(group.instructor).get(f"/en/live/sessions/{group.session.pk}/attendance/").content.decode()
    assert "Recording consent" in page
    assert 'data-recording-consent="agreed">Agreed' in page
    assert 'data-recording-consent="declined">Declined' in page

    response = signed_in(group.operator).get(f"/en/live/sessions/{group.session.pk}/attendance.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][-2] == "Recording consent"
    by_email = {row[1]: row for row in rows[1:]}
    assert by_email[group.trainee.email][-2] == "Agreed" and by_email[group.trainee.email][-1]
    assert by_email[declined.email][-2] == "Declined"


def test_a_trainee_not_asked_yet_reads_not_asked(group: Class) -> None:
    response = signed_in(group.admin).get(f"/en/live/sessions/{group.session.pk}/attendance.csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {row[-2] for row in rows[1:]} == {"Not asked"}


def test_a_later_answer_replaces_the_earlier_one_and_without_script_the_page_comes_back(group: Class) -> None:
    consent(group, group.trainee, "declined")
    response = consent(group, group.trainee, "agreed", json=False)
    assert response.status_code == 303 and response["Location"] == f"/en/live/sessions/{group.session.pk}/"
    assert AttendanceRecord.objects.get(session=group.session, user=group.trainee).recording_consent == "agreed"


def test_staff_outsiders_bad_answers_and_ended_sessions_are_refused(group: Class) -> None:
    instructor = consent(group, group.instructor, "agreed")
    assert instructor.status_code == 403 and instructor.json()["error"]["code"] == "forbidden"
    assert consent(group, group.outsider, "agreed").status_code == 404
    bad = consent(group, group.trainee, "maybe")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_answer"
    assert signed_in(group.trainee).get(f"/en/live/sessions/{group.session.pk}/recording-consent/").status_code == 405
    LiveSession.objects.filter(pk=group.session.pk).update(state=SessionState.ENDED)
    ended = consent(group, group.trainee, "agreed")
    assert ended.status_code == 400 and ended.json()["error"]["code"] == "session_ended"
    assert not AttendanceRecord.objects.filter(recording_consent__in=["agreed", "declined"]).exists()
