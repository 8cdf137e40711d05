"""Background work for recordings: the upload to storage after a recorder closes, and the sweep at a session's end."""

from __future__ import annotations

from celery import shared_task

from classrooms.models import LiveSession
from streaming import services
from streaming.services import RecordingUploadError


@shared_task(
    name="streaming.tasks.upload_recording",
    autoretry_for=(RecordingUploadError,),
    retry_backoff=30,  # 30 s, 60 s, 120 s ... (jittered), up to an hour apart
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=10,
)
def upload_recording(recording_id: int) -> str:
    """Upload one recording, verify it and remove the local copy. Safe to run twice, or after a crash.

    A failed attempt leaves the recording `failed` with its local file in place; the
    retry (or `services.session_recordings_upload`) picks it up again.
    """
    return services.recording_upload(recording_id=recording_id).state


@shared_task(name="streaming.tasks.upload_session_recordings")
def upload_session_recordings(session_id: int) -> list[int]:
    """At a session's end: queue the upload of its finished recordings not yet stored (see the service)."""
    session = LiveSession.objects.filter(pk=session_id).first()
    return services.session_recordings_upload(session=session) if session is not None else []
