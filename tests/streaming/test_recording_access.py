"""Only enrolled trainees and staff see a course's recordings, through short-lived signed links."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from streaming import selectors, services
from streaming.models import Recording, RecordingState
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol
from tests.support.recording import record_synthetic

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process", "recordings_dir")]


class Course:
    def __init__(self, catalogue: Any) -> None:
        self.page = factories.course_with_lessons(catalogue, modules=1, lessons=1)
        self.session = LiveSessionFactory.create(
            title="Week 3: Cloud networking",
            course=self.page,
            instructor=factories.instructor(),
            rooms=[RoomFactory.create(name="SG-1")],
        )
        self.trainee = factories.trainee()
        enrol(self.trainee, self.page)
        self.stranger = factories.trainee()


@pytest.fixture
def course(catalogue: Any) -> Course:
    return Course(catalogue)


def stored_recording(course: Course, capture: Any) -> Recording:
    recording = services.recording_start(session=course.session, publisher="SG-1")
    file = record_synthetic(Path(recording.local_path), seconds=1.0)
    with capture(execute=True):
        services.recording_finish(recording_id=recording.pk, file=file)
    recording.refresh_from_db()
    assert recording.state == RecordingState.STORED
    return recording


def watch_url(recording: Recording) -> str:
    return reverse("streaming:recording-watch", kwargs={"recording_id": recording.pk})


def watch(client: Client, user: Any, recording: Recording) -> Any:
    client.force_login(user)
    return client.get(watch_url(recording))


def test_an_enrolled_trainee_gets_the_file_by_a_signed_link(
    client: Client, course: Course, django_capture_on_commit_callbacks: Any
) -> None:
    recording = stored_recording(course, django_capture_on_commit_callbacks)
    redirect = watch(client, course.trainee, recording)
    assert redirect.status_code == 302
    assert redirect["Location"].startswith("/en/recordings/file/")
    response = client.get(redirect["Location"])
    assert response.status_code == 200
    assert response["Content-Type"] == "video/webm"
    assert isinstance(response, StreamingHttpResponse)
    assert hashlib.sha256(response.getvalue()).hexdigest() == recording.sha256


def test_a_stranger_gets_nothing(client: Client, course: Course, django_capture_on_commit_callbacks: Any) -> None:
    recording = stored_recording(course, django_capture_on_commit_callbacks)
    link = watch(client, course.trainee, recording)["Location"]
    assert watch(client, course.stranger, recording).status_code == 404
    # Nor with a link signed for someone else.
    assert client.get(link).status_code == 404
    client.logout()
    assert client.get(watch_url(recording)).status_code == 302  # to sign in
    assert client.get(link).status_code == 302


def test_staff_may_watch(client: Client, course: Course, django_capture_on_commit_callbacks: Any) -> None:
    recording = stored_recording(course, django_capture_on_commit_callbacks)
    assert watch(client, course.session.instructor, recording).status_code == 302
    assert watch(client, factories.administrator(), recording).status_code == 302


def test_a_link_expires(client: Client, course: Course, django_capture_on_commit_callbacks: Any, settings: Any) -> None:
    recording = stored_recording(course, django_capture_on_commit_callbacks)
    issued_long_ago = time.time() - settings.RECORDING_URL_MAX_AGE - 5
    with mock.patch("django.core.signing.time.time", return_value=issued_long_ago):
        link = selectors.recording_signed_url(recording=recording, user=course.trainee)
    client.force_login(course.trainee)
    assert client.get(link).status_code == 404
    assert client.get(selectors.recording_signed_url(recording=recording, user=course.trainee)).status_code == 200


def test_a_recording_not_yet_stored_cannot_be_watched(client: Client, course: Course) -> None:
    recording = services.recording_start(session=course.session, publisher="SG-1")
    assert watch(client, course.trainee, recording).status_code == 404


def test_on_s3_the_link_is_a_presigned_url(
    s3_storage: Any, client: Client, course: Course, django_capture_on_commit_callbacks: Any
) -> None:
    recording = stored_recording(course, django_capture_on_commit_callbacks)
    redirect = watch(client, course.trainee, recording)
    assert redirect.status_code == 302
    location = redirect["Location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
    with urllib.request.urlopen(location) as response:
        assert response.headers["Content-Type"] == "video/webm"
        assert hashlib.sha256(response.read()).hexdigest() == recording.sha256
    assert watch(client, course.stranger, recording).status_code == 404


def test_the_course_page_lists_recordings_for_enrolled_trainees_only(
    client: Client, course: Course, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(course.trainee)
    html = client.get(course.page.url).content.decode()
    assert "Session recordings" in html
    assert "No recordings yet." in html

    recording = stored_recording(course, django_capture_on_commit_callbacks)
    html = client.get(course.page.url).content.decode()
    assert "Week 3: Cloud networking" in html
    assert f'href="{watch_url(recording)}"' in html
    assert "0:01 long" in html
    assert "No recordings yet." not in html

    client.force_login(course.stranger)
    html = client.get(course.page.url).content.decode()
    assert "Session recordings" not in html
    assert watch_url(recording) not in html
    client.logout()
    assert watch_url(recording) not in client.get(course.page.url).content.decode()


def test_recordings_of_other_courses_are_not_listed(
    client: Client, course: Course, catalogue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    recording = stored_recording(course, django_capture_on_commit_callbacks)
    other = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    enrol(course.trainee, other)
    assert list(selectors.recordings_for_course_page(user=course.trainee, course=course.page)) == [recording]
    assert list(selectors.recordings_for_course_page(user=course.trainee, course=other)) == []
    assert list(selectors.recordings_for_course_page(user=course.stranger, course=course.page)) == []
