"""`make run-cluster` (lms/cluster.py) for real, on PostgreSQL and Redis: two app processes behind the balancer, an
SFU node per city, a Celery worker and beat. A person signs in through the balancer and opens the demo's live session
(its live and media sockets upgrade through it); one app process is killed and the site stays up while the
cluster starts it again."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import websockets
from redis.asyncio import Redis

from streaming.node.config import default_layer_prefix, default_registry_prefix
from streaming.node.registry import nodes_live
from tests.support.processes import stop_processes
from tests.support.waiting import responds, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.serial]
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "corridor-demo"


def postgres_admin_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("DATABASE_URL is not PostgreSQL: the cluster's processes share a PostgreSQL database")
    return url


@pytest.fixture
def cluster(redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    admin_url = postgres_admin_url()
    name = f"corridor_cluster_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    database_url = urllib.parse.urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    port = int(subprocess.check_output([sys.executable, "-c", "from lms.cluster import free_port; print(free_port())"]))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "lms.settings",
        "DEBUG": "true",
    }
    env.pop("CHANNEL_LAYER_PREFIX", None)  # the cluster's own, from its database's name
    output = tmp_path / "cluster.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "lms.cluster", "--port", str(port), "--no-agents", "--log-dir", str(tmp_path)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def status() -> dict[str, Any] | None:
        if process.poll() is not None:
            raise RuntimeError(f"the cluster exited:\n{output.read_text(errors='replace')[-3000:]}")
        found = re.search(r"^run-cluster: (\{.*\})$", output.read_text(errors="replace"), re.MULTILINE)
        return json.loads(found.group(1)) if found else None

    try:
        started = wait_until(status, timeout=300, interval=1, message="the cluster to start (migrate, demo, processes)")
        assert started is not None
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: responds(f"{url}/healthz"), timeout=60, interval=0.5, message="the balancer's upstreams")
        yield {**started, "url": url, "port": port, "database_url": database_url, "output": output, "logs": tmp_path}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stop_processes(process, timeout=5)
        print(output.read_text(errors="replace")[-3000:])
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sign_in(url: str, email: str) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = f"{url}/en/accounts/login/"
    page = opener.open(login, timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "the login form carries a CSRF token"
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "username": email, "password": PASSWORD})
    request = urllib.request.Request(login, data=body.encode(), headers={"Referer": login})
    opener.open(request, timeout=30)
    assert any(cookie.name == "sessionid" for cookie in jar), "signed in"
    return opener, jar


async def welcome(url: str, path: str, cookie: str) -> dict[str, Any]:
    async with websockets.connect(
        url.replace("http://", "ws://") + path,
        origin=url,  # type: ignore[arg-type]
        additional_headers={"Cookie": f"sessionid={cookie}"},
    ) as socket:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 30))
        return frame


def test_the_cluster_serves_a_class_through_its_balancer_and_survives_losing_an_app_process(
    cluster: dict[str, Any],
) -> None:
    url = cluster["url"]
    opener, jar = sign_in(url, "trainee.sg@corridor.example")
    timetable = opener.open(f"{url}/en/live/timetable/", timeout=30).read().decode()
    session_id = int(re.findall(r"/en/live/sessions/(\d+)/", timetable)[0])
    cookie = next(str(c.value) for c in jar if c.name == "sessionid")

    # Both sockets upgrade through the balancer; the media socket is served by the trainee's city's SFU node.
    live = asyncio.run(welcome(url, f"/ws/sessions/{session_id}/", cookie))
    assert live["type"] == "welcome"
    media = asyncio.run(welcome(url, f"/ws/sessions/{session_id}/media/", cookie))
    assert media["type"] == "welcome" and media["data"]["media_city"] == "singapore"

    # Two SFU nodes, one per city, registered in Redis.
    async def cities() -> set[str]:
        redis = Redis.from_url(os.environ["REDIS_URL"])
        try:
            prefix = default_registry_prefix(default_layer_prefix({"DATABASE_URL": cluster["database_url"]}))
            return {node["city"] for node in await nodes_live(redis, prefix=prefix)}
        finally:
            await redis.aclose()

    assert wait_until(lambda: asyncio.run(cities()) == {"singapore", "chongqing"}, timeout=30, message="two nodes")

    # One app process is killed: every request still succeeds through the other, and the cluster restarts it.
    os.kill(cluster["processes"]["app-1"], signal.SIGKILL)
    started = time.monotonic()
    for _ in range(20):
        assert opener.open(f"{url}/en/live/timetable/", timeout=30).status == 200
    assert asyncio.run(welcome(url, f"/ws/sessions/{session_id}/", cookie))["type"] == "welcome"
    # Its clients reconnect through the balancer to the other process and catch up there (a fresh welcome).
    recovered = time.monotonic() - started
    print(f"App process killed: recovered in {recovered:.2f} s (pages and a live socket served by the other)")
    assert recovered < 30
    wait_until(
        lambda: "app-1 exited" in cluster["output"].read_text(errors="replace"),
        timeout=30,
        message="the cluster to notice and restart app-1",
    )
    print(f"site served throughout; app-1 restart noticed after {time.monotonic() - started:.1f} s")
