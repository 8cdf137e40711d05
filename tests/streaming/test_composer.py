"""The composer makes one MP4 of a session's per-publisher recordings: every publisher's picture in its tile while
they published, all their audio mixed. Real PyAV both ways: synthetic WebMs in, the MP4 played back."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from streaming.composer import CompositionError, Track, compose, grid_layout
from tests.support.composition import (
    audio_spectrum,
    colour_at,
    frame_at,
    played,
    solid,
    synthetic_recording,
    tone_strength,
)
from tests.support.recording import record_synthetic

WIDTH, HEIGHT = 960, 540
SIZE = {"width": 320, "height": 240}


def centre(tile: object) -> tuple[int, int]:
    x, y, w, h = (getattr(tile, name) for name in ("x", "y", "width", "height"))
    return x + w // 2, y + h // 2 + h // 8  # below the name in the tile's top-left corner


def test_two_rooms_and_the_instructor_side_by_side_with_both_tones(tmp_path: Path) -> None:
    singapore = synthetic_recording(tmp_path / "sg.webm", seconds=6, picture=solid("red", **SIZE), tone_hz=440, **SIZE)
    chongqing = synthetic_recording(tmp_path / "cq.webm", seconds=6, picture=solid("blue", **SIZE), tone_hz=660, **SIZE)
    instructor = synthetic_recording(
        tmp_path / "in.webm", seconds=5.5, picture=solid("green", **SIZE), tone_hz=None, **SIZE
    )
    progress: list[float] = []

    composed = compose(
        [
            Track(instructor.path, "Ms Tan", "instructor", start_s=0.5),
            Track(singapore.path, "Marina Bay", "room", start_s=0.0),
            Track(chongqing.path, "Jiefangbei", "room", start_s=0.0),
        ],
        tmp_path / "session.mp4",
        width=WIDTH,
        height=HEIGHT,
        progress=progress.append,
    )

    player = played(composed.path)
    assert player.codecs == {"video": "h264", "audio": "aac"}
    assert player.size == (WIDTH, HEIGHT)
    assert player.duration_s == pytest.approx(6.0, abs=0.15)
    assert composed.duration_s == pytest.approx(6.0, abs=0.05)
    # Rooms first (in name order when they start together), then the instructor: a 2x2 grid of 4:3 tiles.
    jiefangbei, marina_bay, teacher = grid_layout(3, width=WIDTH, height=HEIGHT)
    picture = frame_at(composed.path, 3.0)
    assert colour_at(picture, *centre(marina_bay)) == "red"
    assert colour_at(picture, *centre(jiefangbei)) == "blue"
    assert colour_at(picture, *centre(teacher)) == "green"
    spectrum = audio_spectrum(composed.path)
    assert tone_strength(spectrum, 440) > 0.3
    assert tone_strength(spectrum, 660) > 0.3
    assert tone_strength(spectrum, 550) < 0.02  # no tone that nobody sent
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) <= 101


def test_a_room_that_joins_late_appears_from_then_on_and_the_layout_follows(tmp_path: Path) -> None:
    early = synthetic_recording(tmp_path / "sg.webm", seconds=6, picture=solid("red", **SIZE), tone_hz=440, **SIZE)
    late = synthetic_recording(tmp_path / "cq.webm", seconds=3, picture=solid("blue", **SIZE), tone_hz=660, **SIZE)

    composed = compose(
        [
            Track(early.path, "Marina Bay", "room", start_s=0.0),
            Track(late.path, "Jiefangbei", "room", start_s=3.0),
        ],
        tmp_path / "session.mp4",
        width=WIDTH,
        height=HEIGHT,
    )

    assert played(composed.path).duration_s == pytest.approx(6.0, abs=0.15)
    (alone,) = grid_layout(1, width=WIDTH, height=HEIGHT)
    before = frame_at(composed.path, 1.5)
    assert colour_at(before, *centre(alone)) == "red"
    assert "blue" not in {colour_at(before, x, HEIGHT // 2) for x in range(40, WIDTH, 80)}
    left, right = grid_layout(2, width=WIDTH, height=HEIGHT)
    after = frame_at(composed.path, 4.5)
    # Tiles go by who came first: Marina Bay keeps the left, the newcomer takes the right.
    assert colour_at(after, *centre(left)) == "red"
    assert colour_at(after, *centre(right)) == "blue"
    # Its tone only from when it joined.
    assert tone_strength(audio_spectrum(composed.path, start_s=0.2, end_s=2.8), 660) < 0.02
    assert tone_strength(audio_spectrum(composed.path, start_s=0.2, end_s=2.8), 440) > 0.3
    assert tone_strength(audio_spectrum(composed.path, start_s=3.3, end_s=5.8), 660) > 0.3


def test_a_publisher_who_stopped_leaves_the_picture(tmp_path: Path) -> None:
    room = synthetic_recording(tmp_path / "sg.webm", seconds=5, picture=solid("red", **SIZE), tone_hz=440, **SIZE)
    speaker = synthetic_recording(tmp_path / "sp.webm", seconds=2, picture=solid("green", **SIZE), tone_hz=None, **SIZE)

    composed = compose(
        [Track(room.path, "Marina Bay", "room", 0.0), Track(speaker.path, "Li Wei", "speaker", 1.0, end_s=3.0)],
        tmp_path / "session.mp4",
        width=WIDTH,
        height=HEIGHT,
    )

    left, right = grid_layout(2, width=WIDTH, height=HEIGHT)
    during = frame_at(composed.path, 2.0)
    assert (colour_at(during, *centre(left)), colour_at(during, *centre(right))) == ("red", "green")
    (alone,) = grid_layout(1, width=WIDTH, height=HEIGHT)
    assert colour_at(frame_at(composed.path, 4.0), *centre(alone)) == "red"


def test_an_unreadable_recording_is_named_in_the_error(tmp_path: Path) -> None:
    good = synthetic_recording(tmp_path / "sg.webm", seconds=1, picture=solid("red", **SIZE), tone_hz=440, **SIZE)
    broken = tmp_path / "cq.webm"
    broken.write_bytes(b"\x1aE\xdf\xa3 not a recording" * 100)

    with pytest.raises(CompositionError, match="Jiefangbei"):
        compose(
            [Track(good.path, "Marina Bay", "room", 0.0), Track(broken, "Jiefangbei", "room", 0.0)],
            tmp_path / "session.mp4",
        )


def test_grid_layout_puts_two_side_by_side_and_more_in_rows() -> None:
    two = grid_layout(2, width=WIDTH, height=HEIGHT)
    assert [(t.x, t.width) for t in two] == [(0, 480), (480, 480)] and {t.height for t in two} == {360}
    four = grid_layout(4, width=WIDTH, height=HEIGHT)
    assert len({(t.x, t.y) for t in four}) == 4 and {t.width for t in four} == {360}
    for tiles in (grid_layout(n, width=WIDTH, height=HEIGHT) for n in range(1, 8)):
        for tile in tiles:
            assert tile.x % 2 == tile.y % 2 == tile.width % 2 == tile.height % 2 == 0
            assert tile.x + tile.width <= WIDTH and tile.y + tile.height <= HEIGHT


def test_a_publisher_without_a_camera_gets_a_named_tile_and_is_heard(tmp_path: Path) -> None:
    room = synthetic_recording(tmp_path / "sg.webm", seconds=3, picture=solid("red", **SIZE), tone_hz=440, **SIZE)
    voice = synthetic_recording(tmp_path / "in.webm", seconds=3, picture=None, tone_hz=660)

    composed = compose(
        [Track(room.path, "Marina Bay", "room", 0.0), Track(voice.path, "Ms Tan", "instructor", 0.0)],
        tmp_path / "session.mp4",
        width=WIDTH,
        height=HEIGHT,
    )

    left, right = grid_layout(2, width=WIDTH, height=HEIGHT)
    picture = frame_at(composed.path, 1.5)
    assert colour_at(picture, *centre(left)) == "red"
    x, y = centre(right)
    assert colour_at(picture, x, y) is None and 30 < picture[y, x, 0] < 60  # a grey tile, not black
    spectrum = audio_spectrum(composed.path)
    assert tone_strength(spectrum, 440) > 0.3 and tone_strength(spectrum, 660) > 0.3


def test_a_file_the_sfu_recorder_wrote_composes_with_its_late_first_keyframe(tmp_path: Path) -> None:
    # The real recorder (streaming.recording.WebmRecorder): RTP timestamps that wrap, video from its first
    # keyframe a second in (the publisher joined late), audio from the start.
    recorded = record_synthetic(tmp_path / "sg.webm", seconds=3.0, video_start_frame=30)
    assert recorded.video_frames > 0

    composed = compose([Track(recorded.path, "Marina Bay", "room", 0.0)], tmp_path / "session.mp4")

    assert played(composed.path).duration_s == pytest.approx(recorded.duration_s, abs=0.15)
    (tile,) = grid_layout(1, width=WIDTH, height=HEIGHT)
    x, y = centre(tile)
    assert 30 < frame_at(composed.path, 0.3)[y, x, 0] < 60  # grey: no picture yet
    assert tone_strength(audio_spectrum(composed.path), 440) > 0.3


def test_every_picture_of_a_30_fps_recording_is_shown_once(tmp_path: Path) -> None:
    room = synthetic_recording(tmp_path / "sg.webm", seconds=2, picture=solid("red", **SIZE), tone_hz=None, **SIZE)
    composed = compose([Track(room.path, "Marina Bay", "room", 0.0)], tmp_path / "session.mp4", labels=False)

    (tile,) = grid_layout(1, width=WIDTH, height=HEIGHT)
    row = tile.y + tile.height * 24 // SIZE["height"]  # through the white square moving 4 px a picture
    positions = []
    with av.open(str(composed.path)) as container:
        for frame in container.decode(video=0):
            luma = frame.to_ndarray(format="gray")[row, tile.x : tile.x + tile.width]
            positions.append(float(np.flatnonzero(luma > 200).mean()))
    steps = np.diff(positions[1:50])
    # The square moves as steadily as it was recorded: no picture repeated, none skipped.
    assert steps.min() > 0 and steps.max() - steps.min() < 2, steps
