"""Record a publisher's encoded media to a WebM file, without re-encoding.

The SFU already holds each publisher's frames *encoded* (VP8 video, Opus audio, as
aiortc depacketizes them); a recording only has to put them in a container. The
SFU calls a :class:`RecordingSink` (``write`` per frame, ``close`` at the end);
:class:`WebmRecorder` is the one implementation: it muxes through PyAV (FFmpeg's
Matroska/WebM muxer) and never decodes or encodes a frame.

Pure asyncio/PyAV, no Django: the Django side (``streaming.services``) decides the
path and later uploads the file.

Threading: ``write`` only does bookkeeping (timestamps, keyframe gate) and queues
the frame; one writer thread per recorder owns the PyAV container and does the
muxing and disk writes, so a slow disk never stalls the event loop that forwards
media. ``close`` waits for that thread (flush, trailer, SHA-256 of the file):
from a coroutine, use ``await recorder.aclose()``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal, Protocol

import av
import av.container
import av.stream

logger = logging.getLogger(__name__)

Kind = Literal["audio", "video"]

OPUS_SAMPLE_RATE = 48_000
# While waiting for the first video keyframe, audio is held back (the file's header
# needs the video's dimensions); after this long the file starts anyway.
KEYFRAME_WAIT_S = 5.0
# Written to the header when the first video frame was not a parsable keyframe:
# only a hint, decoders take the real size from the VP8 bitstream.
PLACEHOLDER_SIZE = (640, 480)
# A backward RTP timestamp jump larger than this (in seconds) is a restarted
# publisher (new SSRC, new random timestamp base), not a late packet.
REORDER_WINDOW_S = 1.0
# A forward jump this much larger than the wall-clock gap is a discontinuity too.
JUMP_TOLERANCE_S = 5.0


class RecordingSink(Protocol):
    """What the SFU calls for each publisher it records."""

    def write(self, kind: Kind, payload: bytes, timestamp: int, clock_rate: int, keyframe: bool) -> None:
        """One complete encoded frame (a VP8 frame, an Opus packet) with its RTP timestamp."""

    def close(self) -> RecordingFile:
        """Finish the file; nothing may be written afterwards."""


class RecordingError(Exception):
    """Writing the recording failed (a full disk, a muxer error); the file may be incomplete."""


@dataclass(frozen=True)
class RecordingFile:
    path: Path
    duration_s: float
    size: int  # bytes; 0 (and no file) when nothing was recorded
    sha256: str  # hex
    video_frames: int = 0
    audio_packets: int = 0
    dropped: int = 0  # frames not written: before the first keyframe, late, duplicated, or queue full


def opus_samples(packet: bytes) -> int:
    """Samples (at 48 kHz) in an Opus packet, from its TOC byte (RFC 6716 section 3.1)."""
    if not packet:
        return 0
    toc = packet[0]
    config = toc >> 3
    if config < 12:  # SILK: 10, 20, 40, 60 ms
        frame = (480, 960, 1920, 2880)[config % 4]
    elif config < 16:  # hybrid: 10, 20 ms
        frame = (480, 960)[config % 2]
    else:  # CELT: 2.5, 5, 10, 20 ms
        frame = (120, 240, 480, 960)[config % 4]
    code = toc & 0x3
    if code == 0:
        frames = 1
    elif code in (1, 2):
        frames = 2
    else:
        frames = packet[1] & 0x3F if len(packet) > 1 else 0
    return frame * frames


def vp8_keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe's header (RFC 6386 section 9.1); None if not a keyframe."""
    if len(frame) < 10 or frame[0] & 0x1 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


@dataclass
class _Timeline:
    """Turns one track's 32-bit RTP timestamps into presentation times from the start of the recording.

    The first frame of a track is placed by its arrival time (tracks have
    independent random RTP bases, and the sink sees no RTCP sender reports), so
    audio and video line up to within the network jitter of their first packets.
    """

    clock_rate: int
    start: float  # the recording's start, on the recorder's clock
    last_timestamp: int | None = None
    last_pts: int = 0
    last_arrival: float = 0.0

    def pts(self, timestamp: int, now: float) -> int | None:
        """The frame's pts in 1/clock_rate units, or None for a duplicate or late frame."""
        timestamp &= 0xFFFFFFFF
        if self.last_timestamp is None:
            pts = round((now - self.start) * self.clock_rate)
        else:
            # Signed difference modulo 2**32: a wrap is a small step forward.
            delta = ((timestamp - self.last_timestamp + 2**31) % 2**32) - 2**31
            elapsed = (now - self.last_arrival) * self.clock_rate
            if delta <= 0 and delta >= -REORDER_WINDOW_S * self.clock_rate:
                return None
            if delta < 0 or delta > elapsed + JUMP_TOLERANCE_S * self.clock_rate:
                # A new timestamp base (the publisher restarted): continue by wall clock.
                delta = max(1, round(elapsed))
            pts = self.last_pts + delta
        self.last_timestamp, self.last_pts, self.last_arrival = timestamp, pts, now
        return pts


@dataclass(frozen=True)
class _Frame:
    kind: Kind
    payload: bytes
    pts: int
    clock_rate: int
    duration: int
    keyframe: bool


@dataclass
class _TrackState:
    timeline: _Timeline
    waiting_for_keyframe: bool


@dataclass
class _MuxedTrack:
    stream: av.stream.Stream
    time_base: Fraction
    packets: int = 0
    last_pts: int = 0
    last_duration: int = 0

    @property
    def end_s(self) -> float:
        return float((self.last_pts + self.last_duration) * self.time_base) if self.packets else 0.0


_CLOSE = object()


@dataclass
class _Writer:
    """Owns the PyAV container; runs on the recorder's thread only."""

    path: Path
    tracks: Collection[Kind]
    pending: list[_Frame] = field(default_factory=list)
    container: av.container.OutputContainer | None = None
    muxed: dict[Kind, _MuxedTrack] = field(default_factory=dict)

    def handle(self, frame: _Frame) -> None:
        if self.container is not None:
            self.mux(frame)
            return
        self.pending.append(frame)
        if frame.kind == "video":
            self.start(size=vp8_keyframe_size(frame.payload) or PLACEHOLDER_SIZE)
        elif "video" not in self.tracks:
            self.start(size=None)
        elif (frame.pts - self.pending[0].pts) / frame.clock_rate > KEYFRAME_WAIT_S:
            logger.info(
                "recording %s: no video keyframe after %.0f s, starting without one", self.path, KEYFRAME_WAIT_S
            )
            self.start(size=PLACEHOLDER_SIZE)

    def start(self, *, size: tuple[int, int] | None) -> None:
        """Write the header (every stream must exist by then) and the frames held back so far."""
        kinds = {frame.kind for frame in self.pending}
        container = av.open(str(self.path), "w", format="webm")
        if "video" in self.tracks and ("video" in kinds or size is not None):
            width, height = size or PLACEHOLDER_SIZE
            # A stream without a codec context: packets go to the muxer as they are.
            video = container.add_mux_stream("vp8", width=width, height=height)
            self.muxed["video"] = _MuxedTrack(stream=video, time_base=Fraction(1, 90_000))
        if "audio" in self.tracks:
            # The Opus encoder is opened (never used) only so the header gets a proper OpusHead
            # (channels, pre-skip), which a stream without a codec context cannot carry.
            audio = container.add_stream("libopus", rate=OPUS_SAMPLE_RATE)
            audio.codec_context.layout = "stereo"  # WebRTC's opus/48000/2
            self.muxed["audio"] = _MuxedTrack(stream=audio, time_base=Fraction(1, OPUS_SAMPLE_RATE))
        self.container = container
        pending, self.pending = self.pending, []
        for frame in sorted(pending, key=lambda f: f.pts / f.clock_rate):
            self.mux(frame)

    def mux(self, frame: _Frame) -> None:
        track = self.muxed.get(frame.kind)
        if track is None or self.container is None:
            return
        packet = av.Packet(frame.payload)
        packet.stream = track.stream
        packet.time_base = Fraction(1, frame.clock_rate)
        packet.pts = packet.dts = frame.pts
        if frame.duration:
            packet.duration = frame.duration
        packet.is_keyframe = frame.keyframe or frame.kind == "audio"
        self.container.mux(packet)
        if track.packets and frame.kind == "video":
            # A video frame lasts until the next one; the last one as long as its predecessor.
            track.last_duration = frame.pts - track.last_pts
        elif frame.kind == "audio":
            track.last_duration = frame.duration
        track.time_base = Fraction(1, frame.clock_rate)
        track.last_pts = frame.pts
        track.packets += 1

    def finish(self) -> tuple[float, int, int]:
        """Close the file: (duration in seconds, video frames, audio packets)."""
        if self.container is None and self.pending:
            self.start(size=None)
        if self.container is not None:
            self.container.close()
        duration = max((track.end_s for track in self.muxed.values()), default=0.0)
        video, audio = self.muxed.get("video"), self.muxed.get("audio")
        return duration, video.packets if video else 0, audio.packets if audio else 0

    def abort(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # the error that got us here is the one to report
                logger.exception("recording %s: could not close the container", self.path)


class WebmRecorder:
    """Writes one publisher's VP8 video and Opus audio to `path` (WebM), packets as they are.

    Video starts at the first keyframe (earlier frames cannot be decoded);
    ``wants_keyframe`` says when the SFU should ask the publisher for one (PLI).
    `tracks` names what the publisher sends; `clock` is the recorder's wall
    clock (a test passes a fake one).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        tracks: tuple[Kind, ...] = ("audio", "video"),
        clock: Callable[[], float] = time.monotonic,
        max_queue: int = 4096,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tracks_expected = frozenset(tracks)
        self._clock = clock
        self._start: float | None = None
        self._tracks: dict[Kind, _TrackState] = {}
        self._dropped = 0
        self._closed = False
        self._result: RecordingFile | None = None
        self._error: BaseException | None = None
        self._queue: queue.Queue[_Frame | object] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name=f"recorder {self.path.name}", daemon=True)
        self._thread.start()

    @property
    def wants_keyframe(self) -> bool:
        video = self._tracks.get("video")
        return "video" in self._tracks_expected and (video is None or video.waiting_for_keyframe)

    def write(self, kind: Kind, payload: bytes, timestamp: int, clock_rate: int, keyframe: bool) -> None:
        if self._closed:
            raise RuntimeError("the recorder is closed")
        if kind not in self._tracks_expected or self._error is not None:
            return  # a writer error is reported by close()
        now = self._clock()
        if self._start is None:
            self._start = now
        track = self._tracks.get(kind)
        if track is None:
            track = self._tracks[kind] = _TrackState(
                timeline=_Timeline(clock_rate=clock_rate, start=self._start), waiting_for_keyframe=kind == "video"
            )
        elif clock_rate != track.timeline.clock_rate:
            raise ValueError(f"{kind} clock rate changed from {track.timeline.clock_rate} to {clock_rate}")
        if track.waiting_for_keyframe and not keyframe:
            self._dropped += 1
            return
        pts = track.timeline.pts(timestamp, now)
        if pts is None:
            self._dropped += 1
            return
        duration = opus_samples(payload) * clock_rate // OPUS_SAMPLE_RATE if kind == "audio" else 0
        try:
            self._queue.put_nowait(_Frame(kind, payload, pts, clock_rate, duration, keyframe))
        except queue.Full:
            # The disk is not keeping up. Drop rather than stall the media path; video then
            # needs a new keyframe, since the frames after a gap reference the lost one.
            self._dropped += 1
            if kind == "video":
                track.waiting_for_keyframe = True
            return
        track.waiting_for_keyframe = False

    def close(self) -> RecordingFile:
        """Flush, write the trailer and hash the file. Blocks: in a coroutine use ``aclose``."""
        if not self._closed:
            self._closed = True
            self._queue.put(_CLOSE)
        self._thread.join()
        if self._error is not None:
            raise RecordingError(f"recording {self.path} failed: {self._error}") from self._error
        assert self._result is not None
        return self._result

    async def aclose(self) -> RecordingFile:
        return await asyncio.to_thread(self.close)

    def _run(self) -> None:
        writer = _Writer(path=self.path, tracks=self._tracks_expected)
        closing = False
        try:
            while (item := self._queue.get()) is not _CLOSE:
                assert isinstance(item, _Frame)
                writer.handle(item)
            closing = True
            duration, video_frames, audio_packets = writer.finish()
            size, digest = file_size_and_sha256(self.path) if self.path.exists() else (0, hashlib.sha256().hexdigest())
            self._result = RecordingFile(
                path=self.path,
                duration_s=duration,
                size=size,
                sha256=digest,
                video_frames=video_frames,
                audio_packets=audio_packets,
                dropped=self._dropped,
            )
        except BaseException as exc:
            self._error = exc
            writer.abort()
            logger.exception("recording %s failed", self.path)
            # Keep taking frames until close(), so the queue never fills up meanwhile.
            while not closing:
                closing = self._queue.get() is _CLOSE


def file_size_and_sha256(path: Path, *, chunk_size: int = 1024 * 1024) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
