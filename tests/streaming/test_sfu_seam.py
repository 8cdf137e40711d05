"""The SFU's seam into aiortc's internals, checked against the pinned aiortc: these fail loudly on an upgrade."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import NamedTuple

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
)
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, wrap_rtx

from streaming.sfu import FrameAssembler, seam
from streaming.sfu.frames import is_keyframe_start
from tests.support.waiting import wait_until_async

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
RTX = RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97})
SSRC, RTX_SSRC = 1234, 5678
# A VP8 key frame header (P bit 0, start code 9d 01 2a, 160×120) followed by filler.
KEYFRAME = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0xA0, 0x00, 0x78, 0x00]) + bytes(3000)
INTERFRAME = bytes([0x11, 0x02, 0x00]) + bytes(1500)


def vp8_packets(frame: bytes, *, first_seq: int, timestamp: int, picture_id: int = 1) -> list[RtpPacket]:
    payloads = Vp8Encoder._packetize(frame, picture_id)
    packets = []
    for index, payload in enumerate(payloads):
        packet = RtpPacket(
            payload_type=97, sequence_number=(first_seq + index) & 0xFFFF, timestamp=timestamp, ssrc=SSRC
        )
        packet.payload = payload
        packet.marker = int(index == len(payloads) - 1)
        packets.append(packet)
    return packets


def test_aiortc_is_the_pinned_version_with_the_internals_we_use() -> None:
    assert aiortc.__version__ == seam.PINNED_AIORTC_VERSION
    seam.check_aiortc_seam()


async def test_private_state_of_a_real_sender_and_receiver_is_where_the_seam_expects() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="sendrecv")
    sender, receiver = transceiver.sender, transceiver.receiver
    assert isinstance(getattr(receiver, seam._RECEIVER_JITTER_BUFFER), JitterBuffer)
    assert isinstance(getattr(sender, seam._SENDER_HISTORY), dict)
    assert isinstance(getattr(sender, seam._SENDER_EXTENSIONS_MAP), HeaderExtensionsMap)
    assert getattr(sender, seam._SENDER_STARTED) is False
    assert getattr(sender, seam._SENDER_MID) is None
    assert getattr(sender, seam._SENDER_RTT) is None  # until a receiver report measures it
    for name in (
        seam._SENDER_NTP_TIMESTAMP,
        seam._SENDER_RTP_TIMESTAMP,
        seam._SENDER_OCTET_COUNT,
        seam._SENDER_PACKET_COUNT,
    ):
        assert getattr(sender, name) == 0
    requests: list[str] = []
    passthrough = seam.PassthroughSender(
        transceiver, on_keyframe_request=lambda: requests.append("pli"), on_nack=lambda seq: None
    )
    sender._send_keyframe()  # what aiortc calls on PLI/FIR
    assert requests == ["pli"]
    assert passthrough.ready is False
    await pc.close()


class PeerPair(NamedTuple):
    """A sending peer connection with a passthrough video sender, and a receiving one whose tap keeps the packets."""

    sending: RTCPeerConnection
    receiving: RTCPeerConnection
    transceiver: RTCRtpTransceiver
    passthrough: seam.PassthroughSender
    received: list[RtpPacket]


async def connected_peer_pair(on_nack: Callable[[int], RtpPacket | None] = lambda seq: None) -> PeerPair:
    sending, receiving = RTCPeerConnection(RTCConfiguration(iceServers=[])), RTCPeerConnection(RTCConfiguration([]))
    transceiver = sending.addTransceiver(seam.IdleTrack("video", "camera"), direction="sendonly")
    received: list[RtpPacket] = []

    async def handler(packet: RtpPacket) -> None:
        received.append(packet)

    @receiving.on("track")
    def on_track(track: object) -> None:
        seam.tap_receiver(receiving.getTransceivers()[0].receiver, handler)

    await sending.setLocalDescription(await sending.createOffer())
    await receiving.setRemoteDescription(sending.localDescription)
    await receiving.setLocalDescription(await receiving.createAnswer())
    await sending.setRemoteDescription(receiving.localDescription)
    passthrough = seam.PassthroughSender(transceiver, on_keyframe_request=lambda: None, on_nack=on_nack)
    await wait_until_async(lambda: passthrough.ready, timeout=10, interval=0.02, message="the sender started")
    return PeerPair(sending, receiving, transceiver, passthrough, received)


async def test_passthrough_sender_sends_straight_to_the_nominated_pairs_socket() -> None:
    """The SFU's hot path skips aiortc's send coroutines: packets still arrive, decrypted and numbered as sent, the
    DTLS transport's statistics still count them, and a closed transport is a ConnectionError, not a crash."""
    sending, receiving, transceiver, passthrough, received = await connected_peer_pair()
    dtls = transceiver.sender.transport
    bytes_before = getattr(dtls, seam._DTLS_TX_BYTES)
    for index, packet in enumerate(vp8_packets(KEYFRAME, first_seq=100, timestamp=9000)):
        packet.payload_type = passthrough.payload_type
        wire = passthrough.serialize(packet)
        passthrough.send_serialized(wire, packet.marker, 4000 + index, 777_000, 0, len(packet.payload))
    await wait_until_async(lambda: len(received) >= 3, timeout=5, interval=0.02, message="the packets")
    assert [p.sequence_number for p in received[:3]] == [4000, 4001, 4002]
    assert {p.timestamp for p in received} == {777_000}
    assert seam.rtp_payload_data(received[0])[:10] == KEYFRAME[:10]
    assert passthrough._sock_sendto is not None  # a host candidate: straight to its socket
    assert getattr(dtls, seam._DTLS_TX_BYTES) > bytes_before + len(KEYFRAME)
    assert getattr(transceiver.sender, seam._SENDER_PACKET_COUNT) == passthrough.packets_sent >= 3
    await sending.close()
    with pytest.raises(ConnectionError):
        passthrough.send_serialized(wire, 0, 5000, 777_000, 0, 10)
    await receiving.close()


async def test_a_packet_asked_for_again_within_a_round_trip_is_resent_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A receiver under heavy loss asks again for every missing packet at each new gap; the copy already on its way
    answers those asks, and a later ask (past the round trip) is answered again."""
    monkeypatch.setattr(seam, "DEFAULT_RESEND_INTERVAL_S", 0.3)
    rebuilt: list[int] = []
    senders: list[seam.PassthroughSender] = []
    payload = vp8_packets(KEYFRAME, first_seq=500, timestamp=9000)[0].payload

    def rebuild(out_seq: int) -> RtpPacket | None:
        rebuilt.append(out_seq)
        return senders[0].build_packet(
            sequence_number=out_seq, timestamp=9000, marker=0, payload=payload, abs_send_time=0, audio_level=None
        )

    sending, receiving, transceiver, passthrough, received = await connected_peer_pair(on_nack=rebuild)
    senders.append(passthrough)
    retransmit = transceiver.sender._retransmit  # what aiortc calls for each NACKed sequence number
    try:
        for _ in range(3):
            await retransmit(500)
        assert rebuilt == [500] and passthrough.repeated_nacks == 2 and passthrough.nacked_packets == 3
        await retransmit(501)  # another packet is its own
        assert rebuilt == [500, 501]
        await asyncio.sleep(0.35)  # a round trip later the ask may be for a lost copy: answered again
        await retransmit(500)
        assert rebuilt == [500, 501, 500]
        await wait_until_async(lambda: len(received) >= 3, timeout=5, interval=0.02, message="the resent packets")
        assert sorted(p.sequence_number for p in received) == [500, 500, 501]
    finally:
        await sending.close()
        await receiving.close()


async def test_tapped_receiver_forwards_unwrapped_packets_keeps_nacking_and_never_decodes() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    await pc.setRemoteDescription(await _offer_with_video())
    receiver = pc.getTransceivers()[0].receiver
    received: list[RtpPacket] = []

    async def handler(packet: RtpPacket) -> None:
        received.append(packet)

    seam.tap_receiver(receiver, handler)
    nacks: list[list[int]] = []

    async def record_nack(media_ssrc: int, lost: list[int]) -> None:
        nacks.append(lost)

    setattr(receiver, "_send_rtcp_nack", record_nack)  # noqa: B010
    await receiver.receive(
        RTCRtpReceiveParameters(
            codecs=[VP8, RTX],
            encodings=[RTCRtpDecodingParameters(ssrc=SSRC, payloadType=97, rtx=RTCRtpRtxParameters(ssrc=RTX_SSRC))],
            muxId="0",
        )
    )
    packets = vp8_packets(KEYFRAME, first_seq=100, timestamp=9000)
    assert len(packets) == 3
    await receiver._handle_rtp_packet(packets[0], arrival_time_ms=0)
    await receiver._handle_rtp_packet(packets[2], arrival_time_ms=0)
    assert nacks == [[101]]  # the receiver still asks for what is missing
    rtx = wrap_rtx(packets[1], payload_type=98, sequence_number=7, ssrc=RTX_SSRC)
    await receiver._handle_rtp_packet(rtx, arrival_time_ms=0)

    # Every packet reached the tap, the retransmission unwrapped to its original SSRC and sequence number,
    # with the depayloaded VP8 data beside it; nothing was queued for the decoder thread.
    assert [(p.ssrc, p.sequence_number) for p in received] == [(SSRC, 100), (SSRC, 102), (SSRC, 101)]
    assert seam.rtp_payload_data(received[0])[:10] == KEYFRAME[:10]
    assert is_keyframe_start("VP8", received[0])
    # mypy does not apply name mangling: this is aiortc's private `__decoder_queue`, read only here.
    assert receiver._RTCRtpReceiver__decoder_queue.qsize() == 0  # type: ignore[attr-defined]
    await receiver.stop()
    await pc.close()


async def test_a_failing_packet_handler_is_logged_and_the_next_packets_still_reach_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An error in forwarding must not escape into aiortc's DTLS receive loop: it would end the publisher's
    connection, and every subscriber would lose the picture."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    await pc.setRemoteDescription(await _offer_with_video())
    receiver = pc.getTransceivers()[0].receiver
    received: list[int] = []

    async def handler(packet: RtpPacket) -> None:
        if packet.sequence_number == 100:
            raise ValueError("a fault in one leg")
        received.append(packet.sequence_number)

    seam.tap_receiver(receiver, handler)
    await receiver.receive(
        RTCRtpReceiveParameters(
            codecs=[VP8, RTX],
            encodings=[RTCRtpDecodingParameters(ssrc=SSRC, payloadType=97, rtx=RTCRtpRtxParameters(ssrc=RTX_SSRC))],
            muxId="0",
        )
    )
    try:
        with caplog.at_level(logging.ERROR, logger="streaming.sfu.seam"):
            for packet in vp8_packets(KEYFRAME, first_seq=100, timestamp=9000):
                await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    finally:
        await receiver.stop()
        await pc.close()
    assert received == [101, 102]
    assert "forwarding a packet failed (1 so far)" in caplog.text


async def _offer_with_video() -> aiortc.RTCSessionDescription:
    offerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    offerer.addTransceiver("video", direction="sendonly")
    await offerer.setLocalDescription(await offerer.createOffer())
    offer = offerer.localDescription
    await offerer.close()
    return offer


def test_frame_assembler_completes_on_the_marker_bit_and_survives_reordering() -> None:
    assembler = FrameAssembler(track_id="t", kind="video", mime_type="video/VP8", clock_rate=90000)
    key = vp8_packets(KEYFRAME, first_seq=65534, timestamp=1000)  # wraps the sequence number
    for packet in key:
        packet._data = vp8_depayload(packet.payload)  # type: ignore[attr-defined]
    # Marker first, then the rest: complete as soon as the last missing packet is in.
    assert assembler.push(key[2]) is None
    assert assembler.push(key[0]) is None
    frame = assembler.push(key[1])
    assert frame is not None
    assert frame.keyframe
    assert frame.payload == KEYFRAME
    assert frame.timestamp == 1000

    inter = vp8_packets(INTERFRAME, first_seq=1, timestamp=4000)
    lost = vp8_packets(INTERFRAME, first_seq=3, timestamp=7000)
    after = vp8_packets(INTERFRAME, first_seq=5, timestamp=10000)
    for packet in [*inter, *lost, *after]:
        packet._data = vp8_depayload(packet.payload)  # type: ignore[attr-defined]
    assert [assembler.push(p) for p in inter][-1] is not None
    assert assembler.push(lost[0]) is None  # its second packet never comes
    frames = [assembler.push(p) for p in after]
    assert frames[-1] is not None
    assert assembler.dropped == 1
    assert assembler.push(lost[1]) is None  # too late: that frame was given up


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (bytes([0x7C, 0x85, 0x88]), True),  # FU-A start of an IDR slice
        (bytes([0x7C, 0x05, 0x88]), False),  # FU-A continuation
        (bytes([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE]), True),  # STAP-A with SPS
        (bytes([0x41, 0x9A]), False),  # a non-IDR slice
    ],
)
def test_h264_keyframe_starts(payload: bytes, expected: bool) -> None:
    packet = RtpPacket(payload_type=102)
    packet.payload = payload
    assert is_keyframe_start("H264", packet) is expected
