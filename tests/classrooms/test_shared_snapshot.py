"""The hub's shared snapshot, without a server: read once for a burst of joins, never one that misses an event."""

import asyncio
from typing import Any

import pytest

from classrooms import fanout
from classrooms.fanout import LiveHub


class FakeSocket:
    def __init__(self, user_id: int) -> None:
        self.session_id, self.user_id, self.is_moderator, self.last_heard = 1, user_id, False, 0.0
        self.counts_attendance = True
        self.received: list[str] = []

    async def deliver(self, text: str) -> None:
        self.received.append(text)

    async def force_close(self, code: str, message: str) -> None:
        pass

    def set_participant(self, participant: Any) -> None:
        pass

    async def recheck_role(self) -> bool:
        return True


class Reader:
    """Builds snapshots on demand: each a number, so a test can tell which reading a join got."""

    def __init__(self) -> None:
        self.readings = 0
        self.gate: asyncio.Event | None = None  # when set, a reading waits for it (a slow database)

    async def read(self) -> int:
        self.readings += 1
        number = self.readings
        if self.gate is not None:
            await self.gate.wait()
        return number


async def joined(hub: LiveHub, user_id: int) -> tuple[FakeSocket, int]:
    socket = FakeSocket(user_id)
    await hub.join(socket)
    return socket, hub.snapshot_generation(1)


async def event(hub: LiveHub, text: str = "frame") -> None:
    await hub._dispatch(hub.sessions[1], {"type": "live.event", "text": text})


async def test_a_burst_of_joins_reads_the_snapshot_once() -> None:
    hub, reader = LiveHub(None), Reader()
    reader.gate = asyncio.Event()
    joins = [await joined(hub, n) for n in range(50)]
    waiting = [asyncio.create_task(hub.shared_snapshot(1, since, reader.read)) for _, since in joins]
    await asyncio.sleep(0)
    reader.gate.set()
    assert await asyncio.gather(*waiting) == [1] * 50
    # And the joins that come just after use it too.
    _, since = await joined(hub, 99)
    assert await hub.shared_snapshot(1, since, reader.read) == 1
    assert reader.readings == 1


async def test_an_event_means_a_fresh_reading() -> None:
    hub, reader = LiveHub(None), Reader()
    _, since = await joined(hub, 1)
    assert await hub.shared_snapshot(1, since, reader.read) == 1
    await event(hub)
    _, since = await joined(hub, 2)
    assert await hub.shared_snapshot(1, since, reader.read) == 2


async def test_a_reading_begun_before_an_event_is_not_given_to_a_socket_that_joined_after_it() -> None:
    hub, reader = LiveHub(None), Reader()
    reader.gate = asyncio.Event()
    early, early_since = await joined(hub, 1)
    early_reading = asyncio.create_task(hub.shared_snapshot(1, early_since, reader.read))
    await asyncio.sleep(0)  # reading 1 has begun
    await event(hub, "question.created")  # committed after reading 1 began: reading 1 may not show it
    assert early.received == ["question.created"]  # the early socket gets it as an event

    late, late_since = await joined(hub, 2)  # it will not get that event: it needs a reading that shows it
    late_reading = asyncio.create_task(hub.shared_snapshot(1, late_since, reader.read))
    await asyncio.sleep(0)
    reader.gate.set()
    assert await early_reading == 1
    assert await late_reading == 2
    assert late.received == []
    # Reading 1 was not kept for later joins either; reading 2 was.
    _, since = await joined(hub, 3)
    assert await hub.shared_snapshot(1, since, reader.read) == 2


async def test_a_snapshot_is_shared_for_a_short_while_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanout, "SNAPSHOT_MAX_AGE_SECONDS", 0.05)
    hub, reader = LiveHub(None), Reader()
    _, since = await joined(hub, 1)
    assert await hub.shared_snapshot(1, since, reader.read) == 1
    await asyncio.sleep(0.1)  # a change made without an event (in the admin) shows this soon
    assert await hub.shared_snapshot(1, since, reader.read) == 2


async def test_a_failed_reading_fails_its_join_and_the_others_read_again() -> None:
    hub, reader = LiveHub(None), Reader()
    gate = asyncio.Event()

    async def failing() -> int:
        await gate.wait()
        raise ConnectionError("database gone")

    _, since = await joined(hub, 1)
    first = asyncio.create_task(hub.shared_snapshot(1, since, failing))
    await asyncio.sleep(0)
    second = asyncio.create_task(hub.shared_snapshot(1, since, reader.read))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(ConnectionError):
        await first
    assert await second == 1
