"""The recorder writes what the SFU forwards, without re-encoding; a player gets it all back."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import av
import pytest

from streaming.recording import WebmRecorder, _Timeline, opus_samples, vp8_keyframe_size
from tests.support.recording import FakeClock, encoded_opus, encoded_vp8, probe, record_synthetic


def test_recording_plays_back_with_every_frame_and_the_right_duration(tmp_path: Path) -> None:
    recorded = record_synthetic(tmp_path / "room.webm", seconds=3.0)

    played = probe(recorded.path)
    assert played["kinds"] == ["audio", "video"]
    assert played["codecs"] == ["opus", "vp8"]
    assert played["video_frames"] == 90
    assert played["sizes"] == {(320, 240)}
    assert played["duration"] == pytest.approx(3.0, abs=0.1)
    assert played["audio_s"] == pytest.approx(3.0, abs=0.1)
    # Across the RTP timestamp wrap, frames stay 1/30 s apart.
    times = played["video_times"]
    assert isinstance(times, list)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap == pytest.approx(1 / 30, abs=0.002) for gap in gaps)

    assert recorded.duration_s == pytest.approx(3.0, abs=0.1)
    assert recorded.video_frames == 90 and recorded.audio_packets == 150 and recorded.dropped == 0
    assert recorded.size == recorded.path.stat().st_size > 0
    assert recorded.sha256 == hashlib.sha256(recorded.path.read_bytes()).hexdigest()


def test_packets_are_stored_as_sent_not_re_encoded(tmp_path: Path) -> None:
    sent = encoded_vp8(30)
    recorder = WebmRecorder(tmp_path / "passthrough.webm", tracks=("video",), clock=FakeClock())
    for index, (payload, keyframe) in enumerate(sent):
        recorder.write("video", payload, index * 3000, 90_000, keyframe)
    recorded = recorder.close()
    with av.open(str(recorded.path)) as container:
        stored = [bytes(packet) for packet in container.demux(video=0) if packet.size]
    assert stored == [payload for payload, _ in sent]


def test_video_starts_at_the_first_keyframe(tmp_path: Path) -> None:
    # The publisher's frames 5..29 reference a keyframe the recorder never saw; the next comes at frame 30.
    recorded = record_synthetic(tmp_path / "late.webm", seconds=3.0, video_start_frame=5)
    played = probe(recorded.path)
    assert played["video_frames"] == 60
    assert recorded.dropped == 25
    times = played["video_times"]
    assert isinstance(times, list)
    assert times[0] == pytest.approx(1.0, abs=0.05)  # placed where it happened, in sync with the audio
    assert played["duration"] == pytest.approx(3.0, abs=0.1)
    assert played["audio_s"] == pytest.approx(3.0, abs=0.1)


def test_audio_only_publisher(tmp_path: Path) -> None:
    recorder = WebmRecorder(tmp_path / "voice.webm", tracks=("audio",), clock=FakeClock())
    for index, packet in enumerate(encoded_opus(100)):
        recorder.write("audio", packet, index * 960, 48_000, False)
    recorded = recorder.close()
    played = probe(recorded.path)
    assert played["kinds"] == ["audio"]
    assert played["audio_s"] == pytest.approx(2.0, abs=0.05)
    assert recorded.duration_s == pytest.approx(2.0, abs=0.05)


def test_a_publisher_that_sent_nothing_leaves_no_file(tmp_path: Path) -> None:
    recorded = WebmRecorder(tmp_path / "nothing.webm", clock=FakeClock()).close()
    assert recorded.size == 0 and recorded.duration_s == 0
    assert not recorded.path.exists()


def test_writing_after_close_is_an_error(tmp_path: Path) -> None:
    recorder = WebmRecorder(tmp_path / "closed.webm", clock=FakeClock())
    recorder.close()
    with pytest.raises(RuntimeError):
        recorder.write("audio", b"\xfc", 0, 48_000, False)


async def test_aclose_does_not_block_the_event_loop(tmp_path: Path) -> None:
    recorder = WebmRecorder(tmp_path / "async.webm", tracks=("audio",), clock=FakeClock())
    for index, packet in enumerate(encoded_opus(10)):
        recorder.write("audio", packet, index * 960, 48_000, False)
    recorded = await recorder.aclose()
    assert recorded.audio_packets == 10


def test_opus_packet_durations() -> None:
    assert opus_samples(bytes([0xFC, 0])) == 960  # CELT 20 ms, one frame
    assert opus_samples(bytes([0x78])) == 960  # SILK wideband 20 ms
    assert opus_samples(bytes([0x79])) == 1920  # two 20 ms frames
    assert opus_samples(bytes([0x7B, 0x03])) == 2880  # code 3: three frames
    assert opus_samples(bytes([0xE0])) == 120  # CELT 2.5 ms
    assert all(opus_samples(packet) == 960 for packet in encoded_opus(5))


def test_vp8_keyframe_size() -> None:
    frames = encoded_vp8(3, size=(176, 144))
    assert vp8_keyframe_size(frames[0][0]) == (176, 144)
    assert vp8_keyframe_size(frames[1][0]) is None


def test_timeline_unwraps_and_survives_a_restarted_publisher() -> None:
    timeline = _Timeline(clock_rate=90_000, start=0.0)
    assert timeline.pts(2**32 - 3000, 0.5) == 45_000  # placed by arrival
    assert timeline.pts(0, 0.533) == 48_000  # wrapped: one frame later
    assert timeline.pts(0, 0.54) is None  # duplicate
    assert timeline.pts(2**32 - 3000, 0.55) is None  # late
    # A new random timestamp base: continue by wall clock (0.1 s later).
    assert timeline.pts(1_234_567_890, 0.633) == 48_000 + 9000
    assert timeline.pts(1_234_567_890 + 3000, 0.666) == 60_000
