"""Prometheus metrics: `/metrics`, HTTP request metrics, Celery queue depth and task failures, and the one place
collectors are registered.

Each server process exposes its own registry (no shared multi-process directory): Prometheus scrapes every app
process (README "Observability"). Per-process figures (HTTP requests, live sockets, joins, fan-out latency, the
embedded SFU) are summed over the scraped processes; figures read from Redis (Celery queue depth and failures, the
SFU nodes' records) are the same in every process and are taken with `max`.

The apps register their own collectors in their `AppConfig.ready` (classrooms/metrics.py, streaming/metrics.py).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from typing import Any

import redis
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseForbidden
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

_registered: set[str] = set()


def register_collector(name: str, collector: Collector) -> None:
    """Register `collector` once per process (AppConfig.ready may run more than once, e.g. in tests)."""
    if name in _registered:
        return
    REGISTRY.register(collector)
    _registered.add(name)


# -- HTTP --------------------------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "corridor_http_requests", "HTTP requests answered, by method, view and status.", ["method", "view", "status"]
)
HTTP_DURATION = Histogram(
    "corridor_http_request_duration_seconds",
    "Time to answer an HTTP request (the response's start, not a streamed body's end), by method and view.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _observe(request: HttpRequest, response: HttpResponseBase, started: float) -> None:
    match = getattr(request, "resolver_match", None)
    # The route's name, never the path (ids and slugs would make a series per object).
    view = (match.view_name or match._func_path) if match is not None else "unresolved"
    method = request.method if request.method in _METHODS else "other"
    HTTP_REQUESTS.labels(method=method, view=view, status=str(response.status_code)).inc()
    HTTP_DURATION.labels(method=method, view=view).observe(time.perf_counter() - started)


class HttpMetricsMiddleware:
    """Counts and times every HTTP response (first in MIDDLEWARE, so redirects and errors are counted too)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response: HttpResponseBase = self.get_response(request)
        _observe(request, response, started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response: HttpResponseBase = await self.get_response(request)
        _observe(request, response, started)
        return response


# -- Celery ------------------------------------------------------------------------------------------------------

# Without a broker (tasks run in the process that sends them) failures are counted here; with Redis, in a hash
# there, so that the app processes expose what the workers saw.
_local_failures: Tally[str] = Tally()
# kombu's Redis transport keeps a queue's prioritised messages in lists named <queue>\x06\x16<priority>.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def _failures_key() -> str:
    return f"corridor-metrics:{settings.CELERY_TASK_DEFAULT_QUEUE}:task-failures"


def _broker() -> redis.Redis | None:
    if not settings.METRICS_BROKER_URL:
        return None
    return redis.Redis.from_url(settings.METRICS_BROKER_URL, socket_timeout=1.0, socket_connect_timeout=1.0)


def celery_task_failed(task_name: str) -> None:
    """Count one failure of `task_name` (the task_failure signal, lms/celery.py), where /metrics will read it."""
    client = _broker()
    if client is None:
        _local_failures[task_name] += 1
        return
    try:
        with client:
            client.hincrby(_failures_key(), task_name, 1)
    except redis.RedisError:
        logger.warning("task failure of %s not counted: Redis unavailable", task_name, exc_info=True)


class CeleryCollector(Collector):
    """corridor_celery_queue_length and corridor_celery_task_failures_total, read at each scrape."""

    def collect(self) -> Iterator[Metric]:
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        depth = GaugeMetricFamily(
            "corridor_celery_queue_length", "Tasks waiting in the Celery queue (0 without a broker).", labels=["queue"]
        )
        failures = CounterMetricFamily(
            "corridor_celery_task_failures", "Celery tasks that raised, by task (every worker).", labels=["task"]
        )
        counted: dict[str, int] = dict(_local_failures)
        length = 0
        client = _broker()
        if client is not None:
            try:
                with client:
                    pipe = client.pipeline()
                    for suffix in _PRIORITY_SUFFIXES:
                        pipe.llen(queue + suffix)
                    pipe.hgetall(_failures_key())
                    *lengths, stored = pipe.execute()
                length = sum(int(n) for n in lengths)
                counted = {name.decode(): int(value) for name, value in stored.items()}
            except redis.RedisError:
                logger.warning("Celery queue depth unavailable: Redis did not answer", exc_info=True)
        depth.add_metric([queue], length)
        for task, count in sorted(counted.items()):
            failures.add_metric([task], count)
        yield depth
        yield failures


register_collector("celery", CeleryCollector())


# -- The endpoint ------------------------------------------------------------------------------------------------


def metrics_allowed(request: HttpRequest) -> bool:
    """Under DEBUG, anyone; otherwise the bearer of METRICS_TOKEN or an address in METRICS_ALLOWED_NETWORKS."""
    if settings.DEBUG:
        return True
    token: str = settings.METRICS_TOKEN
    if token and hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.METRICS_ALLOWED_NETWORKS)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        if not settings.METRICS_TOKEN and not settings.METRICS_ALLOWED_NETWORKS:
            return HttpResponseForbidden(
                "metrics: closed (set METRICS_TOKEN or METRICS_ALLOWED_NETWORKS)", content_type="text/plain"
            )
        return HttpResponseForbidden("metrics: not allowed from here", content_type="text/plain")
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
