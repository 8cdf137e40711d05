"""The hub's fan-out loop, without a server: one failing socket must not cost the others an event."""

from typing import Any

from classrooms.fanout import LiveHub, _SessionFanout


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
