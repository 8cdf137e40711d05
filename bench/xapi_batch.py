"""xAPI statement batch benchmark: the time to send one batch of N statements to a real LRS (Ralph, `make lrs`), from
claiming the rows to marking them sent, for several N.

    .venv/bin/python bench/xapi_batch.py                    # batches of 1, 10, 100 and 500, 5 rounds each
    .venv/bin/python bench/xapi_batch.py --sizes 100 --rounds 20

It builds a throwaway SQLite database of its own (never the app's: it deletes the queue between rounds), starts Ralph
with its `fs` backend on a free port (as the tests do: tests/support/ralph.py), queues N enrolment statements per
round and times `xapi_statements_send` (one POST of N), plus the time to queue one statement (the insert an event's
transaction pays). Ralph's own cost grows with what it already holds (its file backend reads the file to check ids),
so each round starts a fresh Ralph folder; one read first warms it up (Ralph checks the Basic credentials with bcrypt,
about 0.6 s here, then keeps the outcome for a while, as a long-running LRS would). Then the same batches to a null
LRS (a local HTTP server answering 204 at once): Corridor's own part.
Human-readable lines first; the last line of stdout is one JSON object.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="corridor-bench-xapi-"))
os.environ["DJANGO_SETTINGS_MODULE"] = "lms.settings.test"
os.environ["DATABASE_URL"] = f"sqlite:///{WORK / 'bench.sqlite3'}"
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from lms.xapi import builders, services  # noqa: E402
from lms.xapi.models import QueuedStatement  # noqa: E402
from tests.support.ralph import RALPH_CLI, RALPH_PYTHON, ralph_server  # noqa: E402


def say(line: str) -> None:
    print(line, flush=True)


class NullLrs(BaseHTTPRequestHandler):
    """An LRS that reads the POST and answers 204 at once: what is left is Corridor's own cost (rows, JSON, HTTP)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def corridor_only(sizes: list[int], rounds: int, course: builders.Activity, at: datetime) -> dict[str, float]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NullLrs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.XAPI_LRS_URL = f"http://127.0.0.1:{server.server_address[1]}/xAPI/"
    medians: dict[str, float] = {}
    try:
        for size in sizes:
            settings.XAPI_BATCH_SIZE = size
            timings = []
            for round_number in range(rounds):
                for user in range(size):
                    statement = builders.course_enrolled(
                        user_id=10**6 * (round_number + 1) + user, course=course, at=at
                    )
                    services.xapi_statement_queue(statement=statement)
                started = time.perf_counter()
                assert services.xapi_statements_send(batches=1).sent == size
                timings.append((time.perf_counter() - started) * 1000)
                QueuedStatement.objects.all().delete()
            medians[str(size)] = round(statistics.median(timings), 1)
            say(
                f"batch of {size:>4} to an LRS that answers at once: "
                f"median {medians[str(size)]:7.1f} ms (Corridor's part)"
            )
    finally:
        server.shutdown()
    return medians


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 500])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not (RALPH_PYTHON.exists() and RALPH_CLI.exists()):
        sys.exit("Ralph (the LRS) is not installed: run `make lrs`")
    call_command("migrate", interactive=False, verbosity=0)
    course = builders.course_activity(course_key="bench-course", title_en="Benchmark course")
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    results: dict[str, dict[str, float]] = {}
    queue_ms: list[float] = []
    user_id = 0
    for size in args.sizes:
        settings.XAPI_BATCH_SIZE = size
        batch_ms: list[float] = []
        for round_number in range(args.rounds):
            ralph = ralph_server(WORK / f"ralph-{size}-{round_number}")
            ralph.configure(settings)
            ralph.start()
            try:
                assert ralph.statements() == []  # warm: credentials checked (bcrypt) and cached
                for _ in range(size):
                    user_id += 1
                    started = time.perf_counter()
                    services.xapi_statement_queue(
                        statement=builders.course_enrolled(user_id=user_id, course=course, at=at)
                    )
                    queue_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                outcome = services.xapi_statements_send(batches=1)
                batch_ms.append((time.perf_counter() - started) * 1000)
                assert outcome.sent == size, outcome
                assert outcome.failed == 0, outcome
                assert len(ralph.statements()) == size
            finally:
                ralph.stop()
            QueuedStatement.objects.all().delete()
        median = statistics.median(batch_ms)
        results[str(size)] = {
            "batch_ms_median": round(median, 1),
            "batch_ms_max": round(max(batch_ms), 1),
            "per_statement_ms": round(median / size, 2),
        }
        say(f"batch of {size:>4}: median {median:7.1f} ms, max {max(batch_ms):7.1f} ms, {median / size:.2f} ms each")
    say(f"queueing one statement (in the event's transaction): median {statistics.median(queue_ms):.2f} ms")
    corridor_ms = corridor_only(args.sizes, args.rounds, course, at)
    print(
        json.dumps(
            {
                "lrs": "ralph fs",
                "rounds": args.rounds,
                "batches": results,
                "queue_one_ms_median": round(statistics.median(queue_ms), 2),
                "corridor_only_batch_ms_median": corridor_ms,
                "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            }
        )
    )


if __name__ == "__main__":
    main()
