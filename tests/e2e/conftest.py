"""Browser fixtures: Debian's Chromium driven by Playwright's sync API against pytest-django's live server.

Playwright's sync API keeps an asyncio event loop running in the test thread (its
dispatcher lives in a greenlet). Two things follow for Django:

* its "no synchronous ORM calls from async context" guard would refuse every query,
  so DJANGO_ALLOW_ASYNC_UNSAFE lifts it for the test process;
* asgiref keeps database connections per thread, but per asyncio context once a loop
  runs in the thread, so the test would get fresh connection objects that pytest-django
  never prepared (they lack its post-migration snapshot, for one). The `browser`
  fixture hands the thread's own connections to the test's context.

Browser tests commit for real (the live server's threads must see the data), so each
starts from the database as the migrations left it (the role groups, the "Course review"
workflow, the page tree root) and leaves it empty for the next transactional test,
which pytest-django's serialized rollback then restores in turn.
"""

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, Page, Response, WebSocket, expect, sync_playwright

from tests import factories
from tests.support.browser import AsgiServer, Class, SignIn
from tests.support.system import chromium_or_skip

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Fake camera and microphone, granted without a prompt, for the live-session tests.
CHROMIUM_ARGS = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
TIMEOUT_MS = 15_000


def _share_thread_connections_with_this_context() -> None:
    """Let the code that runs beside Playwright's loop use this thread's database connections."""
    running_loop = asyncio._get_running_loop()
    asyncio._set_running_loop(None)  # asgiref hands out the thread's own connections only outside a loop
    try:
        thread_connections = {alias: connections[alias] for alias in connections}
    finally:
        asyncio._set_running_loop(running_loop)
    for alias, connection in thread_connections.items():
        connections[alias] = connection


# Per module, not per session: Playwright's sync API keeps an event loop running in this
# thread while it is open, and tests after the browser ones use async_to_sync here.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        _share_thread_connections_with_this_context()
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def _empty_before_restore(request: pytest.FixtureRequest, django_db_setup: None, django_db_blocker: Any) -> None:
    """Empty the database before pytest-django reloads its post-migration snapshot into it.

    A transactional test without serialized rollback leaves behind content types and
    permissions re-created (with new ids) by its flush, which the snapshot's rows would
    collide with.
    """
    marker = request.node.get_closest_marker("django_db")
    restores = "django_db_serialized_rollback" in request.fixturenames or bool(
        marker and marker.kwargs.get("serialized_rollback")
    )
    if not restores:
        return
    with django_db_blocker.unblock():
        for alias in connections:
            if hasattr(connections[alias], "_test_serialized_contents"):
                call_command(
                    "flush",
                    verbosity=0,
                    interactive=False,
                    database=alias,
                    reset_sequences=False,
                    inhibit_post_migrate=True,
                )


@pytest.fixture
def transactional_db(_empty_before_restore: None, _django_db_helper: None) -> None:
    """pytest-django's `transactional_db`, restoring its snapshot into an emptied database.

    Requested by name by pytest-django's live server helper, so the emptying runs
    before the restore whichever fixture asks first.
    """


@pytest.fixture
def e2e_db(transactional_db: None, django_db_serialized_rollback: None) -> None:
    """A database shared with the live server's threads, in the state the migrations left it."""


@pytest.fixture
def site_catalogue(e2e_db: None) -> Any:
    """The English catalogue at /en/ and its Chinese translation at /zh-hans/, as the demo sets them up."""
    return factories.site_catalogue()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (its own cookies: one person each).

    Any server error (5xx) a page meets fails the test, whatever the test itself checks.
    """
    contexts: list[BrowserContext] = []
    server_errors: list[str] = []
    # What each page's console and sockets said, printed at teardown: pytest shows it when the test fails.
    page_log: list[str] = []

    def watch(page: Page) -> None:
        number = len(contexts)
        page.on("console", lambda message: page_log.append(f"page {number} console {message.type}: {message.text}"))

        def socket_opened(socket: WebSocket) -> None:
            path = socket.url.split("/", 3)[-1]
            socket.on("framesent", lambda payload: page_log.append(f"page {number} → {path}: {str(payload)[:300]}"))
            socket.on("framereceived", lambda payload: page_log.append(f"page {number} ← {path}: {str(payload)[:300]}"))
            socket.on("close", lambda _socket: page_log.append(f"page {number} closed {path}"))

        page.on("websocket", socket_opened)

    def record_server_error(response: Response) -> None:
        if response.status >= 500:
            server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def open_page(**context_options: Any) -> Page:
        context = browser.new_context(**{"locale": "en-GB", **context_options})
        context.set_default_timeout(TIMEOUT_MS)
        context.on("response", record_server_error)
        contexts.append(context)
        page = context.new_page()
        watch(page)
        return page

    expect.set_options(timeout=TIMEOUT_MS)
    yield open_page
    for context in contexts:
        context.close()
    if page_log:
        print("--- the pages' consoles and sockets ---", *page_log[-400:], sep="\n")
    assert not server_errors, f"the server failed: {server_errors}"


@pytest.fixture
def sign_in(live_server: Any, new_page: Callable[..., Page]) -> SignIn:
    """Sign `user` in through the real login page, in a browser of their own; returns the page they land on."""

    def sign_in_as(user: Any, password: str = factories.PASSWORD, **context_options: Any) -> Page:
        page = new_page(**context_options)
        login_url = f"{live_server.url}{reverse('accounts:login')}"
        page.goto(login_url)
        page.get_by_label("Email address").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("main").get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: not url.startswith(login_url))
        return page

    return sign_in_as


@pytest.fixture
def asgi_live_server(e2e_db: None, tmp_path: Path) -> Iterator[AsgiServer]:
    """The ASGI server (uvicorn) on the test database; a module that needs the websocket serves it as its `live_server`
    instead of pytest-django's WSGI server, so `sign_in` and the pages reach it."""
    server = AsgiServer(tmp_path / "server.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        print(f"--- the server's output ---\n{server.output()}")  # pytest shows it when the test fails
        server.log.close()


@pytest.fixture
def live_class(e2e_db: None) -> Class:
    return Class()
