"""Synthetic per-publisher recordings for the composition tests and bench/recording_compose.py: WebM files of VP8
and Opus packets muxed as `streaming.recording.WebmRecorder` writes them (no re-encoding by the muxer), with a
picture and a tone that can be told apart after composing; and what a player finds in the composed MP4."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np

FPS = 30
RATE = 48_000
OPUS_FRAME = 960  # 20 ms

# Solid test colours in video-range YUV: each publisher's tile can be found by its chroma.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (81, 90, 240),
    "blue": (41, 240, 110),
    "green": (145, 54, 34),
}


def solid(colour: str, *, width: int = 640, height: int = 480) -> Callable[[int], av.VideoFrame]:
    """A picture of one colour, with a small white square moving along the top (so frames differ)."""
    y, u, v = COLOURS[colour]

    def picture(index: int) -> av.VideoFrame:
        frame = av.VideoFrame(width, height, "yuv420p")
        planes = [np.frombuffer(cast(Any, p), np.uint8).reshape(p.height, p.line_size) for p in frame.planes]
        planes[0][:] = y
        planes[1][:] = u
        planes[2][:] = v
        x = (index * 4) % (width - 32)
        planes[0][8:40, x : x + 32] = 235
        return frame

    return picture


def moving_test_picture(*, width: int = 640, height: int = 480) -> Callable[[int], av.VideoFrame]:
    """The room agents' moving test picture (classrooms.agent.sources.SyntheticCamera)."""
    from classrooms.agent.sources import SyntheticCamera

    camera = SyntheticCamera(width=width, height=height)
    return camera.picture


def camera_like_picture(*, width: int = 640, height: int = 480, seed: int = 0) -> Callable[[int], av.VideoFrame]:
    """The moving test picture with sensor-like noise on it (harder to decode and encode than clean test patterns,
    as a real camera's picture is)."""
    moving = moving_test_picture(width=width, height=height)
    noise = np.random.default_rng(seed).integers(-12, 13, size=(8, height, width), dtype=np.int16)

    def picture(index: int) -> av.VideoFrame:
        frame = moving(index)
        luma = np.frombuffer(cast(Any, frame.planes[0]), np.uint8).reshape(height, frame.planes[0].line_size)
        noisy = luma[:, :width].astype(np.int16) + noise[index % len(noise)]
        luma[:, :width] = np.clip(noisy, 16, 235).astype(np.uint8)
        return frame

    return picture


def _vp8_packets(
    picture: Callable[[int], av.VideoFrame], frames: int, *, width: int, height: int, bit_rate: int
) -> list[tuple[bytes, bool]]:
    encoder = av.CodecContext.create("libvpx", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.gop_size = FPS * 10
    encoder.bit_rate = bit_rate
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[tuple[bytes, bool]] = []
    for index in range(frames):
        frame = picture(index)
        frame.pts = index
        out += [(bytes(packet), packet.is_keyframe) for packet in encoder.encode(frame)]
    out += [(bytes(packet), packet.is_keyframe) for packet in encoder.encode(None)]
    return out


def _opus_packets(tone_hz: float, packets: int, *, level: float = 0.25) -> list[bytes]:
    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, av.AudioCodecContext)
    encoder.sample_rate, encoder.layout, encoder.format = RATE, "stereo", "s16"
    out: list[bytes] = []
    for index in range(packets + 3):  # a few more: the encoder holds back its look-ahead
        n = np.arange(index * OPUS_FRAME, (index + 1) * OPUS_FRAME)
        tone = (level * 32767 * np.sin(2 * math.pi * tone_hz * n / RATE)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate, frame.pts = RATE, index * OPUS_FRAME
        out += [bytes(packet) for packet in encoder.encode(frame)]
    return out[:packets]


@dataclass(frozen=True)
class SyntheticRecording:
    path: Path
    seconds: float
    video_frames: int
    audio_packets: int


def synthetic_recording(
    path: Path,
    *,
    seconds: float,
    picture: Callable[[int], av.VideoFrame] | None,
    tone_hz: float | None,
    width: int = 640,
    height: int = 480,
    loop_seconds: float = 10.0,
    bit_rate: int = 800_000,
) -> SyntheticRecording:
    """A publisher's recording as the SFU leaves it: VP8 (`picture`, 30 fps) and Opus (`tone_hz`, 20 ms packets),
    `seconds` long. The media is encoded for `loop_seconds` (a whole number of seconds: the tone's phase and a
    keyframe line up) and its packets repeated, so a long file costs little to make."""
    path.parent.mkdir(parents=True, exist_ok=True)
    loop_frames = min(round(seconds * FPS), round(loop_seconds * FPS))
    video = _vp8_packets(picture, loop_frames, width=width, height=height, bit_rate=bit_rate) if picture else []
    audio = _opus_packets(tone_hz, min(round(seconds * 50), round(loop_seconds * 50))) if tone_hz else []
    total_frames = round(seconds * FPS) if video else 0
    total_packets = round(seconds * 50) if audio else 0
    with av.open(str(path), "w", format="webm") as container:
        video_stream = container.add_mux_stream("vp8", width=width, height=height) if video else None
        audio_stream = None
        if audio:
            audio_stream = container.add_stream("libopus", rate=RATE)
            audio_stream.codec_context.layout = "stereo"
        events = [(i / FPS, 0, i) for i in range(total_frames)] + [(i / 50, 1, i) for i in range(total_packets)]
        for at, kind, index in sorted(events):
            if kind == 0:
                assert video_stream is not None
                payload, keyframe = video[index % len(video)]
                packet = av.Packet(payload)
                packet.stream = video_stream
                packet.time_base = Fraction(1, 90_000)
                packet.pts = packet.dts = index * 3000
                packet.is_keyframe = keyframe or index % len(video) == 0
            else:
                assert audio_stream is not None
                packet = av.Packet(audio[index % len(audio)])
                packet.stream = audio_stream
                packet.time_base = Fraction(1, RATE)
                packet.pts = packet.dts = index * OPUS_FRAME
                packet.duration = OPUS_FRAME
                packet.is_keyframe = True
            del at
            container.mux(packet)
    return SyntheticRecording(path=path, seconds=seconds, video_frames=total_frames, audio_packets=total_packets)


@dataclass(frozen=True)
class Played:
    """What a player finds in a composed file."""

    duration_s: float
    codecs: dict[str, str]
    size: tuple[int, int]


def played(path: Path) -> Played:
    with av.open(str(path)) as container:
        duration = container.duration / av.time_base if container.duration else 0.0
        codecs = {str(stream.type): stream.codec_context.name for stream in container.streams}
        video = container.streams.video[0]
        return Played(duration, codecs, (video.codec_context.width, video.codec_context.height))


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The composed picture shown at `seconds`, as an (height, width, 3) YUV array (4:4:4, video range)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="yuv444p").transpose(1, 2, 0)
    raise AssertionError(f"no frame at {seconds} s")


def colour_at(picture: np.ndarray, x: int, y: int, *, radius: int = 12) -> str | None:
    """The test colour around (x, y), by its chroma (None when none is near: black, grey, something else)."""
    patch = picture[y - radius : y + radius, x - radius : x + radius].reshape(-1, 3).mean(axis=0)
    for name, (_y, u, v) in COLOURS.items():
        if abs(patch[1] - u) < 16 and abs(patch[2] - v) < 16:
            return name
    return None


def audio_spectrum(path: Path, *, start_s: float = 0.0, end_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The composed audio's magnitude spectrum between `start_s` and `end_s`: (frequencies in Hz, magnitudes)."""
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].codec_context.sample_rate
        for frame in container.decode(audio=0):
            time = frame.time or 0.0
            if time < start_s or (end_s is not None and time >= end_s):
                continue
            chunks.append(frame.to_ndarray().mean(axis=0))
    samples = np.concatenate(chunks)
    magnitudes = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return np.fft.rfftfreq(len(samples), 1 / rate), magnitudes


def tone_strength(spectrum: tuple[np.ndarray, np.ndarray], hz: float) -> float:
    """How strong `hz` is against the loudest frequency (1.0: it is the loudest; a tone nobody sent: ~0)."""
    frequencies, magnitudes = spectrum
    near = magnitudes[(frequencies > hz - 5) & (frequencies < hz + 5)]
    return float(near.max() / max(float(magnitudes.max()), 1e-12))
