"""The SFU's native fan-out (streaming/sfu/native): the C loop that sends a packet on every steady leg of a track.

Real peer connections over loopback: what the loop sends must arrive decrypted by the subscriber's own aiortc, under
the leg's numbering, counted in the statistics aiortc reports; a leg moves to it once started and leaves it when its
subscriber goes, closing the socket it held.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from typing import NamedTuple

import pytest
from aiortc.rtp import RtpPacket

from streaming.sfu import Sfu, native, seam
from streaming.sfu.forwarder import SubscriberLeg
from tests.streaming.test_sfu import SESSION, DecodingSubscriber, Publisher
from tests.streaming.test_sfu_seam import KEYFRAME, connected_peer_pair, vp8_packets
from tests.support.native import require_native_fanout
from tests.support.waiting import wait_until_async


async def test_native_loop_sends_each_legs_numbering_through_its_srtp_session_and_skips_late_packets() -> None:
    fanout = require_native_fanout()
    sending, receiving, transceiver, passthrough, received = await connected_peer_pair()
    await wait_until_async(lambda: passthrough.native_target() is not None, timeout=10, interval=0.02, message="up")
    target = passthrough.native_target()
    assert target is not None and passthrough.native_target_holds(target)
    dtls = transceiver.sender.transport
    bytes_before = getattr(dtls, seam._DTLS_TX_BYTES)

    table = fanout.new_legs(1)
    entry = table[0]
    entry.srtp = fanout.srtp_context(target.srtp_session)
    fd = os.dup(target.sock.fileno())
    entry.fd = fd
    fanout.set_address(entry, target.sock.family, target.address)
    entry.ssrc, entry.payload_type = passthrough.ssrc, passthrough.payload_type
    entry.seq_offset, entry.ts_offset = 3900, 1000  # in 100 → out 4000; timestamps shifted by 1000
    entry.guard_seq, entry.guard_left = 100, 8  # the leg started at publisher packet 100
    packets = vp8_packets(KEYFRAME, first_seq=100, timestamp=9000)
    late = vp8_packets(KEYFRAME, first_seq=98, timestamp=6000)[0]  # a retransmission from before the leg's start
    for packet in [*packets, late]:
        packet.payload_type = passthrough.payload_type
        wire = passthrough.serialize(packet)
        fanout.lib.corridor_fanout(
            fanout.protect,
            wire,
            len(wire),
            packet.marker,
            packet.sequence_number,
            packet.timestamp,
            len(packet.payload),
            123_456,
            table,
            1,
        )
    await wait_until_async(lambda: len(received) >= 3, timeout=5, interval=0.02, message="the packets")
    assert [p.sequence_number for p in received] == [4000, 4001, 4002]
    assert {p.timestamp for p in received} == {10_000}
    assert {p.ssrc for p in received} == {passthrough.ssrc}
    assert [p.marker for p in received] == [0, 0, 1]
    assert seam.rtp_payload_data(received[0])[:10] == KEYFRAME[:10]
    assert (entry.packets, entry.guard_left, entry.last_seq, entry.last_ts) == (3, 5, 4002, 10_000)
    assert entry.payload_bytes == sum(len(p.payload) for p in packets)
    assert entry.dropped == entry.failed == 0

    # What the loop sent shows in aiortc's own statistics and sender reports once absorbed.
    passthrough.absorb_native(
        packets=entry.packets,
        payload_bytes=entry.payload_bytes,
        wire_bytes=entry.wire_bytes,
        last_timestamp=entry.last_ts,
        last_ntp_time=entry.last_ntp,
    )
    assert getattr(dtls, seam._DTLS_TX_BYTES) == bytes_before + entry.wire_bytes > bytes_before + len(KEYFRAME)
    assert getattr(transceiver.sender, seam._SENDER_PACKET_COUNT) == 3
    assert getattr(transceiver.sender, seam._SENDER_RTP_TIMESTAMP) == 10_000
    assert getattr(transceiver.sender, seam._SENDER_NTP_TIMESTAMP) == 123_456

    await sending.close()
    assert not passthrough.native_target_holds(target)
    assert passthrough.native_target() is None
    os.close(fd)
    await receiving.close()


async def test_started_legs_move_to_the_native_loop_and_their_socket_is_released_when_they_leave(
    native_leg: NativeLeg,
) -> None:
    viewer, leg = native_leg.viewer, native_leg.leg
    track = leg.track
    assert track.native_leg_count == 1
    group = leg.native_group
    assert group is not None
    held = [(fd, os.fstat(fd).st_ino) for fd in group._fds]
    assert len(held) == 1

    # Video keeps decoding from the native loop, and the leg's statistics and sender reports count what it sent.
    decoded, sent = len(viewer.video), leg.stats()["packets"]
    await wait_until_async(lambda: len(viewer.video) > decoded + 10, timeout=3, interval=0.02, message="more video")
    stats = leg.stats()
    assert stats["packets"] > sent
    assert getattr(leg.sender._sender, seam._SENDER_PACKET_COUNT) == stats["packets"]

    await viewer.close()
    await wait_until_async(lambda: not track.legs, timeout=10, interval=0.05, message="the viewer to be dropped")
    assert track.native_leg_count == 0 and leg.native_group is None
    for fd, inode in held:
        with contextlib.suppress(OSError):  # closed; or its number reused, but never by our dup
            assert os.fstat(fd).st_ino != inode


def test_without_the_library_or_when_switched_off_the_sfu_forwards_in_python(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str], capsys: pytest.CaptureFixture[str]
) -> None:
    native.load.cache_clear()
    monkeypatch.setenv(native.ENABLE_SETTING, "0")
    assert native.load() is None
    native.load.cache_clear()
    monkeypatch.setenv(native.ENABLE_SETTING, "1")
    monkeypatch.setattr(native, "LIBRARY", native.LIBRARY.with_name("missing.so"))
    assert native.load() is None
    native.load.cache_clear()
    assert native.build("no-such-compiler") is None
    assert "apt-get install gcc" in capsys.readouterr().err
    monkeypatch.undo()
    native.load.cache_clear()


def test_socket_addresses_are_laid_out_as_the_kernel_reads_them() -> None:
    v4 = native.sockaddr_bytes(socket.AF_INET, ("192.0.2.7", 5004))
    assert len(v4) == 16 and v4[2:4] == (5004).to_bytes(2, "big") and v4[4:8] == bytes([192, 0, 2, 7])
    v6 = native.sockaddr_bytes(socket.AF_INET6, ("2001:db8::1", 443, 0, 0))
    assert len(v6) == 28 and v6[8:24] == socket.inet_pton(socket.AF_INET6, "2001:db8::1")
    with pytest.raises(ValueError, match="unsupported address family"):
        native.sockaddr_bytes(socket.AF_UNIX, ("/tmp/x",))


async def test_a_restarted_stream_takes_native_legs_back_to_python_until_they_restart_on_a_keyframe(
    native_leg: NativeLeg,
) -> None:
    viewer, leg = native_leg.viewer, native_leg.leg
    track = leg.track
    sent_before = leg.stats()["packets"]
    last = track.history_packet((leg._last_seq or 0) - leg._seq_offset & 0xFFFF)
    assert last is not None

    # A packet under another SSRC: the publisher's stream restarted (as after a cascade failover).
    restarted = RtpPacket(
        payload_type=last.payload_type,
        sequence_number=7,
        timestamp=last.timestamp + 3000,
        ssrc=last.ssrc ^ 0x5A5A5A5A,
        payload=last.payload,
    )
    restarted._data = seam.rtp_payload_data(last)  # type: ignore[attr-defined]
    await track.on_packet(restarted)
    assert leg.native_group is None and track.native_leg_count == 0
    assert leg.stats()["packets"] >= sent_before  # what the native loop sent was counted before it let go

    # The real stream continues (a restart again, for the leg): it starts over on a keyframe, then goes native.
    decoded = len(viewer.video)
    await wait_until_async(lambda: leg.native_group is not None, timeout=5, interval=0.02, message="native again")
    await wait_until_async(lambda: len(viewer.video) > decoded + 10, timeout=5, interval=0.02, message="video again")


class NativeLeg(NamedTuple):
    """A publisher's video, and one viewer whose leg the native loop sends."""

    viewer: DecodingSubscriber
    leg: SubscriberLeg


@pytest.fixture
async def native_leg() -> AsyncIterator[NativeLeg]:
    require_native_fanout()
    sfu = Sfu(media_timeout=5.0)
    publisher = Publisher(audio=False)
    await publisher.publish(sfu)
    viewer = DecodingSubscriber()
    await viewer.join(sfu, "viewer")
    try:
        await wait_until_async(lambda: len(viewer.video) > 5, timeout=10, interval=0.02, message="video")
        leg = next(iter(sfu._sessions[SESSION].subscribers["viewer"].legs.values()))
        await wait_until_async(lambda: leg.native_group is not None, timeout=3, interval=0.02, message="a native leg")
        yield NativeLeg(viewer, leg)
    finally:
        await viewer.close()
        await publisher.pc.close()
        await sfu.close()
