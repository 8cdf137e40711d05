"""A live session in real browsers: questions, answers, votes, a poll, a raised hand and attendance.

The page talks to the server over a websocket, which pytest-django's live server (WSGI) cannot
serve, so these tests run the real ASGI server (uvicorn, as deployed: lms/serve.py) in a process of its own on the test
database (a file for SQLite: see lms/settings/test.py). The conftest's `sign_in` signs in to
whatever `live_server` is; here that is uvicorn.
"""

import os
import re
import socket
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, connections
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper
from django.urls import reverse
from django.utils import translation
from playwright.sync_api import Locator, Page, expect

from classrooms.services import attendance, qa
from courses.models import Enrolment
from lms.serve import asgi_server_command
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol
from tests.support.waiting import responds, wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60

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
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
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
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]


@pytest.fixture
def live_server(e2e_db: None, tmp_path: Path) -> Iterator[AsgiServer]:
    """The ASGI server instead of pytest-django's WSGI server, so `sign_in` and the pages reach the websocket."""
    server = AsgiServer(tmp_path / "server.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        print(f"--- the server's output ---\n{server.output()}")  # pytest shows it when the test fails
        server.log.close()


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


@pytest.fixture
def live_class(e2e_db: None) -> Class:
    return Class()


def open_live_page(page: Page, server: AsgiServer, live_class: Class) -> Page:
    page.goto(f"{server.url}{live_class.path}")
    expect(page.get_by_role("heading", name="Cross-border networking lab")).to_be_visible()
    expect(page.locator("[data-connection]")).to_have_attribute("data-state", "live")
    return page


def question(page: Page, text: str) -> Locator:
    return page.locator(".question").filter(has_text=text)


def test_a_question_asked_answered_and_upvoted_reaches_everyone_live(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    instructor = open_live_page(sign_in(live_class.instructor), live_server, live_class)
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    trainee.evaluate("window.stillTheSamePage = true")  # gone if the page reloads
    expect(trainee.get_by_text("No questions yet — be the first to ask.")).to_be_visible()
    expect(trainee.get_by_role("region", name="Video")).to_contain_text("Jiefangbei Studio")

    # The trainee asks (Ctrl+Enter sends); markup in a question is shown as text, never run.
    asked = "Can the <b>Chongqing</b> room hear us clearly?"
    box = trainee.get_by_label("Ask a question")
    box.fill(asked)
    expect(trainee.locator("[data-ask-counter]")).to_have_text(f"{len(asked)} / 500 characters")
    box.press("Control+Enter")
    expect(box).to_have_value("")
    expect(trainee.get_by_text("Your question has been sent.")).to_be_visible()

    # The instructor sees it arrive, with its author.
    seen = question(instructor, asked)
    expect(seen).to_be_visible()
    expect(seen.locator(".question-text")).to_have_text(asked)
    expect(seen.locator(".question-text b")).to_have_count(0)
    expect(seen.locator(".question-author")).to_have_text("Mei Tan")

    # The trainee upvotes it; the instructor's count follows.
    mine = question(trainee, asked)
    upvote = mine.get_by_role("button", name=re.compile("^Upvote"))
    upvote.click()
    expect(upvote).to_have_attribute("aria-pressed", "true")
    expect(seen.locator(".vote-count")).to_have_text("1")

    # The instructor answers; the trainee sees the answer without reloading.
    seen.get_by_role("button", name="Answer", exact=True).click()
    seen.get_by_label("Your answer").fill("Yes: loud and clear in Chongqing.")
    seen.get_by_role("button", name="Send answer").click()
    expect(mine.locator(".answer-text")).to_have_text("Yes: loud and clear in Chongqing.")
    expect(mine.locator(".answer-by")).to_have_text("Answer from Wen Lim")
    expect(mine.get_by_text("Answered", exact=True)).to_be_visible()
    assert trainee.evaluate("window.stillTheSamePage") is True

    # Taking the vote back is seen too.
    upvote.click()
    expect(upvote).to_have_attribute("aria-pressed", "false")
    expect(seen.locator(".vote-count")).to_have_text("0")

    # Attendance: the Chongqing trainee checks in with the room display's code, and the
    # instructor's page counts them in the room at once; the report lists both trainees.
    phone = sign_in(live_class.chongqing_trainee)
    code = attendance.checkin_code(session=live_class.session, room=live_class.chongqing)
    with translation.override("en"):
        checkin = reverse(
            "classrooms:attendance-checkin",
            kwargs={"session_id": live_class.session.pk, "room_id": live_class.chongqing.pk, "code": code},
        )
    phone.goto(f"{live_server.url}{checkin}")
    phone.get_by_role("button", name="I'm here: check in").click()
    expect(phone.get_by_role("heading", name="You are checked in")).to_be_visible()

    panel = instructor.get_by_role("region", name="Who is here")
    expect(panel.locator(".presence-places li").filter(has_text="Jiefangbei Studio")).to_contain_text("1")
    expect(panel.locator(".people li").filter(has_text="Jun Zhao")).to_contain_text("Jiefangbei Studio")

    instructor.get_by_role("link", name="Attendance report").click()
    expect(instructor.get_by_role("heading", name="Attendance report")).to_be_visible()
    rows = instructor.locator(".attendance-table tbody tr")
    in_room = rows.filter(has_text="Jun Zhao")
    expect(in_room.locator("td").nth(0)).to_have_text(re.compile(r"^\d+$"))
    expect(in_room.locator("td").nth(2)).to_contain_text("Jiefangbei Studio")
    remote = rows.filter(has_text="Mei Tan")
    expect(remote.locator("td").nth(0)).to_have_text(re.compile(r"^\d+$"))
    expect(remote.locator("td").nth(2)).to_contain_text("Remote")


def test_a_poll_and_a_raised_hand(live_server: AsgiServer, sign_in: SignIn, live_class: Class) -> None:
    instructor = open_live_page(sign_in(live_class.instructor), live_server, live_class)
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    expect(trainee.get_by_text("No polls yet.")).to_be_visible()

    # The instructor opens a poll with three choices.
    instructor.get_by_text("Open a poll").click()
    instructor.get_by_label("Question", exact=True).fill("How is the pace?")
    instructor.get_by_label("Choice 1", exact=True).fill("Too slow")
    instructor.get_by_label("Choice 2", exact=True).fill("Just right")
    instructor.get_by_role("button", name="Add a choice").click()
    instructor.get_by_label("Choice 3", exact=True).fill("Too fast")
    instructor.get_by_role("button", name="Open poll").click()

    # The trainee votes once; the results move on both pages.
    poll = trainee.locator(".poll").filter(has_text="How is the pace?")
    poll.get_by_role("button", name="Vote: Just right").click()
    expect(poll.get_by_text("You voted: Just right")).to_be_visible()
    expect(poll.get_by_role("button", name=re.compile("^Vote:"))).to_have_count(0)
    results = instructor.locator(".poll").filter(has_text="How is the pace?")
    expect(results.locator(".result").filter(has_text="Just right")).to_contain_text("1 (100%)")
    expect(results.locator(".result").filter(has_text="Too fast")).to_contain_text("0 (0%)")

    # Closed, it stays listed with its results.
    results.get_by_role("button", name="Close poll").click()
    expect(poll.get_by_text("Closed", exact=True)).to_be_visible()
    expect(poll.locator(".result").filter(has_text="Just right")).to_contain_text("1 (100%)")

    # The trainee raises a hand; the instructor sees the queue and lowers it.
    trainee.get_by_role("button", name="Raise hand").click()
    expect(trainee.get_by_role("button", name="Lower hand")).to_be_visible()
    queue = instructor.locator("[data-hands-queue]")
    expect(queue.locator("li")).to_have_count(1)
    queue.get_by_role("button", name="Lower Mei Tan's hand").click()
    expect(queue.locator("li")).to_have_count(0)
    expect(trainee.get_by_role("button", name="Raise hand")).to_be_visible()
    expect(trainee.get_by_text("The instructor lowered your hand.")).to_be_visible()


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


def test_the_page_reconnects_by_itself_and_catches_up(
    live_server: AsgiServer, sign_in: SignIn, live_class: Class
) -> None:
    trainee = open_live_page(sign_in(live_class.trainee), live_server, live_class)
    trainee.evaluate("window.stillTheSamePage = true")
    connection = trainee.locator("[data-connection]")

    live_server.stop()
    expect(connection).to_have_attribute("data-state", "reconnecting")
    expect(connection).to_contain_text(re.compile(r"Reconnecting in \d+ s"))
    expect(trainee.get_by_role("button", name="Reconnect now")).to_be_visible()
    # What happens while the page is away reaches it when it is back.
    in_another_thread(
        lambda: qa.question_ask(session=live_class.session, user=live_class.instructor, text="Asked while away")
    )

    live_server.start()
    expect(connection).to_have_attribute("data-state", "live", timeout=45_000)
    expect(question(trainee, "Asked while away")).to_be_visible()
    expect(trainee.get_by_role("button", name="Reconnect now")).to_be_hidden()
    assert trainee.evaluate("window.stillTheSamePage") is True

    # Losing the right to be there ends it for good, with the server's reason. (Unenrolled here, in
    # the test's process, the socket learns it at its next role check, within two heartbeats.)
    in_another_thread(lambda: Enrolment.objects.filter(user=live_class.trainee).delete())
    expect(connection).to_have_attribute("data-state", "closed", timeout=30_000)
    expect(connection).to_contain_text("(code 44")
    expect(trainee.get_by_role("button", name="Reconnect now")).to_be_hidden()


def test_an_outsider_is_not_shown_the_session(live_server: AsgiServer, sign_in: SignIn, live_class: Class) -> None:
    outsider = sign_in(factories.trainee())
    response = outsider.goto(f"{live_server.url}{live_class.path}")
    assert response is not None and response.status == 404
