"""Reads for streaming: a participant's ICE servers, and the recordings (each publisher's, and each session's one
composed file) a user may watch."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.text import slugify
from django.utils.translation import gettext as _
from redis.asyncio import Redis

from classrooms.models import LiveSession, SessionState
from courses.models import CoursePage
from courses.selectors import enrolment_for, user_is_course_staff
from lms.accounts.personal_data import ExportFile
from lms.files import SignedFileLinks, StoredFile
from lms.regions import region_label
from streaming.models import (
    CompositionState,
    Publication,
    Recording,
    RecordingState,
    SessionComposition,
    SessionRecordingsRegion,
)
from streaming.node.registry import nodes_live
from streaming.turn import IceServer, ice_servers, turn_credentials


def ice_servers_for_user(*, user: Any, now: float | None = None) -> list[IceServer]:
    """The ICE servers to hand `user`'s browser: STUN, and TURN with credentials valid for TURN_TTL_SECONDS.

    The TURN username carries the user's primary key (coturn logs it), never their email.
    Without TURN_URLS (the embedded default) there is no TURN entry at all.
    """
    credentials = None
    if settings.TURN_URLS:
        credentials = turn_credentials(
            user_key=str(user.pk),
            secret=settings.TURN_SECRET,
            ttl_s=settings.TURN_TTL_SECONDS,
            now=time.time() if now is None else now,
        )
    return ice_servers(turn_urls=settings.TURN_URLS, stun_urls=settings.STUN_URLS, credentials=credentials)


def session_recordings_region(*, session: LiveSession) -> str:
    """The region whose storage a session's new recordings (each publisher's, and the composed file) go to: the
    one the person scheduling it chose, else the site's RECORDINGS_REGION, which by default is the instructor's
    home region (lms/regions.py)."""
    chosen = SessionRecordingsRegion.objects.filter(session=session).values_list("region", flat=True).first()
    if chosen:
        return str(chosen)
    if settings.RECORDINGS_REGION != "instructor":
        return str(settings.RECORDINGS_REGION)
    return str(session.instructor.home_region)


def session_recordings_region_chosen(*, session: LiveSession) -> str:
    """The region chosen for this session's recordings, or "" when it follows the site's rule."""
    chosen = SessionRecordingsRegion.objects.filter(session=session).values_list("region", flat=True).first()
    return str(chosen or "")


@dataclass(frozen=True)
class StoredSessionFile:
    """One of a session's stored files (a publisher's recording or the composed file) and the region it is in."""

    label: str
    region: str


def session_stored_files(*, session: LiveSession) -> list[StoredSessionFile]:
    """Each of `session`'s files in storage and where it is, for staff (the session's storage page)."""
    files = [
        StoredSessionFile(recording.publisher, region_label(recording.storage_region))
        for recording in Recording.objects.filter(session=session, state=RecordingState.STORED)
    ]
    composition = SessionComposition.objects.filter(session=session, state=CompositionState.STORED).first()
    if composition is not None:
        files.append(
            StoredSessionFile(str(_("The session's recording (MP4)")), region_label(composition.storage_region))
        )
    return files


def session_is_recorded(*, session_id: int) -> bool:
    """Whether the SFU should record `session_id`'s publishers now (`LiveSession.recorded`); never once the
    session has ended."""
    return LiveSession.objects.filter(pk=session_id, recorded=True).exclude(state=SessionState.ENDED).exists()


# A publishing socket refreshes its publication every PUBLICATION_REFRESH_SECONDS; one not refreshed for
# PUBLICATION_STALE_SECONDS belonged to a server process that died.
PUBLICATION_REFRESH_SECONDS = 30
PUBLICATION_STALE_SECONDS = 120


def session_has_publishers(*, session_id: int, now: datetime) -> bool:
    """Whether anyone (a room, the instructor, a speaker) is publishing in the session now."""
    return Publication.objects.filter(
        session_id=session_id,
        ended_at__isnull=True,
        last_seen_at__gte=now - timedelta(seconds=PUBLICATION_STALE_SECONDS),
    ).exists()


def recordings_for_course_page(*, user: Any, course: CoursePage) -> QuerySet[Recording]:
    """The stored recordings of `course`'s sessions (in any of its languages) that `user` may watch.

    Enrolled trainees and course staff (instructors, administrators) may; anyone else gets none.
    """
    if not may_watch_course_recordings(user=user, course=course):
        return Recording.objects.none()
    return course_stored_recordings(course=course)


def course_stored_recordings(*, course: CoursePage) -> QuerySet[Recording]:
    """Every stored recording of `course`'s sessions, newest session first. No access check: see above."""
    return (
        Recording.objects.filter(state=RecordingState.STORED, session__course__translation_key=course.translation_key)
        .select_related("session")
        .order_by("-session__starts_at", "started_at", "pk")
    )


def recording_for_viewer(*, user: Any, recording_id: int) -> Recording | None:
    """The stored recording `recording_id` if `user` may watch it (the course page's rule), else None."""
    recording = (
        Recording.objects.filter(pk=recording_id, state=RecordingState.STORED).select_related("session__course").first()
    )
    if recording is None or not getattr(user, "is_authenticated", False):
        return None
    return recording if may_watch_course_recordings(user=user, course=recording.session.course) else None


def may_watch_course_recordings(*, user: Any, course: CoursePage) -> bool:
    """Enrolled trainees and course staff (instructors, administrators) may watch a course's recordings."""
    return user_is_course_staff(user) or enrolment_for(user=user, course=course) is not None


RECORDING_LINKS = SignedFileLinks(
    salt="streaming.recording-file", view="streaming:recording-file", max_age_setting="RECORDING_URL_MAX_AGE"
)


def recording_file(*, recording: Recording) -> StoredFile:
    """A stored recording's file, as its viewer gets it (shown in the browser, not saved)."""
    return StoredFile(
        recording.storage_key,
        "video/webm",
        recording.storage_key.rsplit("/", 1)[-1],
        region=recording.storage_region,
    )


def recording_signed_url(*, recording: Recording, user: Any) -> str:
    """A short-lived URL for `recording`'s file, for `user` (already checked with `recording_for_viewer`).

    On S3 a presigned GET, valid for RECORDING_URL_MAX_AGE seconds; on local storage
    a signed link to `streaming:recording-file` that expires as fast and only works
    for `user`.
    """
    return RECORDING_LINKS.url(file=recording_file(recording=recording), user=user, claims={"recording": recording.pk})


def recording_from_token(*, token: str, user: Any) -> Recording | None:
    """The recording a `recording_signed_url` token names, if it has not expired and was issued to `user`."""
    claims = RECORDING_LINKS.claims(token=token, user=user)
    if claims is None:
        return None
    return recording_for_viewer(user=user, recording_id=int(claims["recording"]))


# The session's one file (SessionComposition): listed on the course page as the session's recording.


def session_composition_for_viewer(*, user: Any, composition_id: int) -> SessionComposition | None:
    """The stored composition `composition_id` if `user` may watch its course's recordings, else None."""
    composition = (
        SessionComposition.objects.filter(pk=composition_id, state=CompositionState.STORED)
        .select_related("session__course")
        .first()
    )
    if composition is None or not getattr(user, "is_authenticated", False):
        return None
    return composition if may_watch_course_recordings(user=user, course=composition.session.course) else None


def composition_progress_for_viewer(*, user: Any, composition_id: int) -> SessionComposition | None:
    """Composition `composition_id` in any state, if `user` may watch its course's recordings (the course page's
    progress bar asks), else None."""
    composition = SessionComposition.objects.filter(pk=composition_id).select_related("session__course").first()
    if composition is None or not getattr(user, "is_authenticated", False):
        return None
    return composition if may_watch_course_recordings(user=user, course=composition.session.course) else None


def course_recorded_sessions(*, course: CoursePage) -> QuerySet[LiveSession]:
    """`course`'s sessions (in any of its languages) that have a composition or a stored recording, newest
    first, with their composition. No access check: see `may_watch_course_recordings`."""
    return (
        LiveSession.objects.filter(course__translation_key=course.translation_key)
        .filter(Q(composition__isnull=False) | Q(recordings__state=RecordingState.STORED))
        .distinct()
        .select_related("composition")
        .order_by("-starts_at", "pk")
    )


COMPOSITION_LINKS = SignedFileLinks(
    salt="streaming.composition-file", view="streaming:composition-file", max_age_setting="RECORDING_URL_MAX_AGE"
)


def composition_file(*, composition: SessionComposition) -> StoredFile:
    """A session's composed file, as its viewer gets it: saved under the session's title."""
    name = slugify(composition.session.title) or f"session-{composition.session_id}"
    return StoredFile(
        composition.storage_key, "video/mp4", f"{name}.mp4", attachment=True, region=composition.storage_region
    )


def composition_signed_url(*, composition: SessionComposition, user: Any) -> str:
    """A short-lived URL for the composed file, for `user` (checked with `session_composition_for_viewer`)."""
    return COMPOSITION_LINKS.url(
        file=composition_file(composition=composition), user=user, claims={"composition": composition.pk}
    )


def composition_from_token(*, token: str, user: Any) -> SessionComposition | None:
    """The composition a `composition_signed_url` token names, if unexpired and issued to `user`."""
    claims = COMPOSITION_LINKS.claims(token=token, user=user)
    if claims is None:
        return None
    return session_composition_for_viewer(user=user, composition_id=int(claims["composition"]))


def sfu_node_records() -> list[dict[str, Any]]:
    """The live SFU nodes' records from Redis (SFU_MODE "nodes"): each with its `city` and `links` (the node's
    link stats per peer node). Empty under the embedded single-process default (one media node, no link)."""
    if settings.SFU_MODE != "nodes" or not settings.REDIS_URL:
        return []

    async def read() -> list[dict[str, Any]]:
        redis = Redis.from_url(settings.REDIS_URL)
        try:
            return [dict(record) for record in await nodes_live(redis, prefix=settings.SFU_REDIS_PREFIX)]
        finally:
            await redis.aclose()

    return async_to_sync(read)()


def recordings_of_person(*, user: Any) -> list[Recording]:
    """The recordings in which `user` published (as the instructor or an invited speaker): each publication of theirs
    names its label, and the session's recording of that publisher carries it."""
    found: list[Recording] = []
    for session_id, label in (
        Publication.objects.filter(user=user).values_list("session_id", "label").distinct().order_by("session_id")
    ):
        found.extend(Recording.objects.filter(session_id=session_id, publisher=label[:120]).order_by("pk"))
    return list({recording.pk: recording for recording in found}.values())


def media_records_of(*, user: Any) -> dict[str, Any]:
    """A person's records in the media path, for their data export: when they published, and the recordings."""
    return {
        "publications": [
            {
                "session_id": row.session_id,
                "kind": row.kind,
                "label": row.label,
                "started_at": row.started_at.isoformat(),
                "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            }
            for row in Publication.objects.filter(user=user).order_by("started_at", "pk")
        ],
        "recordings": [
            {
                "session_id": recording.session_id,
                "publisher": recording.publisher,
                "state": recording.state,
                "duration_s": recording.duration_s,
                "started_at": recording.started_at.isoformat(),
                "file": f"files/recordings/{recording_archive_name(recording)}"
                if recording.state == RecordingState.STORED
                else None,
            }
            for recording in recordings_of_person(user=user)
        ],
    }


def recording_archive_name(recording: Recording) -> str:
    return f"session-{recording.session_id}/{recording.storage_key.rsplit('/', 1)[-1]}"


def media_files_of(*, user: Any) -> list[ExportFile]:
    """The stored recordings in which `user` published, for their data export."""
    return [
        ExportFile(
            key=recording.storage_key,
            path=f"recordings/{recording_archive_name(recording)}",
            region=recording.storage_region,
        )
        for recording in recordings_of_person(user=user)
        if recording.state == RecordingState.STORED and recording.storage_key
    ]


def recordings_kept_until(*, session: LiveSession) -> datetime | None:
    """When the retention task deletes the session's recordings (RETENTION_RECORDINGS_DAYS after it ended), or None
    when they are kept forever."""
    days = settings.RETENTION_RECORDINGS_DAYS
    if not days or days <= 0:
        return None
    return (session.live_until or session.ends_at) + timedelta(days=days)
