"""/healthz, /readyz, /metrics (who may read it, what it counts) and the request id in logs."""

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from lms.log_context import LogContextFilter, SocketLogContext, request_id_var

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(client: Client, **headers: Any) -> dict[str, float]:
    """/metrics as {sample name{labels}: value}."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


# Health ----------------------------------------------------------------------------------------------------------


def test_healthz_answers_without_the_database(client: Client) -> None:
    # No `db` fixture: pytest-django blocks database access, so a query here would fail the test.
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


def test_readyz_names_every_dependency_it_checked(client: Client, db: Any) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    expected = {"database", "storage"} | ({"redis"} if os.environ.get("REDIS_URL") else set())
    assert body["status"] == "ok"
    assert body["checks"] == dict.fromkeys(expected, "ok")
    assert body["failed"] == []
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_names_redis_when_it_is_unreachable(client: Client, db: Any, settings: Any) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    settings.READYZ_TIMEOUT = 0.5
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["failed"] == ["redis"]
    assert "ConnectionError" in body["checks"]["redis"]
    assert body["checks"]["database"] == "ok"


def test_readyz_names_storage_that_cannot_be_written(client: Client, db: Any, settings: Any, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "media"
    not_a_folder.write_text("a file where the media folder should be")
    settings.MEDIA_ROOT = str(not_a_folder)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]


def test_readyz_on_s3_asks_the_bucket(
    client: Client, db: Any, s3_storage: Any, s3_endpoint: str, settings: Any
) -> None:
    from tests.support.s3 import use_s3_storage

    assert client.get("/readyz").json()["checks"]["storage"] == "ok"
    use_s3_storage(settings, endpoint=s3_endpoint, bucket="corridor-no-such-bucket")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]
    assert "404" in response.json()["checks"]["storage"]


def test_readyz_names_the_database_when_it_is_down(client: Client, db: Any, monkeypatch: Any) -> None:
    from django.db import OperationalError, connection

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:  # undone before the db fixture rolls back
        patched.setattr(connection, "cursor", refuse)
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert "connection refused" in response.json()["checks"]["database"]


def test_a_process_whose_redis_is_gone_is_not_ready(tmp_path: Path) -> None:
    """A separate process started with REDIS_URL at a closed port: /readyz answers 503 naming redis."""
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/readyz'); print(json.dumps([r.status_code, r.json()['failed']]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lms.settings",
        "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0",
        "READYZ_TIMEOUT": "0.5",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ready.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [503, ["redis"]]


# Metrics: who may read them ---------------------------------------------------------------------------------------


def test_metrics_are_closed_outside_debug_unless_configured(client: Client, db: Any, settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content
    assert b"corridor_" not in response.content


def test_metrics_need_the_bearer_token(client: Client, db: Any, settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200


def test_metrics_from_an_allowed_network(client: Client, db: Any, settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="not-an-address").status_code == 403


def test_metrics_are_open_under_debug(client: Client, db: Any, settings: Any) -> None:
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    assert client.get("/metrics").status_code == 200


# Metrics: what they count -----------------------------------------------------------------------------------------


@pytest.fixture
def open_metrics(settings: Any) -> None:
    settings.DEBUG = True


def test_http_requests_are_counted_by_view_and_status(client: Client, db: Any, open_metrics: None) -> None:
    key = 'corridor_http_requests_total{method="GET",status="200",view="healthz"}'
    before = scrape(client).get(key, 0.0)
    client.get("/healthz")
    client.get("/healthz")
    after = scrape(client)
    assert after[key] == before + 2
    assert after['corridor_http_request_duration_seconds_count{method="GET",view="healthz"}'] >= 2


def test_celery_task_failures_are_counted(client: Client, db: Any, open_metrics: None) -> None:
    from celery.signals import task_failure

    from lms.celery import app

    @app.task(name="tests.observability.always_fails")
    def always_fails() -> None:
        raise RuntimeError("boom")

    key = 'corridor_celery_task_failures_total{task="tests.observability.always_fails"}'
    before = scrape(client).get(key, 0.0)
    # As a worker does when a task raises (the embedded default runs it here and raises to the caller).
    task_failure.send(sender=always_fails, task_id="t1", exception=RuntimeError("boom"), args=(), kwargs={})
    assert scrape(client)[key] == before + 1


def test_celery_queue_length_reads_the_broker(
    client: Client, db: Any, open_metrics: None, settings: Any, redis_url: str
) -> None:
    import redis

    queue = f"corridor-metrics-test-{os.getpid()}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.METRICS_BROKER_URL = redis_url
    key = f'corridor_celery_queue_length{{queue="{queue}"}}'
    with redis.Redis.from_url(redis_url) as broker:
        try:
            broker.rpush(queue, "a", "b", "c")
            assert scrape(client)[key] == 3
        finally:
            broker.delete(queue, f"corridor-metrics:{queue}:task-failures")
    assert scrape(client)[key] == 0


# Logs ------------------------------------------------------------------------------------------------------------


def test_a_request_id_is_kept_or_made_and_returned(client: Client) -> None:
    assert client.get("/healthz", HTTP_X_REQUEST_ID="proxy-abc.123")["X-Request-ID"] == "proxy-abc.123"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith a newline")["X-Request-ID"]
    assert len(made) == 32
    assert made != client.get("/healthz")["X-Request-ID"]


async def test_socket_log_lines_name_their_session_and_request() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(LogContextFilter())
    logger = logging.getLogger("tests.socket-log")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    async def consumer(scope: Any, receive: Any, send: Any) -> None:
        logger.info("a socket line")

    try:
        scope = {"type": "websocket", "path": "/ws/sessions/42/media/", "headers": [(b"x-request-id", b"up-1")]}
        await SocketLogContext(consumer)(scope, None, None)  # type: ignore[arg-type]
        await SocketLogContext(consumer)({"type": "websocket", "path": "/ws/rooms/marina/agent/"}, None, None)  # type: ignore[arg-type]
    finally:
        logger.removeHandler(handler)
    assert (records[0].session_id, records[0].request_id) == ("42", "up-1")  # type: ignore[attr-defined]
    assert records[1].session_id == "room:marina"  # type: ignore[attr-defined]
    assert len(records[1].request_id) == 32  # type: ignore[attr-defined]
    assert request_id_var.get() == ""


def run_logging(log_format: str) -> str:
    script = (
        "import django, logging; django.setup();"
        "from lms.log_context import request_id_var, session_id_var;"
        "request_id_var.set('req-7'); session_id_var.set('12');"
        "logging.getLogger('corridor.test').warning('hello %s', 'there')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "lms.settings", "LOG_FORMAT": log_format}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stderr.strip().splitlines()[-1]


def test_log_lines_are_json_with_log_format_json() -> None:
    line = json.loads(run_logging("json"))
    assert line["message"] == "hello there"
    assert (line["level"], line["logger"]) == ("WARNING", "corridor.test")
    assert (line["request_id"], line["session_id"]) == ("req-7", "12")
    assert "time" in line


def test_log_lines_are_readable_text_by_default() -> None:
    line = run_logging("")
    assert line.endswith("WARNING corridor.test: hello there [request_id=req-7 session_id=12]")
    assert not line.startswith("{")
