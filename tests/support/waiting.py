"""The one way a test waits for something: poll a predicate until it holds, or fail saying what it waited for."""

from __future__ import annotations

import asyncio
import inspect
import time
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

Message = str | Callable[[], str]


def _timed_out(message: Message, timeout: float) -> AssertionError:
    what = message() if callable(message) else message
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def wait_until(
    predicate: Callable[[], T], *, timeout: float = 10, interval: float = 0.05, message: Message = "the condition"
) -> T:
    """Call `predicate` every `interval` seconds until it returns something truthy, and return that.

    After `timeout` seconds, AssertionError naming `message` (a callable is called then, to say what was seen).
    """
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        if time.monotonic() > deadline:
            raise _timed_out(message, timeout)
        time.sleep(interval)
    return found


@overload
async def wait_until_async(
    predicate: Callable[[], Awaitable[T]], *, timeout: float = ..., interval: float = ..., message: Message = ...
) -> T: ...


@overload
async def wait_until_async(
    predicate: Callable[[], T], *, timeout: float = ..., interval: float = ..., message: Message = ...
) -> T: ...


async def wait_until_async(
    predicate: Callable[[], Any],
    *,
    timeout: float = 10,
    interval: float = 0.05,
    message: Message = "the condition",
) -> Any:
    """`wait_until` without blocking the event loop; `predicate` may be a coroutine function (or return an awaitable,
    as `sync_to_async(predicate)` does, for a predicate that reads the database)."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if time.monotonic() > deadline:
            raise _timed_out(message, timeout)
        await asyncio.sleep(interval)


def responds(url: str) -> bool:
    """Whether `url` answers 200 now (a server that is starting refuses the connection): for `wait_until`."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
