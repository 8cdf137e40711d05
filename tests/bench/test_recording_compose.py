"""bench/recording_compose.py runs end to end on a short session and reports what its issue names.

Not a speed test: the figures are printed, never asserted (bench figures on a shared machine measure the
machine). What is asserted is what a reader relies on: the last line is one JSON object with the agreed keys,
for the session's length, and the composed file was made.
"""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "recording_compose.py"
KEYS = {"input_minutes", "compose_seconds", "realtime_factor", "cpu_pct", "output_mb"}


def test_a_short_composition_run_ends_with_the_json_figures(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--minutes", "0.2", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures.keys() >= KEYS
    assert abs(figures["input_minutes"] - 0.2) < 0.01
    assert figures["compose_seconds"] > 0 and figures["realtime_factor"] > 0 and figures["output_mb"] > 0
    assert abs(figures["realtime_factor"] * figures["compose_seconds"] / 60 - figures["input_minutes"]) < 0.01
    assert abs((tmp_path / "session.mp4").stat().st_size / 1e6 - figures["output_mb"]) < 0.01
