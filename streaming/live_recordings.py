"""The Django side of live recording: `LiveRecordings` is the media hub's `SessionRecordings`.

When someone publishes in a recorded session it starts a `Recording` (streaming.services) and hands the Sfu a
`RecordingSink`: a `WebmRecorder` writing the publisher's encoded frames to the recording's local path. The Sfu
closes the sink, in a worker thread, when the publisher leaves or fails, when recording stops at the session's
end (`services.session_recordings_close` tells the media sockets) or when the Sfu shuts down; closing finishes
the file and the `Recording`, whose upload is queued once that commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Literal

from channels.db import database_sync_to_async
from django.db import close_old_connections, connections

from classrooms.models import LiveSession
from streaming import selectors, services
from streaming.models import Recording
from streaming.recording import RecordingError, WebmRecorder

logger = logging.getLogger(__name__)

Kind = Literal["audio", "video"]


class RecordingSink:
    """One publisher's recording: the recorder on the media path, the `Recording` row when it closes."""

    def __init__(self, *, recording_id: int, recorder: WebmRecorder) -> None:
        self.recording_id = recording_id
        self.recorder = recorder

    def write(self, kind: Kind, payload: bytes, timestamp: int, clock_rate: int, keyframe: bool) -> None:
        self.recorder.write(kind, payload, timestamp, clock_rate, keyframe)

    def close(self) -> Recording:
        """Finish the file, then the `Recording` (its upload is queued on commit). Blocks: the Sfu calls it in a
        worker thread, which gets its own database connection, closed again here."""
        close_old_connections()
        try:
            try:
                file = self.recorder.close()
            except RecordingError as error:
                return services.recording_fail(recording_id=self.recording_id, error=str(error))
            return services.recording_finish(recording_id=self.recording_id, file=file)
        finally:
            connections.close_all()


class LiveRecordings:
    """Records publishers of sessions marked `recorded` (LiveSession.recorded), until the session ends."""

    async def sink_for(
        self, *, session_id: int, publisher_id: str, label: str, kinds: Collection[Kind]
    ) -> RecordingSink | None:
        recording = await database_sync_to_async(self._start)(session_id, label)
        if recording is None:
            return None
        logger.info("recording %s: %s (%s) in session %s", recording.pk, publisher_id, label, session_id)
        # Creating the recorder makes its folder and starts its writer thread: off the event loop.
        recorder = await asyncio.to_thread(WebmRecorder, recording.local_path, tracks=tuple(kinds))
        return RecordingSink(recording_id=recording.pk, recorder=recorder)

    @staticmethod
    def _start(session_id: int, label: str) -> Recording | None:
        if not selectors.session_is_recorded(session_id=session_id):
            return None
        session = LiveSession.objects.get(pk=session_id)
        return services.recording_start(session=session, publisher=label[:120])
