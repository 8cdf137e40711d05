"""Write batching for the live socket: many sockets' small writes become one transaction.

All of a server process's database work for its sockets runs on one thread (Channels'
`database_sync_to_async`), so a write per vote caps a process at a few hundred votes a
second and makes everything else (joins, questions) wait behind them. The batcher hands
each socket a future and writes whatever has gathered in one call; while one batch is
being written the next one gathers, so batches grow with the load and stay at one under
a light load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Request = TypeVar("Request")
Outcome = TypeVar("Outcome")
# How long a first write waits for company: short enough to be unnoticeable to a person.
GATHER_SECONDS = 0.005


class WriteBatcher(Generic[Request, Outcome]):
    """`submit()` returns the outcome of one request; `apply(session_id, requests)` writes a batch
    and returns one outcome per request, in order: an exception instance in that list is raised
    to its own caller only."""

    def __init__(self, apply: Callable[[int, list[Request]], Awaitable[list[Outcome | Exception]]]) -> None:
        self.apply = apply
        self.pending: dict[int, list[tuple[Request, asyncio.Future[Outcome]]]] = {}
        self.worker: asyncio.Task[None] | None = None

    async def submit(self, session_id: int, request: Request) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.pending.setdefault(session_id, []).append((request, future))
        if self.worker is None or self.worker.done():
            self.worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.pending:
            await asyncio.sleep(GATHER_SECONDS)
            batch, self.pending = self.pending, {}
            for session_id, items in batch.items():
                await self._write(session_id, items)

    async def _write(self, session_id: int, items: list[tuple[Request, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await self.apply(session_id, [request for request, _future in items])
        except Exception as error:
            logger.exception("batched write failed for session %s", session_id)
            for _request, future in items:
                if not future.done():
                    future.set_exception(error)
            return
        for (_request, future), outcome in zip(items, outcomes, strict=True):
            if future.done():  # its socket went away meanwhile
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
