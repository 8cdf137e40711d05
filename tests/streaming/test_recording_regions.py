"""A session's recordings (each publisher's and the composed file) stay in one region: the instructor's home region
unless the site (RECORDINGS_REGION) or the person scheduling the session chose another; each file is read from where
it went, after any later change."""

from __future__ import annotations

import hashlib
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from classrooms.models import LiveSession, SessionState
from classrooms.services.sessions import session_set_state
from lms.errors import CorridorError
from streaming import services
from streaming.models import CompositionState, Recording, SessionComposition
from streaming.recording import RecordingFile, file_size_and_sha256
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol
from tests.support.composition import solid, synthetic_recording
from tests.support.s3 import BUCKET, REGION_BUCKETS, bucket_keys

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process", "recordings_dir")]

SIZE = {"width": 160, "height": 120}


def a_session(catalogue: Any, *, instructor_region: str) -> Any:
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    return LiveSessionFactory.create(
        course=course,
        instructor=factories.instructor(home_region=instructor_region),
        rooms=[RoomFactory.create(name="Marina Bay Studio")],
        recorded=True,
    )


def record_and_end(session: Any, capture: Any) -> tuple[list[Recording], SessionComposition]:
    """Two publishers recorded and uploaded, then the session ended (its one file composed and uploaded)."""
    start = timezone.now() - timedelta(minutes=1)
    with capture(execute=True):
        for publisher, colour in (("Marina Bay Studio", "red"), ("instructor", "green")):
            recording = services.recording_start(session=session, publisher=publisher, now=start)
            path = Path(recording.local_path)
            synthetic_recording(path, seconds=1.5, picture=solid(colour, **SIZE), tone_hz=440, **SIZE)
            size, sha256 = file_size_and_sha256(path)
            services.recording_finish(
                recording_id=recording.pk,
                file=RecordingFile(path=path, duration_s=1.5, size=size, sha256=sha256),
                now=start + timedelta(seconds=1.5),
            )
    with capture(execute=True):
        session_set_state(session=LiveSession.objects.get(pk=session.pk), state=SessionState.ENDED)
    composition = SessionComposition.objects.get(session=session)
    assert composition.state == CompositionState.STORED, composition.error
    return list(Recording.objects.filter(session=session)), composition


def fetched(client: Client, url_name: str, pk: int, key: str) -> bytes:
    location = client.get(reverse(url_name, args=[pk]))["Location"]
    if location.startswith("http"):
        with urllib.request.urlopen(location) as response:
            return bytes(response.read())
    return b"".join(client.get(location).streaming_content)  # type: ignore[attr-defined]


def test_a_singapore_instructors_recordings_and_composed_file_land_in_singapore_and_download(
    region_buckets: Any, catalogue: Any, django_capture_on_commit_callbacks: Any, client: Client
) -> None:
    session = a_session(catalogue, instructor_region="singapore")
    recordings, composition = record_and_end(session, django_capture_on_commit_callbacks)

    keys = {recording.storage_key for recording in recordings} | {composition.storage_key}
    assert {recording.storage_region for recording in recordings} == {"singapore"}
    assert composition.storage_region == "singapore"
    assert bucket_keys(region_buckets, REGION_BUCKETS["singapore"]) == keys
    assert bucket_keys(region_buckets, REGION_BUCKETS["chongqing"]) == set()
    assert bucket_keys(region_buckets, BUCKET) == set()

    trainee = factories.trainee(home_region="chongqing")
    enrol(trainee, session.course)
    client.force_login(trainee)
    body = fetched(client, "streaming:composition-watch", composition.pk, composition.storage_key)
    assert hashlib.sha256(body).hexdigest() == composition.sha256


def test_the_sessions_own_choice_sends_its_recordings_to_chongqing(
    region_buckets: Any, catalogue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    session = a_session(catalogue, instructor_region="singapore")
    chosen = services.session_recordings_region_choose(session=session, region="chongqing", by=session.instructor)
    assert chosen == "chongqing"
    recordings, composition = record_and_end(session, django_capture_on_commit_callbacks)

    keys = {recording.storage_key for recording in recordings} | {composition.storage_key}
    assert bucket_keys(region_buckets, REGION_BUCKETS["chongqing"]) == keys
    assert bucket_keys(region_buckets, REGION_BUCKETS["singapore"]) == set()


def test_the_site_setting_sends_every_sessions_recordings_to_one_region(
    region_buckets: Any, catalogue: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.RECORDINGS_REGION = "chongqing"
    session = a_session(catalogue, instructor_region="singapore")
    recordings, composition = record_and_end(session, django_capture_on_commit_callbacks)
    assert {recording.storage_region for recording in recordings} | {composition.storage_region} == {"chongqing"}
    assert bucket_keys(region_buckets, REGION_BUCKETS["singapore"]) == set()


def test_recordings_made_before_the_instructor_moved_region_still_download(
    region_buckets: Any, catalogue: Any, django_capture_on_commit_callbacks: Any, client: Client
) -> None:
    session = a_session(catalogue, instructor_region="chongqing")
    recordings, composition = record_and_end(session, django_capture_on_commit_callbacks)
    session.instructor.home_region = "singapore"
    session.instructor.save(update_fields=["home_region"])

    client.force_login(session.instructor)
    for recording in recordings:
        body = fetched(client, "streaming:recording-watch", recording.pk, recording.storage_key)
        assert hashlib.sha256(body).hexdigest() == recording.sha256
    body = fetched(client, "streaming:composition-watch", composition.pk, composition.storage_key)
    assert hashlib.sha256(body).hexdigest() == composition.sha256
    assert bucket_keys(region_buckets, REGION_BUCKETS["singapore"]) == set()


def test_locally_each_region_has_its_own_folder(
    catalogue: Any, django_capture_on_commit_callbacks: Any, settings: Any, client: Client
) -> None:
    session = a_session(catalogue, instructor_region="chongqing")
    recordings, composition = record_and_end(session, django_capture_on_commit_callbacks)

    media = Path(settings.MEDIA_ROOT)
    stored = {str(path.relative_to(media)) for path in media.rglob("*") if path.is_file()}
    keys = {recording.storage_key for recording in recordings} | {composition.storage_key}
    assert stored == {f"chongqing/{key}" for key in keys}
    client.force_login(session.instructor)
    body = fetched(client, "streaming:composition-watch", composition.pk, composition.storage_key)
    assert hashlib.sha256(body).hexdigest() == composition.sha256


def test_only_the_instructor_or_an_administrator_chooses_and_only_a_region(catalogue: Any) -> None:
    session = a_session(catalogue, instructor_region="singapore")
    for outsider in (factories.instructor(), factories.operator(), factories.trainee()):
        with pytest.raises(CorridorError) as refused:
            services.session_recordings_region_choose(session=session, region="chongqing", by=outsider)
        assert refused.value.status == 403
    with pytest.raises(CorridorError) as refused:
        services.session_recordings_region_choose(session=session, region="mars", by=session.instructor)
    assert refused.value.code == "bad_region"
    assert (
        services.session_recordings_region_choose(session=session, region="chongqing", by=factories.administrator())
        == "chongqing"
    )
    # Back to the site's rule: the instructor's home region.
    assert services.session_recordings_region_choose(session=session, region="", by=session.instructor) == "singapore"


def test_the_sessions_admin_listing_links_each_session_to_its_recording_storage(catalogue: Any, client: Client) -> None:
    session = a_session(catalogue, instructor_region="singapore")
    client.force_login(session.instructor)
    html = client.get(reverse("wagtailsnippets_classrooms_livesession:list")).content.decode()
    assert reverse("streaming:session-storage", args=[session.pk]) in html
    assert "Recording storage" in html


def test_the_storage_page_shows_where_files_are_and_saves_a_choice(
    catalogue: Any, client: Client, settings: Any
) -> None:
    session = a_session(catalogue, instructor_region="chongqing")
    Recording.objects.create(
        session=session,
        publisher="Marina Bay Studio",
        state="stored",
        storage_key="k.webm",
        storage_region="",
        started_at=timezone.now(),
    )
    client.force_login(session.instructor)
    page = reverse("streaming:session-storage", args=[session.pk])
    html = client.get(page).content.decode()
    assert "New recordings of this session are stored in: Chongqing" in html
    assert "The instructor&#x27;s home region (Chongqing)" in html
    assert "Stored in: the default storage" in html  # a file from before regions

    response = client.post(page, {"region": "singapore"}, follow=True)
    assert "New recordings of this session are stored in: Singapore" in response.content.decode()
    assert client.post(page, {"region": "mars"}).status_code == 400
    settings.RECORDINGS_REGION = "singapore"
    client.post(page, {"region": ""})
    assert "The site&#x27;s choice (Singapore)" in client.get(page).content.decode()
