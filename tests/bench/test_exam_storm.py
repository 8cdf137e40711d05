"""bench/exam_storm.py runs end to end on a tiny sitting and reports what issue 16 (item 8) names.

Not a speed test: the figures are printed, never asserted. What is asserted is what a reader of the figures relies
on: the last line is one JSON object with the agreed keys, every candidate started and saved, one app process was
killed and restarted mid-run, no acknowledged answer was lost, every paper was submitted at time-up and none twice.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "exam_storm.py"
KEYS = {"candidates", "saves", "save_p50_ms", "save_p95_ms", "lost_answers", "double_submissions"}


@pytest.mark.redis
def test_a_tiny_exam_storm_loses_no_answer_and_submits_each_paper_once(redis_url: str) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("the exam storm runs on PostgreSQL (DATABASE_URL)")
    tiny = ["--candidates", "12", "--minutes", "0.4", "--save-interval", "2", "--start-window", "4"]
    run = subprocess.run(
        [sys.executable, str(BENCH), *tiny],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "REDIS_URL": redis_url},
    )
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]
    lines = run.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert set(figures) >= KEYS
    assert figures["candidates"] == figures["started"] == 12
    assert figures["saves"] >= 12 * 5, "each candidate saved every 2 s for 24 s"
    assert figures["save_p50_ms"] > 0 and figures["save_p95_ms"] >= figures["save_p50_ms"]
    assert figures["killed_at_s"] is not None and any("restarted it" in line for line in lines)
    assert figures["lost_answers"] == 0
    assert figures["double_submissions"] == 0
    assert figures["submitted"] == figures["submitted_time_up"] == 12
    assert figures["candidate_failures"] == 0
