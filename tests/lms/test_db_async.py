"""Socket joins reach the database on a pool of threads on PostgreSQL (their round trips overlap), on Channels'
one thread elsewhere (SQLite takes one writer at a time)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.db import connection

from lms.accounts.models import User
from lms.db_async import database_parallel, parallel_enabled

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def whoami() -> tuple[str, int]:
    return threading.current_thread().name, User.objects.count()


async def test_calls_overlap_on_the_pool_on_postgresql_and_queue_on_one_thread_elsewhere() -> None:
    call = database_parallel(whoami)
    results = await asyncio.gather(*(call() for _ in range(16)))
    names = {name for name, _count in results}
    if connection.vendor == "postgresql":
        assert parallel_enabled()
        assert all(name.startswith("db-parallel") for name in names)
    else:
        assert not parallel_enabled()
        assert len(names) == 1 and not next(iter(names)).startswith("db-parallel")


async def test_the_overlap_is_real_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the database thread pool is for PostgreSQL: DATABASE_URL is not PostgreSQL")
    barrier = threading.Barrier(4, timeout=10)

    def meet(_: Any = None) -> int:
        barrier.wait()  # four calls at once, or this times out: they cannot be queued on one thread
        return User.objects.count()

    call = database_parallel(meet)
    assert await asyncio.gather(*(call() for _ in range(4))) == [0, 0, 0, 0]
