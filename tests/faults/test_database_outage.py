"""PostgreSQL unavailable for 10 s (issue 15, faults survived): a TCP proxy between a real app server and PostgreSQL
is cut (its connections reset, new ones refused) and restored. Meanwhile pages answer 503 saying the database is
unavailable, in the reader's language; live sockets stay open and a question asked then is refused with an error
frame and not half-written; once the database is back, pages and sockets work again."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.utils import translation

from classrooms.models import LiveEvent, Question
from lms.errors import DATABASE_UNAVAILABLE
from tests.support.browser import AsgiServer, database_url_for_server
from tests.support.live import a_live_session, session_cookie
from tests.support.live_remote import RemoteParticipant
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.serial, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

OUTAGE_SECONDS = 10.0
# The connection pool (psycopg_pool) reconnects in the background with a backoff from 1 s up to 10 s between tries:
# after a 10 s outage its next try comes at most ~10 s after the database is back.
RECOVERY_BOUND_SECONDS = 12.0
DURING = "Asked while the database is away"


def get(url: str, cookie: str, *, accept: str = "text/html") -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}", "Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), {k.lower(): v for k, v in error.headers.items()}


@pytest.fixture
def proxied_server(tmp_path: Path) -> Iterator[tuple[AsgiServer, TcpProxy]]:
    if connection.vendor != "postgresql":
        pytest.skip("the drill cuts PostgreSQL: needs DATABASE_URL (PostgreSQL)")
    real = urlsplit(database_url_for_server())
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 5432)
    proxy.start()
    server = AsgiServer(tmp_path / "server.log")
    credentials = real.netloc.rsplit("@", 1)[0]
    server.env["DATABASE_URL"] = real._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}").geturl()
    try:
        server.start()
        yield server, proxy
    finally:
        proxy.restore()  # let the server close its connections politely
        server.stop()
        proxy.stop()
        print(f"\n{server.output()[-1500:]}")


def test_pages_and_sockets_survive_the_database_going_away_for_ten_seconds(
    proxied_server: tuple[AsgiServer, TcpProxy],
) -> None:
    server, proxy = proxied_server
    live = a_live_session()
    trainee_cookie = session_cookie(live.trainee)
    instructor_cookie = session_cookie(live.instructor)
    page = f"{server.url}/en/live/timetable/"
    assert get(page, trainee_cookie)[0] == 200
    outcome = asyncio.run(_drill(server.url, live.session.pk, [instructor_cookie, trainee_cookie], proxy))

    # Pages said what is going on, in the reader's language, and when to try again.
    for language, (status, body, headers) in outcome["pages"].items():
        assert status == 503, (language, status, body[:500])
        with translation.override(language):
            assert str(DATABASE_UNAVAILABLE) in body
        assert f'lang="{language}"' in body
        assert headers.get("retry-after") == "5"
    status, body, _ = outcome["json"]
    assert status == 503
    with translation.override("en"):
        assert json.loads(body) == {"error": {"code": "database_unavailable", "message": str(DATABASE_UNAVAILABLE)}}

    # Sockets stayed open; the question asked meanwhile was refused, and nothing of it was written.
    assert outcome["during"]["type"] == "error" and outcome["during"]["code"] == "database_unavailable"
    assert outcome["closes"] == [], "a live socket was closed by the outage"
    assert not Question.objects.filter(text=DURING).exists()
    questions = set(Question.objects.filter(session=live.session).values_list("pk", flat=True))
    created = {e.payload["id"] for e in LiveEvent.objects.filter(session=live.session, kind="question.created")}
    assert questions == created == outcome["acked"]

    print(
        f"PostgreSQL unavailable for {OUTAGE_SECONDS:.0f} s: recovered in {outcome['recovered']:.2f} s "
        f"(pages again; sockets again after {outcome['socket_recovered']:.2f} s; "
        f"a page during the outage failed after {outcome['failed_after']:.2f} s)"
    )
    assert outcome["recovered"] < RECOVERY_BOUND_SECONDS
    assert outcome["socket_recovered"] < RECOVERY_BOUND_SECONDS


async def _drill(url: str, session_id: int, cookies: list[str], proxy: TcpProxy) -> dict[str, Any]:
    participants = [RemoteParticipant(url, session_id, cookie, f"participant {n}") for n, cookie in enumerate(cookies)]
    instructor, trainee = participants
    trainee_cookie = cookies[1]
    acked: set[int] = set()
    for participant in participants:
        await participant.start()
    try:
        reply = await trainee.ask("Before the outage")
        assert reply["type"] == "ack", reply
        acked.add(reply["id"])

        proxy.cut()
        cut_at = time.monotonic()

        async def page(language: str) -> tuple[tuple[int, str, dict[str, str]], float]:
            started = time.monotonic()
            answer = await asyncio.to_thread(get, f"{url}/{language}/live/timetable/", trainee_cookie)
            return answer, time.monotonic() - started

        (en, failed_after), (zh, _), as_json, during = await asyncio.gather(
            page("en"),
            page("zh-hans"),
            asyncio.to_thread(get, f"{url}/en/live/timetable/", trainee_cookie, accept="application/json"),
            trainee.request({"type": "question.ask", "text": DURING}, timeout=30),
        )
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
        proxy.restore()
        restored_at = time.monotonic()

        while (await asyncio.to_thread(get, f"{url}/en/live/timetable/", trainee_cookie))[0] != 200:
            assert time.monotonic() - restored_at < 30, "pages never came back"
            await asyncio.sleep(0.1)
        recovered = time.monotonic() - restored_at
        while True:
            reply = await trainee.ask(f"After the outage, {time.monotonic():.3f}")
            if reply["type"] == "ack":
                break
            assert reply["code"] == "database_unavailable", reply
            assert time.monotonic() - restored_at < 30, "sockets never came back"
            await asyncio.sleep(0.1)
        socket_recovered = time.monotonic() - restored_at
        acked.add(reply["id"])
        # The session goes on: the question reaches the instructor live.
        for _ in range(100):
            if reply["id"] in instructor.live_questions:
                break
            await asyncio.sleep(0.05)
        assert reply["id"] in instructor.live_questions
        return {
            "pages": {"en": en, "zh-hans": zh},
            "json": as_json,
            "during": during,
            "acked": acked,
            "closes": [code for p in participants for code in p.closes],
            "recovered": recovered,
            "socket_recovered": socket_recovered,
            "failed_after": failed_after,
        }
    finally:
        for participant in participants:
            await participant.stop()
