"""Compose a session's per-publisher recordings into one MP4 (H.264 + AAC), laid out as the session was live.

Each publisher's WebM (VP8 + Opus, `streaming.recording.WebmRecorder`) is a `Track` placed on the session's
timeline by its start offset. The output plays the whole session: at every moment, the publishers whose
recordings run then are tiled side by side (a grid when there are more than two), so the layout changes when a
room, the instructor or an invited speaker starts or stops publishing; their audio is resampled to 48 kHz
stereo and mixed by start offset.

Cost: each input is decoded once (its video and its audio read through two demuxers, each stream decoded by
one), each picture is scaled once into its tile, and the output is encoded once, by x264 (`preset`) and
FFmpeg's AAC. Pixels move as numpy slices of whole planes, never one by one in Python.

Pure PyAV and numpy, no Django: `streaming.services` fetches the inputs, calls `compose` and stores the result.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import av.container
import numpy as np
from av.audio.resampler import AudioResampler
from av.video.reformatter import Interpolation, VideoReformatter

logger = logging.getLogger(__name__)

TrackKind = Literal["room", "instructor", "speaker"]
SAMPLE_RATE = 48_000
BLACK_Y, GREY_Y, NEUTRAL_UV = 16, 40, 128
# A track's audio that jumps more than this from where its previous frame ended is a real gap (or overlap):
# placed by its timestamp; smaller jitter of container timestamps (WebM keeps milliseconds) is ignored.
AUDIO_RESYNC_S = 0.04
KIND_ORDER: dict[str, int] = {"room": 0, "instructor": 1, "speaker": 2}


class CompositionError(Exception):
    """An input could not be read or decoded, or the output could not be written; says which and why."""


@dataclass(frozen=True)
class Track:
    """One publisher's recording on the session's timeline.

    `start_s` is where the file's time zero falls, in seconds from the session's start; the track ends at
    `end_s` (None: where the file ends). Tracks with the same `label` (a publisher who reconnected) share a tile.
    """

    path: Path
    label: str
    kind: TrackKind
    start_s: float
    end_s: float | None = None


@dataclass(frozen=True)
class ComposedFile:
    path: Path
    duration_s: float
    video_frames: int
    audio_samples: int
    size: int


ProgressCallback = Callable[[float], None]


@dataclass(frozen=True)
class Tile:
    x: int
    y: int
    width: int
    height: int


def grid_layout(count: int, *, width: int, height: int, aspect: float = 4 / 3) -> list[Tile]:
    """`count` tiles of pictures of `aspect`, as large as they can be on a `width`×`height` canvas.

    Side by side when that is largest (two 4:3 pictures on 16:9), else a grid; a last row with fewer tiles is
    centred. Positions and sizes are even (4:2:0 chroma).
    """
    if count <= 0:
        return []
    best: tuple[float, int, int] | None = None
    for columns in range(1, count + 1):
        rows = math.ceil(count / columns)
        scale = min(width / columns / aspect, height / rows)
        if best is None or scale > best[0] + 1e-9:
            best = (scale, columns, rows)
    assert best is not None
    _, columns, rows = best
    cell_w, cell_h = width // columns, height // rows
    tile_h = min(cell_h, int(cell_w / aspect)) & ~1
    tile_w = min(cell_w, int(tile_h * aspect)) & ~1
    tiles = []
    for index in range(count):
        row, column = divmod(index, columns)
        in_row = min(columns, count - row * columns)
        row_x = (width - in_row * cell_w) // 2
        x = row_x + column * cell_w + (cell_w - tile_w) // 2
        y = (height - rows * cell_h) // 2 + row * cell_h + (cell_h - tile_h) // 2
        tiles.append(Tile(x & ~1, y & ~1, tile_w, tile_h))
    return tiles


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    """A view of one plane of a frame, without its line padding."""
    plane = frame.planes[index]
    data: Any = plane  # a writable buffer (PyAV's stubs do not say so)
    view: np.ndarray = np.frombuffer(data, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
    return view


def _open(path: Path, label: str) -> av.container.InputContainer:
    try:
        return av.open(str(path), "r")
    except (av.FFmpegError, OSError) as exc:
        raise CompositionError(f"the recording of {label} cannot be read ({path.name}): {exc}") from exc


class _VideoSource:
    """One track's pictures: decoded in order, the one showing at a given time kept, scaled once per tile size."""

    def __init__(self, track: Track, container: av.container.InputContainer) -> None:
        self.track = track
        self.container = container
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        stream.codec_context.thread_count = 1
        context = stream.codec_context
        self.aspect = context.width / context.height if context.height else 4 / 3
        self.frames: Iterator[av.VideoFrame] = container.decode(stream)
        self.current: av.VideoFrame | None = None
        self.pending: av.VideoFrame | None = None
        self.exhausted = False
        self.reformatter = VideoReformatter()
        self.scaled: tuple[int, Tile, av.VideoFrame] | None = None
        self.serial = 0  # counts pictures shown, so a tile is scaled and drawn only when it changed

    def _next(self) -> av.VideoFrame | None:
        if self.exhausted:
            return None
        try:
            return next(self.frames)
        except StopIteration:
            self.exhausted = True
            return None
        except av.FFmpegError as exc:
            raise CompositionError(f"the video of {self.track.label} cannot be decoded: {exc}") from exc

    def advance(self, local_s: float, *, slack_s: float = 0.0) -> bool:
        """Show the last picture due by `local_s` (seconds into the file), counting as due a picture up to
        `slack_s` later (half an output frame: WebM keeps milliseconds, so a 30 fps picture stamped 0.067 s
        belongs to the output frame at 0.0667 s, not the next); whether it changed."""
        changed = False
        while True:
            frame = self.pending if self.pending is not None else self._next()
            self.pending = None
            if frame is None:
                return changed
            time = frame.time if frame.time is not None else 0.0
            if time > local_s + slack_s:
                self.pending = frame
                return changed
            self.current, changed = frame, True
            self.serial += 1

    def picture(self, tile: Tile) -> av.VideoFrame | None:
        if self.current is None:
            return None
        if self.scaled is None or self.scaled[0] != self.serial or self.scaled[1] != tile:
            frame = self.reformatter.reformat(
                self.current,
                width=tile.width,
                height=tile.height,
                format="yuv420p",
                interpolation=Interpolation.BILINEAR,
            )
            self.scaled = (self.serial, tile, frame)
        return self.scaled[2]


class _AudioSource:
    """One track's audio as 48 kHz stereo float samples, positioned on the session's timeline."""

    def __init__(self, track: Track, container: av.container.InputContainer, *, end_sample: int) -> None:
        self.track = track
        self.container = container
        self.frames: Iterator[av.AudioFrame] = container.decode(container.streams.audio[0])
        self.resampler = AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
        self.start_sample = round(track.start_s * SAMPLE_RATE)
        self.end_sample = end_sample
        self.position: int | None = None  # session sample where the next decoded sample goes
        self.exhausted = False

    def fill(self, mix: _Mix, until: int) -> None:
        """Decode and add to `mix` until this track has supplied every sample before `until` (or has ended)."""
        while not self.exhausted and (self.position is None or self.position < until):
            try:
                frame = next(self.frames)
            except StopIteration:
                self.exhausted = True
                frames = self.resampler.resample(None)
            except av.FFmpegError as exc:
                raise CompositionError(f"the audio of {self.track.label} cannot be decoded: {exc}") from exc
            else:
                stamped = self.start_sample + round((frame.time or 0.0) * SAMPLE_RATE)
                if self.position is None or abs(stamped - self.position) > AUDIO_RESYNC_S * SAMPLE_RATE:
                    self.position = stamped
                frames = self.resampler.resample(frame)
            for resampled in frames:
                samples = resampled.to_ndarray()
                assert self.position is not None
                end = min(self.position + samples.shape[1], self.end_sample)
                if end > self.position:
                    mix.add(self.position, samples[:, : end - self.position])
                self.position += samples.shape[1]
            if self.position is not None and self.position >= self.end_sample:
                self.exhausted = True


class _Mix:
    """Mixed samples not yet encoded, from session sample `base` on (kept at `self.start` in the buffer)."""

    def __init__(self) -> None:
        self.base = 0
        self.start = 0
        self.buffer = np.zeros((2, SAMPLE_RATE * 4), np.float32)

    def add(self, at: int, samples: np.ndarray) -> None:
        if at < self.base:  # overlaps what was already encoded (a late track start): drop that part
            samples = samples[:, self.base - at :]
            at = self.base
        offset, count = self.start + at - self.base, samples.shape[1]
        if offset + count > self.buffer.shape[1]:
            self._compact(offset + count - self.start)
            offset = at - self.base
        self.buffer[:, offset : offset + count] += samples

    def take(self, until: int) -> np.ndarray:
        count = until - self.base
        if self.start + count > self.buffer.shape[1]:
            self._compact(count)
        out: np.ndarray = np.clip(self.buffer[:, self.start : self.start + count], -1.0, 1.0)
        self.buffer[:, self.start : self.start + count] = 0.0
        self.start += count
        self.base = until
        return out

    def _compact(self, needed: int) -> None:
        """Move what is pending to the buffer's start, growing it to hold `needed` samples."""
        size = max(self.buffer.shape[1], needed * 2)
        grown = np.zeros((2, size), np.float32)
        pending = self.buffer[:, self.start :]
        grown[:, : pending.shape[1]] = pending
        self.buffer, self.start = grown, 0


class _Labels:
    """A publisher's name drawn under its tile's top-left corner (light text on a dark band), rendered once."""

    def __init__(self, font_path: str | None, size: int, *, font_index: int = 0) -> None:
        from PIL import ImageFont

        self.font: ImageFont.FreeTypeFont | ImageFont.ImageFont
        try:
            if font_path:
                self.font = ImageFont.truetype(font_path, size, index=font_index)
            else:
                self.font = ImageFont.load_default(size=size)
        except OSError:
            self.font = ImageFont.load_default(size=size)
        self.cache: dict[tuple[str, int], np.ndarray] = {}

    def mask(self, text: str, max_width: int) -> np.ndarray:
        key = (text, max_width)
        if key not in self.cache:
            from PIL import Image, ImageDraw

            left, top, right, bottom = (int(edge) for edge in self.font.getbbox(text))
            pad = 4
            width = min(max_width, right - left + 2 * pad) & ~1
            height = (bottom - top + 2 * pad + 1) & ~1
            image = Image.new("L", (max(width, 2), max(height, 2)), 0)
            ImageDraw.Draw(image).text((pad - left, pad - top), text, fill=255, font=self.font)
            self.cache[key] = np.asarray(image, dtype=np.uint8)
        mask: np.ndarray = self.cache[key]
        return mask


class _Canvas:
    """The output picture as three planes, kept between frames: only tiles that changed are redrawn."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.y = np.full((height, width), BLACK_Y, np.uint8)
        self.u = np.full((height // 2, width // 2), NEUTRAL_UV, np.uint8)
        self.v = np.full((height // 2, width // 2), NEUTRAL_UV, np.uint8)

    def clear(self) -> None:
        self.y.fill(BLACK_Y)
        self.u.fill(NEUTRAL_UV)
        self.v.fill(NEUTRAL_UV)

    def draw(self, tile: Tile, picture: av.VideoFrame | None) -> None:
        x, y, w, h = tile.x, tile.y, tile.width, tile.height
        if picture is None:  # the publisher's first picture is still to come (or it sends none): a grey tile
            self.y[y : y + h, x : x + w] = GREY_Y
            self.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = NEUTRAL_UV
            self.v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = NEUTRAL_UV
            return
        self.y[y : y + h, x : x + w] = _plane(picture, 0)
        self.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = _plane(picture, 1)
        self.v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = _plane(picture, 2)

    def label(self, tile: Tile, mask: np.ndarray) -> None:
        h, w = mask.shape
        h, w = min(h, tile.height), min(w, tile.width)
        region = self.y[tile.y : tile.y + h, tile.x : tile.x + w]
        # A dark band, then the text in light grey (video range), blended by the glyphs' coverage.
        text = mask[:h, :w].astype(np.uint16)
        region[:] = ((BLACK_Y * (255 - text) + 235 * text) // 255).astype(np.uint8)
        self.u[tile.y // 2 : (tile.y + h) // 2, tile.x // 2 : (tile.x + w) // 2] = NEUTRAL_UV
        self.v[tile.y // 2 : (tile.y + h) // 2, tile.x // 2 : (tile.x + w) // 2] = NEUTRAL_UV

    def frame(self) -> av.VideoFrame:
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        _plane(frame, 0)[:] = self.y
        _plane(frame, 1)[:] = self.u
        _plane(frame, 2)[:] = self.v
        return frame


def _file_duration(container: av.container.InputContainer) -> float:
    if container.duration:
        return container.duration / av.time_base
    durations = [
        float(stream.duration * stream.time_base)
        for stream in container.streams
        if stream.duration is not None and stream.time_base is not None
    ]
    return max(durations, default=0.0)


def compose(
    tracks: Sequence[Track],
    output: Path,
    *,
    width: int = 960,
    height: int = 540,
    fps: int = 30,
    preset: str = "veryfast",
    crf: int = 26,
    threads: int = 1,
    audio_bitrate: int = 128_000,
    labels: bool = True,
    font_path: str | None = None,
    font_index: int = 0,
    progress: ProgressCallback | None = None,
) -> ComposedFile:
    """Compose `tracks` into one MP4 at `output`, from the session's start (0) to the end of its last track.

    The tiles are named in `font_path` (a face `font_index` of a collection; Pillow's own font if None: Latin
    only). `progress` is called with the fraction done (0..1), at most about a hundred times. Raises
    CompositionError naming the input that could not be read or decoded; `output` is then incomplete.
    """
    if not tracks:
        raise CompositionError("there is no recording to compose")
    width, height = width & ~1, height & ~1
    opened: list[av.container.InputContainer] = []
    try:
        videos: list[_VideoSource] = []
        audios: list[_AudioSource] = []
        spans: list[tuple[Track, float, float]] = []  # (track, start, end) in session seconds
        for track in tracks:
            probe = _open(track.path, track.label)
            opened.append(probe)
            file_s = _file_duration(probe)
            # Where the track ends: its file's end, or earlier if told (the publisher had stopped).
            end = track.start_s + file_s if file_s > 0 else (track.end_s or track.start_s)
            if track.end_s is not None:
                end = min(end, track.end_s)
            end = max(end, track.start_s)
            spans.append((track, track.start_s, end))
            if probe.streams.video:
                videos.append(_VideoSource(track, probe))
            if probe.streams.audio:
                audio_container = _open(track.path, track.label)
                opened.append(audio_container)
                audios.append(_AudioSource(track, audio_container, end_sample=round(end * SAMPLE_RATE)))
        duration = max(end for _, _, end in spans)
        if duration <= 0:
            raise CompositionError("the recordings hold no media")
        video_of = {id(source.track): source for source in videos}
        slot_order = _slot_order(spans)
        return _encode(
            spans=spans,
            video_of=video_of,
            audios=audios,
            slot_order=slot_order,
            duration=duration,
            output=output,
            width=width,
            height=height,
            fps=fps,
            preset=preset,
            crf=crf,
            threads=threads,
            audio_bitrate=audio_bitrate,
            labels=_Labels(font_path, max(12, height // 30), font_index=font_index) if labels else None,
            progress=progress,
        )
    finally:
        for container in opened:
            container.close()


def _slot_order(spans: Sequence[tuple[Track, float, float]]) -> dict[str, tuple[int, float, str]]:
    """Where each publisher's tile goes: rooms, then the instructor, then speakers, each by first appearance."""
    order: dict[str, tuple[int, float, str]] = {}
    for track, start, _end in spans:
        key = (KIND_ORDER.get(track.kind, 3), start, track.label)
        if track.label not in order or key < order[track.label]:
            order[track.label] = key
    return order


def _encode(
    *,
    spans: Sequence[tuple[Track, float, float]],
    video_of: dict[int, _VideoSource],
    audios: Sequence[_AudioSource],
    slot_order: dict[str, tuple[int, float, str]],
    duration: float,
    output: Path,
    width: int,
    height: int,
    fps: int,
    preset: str,
    crf: int,
    threads: int,
    audio_bitrate: int,
    labels: _Labels | None,
    progress: ProgressCallback | None,
) -> ComposedFile:
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        out = av.open(str(output), "w", format="mp4", options={"movflags": "+faststart"})
    except (av.FFmpegError, OSError) as exc:
        raise CompositionError(f"the composed file cannot be written: {exc}") from exc
    with out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = Fraction(1, fps)
        video.codec_context.gop_size = fps * 2
        video.options = {"preset": preset, "crf": str(crf), "threads": str(threads)}
        audio = out.add_stream("aac", rate=SAMPLE_RATE)
        audio.codec_context.layout = "stereo"
        audio.codec_context.bit_rate = audio_bitrate

        canvas = _Canvas(width, height)
        mix = _Mix()
        total_frames = max(1, math.ceil(duration * fps))
        total_samples = round(duration * SAMPLE_RATE)
        layout_key: tuple[str, ...] | None = None
        tiles: dict[str, Tile] = {}
        drawn: dict[str, tuple[int, int] | None] = {}  # label -> (track id, serial) last drawn there
        reported = -1
        audio_pts = 0
        for index in range(total_frames):
            now = index / fps
            active: dict[str, Track] = {}
            for track, start, end in spans:
                if start <= now < end:
                    current = active.get(track.label)
                    # A reconnect overlapping the old recording: the newer one shows.
                    if current is None or track.start_s > current.start_s:
                        active[track.label] = track
            key = tuple(sorted(active, key=lambda label: slot_order[label]))
            if key != layout_key:
                layout_key = key
                canvas.clear()
                aspect = _aspect([video_of.get(id(active[label])) for label in key])
                tiles = dict(zip(key, grid_layout(len(key), width=width, height=height, aspect=aspect), strict=True))
                drawn = {}
            for label, track in active.items():
                source = video_of.get(id(track))
                if source is not None:
                    source.advance(now - track.start_s, slack_s=0.5 / fps)
                state = (id(track), source.serial) if source is not None and source.current is not None else None
                if label in drawn and drawn[label] == state:
                    continue
                tile = tiles[label]
                canvas.draw(tile, source.picture(tile) if source is not None else None)
                if labels is not None:
                    canvas.label(tile, labels.mask(label, tile.width))
                drawn[label] = state
            frame = canvas.frame()
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(video.encode(frame))

            until = min(total_samples, round((index + 1) * SAMPLE_RATE / fps))
            for sound in audios:
                if sound.start_sample < until:
                    sound.fill(mix, until)
            if until > audio_pts:
                samples = mix.take(until)
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout="stereo")
                chunk.sample_rate, chunk.pts, chunk.time_base = SAMPLE_RATE, audio_pts, Fraction(1, SAMPLE_RATE)
                out.mux(audio.encode(chunk))
                audio_pts = until
            percent = (index + 1) * 100 // total_frames
            if progress is not None and percent != reported:
                reported = percent
                progress((index + 1) / total_frames)
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return ComposedFile(
        path=output,
        duration_s=duration,
        video_frames=total_frames,
        audio_samples=audio_pts,
        size=output.stat().st_size,
    )


def _aspect(sources: Sequence[_VideoSource | None]) -> float:
    """The tiles' shape: the publishers' pictures' (4:3 for the rooms' cameras), or 4:3 with no picture."""
    aspects = [source.aspect for source in sources if source is not None]
    return aspects[0] if aspects else 4 / 3
