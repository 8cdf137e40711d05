"""Fixtures for streaming tests: a real coturn (Debian's `turnserver`), synthetic encoded media, S3 over HTTP."""

from __future__ import annotations

import array
import math
from fractions import Fraction
from pathlib import Path

from streaming.recording import RecordingFile

# A live session with its instructor, trainee and outsider, for the media signaling socket.
from tests.classrooms.conftest import live  # noqa: F401

# --- synthetic encoded media, as the SFU would hand it to a recorder -------------------------------


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
