"""bench/_workers.py: the worker-process helper bench/sfu.py and bench/cascade.py share."""

import gc
import textwrap
from pathlib import Path

import pytest

from bench._workers import Worker, settle_garbage

ROOT = Path(__file__).resolve().parents[2]


async def test_a_worker_answers_one_json_line_per_request_and_its_death_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "echo_worker.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, json, sys
            sys.path.insert(0, {str(ROOT)!r})
            from bench._workers import reply, stdin_lines

            async def main() -> None:
                assert sys.argv[1:] == ["--role", "echo", "--times", "3"]
                reader = await stdin_lines()
                reply({{"ready": True}})
                while line := await reader.readline():
                    message = json.loads(line)
                    if message["cmd"] == "exit":
                        sys.exit(0)
                    reply({{"echo": message["text"] * 3, "big": "x" * 300_000}})

            asyncio.run(main())
            """
        )
    )
    worker = Worker(script, "echo", "--times", "3")
    assert await worker.start() == {"ready": True}
    assert worker.pid > 0
    answer = await worker.call({"cmd": "say", "text": "ab"})
    assert answer["echo"] == "ababab" and len(answer["big"]) == 300_000  # a long line is one reply
    with pytest.raises(RuntimeError, match="the echo process died"):
        await worker.call({"cmd": "exit"})
    await worker.stop()
    assert worker.process is not None and worker.process.returncode == 0


def test_settling_freezes_what_was_set_up() -> None:
    kept = [[index] for index in range(1000)]
    try:
        settle_garbage()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
