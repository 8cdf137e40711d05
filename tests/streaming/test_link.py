"""The SFU link between nodes (streaming/sfu/link.py) and the impairment relay the tests run it through.

Synthetic RTP streams here (numbered payloads, so a test can tell exactly what arrived); the link between two real
Sfus with aiortc media is in test_sfu_relay.py.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiortc.rtp import RtcpPacket, RtcpRtpfbPacket, RtpPacket, is_rtcp

from streaming.sfu.link import LinkConfig, LinkEndpoint, LinkReceiver, LinkSender
from tests.support.impairment import ImpairmentRelay
from tests.support.waiting import wait_until_async

LOCALHOST = "127.0.0.1"


# -- the impairment relay -----------------------------------------------------------------------------------------


class _Sink(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: list[tuple[float, bytes]] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append((time.monotonic(), data))


async def _udp_sink() -> tuple[asyncio.DatagramTransport, _Sink]:
    transport, sink = await asyncio.get_running_loop().create_datagram_endpoint(_Sink, local_addr=(LOCALHOST, 0))
    return transport, sink


@pytest.mark.serial
async def test_relay_delays_jitters_drops_and_cuts() -> None:
    target, sink = await _udp_sink()
    relay = await ImpairmentRelay.start(
        target=target.get_extra_info("sockname")[:2], delay_ms=40, jitter_ms=10, loss_pct=10, seed=7
    )
    sender, _ = await _udp_sink()
    sent_at: dict[int, float] = {}
    for index in range(400):
        sent_at[index] = time.monotonic()
        sender.sendto(struct.pack("!I", index), relay.address)
        await asyncio.sleep(0.002)
    await asyncio.sleep(0.2)

    delays = [(at - sent_at[struct.unpack("!I", data)[0]]) * 1000 for at, data in sink.received]
    arrived = [struct.unpack("!I", data)[0] for _, data in sink.received]
    assert 320 <= len(arrived) <= 390  # about 10 % lost
    assert relay.counters.packets_in == 400
    assert relay.counters.dropped == 400 - len(arrived) == 400 - relay.counters.packets_out
    assert min(delays) >= 29  # 40 ms - 10 ms jitter (and never early)
    assert 36 <= sorted(delays)[len(delays) // 2] <= 60  # centred on the one-way delay (a busy loop adds a little)
    assert max(delays) - min(delays) >= 12  # jitter spreads the delays...
    assert arrived != sorted(arrived)  # ...enough to reorder packets 2 ms apart

    sink.received.clear()
    relay.loss_pct = 0
    relay.outage(0.3)
    sender.sendto(b"lost", relay.address)
    await asyncio.sleep(0.4)
    sender.sendto(b"after", relay.address)
    await wait_until_async(lambda: sink.received, timeout=2, message="the packet after the outage")
    assert [data for _, data in sink.received] == [b"after"]
    relay.down()
    sender.sendto(b"down", relay.address)
    await asyncio.sleep(0.1)
    relay.up()
    sender.sendto(b"up", relay.address)
    await asyncio.sleep(0.1)
    assert [data for _, data in sink.received] == [b"after", b"up"]
    await relay.close()
    sender.close()
    target.close()


# -- the link -----------------------------------------------------------------------------------------------------


@dataclass
class ImpairedLink:
    """Two link endpoints joined by an impairment relay each way; `a_to_b` is the relay A sends through."""

    a: LinkEndpoint
    b: LinkEndpoint
    a_to_b: ImpairmentRelay
    b_to_a: ImpairmentRelay

    @property
    def b_seen_from_a(self) -> tuple[str, int]:
        return self.a_to_b.address  # B's advertised address: the relay that forwards to it

    @property
    def a_seen_from_b(self) -> tuple[str, int]:
        return self.b_to_a.address


async def open_impaired_link(
    *, delay_ms: float = 0, jitter_ms: float = 0, loss_pct: float = 0, config: LinkConfig | None = None
) -> ImpairedLink:
    a = await LinkEndpoint.open(LOCALHOST, config=config)
    b = await LinkEndpoint.open(LOCALHOST, config=config)
    a_to_b = await ImpairmentRelay.start(
        target=b.address, delay_ms=delay_ms, jitter_ms=jitter_ms, loss_pct=loss_pct, seed=1
    )
    b_to_a = await ImpairmentRelay.start(
        target=a.address, delay_ms=delay_ms, jitter_ms=jitter_ms, loss_pct=loss_pct, seed=2
    )
    return ImpairedLink(a, b, a_to_b, b_to_a)


@pytest.fixture
async def links() -> AsyncIterator[list[ImpairedLink]]:
    made: list[ImpairedLink] = []
    yield made
    for link in made:
        for closable in (link.a, link.b, link.a_to_b, link.b_to_a):
            await closable.close()


@dataclass
class Received:
    packets: list[RtpPacket] = field(default_factory=list)

    async def on_packet(self, packet: RtpPacket) -> None:
        self.packets.append(packet)

    @property
    def numbers(self) -> list[int]:
        return [struct.unpack("!I", p.payload[:4])[0] for p in self.packets]


def numbered(index: int, *, ssrc: int = 0x1234, seq_base: int = 65000) -> RtpPacket:
    """The origin's packet `index`: its payload says which one it is (sequence numbers wrap on purpose)."""
    return RtpPacket(
        payload_type=96,
        marker=index % 3 == 2,
        sequence_number=(seq_base + index) & 0xFFFF,
        timestamp=(index // 3 * 3000) & 0xFFFFFFFF,
        ssrc=ssrc,
        payload=struct.pack("!I", index) + bytes(400),
    )


def open_pair(
    link: ImpairedLink, received: Received, *, ssrc: int = 0xABCD0001, kind: str = "video"
) -> tuple[LinkSender, LinkReceiver, list[float]]:
    keyframe_requests: list[float] = []
    sender = link.a.open_sender(
        peer=link.b_seen_from_a,
        ssrc=ssrc,
        kind=kind,
        clock_rate=90000,
        on_keyframe_request=lambda: keyframe_requests.append(time.monotonic()),
    )
    receiver = link.b.open_receiver(
        peer=link.a_seen_from_b, ssrc=ssrc, kind=kind, clock_rate=90000, on_packet=received.on_packet
    )
    return sender, receiver, keyframe_requests


async def send_stream(sender: LinkSender, count: int, *, start: int = 0, interval: float = 0.005) -> None:
    for index in range(start, start + count):
        sender.send(numbered(index))
        await asyncio.sleep(interval)


@pytest.mark.serial
async def test_clean_link_carries_packets_unchanged_but_renumbered(links: list[ImpairedLink]) -> None:
    link = await open_impaired_link()
    links.append(link)
    received = Received()
    sender, _, _ = open_pair(link, received)
    await send_stream(sender, 100, interval=0.002)
    await wait_until_async(lambda: len(received.packets) == 100, timeout=3, message="100 packets")
    assert received.numbers == list(range(100))
    first = received.packets[0]
    assert first.ssrc == 0xABCD0001 and first.payload_type == 96
    assert [p.marker for p in received.packets[:3]] == [0, 0, 1]
    assert [p.timestamp for p in received.packets[:4]] == [0, 0, 0, 3000]
    steps = {(b.sequence_number - a.sequence_number) & 0xFFFF for a, b in itertools.pairwise(received.packets)}
    assert steps == {1}  # the link's own numbering, contiguous across the origin's wraparound


@pytest.mark.serial
async def test_losses_are_repaired_and_reported(links: list[ImpairedLink]) -> None:
    link = await open_impaired_link(delay_ms=40, jitter_ms=10, loss_pct=5)
    links.append(link)
    received = Received()
    sender, receiver, keyframe_requests = open_pair(link, received)
    await send_stream(sender, 600)  # 3 s at 200 packets per second
    await wait_until_async(lambda: len(set(received.numbers)) >= 600, timeout=5, message="all 600 packets")
    await asyncio.sleep(0.6)  # let another round of reports cross

    assert sorted(received.numbers) == list(range(600))  # every loss repaired, no duplicate handed on
    assert link.a_to_b.counters.dropped >= 10
    assert receiver.repaired >= 10
    assert receiver.repaired + receiver.packets == 600  # what did not arrive first time came by retransmission
    assert receiver.lost == 0
    [a_stats] = link.a.stats()
    [b_stats] = link.b.stats()
    assert a_stats["streams_out"] == 1 and b_stats["streams_in"] == 1
    # Repairs came by retransmission or, for a frame missing one packet, rebuilt from its parity.
    assert receiver.recovered > 0 and b_stats["recovered"] == receiver.recovered
    assert a_stats["retransmissions"] + receiver.recovered >= receiver.repaired
    assert a_stats["parities_sent"] > 0
    assert b_stats["nacks_sent"] >= a_stats["nacks_received"] > 0
    assert a_stats["rtt_ms"] is not None and 60 <= a_stats["rtt_ms"] <= 140
    assert a_stats["loss_pct"] is not None and 1.5 <= a_stats["loss_pct"] <= 10
    assert a_stats["jitter_ms"] is not None and a_stats["jitter_ms"] > 0.5
    # ~160 packets of 420 bytes per second until the stream stopped, averaged over the last 2 s.
    assert a_stats["send_kbps"] > 200 and b_stats["receive_kbps"] > 200
    assert b_stats["receive_loss_pct"] is not None and 1.5 <= b_stats["receive_loss_pct"] <= 10
    assert not keyframe_requests  # nothing was given up on


@pytest.mark.serial
async def test_a_lost_tail_is_repaired_once_the_stream_goes_quiet(links: list[ImpairedLink]) -> None:
    link = await open_impaired_link(delay_ms=20)
    links.append(link)
    received = Received()
    sender, receiver, keyframe_requests = open_pair(link, received)
    await send_stream(sender, 50)
    link.a_to_b.down()
    await send_stream(sender, 3, start=50)  # the last three packets are lost, and nothing after them shows the gap
    link.a_to_b.up()
    await wait_until_async(lambda: len(set(received.numbers)) == 53, timeout=3, message="the lost tail")
    assert sorted(received.numbers) == list(range(53))
    assert receiver.repaired == 3 and receiver.lost == 0
    assert not keyframe_requests


@pytest.mark.serial
async def test_outage_asks_a_keyframe_once_and_the_stream_goes_on(links: list[ImpairedLink]) -> None:
    link = await open_impaired_link(delay_ms=20)
    links.append(link)
    received = Received()
    sender, _, keyframe_requests = open_pair(link, received)
    await send_stream(sender, 100)
    link.a_to_b.outage(1.5)
    link.b_to_a.outage(1.5)
    await send_stream(sender, 300, start=100)  # ~1.5 s, lost in the outage
    await send_stream(sender, 100, start=400)
    await wait_until_async(lambda: 499 in received.numbers, timeout=3, message="packets after the outage")
    await asyncio.sleep(0.3)
    assert keyframe_requests, "the far side asks for a keyframe once media flows again"
    assert len(keyframe_requests) <= 2
    assert set(range(420, 500)) <= set(received.numbers)
    # Packets lost in the outage are not NACKed (too old): the link does not flood the origin.
    [a_stats] = link.a.stats()
    assert a_stats["nacks_received"] < 50


@pytest.mark.serial
async def test_a_restarting_publisher_is_a_new_stream_on_the_far_side(links: list[ImpairedLink]) -> None:
    link = await open_impaired_link(delay_ms=5)
    links.append(link)
    received = Received()
    sender, receiver, keyframe_requests = open_pair(link, received)
    for index in range(50):
        sender.send(numbered(index))
        await asyncio.sleep(0.002)
    for index in range(50, 100):  # the publisher restarted: a new SSRC and numbering of its own
        sender.send(numbered(index, ssrc=0x9999, seq_base=123))
        await asyncio.sleep(0.002)
    await wait_until_async(lambda: len(received.packets) == 100, timeout=3, message="100 packets")
    await asyncio.sleep(1.2)  # a few reports
    assert received.numbers == list(range(100))
    # The Sfu sees a new stream (its legs resume at a keyframe), asked across once; nothing is NACKed or lost.
    assert {p.ssrc for p in received.packets[:50]} == {receiver.ssrc}
    assert {p.ssrc for p in received.packets[50:]} == {(receiver.ssrc + 1) & 0xFFFFFFFF}
    assert len(keyframe_requests) == 1
    [a_stats] = link.a.stats()
    assert a_stats["nacks_received"] == 0 and a_stats["loss_pct"] == 0


@pytest.mark.serial
async def test_keyframe_requests_cross_at_most_once_per_interval(links: list[ImpairedLink]) -> None:
    link = await open_impaired_link(delay_ms=5)
    links.append(link)
    _, receiver, keyframe_requests = open_pair(link, Received())
    started = time.monotonic()
    while time.monotonic() - started < 2.2:
        receiver.request_keyframe()
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert 2 <= len(keyframe_requests) <= 3  # at 0, 1 and 2 s
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(keyframe_requests))


@pytest.mark.serial
async def test_duplicates_are_dropped_and_garbage_is_counted(links: list[ImpairedLink]) -> None:
    link = await open_impaired_link()
    links.append(link)
    received = Received()
    sender, receiver, _ = open_pair(link, received)
    for index in range(20):
        sender.send(numbered(index))
        sender.send(numbered(index))  # e.g. a publisher's retransmission arriving after all
    rogue, _ = await _udp_sink()
    garbage = [b"", b"\x00", b"\x80", bytes(11), b"\x80\xc9\x00\xff" + bytes(8), random.Random(3).randbytes(300)]
    stranger = numbered(5, ssrc=0x77777777)
    for data in [*garbage, stranger.serialize()]:
        rogue.sendto(data, link.b.address)
    await wait_until_async(lambda: len(received.packets) >= 20, timeout=2, message="20 packets")
    await asyncio.sleep(0.1)
    assert received.numbers == list(range(20))
    assert receiver.duplicates == 20
    assert link.b.malformed >= 4
    assert link.b.unknown >= 1
    # The endpoint still works after all that.
    sender.send(numbered(20))
    await wait_until_async(lambda: len(received.packets) == 21, timeout=2, message="the next packet")
    rogue.close()


@pytest.mark.serial
async def test_closing_leaves_nothing_behind() -> None:
    tasks_before = len(asyncio.all_tasks())
    for _ in range(20):
        link = await open_impaired_link(delay_ms=5, loss_pct=20)
        received = Received()
        sender, receiver, _ = open_pair(link, received)
        await send_stream(sender, 20, interval=0.001)
        assert len(asyncio.all_tasks()) == tasks_before + 4  # each endpoint: its timers and its forwarding
        sender.close()
        receiver.close()
        assert link.a.stats() == [] and link.b.stats() == []
        for closable in (link.a, link.b, link.a_to_b, link.b_to_a):
            await closable.close()
    await asyncio.sleep(0.05)
    assert len(asyncio.all_tasks()) == tasks_before


async def test_history_and_missing_sets_are_bounded(links: list[ImpairedLink]) -> None:
    link = await open_impaired_link(config=LinkConfig(nack_history=64))
    links.append(link)
    received = Received()
    sender, receiver, _ = open_pair(link, received)
    for index in range(1000):
        sender.send(numbered(index))
    assert len(sender._history) == 64
    # A receiver facing a pathological pattern (every other packet lost) keeps a bounded set of missing packets.
    for index in range(0, 20000, 2):
        receiver._accept(
            numbered(index, seq_base=0), time.monotonic(), link.b._peer(receiver.peer), retransmission=False
        )
    assert len(receiver._missing) <= 2048
    with pytest.raises(ValueError, match="numeric IP"):
        link.a.open_receiver(
            peer=("sfu-chongqing", 7000), ssrc=1, kind="audio", clock_rate=48000, on_packet=Received().on_packet
        )
    with pytest.raises(ValueError, match="already in use"):
        link.a.open_sender(
            peer=link.b_seen_from_a, ssrc=sender.ssrc, kind="video", clock_rate=90000, on_keyframe_request=lambda: None
        )


@pytest.mark.serial
async def test_a_busy_receiver_does_not_nack_packets_that_were_only_queued() -> None:
    """A node fanning out to many subscribers reads its link socket late: what waited there is late, not lost.

    The origin's packets (one reordered by the link, one never sent) queue in the receiver's socket while its loop
    is blocked; each packet then costs the receiver 3 ms (a fan-out to ~50 legs). Only the packet that never came
    may be NACKed: NACKing the ones still queued would make the origin resend them on top of the media.
    """
    receiver_end = await LinkEndpoint.open(LOCALHOST)
    origin, origin_sink = await _udp_sink()  # stands in for the origin node: it sees our NACKs
    handled: list[int] = []

    async def fan_out(packet: RtpPacket) -> None:
        time.sleep(0.003)  # the fan-out blocks the loop, as aiortc's sends to 50 subscribers do
        handled.append(struct.unpack("!I", packet.payload[:4])[0])

    receiver = receiver_end.open_receiver(
        peer=origin.get_extra_info("sockname")[:2], ssrc=0x5EC0, kind="video", clock_rate=90000, on_packet=fan_out
    )
    order = [index for index in range(120) if index not in (10, 60)]
    order.insert(40, 10)  # reordered: arrives 30 packets late, but before the loop reads any of them
    # 60 is never sent: lost.
    for index in order:
        packet = numbered(index, seq_base=100)
        packet.ssrc = 0x5EC0
        packet.timestamp = 0  # one large frame: a keyframe's burst
        origin.sendto(packet.serialize(), receiver_end.address)  # sent at once: the loop does not run
    time.sleep(0.2)  # the receiver's loop is busy while all of it queues

    await wait_until_async(lambda: len(handled) == 119, timeout=5, message="every packet sent handed on")
    await wait_until_async(lambda: receiver.lost == 1, timeout=3, message="the lost packet given up on")
    [stats] = receiver_end.stats()
    nacked: set[int] = set()
    for _, data in origin_sink.received:
        for rtcp in RtcpPacket.parse(data):
            if isinstance(rtcp, RtcpRtpfbPacket):
                nacked.update((seq - 100) & 0xFFFF for seq in rtcp.lost)
    assert nacked == {60}  # asked again (until given up on), the one that never came; nothing that only queued
    assert stats["duplicates"] == 0 and receiver.packets == 119
    await receiver_end.close()
    origin.close()


@pytest.mark.serial
async def test_retransmissions_take_at_most_half_the_media() -> None:
    """A receiver that NACKs everything (over and over) gets repairs within a share of the media, not a flood."""
    origin = await LinkEndpoint.open(LOCALHOST)
    far, far_sink = await _udp_sink()  # stands in for the far node
    sender = origin.open_sender(
        peer=far.get_extra_info("sockname")[:2],
        ssrc=0xF100D,
        kind="video",
        clock_rate=90000,
        on_keyframe_request=lambda: None,
    )
    await send_stream(sender, 200, interval=0.001)
    await wait_until_async(lambda: len(far_sink.received) >= 200, timeout=3, message="200 packets")
    media_bytes = sum(len(data) for _, data in far_sink.received)
    first = RtpPacket.parse(far_sink.received[0][1]).sequence_number
    far_sink.received.clear()
    every = [(first + index) & 0xFFFF for index in range(200)]
    for _ in range(3):
        for start in range(0, 200, 50):
            nack = RtcpRtpfbPacket(fmt=1, ssrc=0x1, media_ssrc=sender.ssrc, lost=every[start : start + 50])
            far.sendto(bytes(nack), origin.address)
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    resent = [d for _, d in far_sink.received if not is_rtcp(d) and RtpPacket.parse(d).ssrc == sender.rtx_ssrc]
    [stats] = origin.stats()
    assert stats["nacks_received"] == 600
    assert 0.4 * media_bytes <= sum(map(len, resent)) <= 0.5 * media_bytes  # half the media: repaired in part
    assert sender.rtx_skipped == 600 - len(resent)
    await origin.close()
    far.close()


def _nacks(sink: _Sink, seq_base: int) -> list[tuple[float, int]]:
    """(arrival, packet index) of every sequence number NACKed to the stand-in origin, in order."""
    asked: list[tuple[float, int]] = []
    for at, data in sink.received:
        for rtcp in RtcpPacket.parse(data):
            if isinstance(rtcp, RtcpRtpfbPacket):
                asked.extend((at, (seq - seq_base) & 0xFFFF) for seq in rtcp.lost)
    return asked


async def _far_end(
    config: LinkConfig | None = None,
) -> tuple[LinkEndpoint, LinkReceiver, asyncio.DatagramTransport, _Sink, Received]:
    """A receiving endpoint and, standing in for the origin node, a UDP socket that sees its NACKs."""
    endpoint = await LinkEndpoint.open(LOCALHOST, config=config)
    origin, origin_sink = await _udp_sink()
    received = Received()
    receiver = endpoint.open_receiver(
        peer=origin.get_extra_info("sockname")[:2], ssrc=0x5EC0, kind="video", clock_rate=90000,
        on_packet=received.on_packet,
    )  # fmt: skip
    return endpoint, receiver, origin, origin_sink, received


def _send_raw(origin: asyncio.DatagramTransport, endpoint: LinkEndpoint, index: int) -> None:
    packet = numbered(index, seq_base=100)
    packet.ssrc = 0x5EC0
    packet.timestamp = 0  # one frame: no interarrival jitter from the timestamps
    origin.sendto(packet.serialize(), endpoint.address)


@pytest.mark.serial
async def test_a_gap_is_nacked_at_its_own_due_time_not_on_the_next_tick() -> None:
    """With nothing reordered, a loss is asked for a few milliseconds after it shows, however slow the periodic
    timer (here every half second, which used to decide when NACKs went out)."""
    endpoint, receiver, origin, origin_sink, received = await _far_end(LinkConfig(tick=0.5))
    for index in range(5):
        _send_raw(origin, endpoint, index)
    await wait_until_async(lambda: len(received.packets) == 5, timeout=2, message="5 packets")
    shown = time.monotonic()
    _send_raw(origin, endpoint, 6)  # 5 is lost
    await wait_until_async(lambda: _nacks(origin_sink, 100), timeout=2, message="a NACK")
    [(at, index), *_] = _nacks(origin_sink, 100)
    assert index == 5
    assert at - shown < 0.1  # the allowance (5 ms here) and a loaded loop's lateness, not the 0.5 s tick
    assert receiver.reorder_allowance_ms < 20
    await endpoint.close()
    origin.close()


@pytest.mark.serial
async def test_the_reorder_allowance_follows_the_reordering_seen() -> None:
    """A packet that comes 80 ms after the gap it left (after its NACK: reordered, not lost) makes later gaps wait
    that long: a packet 30 ms late is then not NACKed, and a lost one is asked for once the allowance is over."""
    endpoint, receiver, origin, origin_sink, received = await _far_end(LinkConfig(max_reorder_ms=150))
    for index in range(5):
        _send_raw(origin, endpoint, index)
    _send_raw(origin, endpoint, 6)
    await asyncio.sleep(0.08)
    _send_raw(origin, endpoint, 5)  # 80 ms late
    await wait_until_async(lambda: len(received.packets) == 7, timeout=2, message="7 packets")
    assert [index for _, index in _nacks(origin_sink, 100)] == [5]  # asked too early once: now it is learnt
    assert receiver.reordered == 1
    assert 80 <= receiver.reorder_allowance_ms <= 150

    origin_sink.received.clear()
    _send_raw(origin, endpoint, 8)
    await asyncio.sleep(0.03)
    _send_raw(origin, endpoint, 7)  # 30 ms late: within the allowance
    shown = time.monotonic()
    _send_raw(origin, endpoint, 10)  # 9 is lost
    await wait_until_async(lambda: _nacks(origin_sink, 100), timeout=2, message="a NACK")
    [(at, index), *_] = _nacks(origin_sink, 100)
    assert index == 9
    assert at - shown >= 0.08  # it waited for the reordering seen
    assert receiver.repaired == 0 and receiver.lost == 0 and receiver.duplicates == 0
    await endpoint.close()
    origin.close()


# -- parity (FEC) -------------------------------------------------------------------------------------------------


async def _captured_stream(
    count: int, config: LinkConfig | None = None, *, kind: str = "video"
) -> tuple[LinkSender, list[bytes]]:
    """What an origin's sender puts on the wire for `count` numbered packets (frames of three), in order."""
    origin = await LinkEndpoint.open(LOCALHOST, config=config)
    far, far_sink = await _udp_sink()
    sender = origin.open_sender(
        peer=far.get_extra_info("sockname")[:2], ssrc=0x5EC0, kind=kind, clock_rate=90000,
        on_keyframe_request=lambda: None,
    )  # fmt: skip
    await send_stream(sender, count, interval=0.001)
    await wait_until_async(lambda: len(far_sink.received) >= count, timeout=3, message="the stream")
    await asyncio.sleep(0.05)
    await origin.close()
    far.close()
    return sender, [data for _, data in far_sink.received if not is_rtcp(data)]


def _link_index(data: bytes) -> int:
    return struct.unpack("!I", RtpPacket.parse(data).payload[:4])[0]


@pytest.mark.serial
async def test_a_frame_missing_one_packet_is_rebuilt_from_its_parity_without_a_nack() -> None:
    """The origin sends a parity right behind a frame (budget allowing); the far side, missing one of the frame's
    packets, rebuilds it byte for byte as soon as the parity comes, and never asks for it."""
    sender, wire = await _captured_stream(30, LinkConfig(fec_share=0.5))
    parities = [data for data in wire if RtpPacket.parse(data).ssrc == sender.fec_ssrc]
    assert parities and sender.parities == len(parities)
    # The first protected frame: drop its middle packet on the way to the far side.
    first_parity = wire.index(parities[0])
    frame = wire[first_parity - 3 : first_parity]
    assert [_link_index(data) % 3 for data in frame] == [0, 1, 2]  # the parity follows the frame's last packet
    dropped = frame[1]
    endpoint, receiver, origin, origin_sink, received = await _far_end()
    for data in wire[: first_parity + 1]:
        if data is not dropped:
            origin.sendto(data, endpoint.address)
    await wait_until_async(lambda: receiver.recovered == 1, timeout=2, message="the rebuilt packet")
    rebuilt = next(p for p in received.packets if p.sequence_number == RtpPacket.parse(dropped).sequence_number)
    original = RtpPacket.parse(dropped)
    assert (rebuilt.payload, rebuilt.timestamp, rebuilt.marker, rebuilt.payload_type) == (
        original.payload,
        original.timestamp,
        original.marker,
        original.payload_type,
    )
    assert sorted(received.numbers) == list(range(first_parity))  # the first parity is the first one sent
    await asyncio.sleep(0.1)
    assert _nacks(origin_sink, 0) == []  # rebuilt before its NACK was due
    assert receiver.repaired == 1 and receiver.retransmissions == 0 and receiver.lost == 0
    [stats] = endpoint.stats()
    assert stats["recovered"] == 1
    await endpoint.close()
    origin.close()


@pytest.mark.serial
async def test_parity_waits_for_late_packets_and_never_guesses_two_missing() -> None:
    """A parity that comes before the rest of its frame rebuilds the one lost packet once the others arrive; a frame
    missing two packets is left to NACKs (one parity cannot tell two packets apart)."""
    sender, wire = await _captured_stream(30, LinkConfig(fec_share=0.5))
    parities = [data for data in wire if RtpPacket.parse(data).ssrc == sender.fec_ssrc]
    first, second = (wire.index(parity) for parity in parities[:2])
    endpoint, receiver, origin, origin_sink, _ = await _far_end()
    for data in wire[: first - 3]:
        origin.sendto(data, endpoint.address)
    # The first protected frame: its parity first, then its first packet (the second is lost), then the third.
    for data in (wire[first], wire[first - 3], wire[first - 1]):
        origin.sendto(data, endpoint.address)
        await asyncio.sleep(0.002)
    await wait_until_async(lambda: receiver.recovered == 1, timeout=2, message="the rebuilt packet")
    # The second protected frame loses two of its three packets.
    for data in [*wire[first + 1 : second - 3], wire[second - 1], wire[second]]:
        origin.sendto(data, endpoint.address)
    await wait_until_async(lambda: len(_nacks(origin_sink, 0)) >= 2, timeout=2, message="NACKs for the two")
    assert receiver.recovered == 1
    lost = {seq for _, seq in _nacks(origin_sink, 0)}
    assert lost == {
        RtpPacket.parse(wire[second - 3]).sequence_number,
        RtpPacket.parse(wire[second - 2]).sequence_number,
    }
    await endpoint.close()
    origin.close()


@pytest.mark.serial
async def test_parity_takes_at_most_its_share_of_the_media() -> None:
    sender, wire = await _captured_stream(300, LinkConfig(fec_share=0.10, fec_burst_bytes=2_000))
    media = sum(len(data) for data in wire if RtpPacket.parse(data).ssrc == sender.ssrc)
    parity = sum(len(data) for data in wire if RtpPacket.parse(data).ssrc == sender.fec_ssrc)
    assert 0.05 * media <= parity <= 0.10 * media
    # Audio packets are frames of their own: nothing to protect. And fec_share 0 turns parity off.
    for kind, share in (("audio", 0.5), ("video", 0.0)):
        quiet, quiet_wire = await _captured_stream(30, LinkConfig(fec_share=share), kind=kind)
        assert quiet.parities == 0 and all(RtpPacket.parse(data).ssrc == quiet.ssrc for data in quiet_wire)


@pytest.mark.serial
async def test_an_original_that_comes_after_its_rebuild_was_late_not_lost() -> None:
    """Jitter can bring a frame's parity before one of its packets: that packet is rebuilt at once, and when the
    original comes it counts as received late (loss is measured before repair), not as a duplicate or a repair."""
    sender, wire = await _captured_stream(30, LinkConfig(fec_share=0.5))
    first = wire.index(next(data for data in wire if RtpPacket.parse(data).ssrc == sender.fec_ssrc))
    endpoint, receiver, origin, _, received = await _far_end()
    for data in [*wire[: first - 2], wire[first - 1], wire[first]]:  # the frame's middle packet is late
        origin.sendto(data, endpoint.address)
    await wait_until_async(lambda: receiver.recovered == 1, timeout=2, message="the rebuilt packet")
    assert receiver.repaired == 1 and receiver.packets == first - 1
    origin.sendto(wire[first - 2], endpoint.address)
    await wait_until_async(lambda: receiver.packets == first, timeout=2, message="the late original counted")
    assert receiver.recovered == 0 and receiver.repaired == 0 and receiver.duplicates == 0
    assert receiver.reordered == 1
    assert sorted(received.numbers) == list(range(first))  # handed on once
    await endpoint.close()
    origin.close()
