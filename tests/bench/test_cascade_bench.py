"""bench/cascade.py runs end to end on a short run with two SFU node processes on Redis and an impaired link.

Not a speed test: the figures are printed, never asserted against their goals (bench figures on a shared machine
measure the machine). What is asserted is what a reader relies on: the last line is one JSON object with exactly
the agreed keys, the Chongqing subscribers received video, the video crossed the link once, and the stream came
back after the outage.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cascade.py"
KEYS = {
    "delay_ms",
    "jitter_ms",
    "loss_pct",
    "subscribers",
    "subscriber_fps",
    "freeze_ms_per_min",
    "recovery_s",
    "link_streams_per_track",
    "link_kbps",
    "publisher_kbps",
    "added_delay_p95_ms",
}
SECONDS = 14


@pytest.mark.redis
def test_a_short_cascade_run_ends_with_the_json_figures(redis_url: str) -> None:
    arguments = ["--subscribers", "3", "--seconds", str(SECONDS), "--outage-s", "2"]
    arguments += ["--delay-ms", "20", "--jitter-ms", "5", "--loss-pct", "1"]
    run = subprocess.run(
        [sys.executable, str(BENCH), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "REDIS_URL": redis_url},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures.keys() == KEYS
    assert (figures["delay_ms"], figures["jitter_ms"], figures["loss_pct"]) == (20, 5, 1)
    assert figures["subscribers"] == 3
    assert figures["subscriber_fps"] > 0
    # Three subscribers, one stream over the link for the video track.
    assert figures["link_streams_per_track"] == 1
    assert figures["link_kbps"] > 0 and figures["publisher_kbps"] > 0
    # Every subscriber got a keyframe-started frame after the link came back, before the run ended.
    assert 0 <= figures["recovery_s"] < SECONDS / 2
    assert math.isfinite(figures["added_delay_p95_ms"]) and math.isfinite(figures["freeze_ms_per_min"])
