"""Ralph (`ralph-malph`), a real learning record store, as a process of its own for the xAPI tests.

It lives in its own venv (`make lrs` makes `.venv-ralph`: its pinned FastAPI and pydantic stay out of Corridor's);
without it the tests that need it are skipped, naming that target. It stores statements in files (the `fs` backend)
under a temporary folder, and answers HTTP Basic auth for one account made with `ralph auth`.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import stop_processes
from tests.support.s3 import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
RALPH_PYTHON = ROOT / ".venv-ralph" / "bin" / "python"
RALPH_CLI = ROOT / ".venv-ralph" / "bin" / "ralph"
USERNAME, PASSWORD = "corridor", "corridor-lrs-secret"
# Ralph's API under uvicorn, as `ralph runserver --backend fs` serves it but without its file-watching reloader. One
# change: the `fs` backend writes each POST's statements with CREATE, which refuses once its one file exists (its
# second POST fails with 500, "already exists and overwrite is not allowed"); APPEND adds them to that file, as the
# database backends (Elasticsearch, MongoDB, ClickHouse) add them to theirs. Reading, the id checks (duplicates, 409)
# and the xAPI API are Ralph's own.
SERVE = (
    "import sys, uvicorn\n"
    "from ralph.backends.data.base import BaseOperationType\n"
    "from ralph.backends.data.fs import FSDataBackend\n"
    "FSDataBackend.default_operation_type = BaseOperationType.APPEND\n"
    "uvicorn.run('ralph.api:app', host='127.0.0.1', port=int(sys.argv[1]))\n"
)


def require_ralph() -> None:
    if not RALPH_PYTHON.exists() or not RALPH_CLI.exists():
        pytest.skip("Ralph (the LRS) is not installed: run `make lrs`")


@dataclass
class Ralph:
    """A running Ralph: `endpoint` is its xAPI endpoint (XAPI_LRS_URL); `start` and `stop` bring it up and down on
    the same port and files (an LRS that goes away and comes back)."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/xAPI/"

    def configure(self, settings: Any) -> None:
        settings.XAPI_LRS_URL = self.endpoint
        settings.XAPI_LRS_USERNAME, settings.XAPI_LRS_PASSWORD = USERNAME, PASSWORD

    def start(self) -> None:
        log = open(self.folder / "ralph.log", "ab")  # noqa: SIM115 (the process keeps it)
        self.process = subprocess.Popen(
            [str(RALPH_PYTHON), "-c", SERVE, str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
        )
        wait_until(self._answers, timeout=30, message=f"Ralph did not start (see {self.folder / 'ralph.log'})")

    def stop(self) -> None:
        if self.process is not None:
            stop_processes(self.process)
            self.process = None

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"Ralph exited: {(self.folder / 'ralph.log').read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/__lbheartbeat__", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _get(self, path: str) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/xAPI/{path}",
            headers={
                "X-Experience-API-Version": "1.0.3",
                "Authorization": "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode(),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def statements(self) -> list[dict[str, Any]]:
        """Every statement Ralph holds, read back through its xAPI GET API (following `more` links)."""
        found: list[dict[str, Any]] = []
        page = self._get("statements?limit=500")
        found += page["statements"]
        while page.get("more"):
            more = page["more"].split("/xAPI/", 1)[-1]
            page = self._get(more)
            found += page["statements"]
        return found

    def statement(self, statement_id: str) -> dict[str, Any]:
        """One statement by its id (`statementId`); Ralph answers it as the xAPI spec says, or as a one-item list."""
        found = self._get(f"statements?statementId={statement_id}")
        if "statements" in found:
            [found] = [statement for statement in found["statements"] if statement["id"] == statement_id]
        return dict(found)


def ralph_server(folder: Path) -> Ralph:
    """A Ralph with its auth file and data folder under `folder`, not yet started."""
    require_ralph()
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "RALPH_APP_DIR": str(folder / "app"),
        "RALPH_AUTH_FILE": str(folder / "auth.json"),
        "RALPH_RUNSERVER_BACKEND": "fs",
        "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(folder / "statements"),
    }
    subprocess.run(
        [
            str(RALPH_CLI),
            "auth",
            "--username",
            USERNAME,
            "--password",
            PASSWORD,
            "--scope",
            "all",
            "--agent-ifi-mbox",
            "mailto:lrs@corridor.example",
            "--write-to-disk",
        ],
        env=env,
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return Ralph(folder=folder, port=free_port(), env=env)
