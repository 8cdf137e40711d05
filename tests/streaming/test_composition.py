"""A recorded session ends with one file: its recordings are composed (Celery task), uploaded with a checksum and
offered on the course page to the course's trainees, with its progress while it is prepared; a composition that
fails is retried, then shown to staff as failed with its reason, and never touches the per-publisher files."""

from __future__ import annotations

import hashlib
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override as translation_override

from classrooms.models import LiveSession, SessionState
from classrooms.services.sessions import session_set_state
from lms.regions import storage_for_region
from streaming import selectors, services
from streaming.models import CompositionState, Recording, RecordingState, SessionComposition
from streaming.recording import RecordingFile, file_size_and_sha256
from streaming.services import COMPOSITION_MAX_ATTEMPTS, CompositionFailed
from streaming.tasks import compose_session_recording, resume_compositions
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol
from tests.support.composition import audio_spectrum, played, solid, synthetic_recording, tone_strength
from tests.support.s3 import BUCKET

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_in_process", "recordings_dir")]

SIZE = {"width": 320, "height": 240}


class Class:
    """A recorded session of a course with two rooms, its instructor, an enrolled trainee and an outsider."""

    def __init__(self, catalogue: Any) -> None:
        self.page = factories.course_with_lessons(catalogue, modules=1, lessons=1)
        self.session = LiveSessionFactory.create(
            title="Week 4: Routing across the border",
            course=self.page,
            instructor=factories.instructor(),
            rooms=[RoomFactory.create(name="Marina Bay Studio"), RoomFactory.create(name="Jiefangbei Studio")],
            recorded=True,
        )
        self.trainee = factories.trainee()
        enrol(self.trainee, self.page)
        self.outsider = factories.trainee()
        self.start = timezone.now() - timedelta(minutes=1)

    def record(self, publisher: str, *, colour: str, tone_hz: float | None, seconds: float, at: float = 0.0) -> Any:
        """A publisher's recording as the SFU leaves it: written and closed; its upload queued on commit."""
        recording = services.recording_start(
            session=self.session, publisher=publisher, now=self.start + timedelta(seconds=at)
        )
        path = Path(recording.local_path)
        synthetic_recording(path, seconds=seconds, picture=solid(colour, **SIZE), tone_hz=tone_hz, **SIZE)
        size, sha256 = file_size_and_sha256(path)
        file = RecordingFile(path=path, duration_s=seconds, size=size, sha256=sha256)
        return services.recording_finish(
            recording_id=recording.pk, file=file, now=self.start + timedelta(seconds=at + seconds)
        )

    def end(self) -> None:
        session = LiveSession.objects.get(pk=self.session.pk)
        session_set_state(session=session, state=SessionState.ENDED)


@pytest.fixture
def lesson(catalogue: Any) -> Class:
    return Class(catalogue)


def record_the_class(lesson: Class, capture: Any) -> None:
    with capture(execute=True):
        lesson.record("Marina Bay Studio", colour="red", tone_hz=440, seconds=4)
        lesson.record("Jiefangbei Studio", colour="blue", tone_hz=660, seconds=3, at=1)
        lesson.record("instructor", colour="green", tone_hz=None, seconds=4)


def composition_of(lesson: Class) -> SessionComposition:
    return SessionComposition.objects.get(session=lesson.session)


def download(client: Client, user: Any, composition: SessionComposition, into: Path) -> Any:
    client.force_login(user)
    redirect = client.get(reverse("streaming:composition-watch", kwargs={"composition_id": composition.pk}))
    if redirect.status_code != 302:
        return redirect
    response = client.get(redirect["Location"])
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"].startswith('attachment; filename="week-4-routing-across-the-border.mp4"')
    assert isinstance(response, StreamingHttpResponse)
    into.write_bytes(response.getvalue())
    return response


def test_ending_the_session_composes_its_recordings_into_one_file_a_trainee_downloads(
    lesson: Class, client: Client, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    record_the_class(lesson, django_capture_on_commit_callbacks)
    assert not SessionComposition.objects.exists()  # the session is still live

    with django_capture_on_commit_callbacks(execute=True):
        lesson.end()

    composition = composition_of(lesson)
    assert composition.state == CompositionState.STORED, composition.error
    assert (composition.progress, composition.attempts) == (100, 1)
    assert composition.duration_s == pytest.approx(4.0, abs=0.1)
    assert storage_for_region(composition.storage_region).exists(composition.storage_key)

    copy = tmp_path / "downloaded.mp4"
    download(client, lesson.trainee, composition, copy)
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == composition.sha256
    player = played(copy)
    assert player.codecs == {"video": "h264", "audio": "aac"}
    assert player.duration_s == pytest.approx(4.0, abs=0.2)
    spectrum = audio_spectrum(copy)
    assert tone_strength(spectrum, 440) > 0.3 and tone_strength(spectrum, 660) > 0.3

    assert download(client, lesson.outsider, composition, copy).status_code == 404
    # A link signed for the trainee does not open for the outsider either.
    client.force_login(lesson.trainee)
    link = client.get(reverse("streaming:composition-watch", kwargs={"composition_id": composition.pk}))["Location"]
    client.force_login(lesson.outsider)
    assert client.get(link).status_code == 404
    # The per-publisher recordings are still there, stored and untouched.
    assert set(Recording.objects.values_list("state", flat=True)) == {RecordingState.STORED}
    for recording in Recording.objects.all():
        with storage_for_region(recording.storage_region).open(recording.storage_key, "rb") as stored:
            assert hashlib.sha256(stored.read()).hexdigest() == recording.sha256


def test_the_composition_waits_for_the_last_upload(lesson: Class, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # the uploads are queued, not yet run
        lesson.record("Marina Bay Studio", colour="red", tone_hz=440, seconds=2)
        lesson.record("instructor", colour="green", tone_hz=None, seconds=2)
    assert set(Recording.objects.values_list("state", flat=True)) == {RecordingState.UPLOADING}
    session = LiveSession.objects.get(pk=lesson.session.pk)
    with django_capture_on_commit_callbacks(execute=False):
        session_set_state(session=session, state=SessionState.ENDED)
    # Ended, uploads pending: waiting (the course page says it is being prepared).
    assert services.session_composition_request(session_id=lesson.session.pk) is not None
    assert composition_of(lesson).state == CompositionState.WAITING

    first, last = Recording.objects.order_by("pk")
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_upload(recording_id=first.pk)
    assert composition_of(lesson).state == CompositionState.WAITING
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_upload(recording_id=last.pk)
    assert composition_of(lesson).state == CompositionState.STORED
    # Asked again (a late trigger, a redelivered task): nothing is composed twice.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.session_composition_request(session_id=lesson.session.pk)
    assert callbacks == []
    assert services.composition_compose(session_id=lesson.session.pk) == composition_of(lesson)
    assert composition_of(lesson).attempts == 1


def test_a_recording_that_failed_for_good_is_left_out(lesson: Class, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        lesson.record("Marina Bay Studio", colour="red", tone_hz=440, seconds=3)
        broken = services.recording_start(session=lesson.session, publisher="Jiefangbei Studio", now=lesson.start)
        services.recording_fail(recording_id=broken.pk, error="disk full")
        lesson.end()

    composition = composition_of(lesson)
    assert composition.state == CompositionState.STORED, composition.error
    assert composition.duration_s == pytest.approx(3.0, abs=0.1)
    assert Recording.objects.get(pk=broken.pk).state == RecordingState.FAILED


def test_a_session_whose_recordings_all_failed_says_so(lesson: Class, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        broken = services.recording_start(session=lesson.session, publisher="instructor", now=lesson.start)
        services.recording_fail(recording_id=broken.pk, error="disk full")
        lesson.end()
    composition = composition_of(lesson)
    assert composition.state == CompositionState.FAILED and "nothing to compose" in composition.error


def damage(recording: Recording) -> bytes:
    """The stored file becomes garbage, consistently with its row (as if the recorder had written it so)."""
    garbage = b"\x1aE\xdf\xa3 this is not a WebM file " * 200
    storage_for_region(recording.storage_region).delete(recording.storage_key)
    storage_for_region(recording.storage_region).save(recording.storage_key, _content(garbage))
    Recording.objects.filter(pk=recording.pk).update(sha256=hashlib.sha256(garbage).hexdigest(), size=len(garbage))
    return garbage


def _content(data: bytes) -> Any:
    from django.core.files.base import ContentFile

    return ContentFile(data)


def test_a_corrupt_recording_is_retried_then_failed_with_its_reason_for_staff(
    lesson: Class, client: Client, recordings_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    record_the_class(lesson, django_capture_on_commit_callbacks)
    broken = Recording.objects.get(publisher="Jiefangbei Studio")
    garbage = damage(broken)
    before = list(Recording.objects.order_by("pk").values())
    session = LiveSession.objects.get(pk=lesson.session.pk)
    with django_capture_on_commit_callbacks(execute=False):
        session_set_state(session=session, state=SessionState.ENDED)
    services.session_composition_request(session_id=lesson.session.pk)

    # Each attempt but the last fails for the task to retry; the composition waits, its reason noted.
    for attempt in range(1, COMPOSITION_MAX_ATTEMPTS):
        with pytest.raises(CompositionFailed, match="Jiefangbei Studio"):
            services.composition_compose(session_id=lesson.session.pk)
        composition = composition_of(lesson)
        assert (composition.state, composition.attempts) == (CompositionState.WAITING, attempt)
    final = services.composition_compose(session_id=lesson.session.pk)
    assert final is not None
    composition = final
    assert composition.state == CompositionState.FAILED
    assert composition.attempts == COMPOSITION_MAX_ATTEMPTS
    assert "Jiefangbei Studio" in composition.error and "cannot be read" in composition.error
    assert services.composition_compose(session_id=lesson.session.pk) == composition  # failed stays failed

    # The per-publisher recordings and their files are untouched.
    assert list(Recording.objects.order_by("pk").values()) == before
    with storage_for_region(broken.storage_region).open(broken.storage_key, "rb") as stored:
        assert stored.read() == garbage
    assert not list((recordings_dir / "compose").iterdir())  # no leftovers

    client.force_login(lesson.session.instructor)
    html = client.get(lesson.page.url).content.decode()
    assert "could not be prepared" in html and "Reason:" in html and "Jiefangbei Studio" in html
    assert reverse("streaming:recording-watch", kwargs={"recording_id": broken.pk}) in html
    client.force_login(lesson.trainee)
    html = client.get(lesson.page.url).content.decode()
    assert "could not be prepared" in html and "Reason:" not in html
    assert reverse("streaming:recording-watch", kwargs={"recording_id": broken.pk}) not in html


def test_the_task_retries_a_failing_composition_then_gives_up(
    lesson: Class, django_capture_on_commit_callbacks: Any
) -> None:
    record_the_class(lesson, django_capture_on_commit_callbacks)
    damage(Recording.objects.get(publisher="instructor"))
    with django_capture_on_commit_callbacks(execute=True):  # ending queues the task; eagerly, it retries at once
        lesson.end()
    composition = composition_of(lesson)
    assert (composition.state, composition.attempts) == (CompositionState.FAILED, COMPOSITION_MAX_ATTEMPTS)
    assert compose_session_recording.max_retries == COMPOSITION_MAX_ATTEMPTS - 1


def test_the_course_page_shows_progress_then_the_link(
    lesson: Class, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(lesson.trainee)
    html = client.get(lesson.page.url).content.decode()
    assert "No recordings yet." in html

    with django_capture_on_commit_callbacks(execute=False):  # its upload is queued, not yet run
        lesson.record("Marina Bay Studio", colour="red", tone_hz=440, seconds=2)
    session = LiveSession.objects.get(pk=lesson.session.pk)
    with django_capture_on_commit_callbacks(execute=False):
        session_set_state(session=session, state=SessionState.ENDED)
    services.session_composition_request(session_id=lesson.session.pk)
    composition = composition_of(lesson)
    html = client.get(lesson.page.url).content.decode()
    assert "The recording is being prepared, 0 %" in html
    # What the composing task leaves behind as it goes.
    SessionComposition.objects.filter(pk=composition.pk).update(state=CompositionState.COMPOSING, progress=40)

    html = client.get(lesson.page.url).content.decode()
    assert "The recording is being prepared, 40 %" in html
    assert '<progress max="100" value="40">' in html
    watch = reverse("streaming:composition-watch", kwargs={"composition_id": composition.pk})
    assert f'href="{watch}"' not in html
    # The page's bar follows it without a reload; it may ask only if it may watch the course's recordings.
    progress = reverse("streaming:composition-progress", kwargs={"composition_id": composition.pk})
    assert f'data-composition-progress="{progress}"' in html
    assert client.get(progress).json() == {
        "state": "composing",
        "progress": 40,
        "finished": False,
        "text": "The recording is being prepared, 40 %",
        "url": None,
    }
    client.force_login(lesson.outsider)
    assert client.get(progress).status_code == 404
    client.force_login(lesson.trainee)
    with translation_override("zh-hans"):
        chinese = client.get(reverse("streaming:composition-progress", kwargs={"composition_id": composition.pk}))
    assert chinese.json()["text"] != "The recording is being prepared, 40 %" and "40" in chinese.json()["text"]
    recording = Recording.objects.get()
    assert reverse("streaming:recording-watch", kwargs={"recording_id": recording.pk}) not in html

    SessionComposition.objects.filter(pk=composition.pk).update(state=CompositionState.WAITING, progress=0)
    with django_capture_on_commit_callbacks(execute=True):  # the upload completes: the composition follows
        services.recording_upload(recording_id=recording.pk)
    html = client.get(lesson.page.url).content.decode()
    assert f'href="{watch}"' in html and "Download the recording" in html
    assert client.get(progress).json() | {"text": ""} == {
        "state": "stored",
        "progress": 100,
        "finished": True,
        "text": "",
        "url": watch,
    }
    assert "being prepared" not in html and "0:02 long" in html

    # Staff also get each publisher's file.
    client.force_login(lesson.session.instructor)
    html = client.get(lesson.page.url).content.decode()
    assert f'href="{watch}"' in html
    assert reverse("streaming:recording-watch", kwargs={"recording_id": recording.pk}) in html
    # The outsider sees no recordings section at all.
    client.force_login(lesson.outsider)
    html = client.get(lesson.page.url).content.decode()
    assert "Session recordings" not in html and watch not in html


def test_on_s3_the_file_goes_up_checksummed_and_comes_down_presigned(
    s3_storage: Any, lesson: Class, client: Client, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    record_the_class(lesson, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        lesson.end()

    composition = composition_of(lesson)
    assert composition.state == CompositionState.STORED, composition.error
    head = s3_storage.head_object(Bucket=BUCKET, Key=composition.storage_key, ChecksumMode="ENABLED")
    assert head["ContentType"] == "video/mp4"
    assert head["Metadata"]["sha256"] == composition.sha256
    assert head["ChecksumSHA256"]  # S3 checked every part on arrival
    keys = {item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {composition.storage_key, *Recording.objects.values_list("storage_key", flat=True)}

    client.force_login(lesson.trainee)
    location = client.get(reverse("streaming:composition-watch", kwargs={"composition_id": composition.pk}))["Location"]
    assert "X-Amz-Signature=" in location and "response-content-disposition=attachment" in location
    with urllib.request.urlopen(location) as response:
        data = response.read()
    assert hashlib.sha256(data).hexdigest() == composition.sha256
    copy = tmp_path / "from-s3.mp4"
    copy.write_bytes(data)
    assert played(copy).duration_s == pytest.approx(4.0, abs=0.2)
    assert selectors.session_composition_for_viewer(user=lesson.outsider, composition_id=composition.pk) is None


def test_a_composition_whose_worker_died_is_taken_over_by_the_periodic_sweep(
    lesson: Class, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        lesson.record("Marina Bay Studio", colour="red", tone_hz=440, seconds=2)
    session = LiveSession.objects.get(pk=lesson.session.pk)
    with django_capture_on_commit_callbacks(execute=False):  # the session's end trigger is lost
        session_set_state(session=session, state=SessionState.ENDED)
    assert not SessionComposition.objects.exists()

    # A worker took it and died at 30 %; its last sign of life is a minute old: still its own.
    now = timezone.now()
    SessionComposition.objects.create(
        session=session,
        state=CompositionState.COMPOSING,
        progress=30,
        attempts=1,
        started_at=now - timedelta(minutes=5),
        heartbeat_at=now - timedelta(minutes=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.compositions_resume() == []
    assert composition_of(lesson).state == CompositionState.COMPOSING

    # Silent for longer than COMPOSITION_STALE_SECONDS: composed again, and stored.
    silent = timedelta(seconds=services.COMPOSITION_STALE_SECONDS + 60)
    SessionComposition.objects.update(heartbeat_at=timezone.now() - silent)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.compositions_resume() == [session.pk]
    composition = composition_of(lesson)
    assert (composition.state, composition.attempts, composition.progress) == (CompositionState.STORED, 2, 100)


def test_the_sweep_composes_an_ended_session_whose_trigger_was_lost(
    lesson: Class, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        lesson.record("Marina Bay Studio", colour="red", tone_hz=440, seconds=2)
    session = LiveSession.objects.get(pk=lesson.session.pk)
    with django_capture_on_commit_callbacks(execute=False):
        session_set_state(session=session, state=SessionState.ENDED)
    with django_capture_on_commit_callbacks(execute=True):
        resume_compositions.delay()
    assert composition_of(lesson).state == CompositionState.STORED
