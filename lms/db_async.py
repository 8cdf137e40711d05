"""Database calls from async code (socket joins) that overlap instead of queueing.

Channels' `database_sync_to_async` runs every call on one shared thread (asgiref's thread-sensitive mode): under a
join storm (2,000 trainees in the minute a class starts) each join's few round trips wait behind everyone else's,
and the server sits idle while PostgreSQL answers one query at a time. On PostgreSQL, with its connection pool
(DATABASE_POOL), `database_parallel` runs the call on a small pool of threads instead, each with a connection of its
own, so the joins in flight overlap their round trips. Elsewhere (SQLite: one writer at a time) it is Channels' own.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from channels.auth import AuthMiddleware, get_user
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_ASYNC_THREADS, thread_name_prefix="db-parallel")


class _ParallelDatabaseSyncToAsync(SyncToAsync):
    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        close_old_connections()  # each call takes a connection from the pool and gives it back
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()


def parallel_enabled() -> bool:
    engine = settings.DATABASES["default"]["ENGINE"]
    return engine == "django.db.backends.postgresql" and settings.DATABASE_ASYNC_THREADS > 1


def database_parallel(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`func` (sync, using the ORM) as a coroutine function that runs on the database thread pool when that pays."""
    if not parallel_enabled():
        return database_sync_to_async(func)
    return _ParallelDatabaseSyncToAsync(func, thread_sensitive=False, executor=_executor())


_get_user_parallel = database_parallel(get_user.func)  # the undecorated function channels wraps


class ParallelAuthMiddleware(AuthMiddleware):
    """Channels' session auth, its user lookup on the database thread pool (the first round trip of every join)."""

    async def resolve_scope(self, scope: dict[str, Any]) -> None:
        scope["user"]._wrapped = await _get_user_parallel(scope)
