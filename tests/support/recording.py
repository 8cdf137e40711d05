"""Recordings in the tests: synthetic encoded media (as the SFU would hand it to a recorder), a recorder fed with it,
what a player finds in a file, and ending a recorded session."""

from __future__ import annotations

import array
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from asgiref.sync import sync_to_async

from classrooms.models import LiveSession, SessionState
from classrooms.services.recording import session_recording_switch
from classrooms.services.sessions import session_set_state
from streaming.recording import RecordingFile
from tests.support.media import FPS


def encoded_vp8(frames: int, *, size: tuple[int, int] = (320, 240), gop: int = 30) -> list[tuple[bytes, bool]]:
    """`frames` VP8 frames (a moving bar on a changing background), a keyframe every `gop` frames."""
    import av

    width, height = size
    encoder = av.CodecContext.create("libvpx", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.gop_size = gop
    encoder.bit_rate = 300_000
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[tuple[bytes, bool]] = []
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = bytearray([(index * 7) % 256]) * frame.planes[0].buffer_size
        row = (index * 3 % height) * frame.planes[0].line_size
        luma[row : row + width] = b"\xff" * width
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts = index
        out += [(bytes(packet), packet.is_keyframe) for packet in encoder.encode(frame)]
    out += [(bytes(packet), packet.is_keyframe) for packet in encoder.encode(None)]
    return out


def encoded_opus(packets: int) -> list[bytes]:
    """`packets` Opus packets of 20 ms (a 440 Hz tone, stereo, 48 kHz)."""
    import av

    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = 48_000, "stereo", "s16"
    out: list[bytes] = []
    for index in range(packets + 1):  # one more: the encoder holds back its look-ahead
        samples = array.array(
            "h",
            (int(8000 * math.sin(2 * math.pi * 440 * (n + index * 960) / 48_000)) for n in range(960) for _ in "LR"),
        )
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = 48_000, index * 960
        out += [bytes(packet) for packet in encoder.encode(frame)]
    return out[:packets]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record_synthetic(
    path: Path,
    *,
    seconds: float = 3.0,
    video_start_frame: int = 0,
    video_ts_base: int = 2**32 - 30_000,
    audio_ts_base: int = 123_456,
) -> RecordingFile:
    """Feed `seconds` of 30 fps VP8 and 20 ms Opus, interleaved as they would arrive, into a WebmRecorder.

    The video's RTP timestamps wrap past 2**32 a third of a second in (by default).
    Video frames before `video_start_frame` are not sent (the publisher joined late).
    """
    from streaming.recording import WebmRecorder

    video = encoded_vp8(round(seconds * 30))
    audio = encoded_opus(round(seconds * 50))
    clock = FakeClock()
    start = clock.now
    recorder = WebmRecorder(path, clock=clock)
    arrivals: list[tuple[float, str, int]] = [(i / 30, "video", i) for i in range(video_start_frame, len(video))]
    arrivals += [(i / 50, "audio", i) for i in range(len(audio))]
    for at, kind, index in sorted(arrivals):
        clock.now = start + at + 0.01  # the network's delay
        if kind == "video":
            payload, keyframe = video[index]
            recorder.write("video", payload, (video_ts_base + index * 3000) % 2**32, 90_000, keyframe)
        else:
            recorder.write("audio", audio[index], (audio_ts_base + index * 960) % 2**32, 48_000, False)
    return recorder.close()


def probe(path: Path) -> dict[str, object]:
    """What a player finds in the file: duration, decoded video frames, seconds of decoded audio."""
    with av.open(str(path)) as container:
        assert container.format.name in {"matroska,webm", "webm"}
        duration = container.duration / av.time_base if container.duration else 0.0
        kinds = sorted(stream.type for stream in container.streams)
        codecs = sorted(stream.codec_context.name for stream in container.streams)
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0)) if container.streams.video else []
        sizes = {(frame.width, frame.height) for frame in frames}
        video_times = [float(frame.time) for frame in frames if frame.time is not None]
    with av.open(str(path)) as container:
        audio_s = sum(frame.samples for frame in container.decode(audio=0)) / 48_000 if container.streams.audio else 0.0
    return {
        "duration": duration,
        "kinds": kinds,
        "codecs": codecs,
        "video_frames": len(frames),
        "sizes": sizes,
        "video_times": video_times,
        "audio_s": audio_s,
    }


async def end_session(live: Any) -> None:
    session = await sync_to_async(LiveSession.objects.get)(pk=live.session.pk)
    await sync_to_async(session_set_state)(session=session, state=SessionState.ENDED)


def assert_plays_like(played: dict[str, Any], seconds: float) -> None:
    """Both streams, as long as the class was recorded, about FPS frames a second (a busy machine drops some)."""
    assert played["kinds"] == ["audio", "video"], played["kinds"]
    assert played["codecs"] == ["opus", "vp8"]
    assert played["sizes"] == {(160, 120)}
    assert played["duration"] == pytest.approx(seconds, abs=1.0)
    assert played["audio_s"] == pytest.approx(seconds, abs=1.0)
    assert FPS * played["duration"] / 3 <= played["video_frames"] <= FPS * played["duration"] + 5


async def recording_switched(live: Any, recorded: bool) -> None:
    """The session's instructor switches recording on or off, as the live page's button does."""
    session = await LiveSession.objects.aget(pk=live.session.pk)
    await sync_to_async(session_recording_switch)(session=session, by=live.instructor, recorded=recorded)
