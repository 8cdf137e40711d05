"""Background work for recordings (the upload to storage after a recorder closes, the sweep at a session's end,
composing a session's recordings into its one file), and the auto-end of sessions left live with nobody
publishing (here because it asks streaming who publishes)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task, shared_task
from django.utils import timezone

from classrooms.models import LiveSession
from classrooms.selectors.sessions import sessions_overdue
from classrooms.services.link_quality import link_samples_cross_record
from classrooms.services.sessions import session_end
from lms.errors import CorridorError
from streaming import services
from streaming.selectors import session_has_publishers, sfu_node_records
from streaming.services import COMPOSITION_MAX_ATTEMPTS, CompositionFailed, RecordingUploadError

logger = logging.getLogger(__name__)

# A session still live this long after its scheduled end, with nobody publishing, was forgotten: it is ended.
AUTO_END_AFTER = timedelta(minutes=30)


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


@shared_task(
    name="streaming.tasks.compose_session_recording",
    bind=True,
    autoretry_for=(CompositionFailed,),
    retry_backoff=60,  # 1, 2, 4 minutes (jittered)
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=COMPOSITION_MAX_ATTEMPTS - 1,
)
def compose_session_recording(self: Task[[int], str | None], session_id: int) -> str | None:
    """Compose a session's recordings into its one MP4 and store it (see `services.composition_compose`).

    A failed attempt raises CompositionFailed and is retried later; the last one marks the composition failed.
    Run in-process (the embedded default, no worker to retry later), the attempts follow one another at once.
    """
    # Redelivered (acks_late): the worker that had this very message died without acknowledging it (killed, or
    # its machine lost), so the composition it left `composing` has nobody behind it. Without taking it over the
    # redelivery would see a busy run and do nothing, and the file would wait COMPOSITION_STALE_SECONDS (15 min)
    # for the periodic resume (tests/faults/test_worker_crash.py). A message is also redelivered when its task runs
    # past CELERY_VISIBILITY_TIMEOUT (1 h), which no composition should: the visibility timeout must stay above it.
    take_over = bool((self.request.delivery_info or {}).get("redelivered"))
    while True:
        try:
            composition = services.composition_compose(session_id=session_id, take_over=take_over)
        except CompositionFailed:
            if self.request.is_eager:
                continue  # the service counts the attempts and stops at the last
            raise
        return composition.state if composition is not None else None


@shared_task(name="streaming.tasks.resume_compositions")
def resume_compositions() -> list[int]:
    """Periodically: compose again what a lost trigger or a dead worker left behind (see the service)."""
    return services.compositions_resume()


@shared_task(name="streaming.tasks.end_forgotten_sessions")
def end_forgotten_sessions() -> list[int]:
    """End every session still live AUTO_END_AFTER past its scheduled end with nobody publishing in it (a class
    that runs over, with a room or the instructor still on camera, is left alone). Returns the ended ids."""
    now = timezone.now()
    ended = []
    for session in sessions_overdue(now=now, grace=AUTO_END_AFTER):
        if session_has_publishers(session_id=session.pk, now=now):
            continue
        try:
            session_end(session=session, by=None, now=now)
        except CorridorError:  # ended meanwhile (a moderator, or an overlapping run): nothing to do
            continue
        logger.info("ended session %s: live 30 minutes past its end with nobody publishing", session.pk)
        ended.append(session.pk)
    return ended


@shared_task(name="streaming.tasks.sample_node_links")
def sample_node_links() -> int:
    """Every few seconds: the SFU nodes' link figures (the Singapore–Chongqing link) into the operators' charts and
    alerts (classrooms.services.link_quality). Nothing to do with one media node. Returns the samples written."""
    nodes = sfu_node_records()
    return link_samples_cross_record(nodes=nodes, now=timezone.now()) if nodes else 0


@shared_task(name="streaming.tasks.expire_recordings")
def expire_recordings() -> int:
    """Delete recordings (rows and stored files) past RETENTION_RECORDINGS_DAYS; beat runs this hourly. Idempotent."""
    return services.recordings_expire(now=timezone.now())
