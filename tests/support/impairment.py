"""A userspace UDP impairment relay: one direction of a bad network link, for tests and benchmarks (no netem here).

`ImpairmentRelay` listens on a UDP port and forwards every datagram to one target after a one-way delay with
per-packet random jitter (so packets may be reordered), dropping a share of them, and stopping everything during an
outage. Two relays (A→B and B→A) make an impaired link between two SFU nodes: node A binds its link socket on pa
and advertises the port of the relay that forwards to pa. Packets leave from the relay's own port, so a receiver
must not match by source address (the SFU link matches by SSRC).

Runs on the caller's event loop; `python -m tests.support.impairment` runs one relay in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import time
from dataclasses import dataclass


@dataclass
class RelayCounters:
    packets_in: int = 0
    packets_out: int = 0
    dropped: int = 0  # lost at random or during an outage
    bytes_in: int = 0
    bytes_out: int = 0


class _RelayProtocol(asyncio.DatagramProtocol):
    def __init__(self, relay: ImpairmentRelay) -> None:
        self._relay = relay

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._relay._received(data)

    def error_received(self, exc: Exception) -> None:
        pass  # e.g. ICMP port unreachable from a target that is not listening yet: UDP is allowed to lose it


class ImpairmentRelay:
    """One direction of an impaired link. `await ImpairmentRelay.start(target=..., delay_ms=40, ...)`, then send
    to `relay.address`; change `delay_ms`, `jitter_ms`, `loss_pct` at any time; `outage(s)`, `down()`, `up()`;
    `await relay.close()`. Delays are uniform in [delay_ms - jitter_ms, delay_ms + jitter_ms] (never negative)."""

    def __init__(
        self,
        *,
        target: tuple[str, int],
        delay_ms: float = 0.0,
        jitter_ms: float = 0.0,
        loss_pct: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.target = target
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.loss_pct = loss_pct
        self.counters = RelayCounters()
        self.address: tuple[str, int] = ("", 0)
        self._random = random.Random(seed)
        self._down_until = 0.0  # time.monotonic(); math.inf while down()
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: set[asyncio.TimerHandle] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    async def start(
        cls,
        *,
        target: tuple[str, int],
        listen: tuple[str, int] = ("127.0.0.1", 0),
        delay_ms: float = 0.0,
        jitter_ms: float = 0.0,
        loss_pct: float = 0.0,
        seed: int | None = None,
    ) -> ImpairmentRelay:
        relay = cls(target=target, delay_ms=delay_ms, jitter_ms=jitter_ms, loss_pct=loss_pct, seed=seed)
        relay._loop = asyncio.get_running_loop()
        transport, _ = await relay._loop.create_datagram_endpoint(lambda: _RelayProtocol(relay), local_addr=listen)
        relay._transport = transport
        host, port = transport.get_extra_info("sockname")[:2]
        relay.address = (host, port)
        return relay

    # -- control ------------------------------------------------------------------------------------------------

    def outage(self, seconds: float) -> None:
        """Drop everything for `seconds` from now (packets already in flight still arrive)."""
        self._down_until = max(self._down_until, time.monotonic() + seconds)

    def down(self) -> None:
        self._down_until = float("inf")

    def up(self) -> None:
        self._down_until = 0.0

    @property
    def is_down(self) -> bool:
        return time.monotonic() < self._down_until

    async def close(self) -> None:
        for handle in self._pending:
            handle.cancel()
        self._pending.clear()
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # -- forwarding ---------------------------------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        counters = self.counters
        counters.packets_in += 1
        counters.bytes_in += len(data)
        if self.is_down or (self.loss_pct > 0 and self._random.random() * 100 < self.loss_pct):
            counters.dropped += 1
            return
        delay = self.delay_ms
        if self.jitter_ms > 0:
            delay += self._random.uniform(-self.jitter_ms, self.jitter_ms)
        if delay <= 0:
            self._send(data, None)
            return
        assert self._loop is not None
        handle: asyncio.TimerHandle | None = None

        def deliver() -> None:
            assert handle is not None
            self._send(data, handle)

        handle = self._loop.call_later(delay / 1000, deliver)
        self._pending.add(handle)

    def _send(self, data: bytes, handle: asyncio.TimerHandle | None) -> None:
        if handle is not None:
            self._pending.discard(handle)
        if self._transport is None:
            return
        self._transport.sendto(data, self.target)
        self.counters.packets_out += 1
        self.counters.bytes_out += len(data)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


async def _main(arguments: argparse.Namespace) -> None:
    relay = await ImpairmentRelay.start(
        target=arguments.target,
        listen=arguments.listen,
        delay_ms=arguments.delay_ms,
        jitter_ms=arguments.jitter_ms,
        loss_pct=arguments.loss_pct,
        seed=arguments.seed,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    # SIGUSR1: an outage of --outage-s seconds from now (a benchmark's "cut the link").
    loop.add_signal_handler(signal.SIGUSR1, lambda: relay.outage(arguments.outage_s))
    print(f"relay {relay.address[0]}:{relay.address[1]} -> {arguments.target[0]}:{arguments.target[1]}", flush=True)
    await stop.wait()
    await relay.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="One direction of an impaired UDP link.")
    parser.add_argument("--listen", type=_address, default=("127.0.0.1", 0), help="host:port to listen on")
    parser.add_argument("--target", type=_address, required=True, help="host:port to forward to")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--loss-pct", type=float, default=0.0)
    parser.add_argument("--outage-s", type=float, default=3.0, help="length of the outage SIGUSR1 starts")
    parser.add_argument("--seed", type=int, default=None)
    asyncio.run(_main(parser.parse_args()))
