"""Helpers for the browser tests (tests/e2e): uvicorn serving the app on the test database, the live class the
live-session tests share, and what they ask of the page.

The fixtures built from them (`asgi_live_server`, `live_class`, `sign_in` ...) are in tests/e2e/conftest.py.
"""

import os
import socket
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from lms.serve import asgi_server_command
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol
from tests.support.processes import stop_processes
from tests.support.waiting import responds, wait_until
from tests.support.zygote import ForkedServer, zygote_for

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60

# The `sign_in` fixture: signs a user in, in a browser of their own, and returns the page they land on.
SignIn = Callable[..., Page]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url_for_server() -> str:
    """The test database, as the server process's DATABASE_URL."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        sqlite = connections["default"]
        assert isinstance(sqlite, SQLiteDatabaseWrapper)
        assert not sqlite.is_in_memory_db(), "the server process must share the test database: use a file"
        return f"sqlite:///{name}" if name.startswith("/") else f"sqlite:///{ROOT / name}"
    if connection.vendor == "postgresql":
        password = f":{quote(str(db['PASSWORD']), safe='')}" if db.get("PASSWORD") else ""
        host = db.get("HOST") or "127.0.0.1"
        return f"postgres://{db['USER']}{password}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"
    pytest.skip(f"no server process for a {connection.vendor} test database")


class _NoSettingsChange:
    """pytest-django enables this on whatever `live_server` a test uses; uvicorn needs no change here."""

    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass


class AsgiServer:
    """uvicorn serving lms.asgi (HTTP and websockets) on the test database, in a process of its own."""

    _live_server_modified_settings = _NoSettingsChange()

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = log.open("wb")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "lms.settings.test",
            "DATABASE_URL": database_url_for_server(),
        }
        # The browser tests lift Django's async-safety guard for themselves only, not for the server.
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        # A test that changes nothing in `env` gets its server forked from the app already imported (3 s less).
        self._usual_env = dict(self.env)
        self.process: subprocess.Popen[bytes] | ForkedServer | None = None

    def start(self) -> None:
        if self.env == self._usual_env:
            self.log.flush()
            self.process = zygote_for(self.env).fork(port=self.port, log=self.log_path)
        if self.process is None:
            self.process = subprocess.Popen(
                asgi_server_command(port=self.port),
                cwd=ROOT,
                env=self.env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )

        def started() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            return responds(f"{self.url}/healthz")

        wait_until(
            started, timeout=STARTUP_SECONDS, interval=0.2, message=lambda: f"the server to start:\n{self.output()}"
        )

    def stop(self) -> None:
        if self.process is None:
            return
        stop_processes(self.process)
        self.process = None

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]


class Class:
    """A live session in a Singapore and a Chongqing room, its instructor and two enrolled trainees."""

    def __init__(self) -> None:
        course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
        self.singapore = RoomFactory.create(name="Marina Bay Lab", city="singapore")
        self.chongqing = RoomFactory.create(name="Jiefangbei Studio", city="chongqing")
        self.instructor = factories.instructor(first_name="Wen", last_name="Lim")
        self.session = LiveSessionFactory.create(
            course=course,
            instructor=self.instructor,
            rooms=[self.singapore, self.chongqing],
            title="Cross-border networking lab",
        )
        self.trainee = factories.trainee(first_name="Mei", last_name="Tan")
        self.chongqing_trainee = factories.trainee(first_name="Jun", last_name="Zhao", home_region="chongqing")
        for trainee in (self.trainee, self.chongqing_trainee):
            enrol(trainee, course)

    @property
    def path(self) -> str:
        with translation.override("en"):
            return reverse("classrooms:live-session", kwargs={"session_id": self.session.pk})


def in_another_thread(work: Callable[[], object]) -> None:
    """Write as the server would: Playwright's sync API runs an event loop in the test's thread,
    and a broadcast after commit (async_to_sync) may not run in a thread with a loop."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()


def wait_for_js(page: Page, expression: str, *, timeout: float = 15_000) -> None:
    """Wait until a JavaScript expression is true in the page, as `page.wait_for_function` does.

    Playwright evaluates wait_for_function's predicate with eval inside the page, which the site's Content Security
    Policy (no 'unsafe-eval') refuses; `page.evaluate` goes through the DevTools protocol, which the policy does not
    govern. An expression that throws (its element not there yet) counts as false until the time is up.
    """
    deadline = time.monotonic() + timeout / 1000
    last_error: Exception | None = None
    while True:
        try:
            if page.evaluate(expression):
                return
        except PlaywrightError as error:
            last_error = error
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression} was not true within {timeout} ms (last error: {last_error})")
        page.wait_for_timeout(100)


# --- video on the live page ---

MEASURE_SECONDS = 3  # how long COUNT_FRAMES counts

COUNT_FRAMES = """
async ([selector, seconds]) => {
  const video = document.querySelector(selector);
  let frames = 0;
  const tick = () => { frames += 1; video.requestVideoFrameCallback(tick); };
  video.requestVideoFrameCallback(tick);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return { frames, width: video.videoWidth, height: video.videoHeight };
}
"""


def open_media_page(page: Page, server: AsgiServer, live_class: Class) -> Page:
    page.goto(f"{server.url}{live_class.path}")
    expect(page.locator("[data-media-connection]")).to_have_attribute("data-state", "live")
    return page
