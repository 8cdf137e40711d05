"""Composition benchmark: a synthetic recorded session (two 640×480 30 fps rooms and the instructor) composed into
the session's one MP4 by streaming.composer, on one core.

    .venv/bin/python bench/recording_compose.py                    # a 10-minute session
    .venv/bin/python bench/recording_compose.py --minutes 1 --preset ultrafast

First (not timed) it writes the three publishers' recordings as the SFU leaves them: WebM files of VP8 and Opus
packets (the room agents' moving test picture, a tone per publisher; ten seconds encoded once and their packets
repeated, so making a long session is quick). Then, pinned to one CPU (os.sched_setaffinity), it composes them:
each input decoded once, tiled side by side (the instructor joins a few seconds in, so the layout changes), the
audio mixed, and the output encoded once (x264 with one thread, AAC). It prints the composer's progress, then the
figures: the session's minutes, the seconds it took, the real-time factor (session length ÷ time taken), the
process's CPU (all threads) as a percentage of one core over that time, and the output's size; also the real-time
factor per CPU-second (`realtime_factor_cpu`), which a shared core does not depress.

Human-readable lines first; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.composer import Track, compose
from tests.support.composition import camera_like_picture, moving_test_picture, synthetic_recording

WIDTH, HEIGHT = 640, 480
INSTRUCTOR_JOINS_S = 5.0


def log(message: str) -> None:
    print(message, flush=True)


def pin(cpu: int) -> bool:
    """Run on CPU `cpu` only (the composer is meant to need one core); whether that was possible."""
    with contextlib.suppress(AttributeError, OSError):
        if cpu < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {cpu})
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="the session's length (default 10)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset (default veryfast, as the task uses)")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin the composer to (default 0)")
    parser.add_argument(
        "--picture",
        choices=["test", "camera"],
        default="test",
        help="the rooms' picture: the agents' moving test picture (default), or that with camera-like noise",
    )
    parser.add_argument("--workdir", type=Path, help="keep the inputs and the output here (default: a temp dir)")
    args = parser.parse_args()
    seconds = args.minutes * 60

    with tempfile.TemporaryDirectory(prefix="corridor-compose-bench-") as temporary:
        folder = args.workdir or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        log(f"writing a {args.minutes:g}-minute session: two rooms and the instructor, {WIDTH}x{HEIGHT} 30 fps")
        started = time.monotonic()
        if args.picture == "camera":
            picture = camera_like_picture(width=WIDTH, height=HEIGHT)
        else:
            picture = moving_test_picture(width=WIDTH, height=HEIGHT)
        inputs = [
            (synthetic_recording(folder / "marina-bay.webm", seconds=seconds, picture=picture, tone_hz=440), "room"),
            (synthetic_recording(folder / "jiefangbei.webm", seconds=seconds, picture=picture, tone_hz=660), "room"),
            (
                synthetic_recording(
                    folder / "instructor.webm", seconds=seconds - INSTRUCTOR_JOINS_S, picture=picture, tone_hz=550
                ),
                "instructor",
            ),
        ]
        input_mb = sum(recording.path.stat().st_size for recording, _ in inputs) / 1e6
        log(f"  inputs written in {time.monotonic() - started:.1f} s: {input_mb:.1f} MB (VP8 + Opus, not timed)")

        tracks = [
            Track(inputs[0][0].path, "Marina Bay Studio · Singapore", "room", 0.0),
            Track(inputs[1][0].path, "Jiefangbei Studio · Chongqing", "room", 0.0),
            Track(inputs[2][0].path, "Instructor", "instructor", INSTRUCTOR_JOINS_S),
        ]
        pinned = pin(args.cpu)
        where = f"CPU {args.cpu} only" if pinned else "every CPU (could not pin)"
        log(f"composing on {where}, x264 {args.preset}")
        next_report = [0.1]

        def progress(fraction: float) -> None:
            if fraction >= next_report[0] - 1e-9:
                log(f"  {fraction:4.0%} after {time.monotonic() - wall_start:.1f} s")
                next_report[0] += 0.1

        cpu_start, wall_start = time.process_time(), time.monotonic()
        composed = compose(tracks, folder / "session.mp4", preset=args.preset, progress=progress)
        wall = time.monotonic() - wall_start
        cpu = time.process_time() - cpu_start

    figures = {
        "input_minutes": round(composed.duration_s / 60, 2),
        "compose_seconds": round(wall, 2),
        "realtime_factor": round(composed.duration_s / wall, 2),
        "cpu_pct": round(100 * cpu / wall, 1),
        # The session's length per CPU-second: what one core of its own would give (the wall-clock factor above
        # is lower when other work shares the core).
        "realtime_factor_cpu": round(composed.duration_s / cpu, 2),
        "output_mb": round(composed.size / 1e6, 2),
        "publisher_minutes": round((2 * seconds + seconds - INSTRUCTOR_JOINS_S) / 60, 2),
        "input_mb": round(input_mb, 2),
        "pinned_to_one_cpu": pinned,
        "preset": args.preset,
        "picture": args.picture,
        "output": "960x540 30 fps H.264 + AAC 128 kb/s",
        "video_frames": composed.video_frames,
    }
    log(
        f"composed {figures['input_minutes']} min of session ({figures['publisher_minutes']} min of recordings) "
        f"in {figures['compose_seconds']} s: {figures['realtime_factor']}x real time, "
        f"CPU {figures['cpu_pct']} % of one core, output {figures['output_mb']} MB"
    )
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
