"""/healthz and /readyz, for load balancers, orchestrators and people.

`/healthz`: the process answers (nothing else is touched): a failing one is restarted.
`/readyz`: what a request needs is reachable: the database, Redis when REDIS_URL is set, and the file storage
(local MEDIA_ROOT writable, or the S3 bucket answering). 200 with each check "ok", or 503 naming each one that
failed and why: a process that is not ready is taken out of the balancer, not restarted.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from lms.regions import REGIONS, storage_for_region

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_redis() -> None:
    timeout = settings.READYZ_TIMEOUT
    with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout) as client:
        client.ping()


def _check_one_storage(storage: Storage) -> None:
    bucket = getattr(storage, "bucket_name", None)
    if bucket:  # S3: one HEAD request on the bucket (a missing bucket or bad keys raise, as an unreachable endpoint)
        getattr(storage, "connection").meta.client.head_bucket(Bucket=bucket)  # noqa: B009 (S3Storage)
        return
    location = getattr(storage, "location", None)
    if location:  # local files: the folder must exist (or be creatable) and be writable
        os.makedirs(location, exist_ok=True)
        if not os.access(location, os.W_OK | os.X_OK):
            raise OSError(f"{location} is not writable")
        return
    storage.exists("readyz-probe")  # another remote storage: any answer will do


def check_storage() -> None:
    """The default storage and each region's (lms/regions.py): their buckets answer, or their folders are writable."""
    _check_one_storage(default_storage)
    for region in REGIONS:
        _check_one_storage(storage_for_region(region))


def readiness_checks() -> dict[str, Callable[[], None]]:
    checks: dict[str, Callable[[], None]] = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = check_redis
    checks["storage"] = check_storage
    return checks


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    failed: dict[str, str] = {}
    timings: dict[str, float] = {}
    for name, check in readiness_checks().items():
        started = time.perf_counter()
        try:
            check()
        except Exception as error:  # any failure of a dependency is an answer here, not a 500
            failed[name] = f"{type(error).__name__}: {error}"[:300]
            logger.warning("readyz: %s is not reachable: %s", name, failed[name])
        else:
            results[name] = "ok"
        timings[name] = round((time.perf_counter() - started) * 1000, 1)
    body = {
        "status": "fail" if failed else "ok",
        "checks": {**results, **failed},
        "failed": sorted(failed),
        "ms": timings,
    }
    return JsonResponse(body, status=503 if failed else 200)
