"""bench/live_load.py runs end to end on a small session and reports what its issue names.

Not a speed test: the figures are printed, never asserted. What is asserted is what a reader of the figures
relies on: the last line is one JSON object with the agreed keys, every client joined, and nothing was lost.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "live_load.py"
KEYS = {
    "clients",
    "join_p50_ms",
    "join_p95_ms",
    "joins_per_s",
    "join_cpu_ms",
    "fanout_p50_ms",
    "fanout_p99_ms",
    "messages_per_s",
    "lost",
    "server_cpu_pct",
    "server_rss_mb",
}


@pytest.mark.redis
def test_small_live_load_run_loses_nothing_and_ends_with_the_json_figures(redis_url: str) -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("the load benchmark runs on PostgreSQL (DATABASE_URL)")
    run = subprocess.run(
        [sys.executable, str(BENCH), "--clients", "30", "--questions", "5", "--ask-spread", "1", "--pings", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "REDIS_URL": redis_url},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures.keys() >= KEYS
    assert figures["clients"] == figures["joined"] == 30
    assert figures["lost"] == 0
    assert figures["converged"] is True
    assert figures["votes"] == figures["votes_intended"] > 0
    assert figures["fanout_p50_ms"] > 0
    assert figures["joins_per_s"] > 0
    assert figures["join_cpu_ms"] > 0
