"""Reads for streaming: a participant's ICE servers, and the recordings a user may watch."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from classrooms.models import SessionState
from courses.models import CoursePage
from courses.selectors import enrolment_for, user_is_course_staff
from lms.files import SignedFileLinks, StoredFile
from streaming.models import Recording, RecordingState, SessionRecordingPolicy
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


def session_is_recorded(*, session_id: int) -> bool:
    """Whether the SFU should record `session_id`'s publishers now (see SessionRecordingPolicy); never once the
    session has ended."""
    return (
        SessionRecordingPolicy.objects.filter(session_id=session_id, record=True)
        .exclude(session__state=SessionState.ENDED)
        .exists()
    )


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
    return StoredFile(recording.storage_key, "video/webm", recording.storage_key.rsplit("/", 1)[-1])


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
