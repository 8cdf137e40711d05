"""The hub's fan-out loop, without a server: one failing socket must not cost the others an event, and a layer
outage must not cost any socket an event."""

from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer

from classrooms import fanout as fanout_module
from classrooms.fanout import LiveHub, LiveHubHooks, _SessionFanout, session_group
from tests.support.waiting import wait_until_async


class FakeSocket:
    def __init__(self, user_id: int, *, gone: bool = False) -> None:
        self.session_id, self.user_id, self.is_moderator, self.last_heard = 1, user_id, False, 0.0
        self.gone = gone
        self.received: list[str] = []

    async def deliver(self, text: str) -> None:
        if self.gone:  # as daphne's protocol does once the client has gone, before the disconnect is handled
            raise ConnectionError("Attempt to send on a closed protocol")
        self.received.append(text)

    async def force_close(self, code: str, message: str) -> None:
        pass

    def set_participant(self, participant: Any) -> None:
        pass

    async def recheck_role(self) -> bool:
        return True


async def test_a_socket_that_fails_to_send_does_not_stop_the_fan_out() -> None:
    fanout = _SessionFanout()
    sockets: list[Any] = [FakeSocket(n) for n in range(5)]
    fanout.sockets.update(sockets)
    first_tried = next(iter(fanout.sockets))  # the first the hub will try
    assert isinstance(first_tried, FakeSocket)
    first_tried.gone = True
    await LiveHub(None)._dispatch(fanout, {"type": "live.event", "text": "frame"})
    assert [s.received for s in sockets if not s.gone] == [["frame"]] * 4


class FlakyLayer(InMemoryChannelLayer):
    """The in-memory layer, with an outage switch: while `down`, sending raises (and the message is lost)."""

    down = False

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        await super().send(channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        await super().group_send(group, message)

    async def group_add(self, group: str, channel: str) -> None:
        if self.down:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        await super().group_add(group, channel)


async def test_after_a_layer_outage_the_hub_sends_its_sockets_what_they_missed(monkeypatch: Any) -> None:
    monkeypatch.setattr(fanout_module, "LAYER_PROBE_SECONDS", 0.05)
    monkeypatch.setattr(fanout_module, "LAYER_PROBE_TIMEOUT_SECONDS", 0.2)
    asked: list[tuple[int, int]] = []

    async def read_missed(session_id: int, after_id: int) -> tuple[str, str]:
        asked.append((session_id, after_id))
        return "moderators' synced frame", "everyone's synced frame"

    async def nothing(*_args: Any) -> Any:
        return {}

    hooks = LiveHubHooks(
        announce_votes=nothing,
        announce_attendance=nothing,
        report_presence=nothing,
        read_roles=nothing,
        apply_votes=nothing,
        start_presence=nothing,
        read_missed=read_missed,
    )
    layer = FlakyLayer()
    hub = LiveHub(layer, hooks=hooks)
    trainee, instructor = FakeSocket(1), FakeSocket(2)
    instructor.is_moderator = True
    for socket in (trainee, instructor):
        await hub.join(socket)  # type: ignore[arg-type]
    try:
        await layer.group_send(session_group(1), {"type": "live.event", "event_id": 7, "text": "event 7"})
        await wait_until_async(lambda: trainee.received == ["event 7"], timeout=2, message="event 7")

        layer.down = True
        with pytest.raises(ConnectionError):  # event 8 is lost, as a publish to a Redis that is away
            await layer.group_send(session_group(1), {"type": "live.event", "event_id": 8, "text": "event 8"})
        await wait_until_async(lambda: hub.layer_down, timeout=2, message="the hub to notice the outage")
        # A socket of another session cannot subscribe meanwhile: refused (its client reconnects), not half joined.
        other = FakeSocket(3)
        other.session_id = 2
        with pytest.raises(ConnectionError):
            await hub.join(other)  # type: ignore[arg-type]
        assert 2 not in hub.sessions
        layer.down = False

        await wait_until_async(lambda: len(trainee.received) == 2, timeout=2, message="the catch-up")
        assert trainee.received == ["event 7", "everyone's synced frame"]
        assert instructor.received == ["event 7", "moderators' synced frame"]
        assert asked == [(1, 7)]  # from the last event delivered before the outage
        await hub.join(other)  # type: ignore[arg-type]
        await layer.group_send(session_group(2), {"type": "live.event", "event_id": 9, "text": "event 9"})
        await wait_until_async(lambda: other.received == ["event 9"], timeout=2, message="event 9")
        await hub.leave(other)  # type: ignore[arg-type]
    finally:
        for socket in (trainee, instructor):
            await hub.leave(socket)  # type: ignore[arg-type]
