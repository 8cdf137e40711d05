"""What a room agent publishes: the room's camera and microphone through PyAV, a file, or a synthetic picture and
tone (tests and the demo). Every source is wrapped in a `MeteredTrack`, which counts the frames handed to the
encoder and measures the sound level, so the agent's health reports are its own publisher's figures.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame
from av.frame import Frame
from av.packet import Packet

SourceKind = Literal["synthetic", "capture", "file"]
AUDIO_RATE = 48_000
SAMPLES_PER_FRAME = int(AUDIO_PTIME * AUDIO_RATE)  # 960: 20 ms


@dataclass
class Meter:
    """Running figures of one track: frames produced (handed to the sender), and the last sound level."""

    frames: int = 0
    level_db: float | None = None
    errors: list[str] = field(default_factory=list)
    # Audio: a moderator or operator muted the room. Frames keep flowing (the SFU and the recording keep their
    # timing), silent; the agent sets it from the server's word, which survives a reconnect.
    muted: bool = False


class MeteredTrack(MediaStreamTrack):
    """Passes another track's frames through, counting them (and, for audio, measuring the level now and then)."""

    def __init__(self, inner: MediaStreamTrack, meter: Meter) -> None:
        super().__init__()
        self.kind = inner.kind
        self._inner = inner
        self._meter = meter

    async def recv(self) -> Frame | Packet[Any]:
        try:
            frame = await self._inner.recv()
        except MediaStreamError:
            self._meter.errors.append(f"{self.kind} source ended")
            self.stop()
            raise
        self._meter.frames += 1
        if isinstance(frame, AudioFrame) and self._meter.muted:
            frame = silence_like(frame)
        if isinstance(frame, AudioFrame) and self._meter.frames % 10 == 1:
            self._meter.level_db = audio_level_db(frame)
        return frame

    def stop(self) -> None:
        super().stop()
        self._inner.stop()


def silence_like(frame: AudioFrame) -> AudioFrame:
    """A frame of the same format, length and timing whose samples are all zero (silence for signed and float
    sample formats, which are what capture devices and the synthetic tone give)."""
    silent = AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=frame.samples)
    for plane in silent.planes:
        plane.update(bytes(plane.buffer_size))
    silent.pts, silent.sample_rate, silent.time_base = frame.pts, frame.sample_rate, frame.time_base
    return silent


def audio_level_db(frame: AudioFrame) -> float | None:
    """The RMS level of a signed 16-bit frame in dBFS (None for other sample formats)."""
    if frame.format.name != "s16":
        return None
    samples = array.array("h", bytes(frame.planes[0])[: frame.samples * len(frame.layout.channels) * 2])
    if not samples:
        return None
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return round(20 * math.log10(rms / 32768), 1) if rms > 0 else -120.0


# A room's synthetic picture may carry a tint (its chroma, Cb and Cr), so people (and tests) tell rooms apart.
TINTS: dict[str, tuple[int, int]] = {
    "red": (90, 200),
    "blue": (200, 100),
    "green": (80, 70),
    "amber": (60, 170),
}


class SyntheticCamera(VideoStreamTrack):
    """A moving test picture, `width`×`height` at 30 fps: a sweeping bar, a falling band, a second hand along the
    bottom and the frame number in binary along the top, on a background whose colour drifts (or stays the room's
    `tint`, one of TINTS)."""

    def __init__(self, *, width: int = 640, height: int = 480, tint: str | None = None) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.tint = TINTS[tint] if tint else None
        self._index = 0
        probe = VideoFrame(width, height, "yuv420p")
        self._stride = probe.planes[0].line_size
        self._background = bytes(16 + (219 * x) // max(1, width - 1) for x in range(width)).ljust(self._stride, b"\x10")
        self._white = b"\xeb" * width + b"\x10" * (self._stride - width)

    def picture(self, index: int) -> VideoFrame:
        width, height = self.width, self.height
        bar_w, band_h = max(8, width // 16), max(6, height // 12)
        x = (index * 8) % (width - bar_w)
        row = self._background[:x] + b"\xeb" * bar_w + self._background[x + bar_w :]
        y = (index * 4) % (height - band_h)
        rows = [row] * height
        rows[y : y + band_h] = [self._white] * band_h
        # The frame number in binary along the top: 16 blocks, white for a 1.
        block = max(4, width // 32)
        bits = b"".join(
            (b"\xeb" if index >> bit & 1 else b"\x10") * (block - 2) + b"\x80\x80" for bit in range(15, -1, -1)
        )
        top = (bits + row[len(bits) :])[: self._stride]
        rows[block // 2 : block // 2 + block] = [top] * block
        # A second hand: a bar along the bottom that grows over each second.
        grown = width * (index % 30 + 1) // 30
        bottom = (b"\xc0" * grown + row[grown:])[: self._stride]
        rows[height - block : height] = [bottom] * block
        frame = VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(b"".join(rows))
        phase = index / 90
        cb, cr = self.tint or (int(128 + 40 * math.sin(phase)), int(128 + 40 * math.cos(phase)))
        frame.planes[1].update(bytes([cb]) * frame.planes[1].buffer_size)
        frame.planes[2].update(bytes([cr]) * frame.planes[2].buffer_size)
        return frame

    async def recv(self) -> Frame:
        pts, time_base = await self.next_timestamp()
        frame = self.picture(self._index)
        frame.pts, frame.time_base = pts, time_base
        self._index += 1
        return frame


class ToneMicrophone(MediaStreamTrack):
    """A tone (440 Hz unless told) with a short pip an octave up at the start of every second (a clock you can
    hear), 48 kHz mono."""

    kind = "audio"

    def __init__(self, *, level_dbfs: float = -14.0, frequency_hz: float = 440.0) -> None:
        super().__init__()
        amplitude = 32767 * 10 ** (level_dbfs / 20)
        second = array.array("h")
        for n in range(AUDIO_RATE):
            frequency = 2 * frequency_hz if n < AUDIO_RATE // 10 else frequency_hz
            second.append(int(amplitude * math.sin(2 * math.pi * frequency * n / AUDIO_RATE)))
        self._second = second.tobytes()
        self._start: float | None = None
        self._timestamp = 0

    async def recv(self) -> Frame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += SAMPLES_PER_FRAME
            wait = self._start + self._timestamp / AUDIO_RATE - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        offset = (self._timestamp % AUDIO_RATE) * 2
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES_PER_FRAME)
        frame.planes[0].update(self._second[offset : offset + SAMPLES_PER_FRAME * 2])
        frame.pts, frame.sample_rate = self._timestamp, AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


@dataclass(frozen=True)
class SourceOptions:
    kind: SourceKind = "synthetic"
    width: int = 640
    height: int = 480
    fps: int = 30
    # capture: a camera and a microphone through PyAV (FFmpeg's devices)
    video_device: str = "/dev/video0"
    video_format: str = "v4l2"
    audio_device: str | None = "default"
    audio_format: str = "alsa"
    # file: a recording played in a loop
    file: str | None = None
    # synthetic: the tone's pitch and the picture's tint (one of TINTS), so two rooms look and sound different
    tone_hz: float = 440.0
    tint: str | None = None

    @property
    def camera_name(self) -> str:
        if self.kind == "capture":
            return f"Camera {self.video_device}"
        return "Synthetic camera" if self.kind == "synthetic" else "File (video)"

    @property
    def microphone_name(self) -> str:
        if self.kind == "capture":
            return f"Microphone {self.audio_device}"
        return "Synthetic tone" if self.kind == "synthetic" else "File (audio)"


@dataclass
class Sources:
    """One publish's tracks; `close()` stops them (and so any capture device or file they hold open)."""

    video: MediaStreamTrack | None
    audio: MediaStreamTrack | None

    def close(self) -> None:
        for track in (self.video, self.audio):
            if track is not None:
                track.stop()


SourceFactory = Callable[[Meter, Meter], Sources]


def source_factory(options: SourceOptions) -> SourceFactory:
    """Opens fresh tracks for each publish (a stopped capture track cannot be restarted), metered by the agent."""

    def open_sources(video_meter: Meter, audio_meter: Meter) -> Sources:
        video: MediaStreamTrack | None
        audio: MediaStreamTrack | None
        if options.kind == "synthetic":
            video = SyntheticCamera(width=options.width, height=options.height, tint=options.tint)
            audio = ToneMicrophone(frequency_hz=options.tone_hz)
        elif options.kind == "file":
            if not options.file:
                raise ValueError("--file is required with --source file")
            player = MediaPlayer(options.file, loop=True)
            video, audio = player.video, player.audio
        else:
            camera = MediaPlayer(
                options.video_device,
                format=options.video_format,
                options={"video_size": f"{options.width}x{options.height}", "framerate": str(options.fps)},
            )
            video = camera.video
            audio = None
            if options.audio_device:
                audio = MediaPlayer(options.audio_device, format=options.audio_format).audio
        return Sources(
            video=MeteredTrack(video, video_meter) if video is not None else None,
            audio=MeteredTrack(audio, audio_meter) if audio is not None else None,
        )

    return open_sources
