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
import hashlib
import importlib.resources
import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from asgiref.sync import async_to_sync
from botocore.exceptions import BotoCoreError, ClientError
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from classrooms.models import LiveSession, Room, SessionState
from classrooms.selectors.sessions import sessions_managed_by
from classrooms.services.retention import retention_cutoff, sessions_over_before
from lms.accounts.models import Region
from lms.accounts.personal_data import ErasedPerson
from lms.celery import delay_long
from lms.errors import CorridorError
from lms.files import StorageKeyConflict, checksummed_writer
from lms.regions import storage_for_region
from streaming import selectors
from streaming.composer import CompositionError, Track, TrackKind, compose
from streaming.models import (
    CompositionState,
    Publication,
    PublicationKind,
    Recording,
    RecordingState,
    SessionComposition,
    SessionRecordingsRegion,
)
from streaming.recording import RecordingFile, file_size_and_sha256

logger = logging.getLogger(__name__)

CONTENT_TYPE = "video/webm"


class RecordingUploadError(Exception):
    """An upload attempt failed; the local file is kept and the task retries."""


@transaction.atomic
def session_recording_set(*, session: LiveSession, record: bool) -> LiveSession:
    """Whether the SFU records `session` (checked when each publisher joins)."""
    LiveSession.objects.filter(pk=session.pk).update(recorded=record)
    session.recorded = record
    return session


def recording_local_path(*, recording: Recording) -> Path:
    name = slugify(recording.publisher) or "publisher"
    return Path(settings.RECORDINGS_DIR) / f"session-{recording.session_id}" / f"{recording.pk}-{name}.webm"


def recording_storage_key(*, recording: Recording) -> str:
    name = slugify(recording.publisher) or "publisher"
    return f"{settings.RECORDINGS_STORAGE_PREFIX}/session-{recording.session_id}/{recording.pk}-{name}.webm"


@transaction.atomic
def session_recordings_region_choose(*, session: LiveSession, region: str, by: Any) -> str:
    """Store `session`'s recordings in `region`'s storage from now on ("": follow the site's RECORDINGS_REGION,
    the instructor's home region by default); returns the region its new recordings will go to.

    Only whoever may edit the session (its instructor, an administrator) chooses. Recordings already started keep
    the region they were started in (their rows say where they are).
    """
    if not sessions_managed_by(user=by).filter(pk=session.pk).exists():
        raise CorridorError(
            "forbidden", _("Only the session's instructor or an administrator can choose this."), status=403
        )
    if region and region not in Region.values:
        raise CorridorError("bad_region", _("Choose Singapore or Chongqing."))
    if region:
        SessionRecordingsRegion.objects.update_or_create(
            session=session, defaults={"region": region, "chosen_by": by, "chosen_at": timezone.now()}
        )
    else:
        SessionRecordingsRegion.objects.filter(session=session).delete()
    return selectors.session_recordings_region(session=session)


@transaction.atomic
def recording_start(*, session: LiveSession, publisher: str, now: datetime | None = None) -> Recording:
    """A new recording of `publisher` in `session`; the SFU writes to its `local_path`.

    The caller (the SFU's recording hook) checks `selectors.session_is_recorded` first.
    """
    recording = Recording.objects.create(session=session, publisher=publisher, started_at=now or timezone.now())
    recording.local_path = str(recording_local_path(recording=recording))
    recording.storage_key = recording_storage_key(recording=recording)
    # Fixed now, so every upload attempt (and every reader) goes to the same region's storage.
    recording.storage_region = selectors.session_recordings_region(session=session)
    recording.save(update_fields=["local_path", "storage_key", "storage_region"])
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
        _request_composition_if_ended(recording.session_id)
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
    _request_composition_if_ended(recording.session_id)
    logger.warning("recording %s failed while recording: %s", recording_id, error)
    return recording


def session_recordings_close(*, session: LiveSession) -> None:
    """The session is ending (call inside the transaction that ends it): once that commits, the media sockets
    that record its publishers close their recorders (`recording_finish` then queues each upload), and the
    upload of the recordings already closed (publishers who left earlier, failed uploads) is queued.
    """
    if not (
        LiveSession.objects.filter(pk=session.pk, recorded=True).exists()
        or Recording.objects.filter(session=session).exists()
    ):
        return
    from streaming.tasks import upload_session_recordings

    session_id = session.pk
    transaction.on_commit(lambda: _tell_recorders_session_ended(session_id), robust=True)
    transaction.on_commit(lambda: upload_session_recordings.delay(session_id), robust=True)
    # The session's one file: `waiting` now (the course page says it is being prepared), composed once every
    # recording is stored (or at once, if they all are already).
    _request_composition_on_commit(session_id)


def recording_group(session_id: int) -> str:
    """The channel-layer group of the media sockets recording `session_id`'s publishers (streaming.consumers)."""
    return f"media-recording-{session_id}"


def _tell_recorders_session_ended(session_id: int) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(
            recording_group(session_id), {"type": "media.session_ended", "session_id": session_id}
        )


def session_recordings_switch(*, session: LiveSession, recorded: bool) -> None:
    """Recording was switched on or off mid-session (call inside the transaction that switches it): once that
    commits, every media socket publishing in the session starts recording what it publishes (on) or closes its
    recorders (off: the recordings finish and their uploads are queued, as at the session's end).
    """
    session_id = session.pk
    message = {"type": "media.recording_changed", "session_id": session_id, "recorded": recorded}
    transaction.on_commit(lambda: _tell_recorders(session_id, message), robust=True)


def _tell_recorders(session_id: int, message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(recording_group(session_id), message)


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

    target = checksummed_writer(
        storage_for_region(recording.storage_region), part_size=settings.RECORDING_UPLOAD_PART_SIZE
    )
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
        # The session's last upload? Then its one file can be composed.
        _request_composition_on_commit(recording.session_id)
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
    if recording.upload_attempts >= RECORDING_UPLOAD_MAX_ATTEMPTS:
        _request_composition_on_commit(recording.session_id)  # given up: compose without it


def _remove_local_file(local_path: str) -> None:
    path = Path(local_path)
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # the session's folder, once its last recording is gone


# Publications: who published when (the auto-end sweep asks whether anyone still is; the composer lays out by it).


def publication_start(
    *,
    session_id: int,
    peer_id: str,
    kind: PublicationKind,
    label: str,
    user_id: int | None = None,
    room_id: int | None = None,
    now: datetime | None = None,
) -> Publication:
    """`peer_id` started publishing (a second publish of the same peer reopens its row)."""
    now = now or timezone.now()
    publication, _created = Publication.objects.update_or_create(
        session_id=session_id,
        peer_id=peer_id,
        defaults={
            "kind": kind,
            "label": label[:120],
            "user_id": user_id,
            "room_id": room_id,
            "started_at": now,
            "last_seen_at": now,
            "ended_at": None,
        },
    )
    return publication


def publication_touch(*, session_id: int, peer_id: str, now: datetime | None = None) -> None:
    """The publishing socket is still there (its server process lives)."""
    Publication.objects.filter(session_id=session_id, peer_id=peer_id, ended_at__isnull=True).update(
        last_seen_at=now or timezone.now()
    )


def publication_end(*, session_id: int, peer_id: str, now: datetime | None = None) -> None:
    """`peer_id` stopped publishing (unpublished, left, failed, or was stopped). Idempotent."""
    now = now or timezone.now()
    Publication.objects.filter(session_id=session_id, peer_id=peer_id, ended_at__isnull=True).update(
        ended_at=now, last_seen_at=now
    )


# The media sockets of a session, across server processes: what they all hear that is not the Sfu's.


def media_group(session_id: int) -> str:
    """The channel-layer group every user's media socket of `session_id` joins (streaming.consumers): a room's
    microphone muted, a trainee declining to speak (moderators only)."""
    return f"media-session-{session_id}"


def media_relay(*, session_id: int, frame: dict[str, Any], moderators_only: bool = False) -> None:
    """Send `frame` to the session's media sockets (its moderators' only, if asked), after commit."""
    message = {"type": "media.relay", "frame": frame, "moderators_only": moderators_only}
    layer = get_channel_layer()
    if layer is not None:
        group = media_group(session_id)
        transaction.on_commit(lambda: async_to_sync(layer.group_send)(group, message), robust=True)


def room_microphone_announce(*, room: Room, muted: bool) -> None:
    """A room was muted or unmuted: every media socket of its live sessions shows it on the room's tile."""
    for session_id in LiveSession.objects.filter(rooms=room, state=SessionState.LIVE).values_list("pk", flat=True):
        media_relay(session_id=session_id, frame={"type": "media.room_muted", "room_id": room.pk, "muted": muted})


def room_stream_announce(*, room: Room, session: LiveSession, paused: bool) -> None:
    """An operator stopped (or started again) a room's stream for `session`: its pages show the room paused."""
    frame = {"type": "media.room_paused", "room": {"id": room.pk, "name": room.name, "city": room.city}}
    media_relay(session_id=session.pk, frame={**frame, "paused": paused})


# The session's one file: its recordings composed into one MP4 (streaming.composer), once every recording is
# stored or has failed for good. `session_composition_request` is called on commit where that can become true
# (an upload stored or given up, the session ended); `composition_compose` (the Celery task
# `streaming.tasks.compose_session_recording`) does the work and may run again after a failure or a crash.

COMPOSITION_CONTENT_TYPE = "video/mp4"
# Attempts at composing before the composition is marked failed (streaming.tasks.compose_session_recording
# retries COMPOSITION_MAX_ATTEMPTS - 1 times).
COMPOSITION_MAX_ATTEMPTS = 4
# A composing run reports progress (`heartbeat_at`) every 1 % of the session, about every 40 s for a 3-hour class
# at 3x real time; one silent for longer than this belonged to a worker that died, and a new run takes over.
COMPOSITION_STALE_SECONDS = 15 * 60
# streaming.tasks.upload_recording tries an upload 1 + max_retries times; after that a failed recording is
# failed for good and the session's file is composed without it.
RECORDING_UPLOAD_MAX_ATTEMPTS = 11
# The composing run's share of the progress bar; the upload takes the rest.
COMPOSING_SHARE = 95


class CompositionFailed(Exception):
    """This attempt at composing failed (the reason is in `SessionComposition.error`); the task retries."""


def composition_storage_key(*, session_id: int) -> str:
    return f"{settings.RECORDINGS_STORAGE_PREFIX}/session-{session_id}/session-{session_id}.mp4"


def _recording_settled(recording: Recording) -> bool:
    """Stored, or failed for good: nothing more will happen to it without someone's hand."""
    if recording.state == RecordingState.STORED:
        return True
    if recording.state != RecordingState.FAILED:
        return False
    retryable = bool(recording.sha256) and Path(recording.local_path).exists()
    return not retryable or recording.upload_attempts >= RECORDING_UPLOAD_MAX_ATTEMPTS


@transaction.atomic
def session_composition_request(*, session_id: int) -> SessionComposition | None:
    """An ended, recorded session gets its composition: `waiting` while recordings are still being written or
    uploaded; queued for composing (after commit) once every recording is settled. Idempotent: a composition
    already composing, stored or failed is left as it is. None when the session has nothing to compose.
    """
    session = LiveSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None or session.state != SessionState.ENDED:
        return None
    recordings = list(Recording.objects.filter(session_id=session_id))
    if not recordings:
        return None
    composition, _created = SessionComposition.objects.get_or_create(session_id=session_id)
    composition = SessionComposition.objects.select_for_update().get(pk=composition.pk)
    if composition.state != CompositionState.WAITING or composition.started_at is not None:
        return composition  # already under way, done, or failed (a queued retry takes it from here)
    if not all(_recording_settled(recording) for recording in recordings):
        return composition
    if not any(recording.state == RecordingState.STORED for recording in recordings):
        composition.state = CompositionState.FAILED
        composition.error = "No recording of this session could be stored, so there is nothing to compose."
        composition.save(update_fields=["state", "error"])
        return composition
    from streaming.tasks import compose_session_recording

    transaction.on_commit(lambda: delay_long(compose_session_recording, session_id), robust=True)
    return composition


def _request_composition_on_commit(session_id: int) -> None:
    transaction.on_commit(lambda: session_composition_request(session_id=session_id), robust=True)


def _request_composition_if_ended(session_id: int) -> None:
    """A recording failed for good: if the session is over, it may have been the last one to wait for."""
    if LiveSession.objects.filter(pk=session_id, state=SessionState.ENDED).exists():
        _request_composition_on_commit(session_id)


def _composition_tracks(*, session: LiveSession, recordings: list[Recording]) -> list[tuple[Recording, TrackKind]]:
    """Each stored recording with the kind of its publisher (by its publication, else by its label)."""
    kinds = dict(Publication.objects.filter(session=session).values_list("label", "kind"))
    rooms = set(session.rooms.values_list("name", flat=True))
    tracks: list[tuple[Recording, TrackKind]] = []
    for recording in recordings:
        kind = kinds.get(recording.publisher)
        if kind not in {"room", "instructor", "speaker"}:
            if recording.publisher == "instructor":
                kind = "instructor"
            else:
                kind = "room" if recording.publisher in rooms else "speaker"
        tracks.append((recording, cast(TrackKind, kind)))
    return tracks


def _fetch_recording(*, recording: Recording, folder: Path) -> Path:
    """The stored recording as a local file (downloaded from S3; read in place from local storage), its
    SHA-256 checked against the one taken when it was recorded."""
    storage = storage_for_region(recording.storage_region)
    try:
        local = Path(storage.path(recording.storage_key))
    except NotImplementedError:  # S3: download
        local = folder / f"{recording.pk}.webm"
        digest = hashlib.sha256()
        with storage.open(recording.storage_key, "rb") as source, local.open("wb") as target:
            while chunk := source.read(1024 * 1024):
                digest.update(chunk)
                target.write(chunk)
        sha256 = digest.hexdigest()
    else:
        if not local.exists():
            raise CompositionError(f"the recording of {recording.publisher} is missing from storage")
        sha256 = file_size_and_sha256(local)[1]
    if recording.sha256 and sha256 != recording.sha256:
        raise CompositionError(
            f"the stored recording of {recording.publisher} does not match its checksum (it is damaged)"
        )
    return local


def _composition_begin(*, session_id: int, now: datetime, take_over: bool = False) -> SessionComposition | None:
    """Take the composition for this run, or None when there is nothing to do (done, failed, or another run is
    busy with it). `take_over`: the run that looks busy is known to be dead, take it now rather than once stale."""
    with transaction.atomic():
        composition = SessionComposition.objects.select_for_update().filter(session_id=session_id).first()
        if composition is None or composition.state in {CompositionState.STORED, CompositionState.FAILED}:
            return None
        busy = composition.state in {CompositionState.COMPOSING, CompositionState.UPLOADING}
        if busy and not take_over and not _composition_stale(composition, now=now):
            return None
        composition.state = CompositionState.COMPOSING
        composition.progress = 0
        composition.attempts += 1
        composition.started_at = composition.heartbeat_at = now
        composition.storage_key = composition_storage_key(session_id=session_id)
        if not composition.storage_region:  # fixed by the first run: a retry overwrites the same object
            session = LiveSession.objects.select_related("instructor").get(pk=session_id)
            composition.storage_region = selectors.session_recordings_region(session=session)
        composition.save(
            update_fields=[
                "state",
                "progress",
                "attempts",
                "started_at",
                "heartbeat_at",
                "storage_key",
                "storage_region",
            ]
        )
        return composition


def _composition_stale(composition: SessionComposition, *, now: datetime) -> bool:
    """Whether the run that last took `composition` has not been heard of for COMPOSITION_STALE_SECONDS."""
    heard = composition.heartbeat_at or composition.started_at
    return heard is None or (now - heard).total_seconds() >= COMPOSITION_STALE_SECONDS


def composition_compose(
    *, session_id: int, now: datetime | None = None, take_over: bool = False
) -> SessionComposition | None:
    """Compose the session's stored recordings into one MP4, upload it (checksummed) and mark it stored.

    Runs without a transaction while media is decoded, encoded and moved, recording `progress` as it goes.
    Safe to run again: a stored or failed composition is left alone, a run younger than
    COMPOSITION_STALE_SECONDS is not disturbed, and the object key is fixed per session. A failed attempt
    records its reason and raises CompositionFailed (the task retries); the COMPOSITION_MAX_ATTEMPTS-th marks
    the composition failed instead. The per-publisher recordings and their files are only read.

    `take_over`: the caller knows the run that left the composition busy is dead (its task was redelivered).
    """
    composition = _composition_begin(session_id=session_id, now=now or timezone.now(), take_over=take_over)
    if composition is None:
        return SessionComposition.objects.filter(session_id=session_id).first()
    session = LiveSession.objects.get(pk=session_id)
    recordings = list(Recording.objects.filter(session=session, state=RecordingState.STORED).order_by("started_at"))
    workspace = _workspace()
    for leftover in workspace.glob(f"compose-session-{session_id}-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # a run that died (this one has taken over from it)
    folder = Path(tempfile.mkdtemp(prefix=f"compose-session-{session_id}-", dir=workspace))
    output = folder / f"session-{session_id}.mp4"
    SessionComposition.objects.filter(pk=composition.pk).update(local_path=str(output))
    try:
        if not recordings:
            raise CompositionError("no recording of this session is stored")
        origin = min(recording.started_at for recording in recordings)
        tracks = []
        for recording, kind in _composition_tracks(session=session, recordings=recordings):
            start = (recording.started_at - origin).total_seconds()
            end = (recording.ended_at - origin).total_seconds() if recording.ended_at else None
            label = _composition_label(session=session, recording=recording, kind=kind)
            tracks.append(Track(_fetch_recording(recording=recording, folder=folder), label, kind, start, end))
        font_path, font_index = _label_font()
        composed = compose(
            tracks, output, progress=_progress_recorder(composition.pk), font_path=font_path, font_index=font_index
        )
        SessionComposition.objects.filter(pk=composition.pk).update(
            state=CompositionState.UPLOADING, progress=COMPOSING_SHARE, heartbeat_at=timezone.now()
        )
        size, sha256 = file_size_and_sha256(output)
        key = composition_storage_key(session_id=session_id)
        target = checksummed_writer(
            storage_for_region(composition.storage_region), part_size=settings.RECORDING_UPLOAD_PART_SIZE
        )
        if not target.holds(key=key, path=output, size=size, sha256=sha256):
            target.upload(key=key, path=output, size=size, sha256=sha256, content_type=COMPOSITION_CONTENT_TYPE)
            if not target.holds(key=key, path=output, size=size, sha256=sha256):
                raise CompositionError("the stored file does not match the composed file's checksum")
    except (CompositionError, StorageKeyConflict, ClientError, BotoCoreError, OSError) as exc:
        failed = _composition_mark_failed(composition_id=composition.pk, error=str(exc))
        if failed.state == CompositionState.FAILED:
            return failed
        raise CompositionFailed(str(exc)) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    with transaction.atomic():
        composition = SessionComposition.objects.select_for_update().get(pk=composition.pk)
        composition.state = CompositionState.STORED
        composition.progress = 100
        composition.storage_key = key
        composition.size, composition.sha256, composition.duration_s = size, sha256, composed.duration_s
        composition.error = ""
        composition.local_path = ""
        composition.stored_at = timezone.now()
        composition.save()
    logger.info("session %s composed into %s (%.0f s, %s bytes)", session_id, key, composed.duration_s, size)
    return composition


def _composition_mark_failed(*, composition_id: int, error: str) -> SessionComposition:
    """Record why this attempt failed: `waiting` for the retry, or `failed` after the last attempt."""
    with transaction.atomic():
        composition = SessionComposition.objects.select_for_update().get(pk=composition_id)
        composition.heartbeat_at = timezone.now()
        composition.error = error[:2000]
        composition.local_path = ""
        composition.progress = 0
        if composition.attempts >= COMPOSITION_MAX_ATTEMPTS:
            composition.state = CompositionState.FAILED
        else:
            composition.state = CompositionState.WAITING
        composition.save(update_fields=["heartbeat_at", "error", "local_path", "progress", "state"])
    logger.warning("composing session %s failed (attempt %s): %s", composition.session_id, composition.attempts, error)
    return composition


def _progress_recorder(composition_id: int) -> Callable[[float], None]:
    """A progress callback that writes the percentage (only when it changes)."""
    last = [-1]

    def record(fraction: float) -> None:
        percent = min(COMPOSING_SHARE - 1, int(fraction * COMPOSING_SHARE))
        if percent != last[0]:
            last[0] = percent
            SessionComposition.objects.filter(pk=composition_id).update(progress=percent, heartbeat_at=timezone.now())

    return record


def compositions_resume(*, now: datetime | None = None) -> list[int]:
    """The periodic safety net (streaming.tasks.resume_compositions): queue again what a lost trigger or a dead
    worker left behind. Ended sessions with recordings but no composition are requested; compositions waiting
    for their recordings are requested again (a trigger may have been lost); a run not heard of for
    COMPOSITION_STALE_SECONDS (its worker died, or its retry was lost) is composed again. Returns the session ids
    queued for composing again.
    """
    from streaming.tasks import compose_session_recording

    now = now or timezone.now()
    forgotten = (
        Recording.objects.filter(session__state=SessionState.ENDED, session__composition__isnull=True)
        .values_list("session_id", flat=True)
        .distinct()
    )
    waiting = SessionComposition.objects.filter(state=CompositionState.WAITING, started_at__isnull=True)
    for session_id in sorted({*forgotten, *waiting.values_list("session_id", flat=True)}):
        session_composition_request(session_id=session_id)
    queued: list[int] = []
    for composition in SessionComposition.objects.filter(
        state__in=[CompositionState.COMPOSING, CompositionState.UPLOADING, CompositionState.WAITING],
        started_at__isnull=False,
    ):
        if _composition_stale(composition, now=now):
            queued.append(composition.session_id)
    for session_id in queued:
        delay_long(compose_session_recording, session_id)
    return queued


def _composition_label(*, session: LiveSession, recording: Recording, kind: TrackKind) -> str:
    """The name on a publisher's tile: the room (and its city), the instructor's name, or the speaker's."""
    if kind == "room":
        room = session.rooms.filter(name=recording.publisher).first()
        return f"{room.name} · {room.get_city_display()}" if room is not None else recording.publisher
    if kind == "instructor" and recording.publisher == "instructor":
        return session.instructor.get_full_name() or recording.publisher
    return recording.publisher


def _label_font() -> tuple[str | None, int]:
    """A font with Chinese glyphs for the tiles' names (a person's may be written in Chinese): Noto Sans CJK SC,
    which the certificates use too (face 2 of the collection); Pillow's own (Latin only) if it is missing."""
    font = importlib.resources.files("noto_cjk_sans_otc") / "NotoSansCJK-Regular.ttc"
    return (str(font), 2) if font.is_file() else (None, 0)


def _workspace() -> Path:
    folder = Path(settings.RECORDINGS_DIR) / "compose"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# Erasing a person (lms.accounts.services.user_erase; docs/privacy.md) ------------------------------------------


def _recording_move(*, recording: Recording) -> str | None:
    """Store the recording again under the key its (new) publisher name gives, and return the old key, which the
    caller deletes after commit. Copy, then delete: storage has no rename, and a rollback must leave the old file."""
    old_key = recording.storage_key
    new_key = recording_storage_key(recording=recording)
    if not old_key or old_key == new_key:
        return None
    storage = storage_for_region(recording.storage_region)  # the new key stays in the region the file is in
    with tempfile.TemporaryDirectory(prefix="corridor-erase-") as scratch:
        local = Path(scratch) / "recording.webm"
        digest = hashlib.sha256()
        with storage.open(old_key, "rb") as source, local.open("wb") as target:
            while chunk := source.read(1024 * 1024):
                digest.update(chunk)
                target.write(chunk)
        checksummed_writer(storage, part_size=settings.RECORDING_UPLOAD_PART_SIZE).upload(
            key=new_key, path=local, size=local.stat().st_size, sha256=digest.hexdigest(), content_type="video/webm"
        )
    recording.storage_key = new_key
    return old_key


def media_erase_user(*, person: ErasedPerson) -> dict[str, int]:
    """Rename `person` wherever the media path labelled something with their name, inside the erasure's transaction.

    Their publications' labels and their recordings' publisher become the placeholder; a stored recording whose
    storage key carried their name is copied to the key the placeholder gives and the old object deleted after
    commit (a local file still being written or uploaded is renamed in place). A session's composed video draws
    the publishers' names on its tiles, so a composition in which they appeared is deleted and composed again."""
    from streaming.selectors import recordings_of_person

    counts = {"publications": 0, "recordings": 0, "files_moved": 0, "compositions": 0}
    recordings = recordings_of_person(user=person.user)
    sessions = {recording.session_id for recording in recordings}
    sessions |= set(LiveSession.objects.filter(instructor=person.user).values_list("pk", flat=True))
    counts["publications"] = Publication.objects.filter(user=person.user).update(label=person.placeholder)
    old_keys: list[tuple[str, str]] = []  # (region, key) of each stored object to delete after commit
    for recording in recordings:
        recording.publisher = person.placeholder
        if recording.state == RecordingState.STORED:
            old_key = _recording_move(recording=recording)
            if old_key is not None:
                old_keys.append((recording.storage_region, old_key))
                counts["files_moved"] += 1
        else:
            recording.storage_key = recording_storage_key(recording=recording)
            if recording.local_path:
                new_path = recording_local_path(recording=recording)
                with contextlib.suppress(OSError):
                    Path(recording.local_path).rename(new_path)
                recording.local_path = str(new_path)
        recording.error = person.scrub(recording.error)
        recording.save(update_fields=["publisher", "storage_key", "local_path", "error"])
        counts["recordings"] += 1
    for composition in SessionComposition.objects.filter(session_id__in=sessions):
        if composition.storage_key:
            old_keys.append((composition.storage_region, composition.storage_key))
        composition.state, composition.progress, composition.started_at = CompositionState.WAITING, 0, None
        composition.storage_key, composition.size, composition.sha256, composition.stored_at = "", None, "", None
        composition.error, composition.attempts = person.scrub(composition.error), 0
        composition.save()
        _request_composition_on_commit(composition.session_id)
        counts["compositions"] += 1

    def delete_old() -> None:
        for region, key in old_keys:
            try:
                storage_for_region(region).delete(key)
            except (OSError, BotoCoreError, ClientError):
                logger.warning("erasure: could not delete %s from storage", key)

    transaction.on_commit(delete_old)
    return counts


# Retention: recordings past RETENTION_RECORDINGS_DAYS (classrooms.services.retention has the rest).


def _stored_file_delete(*, storage_key: str, storage_region: str, local_path: str) -> None:
    """Delete a recording's object in its region's storage and its local file, if either is still there.
    Idempotent."""
    if storage_key:
        storage_for_region(storage_region).delete(storage_key)  # no error when the object is already gone
    if local_path:
        _remove_local_file(local_path)


def _session_recordings_delete(*, session_id: int) -> int:
    """Delete the session's composed file and each publisher's recording: the files first, then the rows.

    A run that dies between the two leaves rows whose files are gone, which the next run deletes; nothing that
    should be kept is lost. The composition goes first, so a resumed composition never looks for deleted inputs.
    """
    composition = SessionComposition.objects.filter(session_id=session_id).first()
    recordings = list(Recording.objects.filter(session_id=session_id))
    if composition is not None:
        _stored_file_delete(
            storage_key=composition.storage_key,
            storage_region=composition.storage_region,
            local_path=composition.local_path,
        )
    for recording in recordings:
        _stored_file_delete(
            storage_key=recording.storage_key, storage_region=recording.storage_region, local_path=recording.local_path
        )
    with transaction.atomic():
        deleted_compositions, _detail = SessionComposition.objects.filter(session_id=session_id).delete()
        deleted_recordings, _detail = Recording.objects.filter(pk__in=[r.pk for r in recordings]).delete()
    logger.info("retention: deleted the recordings of session %s", session_id)
    return deleted_compositions + deleted_recordings


def recordings_expire(*, now: datetime | None = None, batch_size: int = 20) -> int:
    """Delete the recordings (rows and stored files, composed and per publisher) of sessions over for longer than
    RETENTION_RECORDINGS_DAYS; 0 or empty keeps them forever. Returns how many rows were deleted."""
    cutoff = retention_cutoff(settings.RETENTION_RECORDINGS_DAYS, now=now)
    if cutoff is None:
        return 0
    deleted = 0
    done: set[int] = set()
    while True:
        old = sessions_over_before(cutoff).exclude(pk__in=done)
        session_ids = list(
            old.filter(Q(recordings__isnull=False) | Q(composition__isnull=False))
            .distinct()
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not session_ids:
            return deleted
        for session_id in session_ids:
            deleted += _session_recordings_delete(session_id=session_id)
            done.add(session_id)
