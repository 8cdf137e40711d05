"""Writes for session recordings: start, finish, and the upload to storage (S3 in production).

The SFU records each publisher to local disk (`streaming.recording.WebmRecorder`);
`recording_finish` queues the upload, and `recording_upload` (run by the Celery
task `streaming.tasks.upload_recording`) copies the file to the default storage,
verifies what was stored against the file's SHA-256, and only then removes the
local file. Every step can run again after a crash: the object key is fixed per
recording, so a retry overwrites (or recognises) the same object rather than
leaving a second one.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from pathlib import Path

from asgiref.sync import async_to_sync
from botocore.exceptions import BotoCoreError, ClientError
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from classrooms.models import LiveSession
from lms.files import StorageKeyConflict, checksummed_writer
from streaming.models import Recording, RecordingState, SessionRecordingPolicy
from streaming.recording import RecordingFile, file_size_and_sha256

logger = logging.getLogger(__name__)

CONTENT_TYPE = "video/webm"


class RecordingUploadError(Exception):
    """An upload attempt failed; the local file is kept and the task retries."""


@transaction.atomic
def session_recording_set(*, session: LiveSession, record: bool) -> SessionRecordingPolicy:
    """Whether the SFU records `session` (checked when each publisher joins)."""
    policy, _created = SessionRecordingPolicy.objects.update_or_create(session=session, defaults={"record": record})
    return policy


def recording_local_path(*, recording: Recording) -> Path:
    name = slugify(recording.publisher) or "publisher"
    return Path(settings.RECORDINGS_DIR) / f"session-{recording.session_id}" / f"{recording.pk}-{name}.webm"


def recording_storage_key(*, recording: Recording) -> str:
    name = slugify(recording.publisher) or "publisher"
    return f"{settings.RECORDINGS_STORAGE_PREFIX}/session-{recording.session_id}/{recording.pk}-{name}.webm"


@transaction.atomic
def recording_start(*, session: LiveSession, publisher: str, now: datetime | None = None) -> Recording:
    """A new recording of `publisher` in `session`; the SFU writes to its `local_path`.

    The caller (the SFU's recording hook) checks `selectors.session_is_recorded` first.
    """
    recording = Recording.objects.create(session=session, publisher=publisher, started_at=now or timezone.now())
    recording.local_path = str(recording_local_path(recording=recording))
    recording.storage_key = recording_storage_key(recording=recording)
    recording.save(update_fields=["local_path", "storage_key"])
    return recording


@transaction.atomic
def recording_finish(*, recording_id: int, file: RecordingFile, now: datetime | None = None) -> Recording:
    """The SFU closed the recorder: note what was written and queue the upload (after commit).

    Calling it again for a recording that is no longer `recording` changes nothing.
    """
    recording = Recording.objects.select_for_update().get(pk=recording_id)
    if recording.state != RecordingState.RECORDING:
        return recording
    recording.ended_at = now or timezone.now()
    recording.local_path = str(file.path)
    recording.size, recording.sha256, recording.duration_s = file.size, file.sha256, file.duration_s
    if file.size == 0:
        recording.state = RecordingState.FAILED
        recording.error = "Nothing was recorded (the publisher sent no media)."
    else:
        recording.state = RecordingState.UPLOADING
        _enqueue_upload(recording.pk)
    recording.save()
    return recording


@transaction.atomic
def recording_fail(*, recording_id: int, error: str, now: datetime | None = None) -> Recording:
    """The recorder itself failed (a full disk, a muxer error): the recording ends `failed`, never uploaded.

    Whatever was written stays on local disk for an operator to look at; the session-end sweep leaves it alone
    (it has no checksum). Calling it for a recording that is no longer `recording` changes nothing.
    """
    recording = Recording.objects.select_for_update().get(pk=recording_id)
    if recording.state != RecordingState.RECORDING:
        return recording
    recording.ended_at = now or timezone.now()
    recording.state = RecordingState.FAILED
    recording.error = f"The recorder failed: {error}"[:2000]
    recording.save(update_fields=["ended_at", "state", "error"])
    logger.warning("recording %s failed while recording: %s", recording_id, error)
    return recording


def session_recordings_close(*, session: LiveSession) -> None:
    """The session is ending (call inside the transaction that ends it): once that commits, the media sockets
    that record its publishers close their recorders (`recording_finish` then queues each upload), and the
    upload of the recordings already closed (publishers who left earlier, failed uploads) is queued.
    """
    if not (
        SessionRecordingPolicy.objects.filter(session=session).exists()
        or Recording.objects.filter(session=session).exists()
    ):
        return
    from streaming.tasks import upload_session_recordings

    session_id = session.pk
    transaction.on_commit(lambda: _tell_recorders_session_ended(session_id), robust=True)
    transaction.on_commit(lambda: upload_session_recordings.delay(session_id), robust=True)


def recording_group(session_id: int) -> str:
    """The channel-layer group of the media sockets recording `session_id`'s publishers (streaming.consumers)."""
    return f"media-recording-{session_id}"


def _tell_recorders_session_ended(session_id: int) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(
            recording_group(session_id), {"type": "media.session_ended", "session_id": session_id}
        )


@transaction.atomic
def session_recordings_upload(*, session: LiveSession) -> list[int]:
    """At the end of a session: queue the upload of every finished recording not yet stored.

    Also re-queues failed uploads whose local file is still there. Recordings the SFU
    is still writing are left alone: closing them (`recording_finish`) queues theirs.
    Returns the ids queued.
    """
    queued = []
    for recording in Recording.objects.select_for_update().filter(
        session=session, state__in=[RecordingState.UPLOADING, RecordingState.FAILED]
    ):
        if recording.state == RecordingState.FAILED and not (recording.sha256 and Path(recording.local_path).exists()):
            continue  # nothing left to upload, or the recorder failed (no finished file)
        _enqueue_upload(recording.pk)
        queued.append(recording.pk)
    return queued


def _enqueue_upload(recording_id: int) -> None:
    from streaming.tasks import upload_recording

    # robust: with the embedded (eager) Celery a failing upload is logged, not raised into the caller.
    transaction.on_commit(lambda: upload_recording.delay(recording_id), robust=True)


def recording_upload(*, recording_id: int) -> Recording:
    """Copy a finished recording to storage, verify it, then delete the local file. Idempotent.

    Runs without holding a transaction or lock while bytes move (an upload takes
    minutes). Raises RecordingUploadError, after marking the recording `failed`,
    when this attempt did not store it; the local file is then untouched.
    """
    with transaction.atomic():
        recording = Recording.objects.select_for_update().get(pk=recording_id)
        if recording.state == RecordingState.STORED:
            # A previous run stored it and may have died before removing the file.
            _remove_local_file(recording.local_path)
            return recording
        if recording.state == RecordingState.RECORDING:
            raise RecordingUploadError(f"recording {recording_id} is still being written")
        recording.upload_attempts += 1
        recording.save(update_fields=["upload_attempts"])

    target = checksummed_writer(default_storage, part_size=settings.RECORDING_UPLOAD_PART_SIZE)
    key = recording.storage_key or recording_storage_key(recording=recording)
    try:
        path = Path(recording.local_path)
        if path.exists():
            size, sha256 = file_size_and_sha256(path)
            if recording.sha256 and sha256 != recording.sha256:
                raise RecordingUploadError(
                    f"the local file changed since recording (sha256 {sha256}, expected {recording.sha256})"
                )
            if not target.holds(key=key, path=path, size=size, sha256=sha256):
                target.upload(key=key, path=path, size=size, sha256=sha256, content_type=CONTENT_TYPE)
                if not target.holds(key=key, path=path, size=size, sha256=sha256):
                    raise RecordingUploadError("the stored object does not match the local file's checksum")
        elif not (recording.sha256 and target.holds(key=key, path=None, size=recording.size, sha256=recording.sha256)):
            raise RecordingUploadError(f"the local file {path} is missing and storage does not hold the recording")
    except (RecordingUploadError, StorageKeyConflict, ClientError, BotoCoreError, OSError) as exc:
        _recording_mark_failed(recording_id=recording_id, error=f"{type(exc).__name__}: {exc}")
        raise RecordingUploadError(str(exc)) from exc

    with transaction.atomic():
        recording = Recording.objects.select_for_update().get(pk=recording_id)
        recording.state = RecordingState.STORED
        recording.storage_key = key
        recording.stored_at = timezone.now()
        recording.error = ""
        recording.save(update_fields=["state", "storage_key", "stored_at", "error"])
        local_path = recording.local_path
        transaction.on_commit(lambda: _remove_local_file(local_path))
    logger.info("recording %s stored as %s", recording_id, key)
    return recording


@transaction.atomic
def _recording_mark_failed(*, recording_id: int, error: str) -> None:
    recording = Recording.objects.select_for_update().get(pk=recording_id)
    if recording.state == RecordingState.STORED:
        return  # a concurrent attempt stored it meanwhile
    recording.state = RecordingState.FAILED
    recording.error = error[:2000]
    recording.save(update_fields=["state", "error"])
    logger.warning("recording %s upload failed (attempt %s): %s", recording_id, recording.upload_attempts, error)


def _remove_local_file(local_path: str) -> None:
    path = Path(local_path)
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # the session's folder, once its last recording is gone
