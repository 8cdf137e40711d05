"""bench/sfu.py runs end to end on a small load, single-stream and class-shaped, and reports what its issue names.

Not a speed test: the figures are printed, never asserted (bench figures on a shared machine measure the machine).
What is asserted is what a reader relies on: the last line is one JSON object with the existing keys and the
class-shaped ones, and at the class load every subscriber received the three videos and the three audio tracks.
"""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sfu.py"
KEYS = {
    "sfu_cpu_per_subscriber_pct",
    "sfu_subscribers_per_core",
    "max_sustained_subscribers",
    "forward_p50_ms",
    "forward_p95_ms",
    "baseline_subscribers_per_core",
    "ratio",
    "sfu_steps",
    "class_cpu_per_subscriber_pct",
    "class_fixed_cpu_pct",
    "class_marginal_cpu_per_subscriber_pct",
    "class_subscribers_per_core",
    "class_subscribers_per_core_at_measured_load",
    "class_max_sustained_subscribers",
    "class_forward_p50_ms",
    "class_forward_p95_ms",
    "class_steps",
}


def test_a_small_class_shaped_run_ends_with_the_json_figures() -> None:
    arguments = ["--skip-baseline", "--class", "--steps", "4", "--class-steps", "3", "--seconds", "3", "--warmup", "3"]
    run = subprocess.run(
        [sys.executable, str(BENCH), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures.keys() >= KEYS
    [single] = figures["sfu_steps"]
    assert single["subscribers"] == 4
    assert single["fps_min"] > 0
    assert "audio_pps_min" not in single  # the single-stream load has no audio
    [klass] = figures["class_steps"]
    assert klass["subscribers"] == 3
    # Every subscriber's slowest video and slowest audio track were flowing: all six tracks arrived.
    assert klass["fps_min"] > 0
    assert klass["audio_pps_min"] > 0
    assert figures["class_cpu_per_subscriber_pct"] == klass["cpu_per_subscriber_pct"] > 0
    # Per core: the publishers' ingress (measured with nobody watching) once, then each subscriber's marginal CPU.
    assert figures["class_fixed_cpu_pct"] > 0
    marginal = figures["class_marginal_cpu_per_subscriber_pct"]
    assert marginal == klass["marginal_cpu_per_subscriber_pct"]
    assert abs(marginal - (klass["sfu_cpu_pct"] - figures["class_fixed_cpu_pct"]) / 3) < 0.01
    if marginal > 0:
        expected = (80 - figures["class_fixed_cpu_pct"]) / marginal
        assert abs(figures["class_subscribers_per_core"] - expected) < 0.01 * expected
    else:
        assert figures["class_subscribers_per_core"] is None
    assert figures["class_subscribers_per_core_at_measured_load"] == round(80 / klass["cpu_per_subscriber_pct"], 1)


def test_without_class_the_class_figures_are_none() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--skip-baseline", "--steps", "2", "--seconds", "1", "--warmup", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures.keys() >= KEYS
    assert figures["class_steps"] is None and figures["class_subscribers_per_core"] is None
    assert figures["sfu_steps"][0]["subscribers"] == 2
