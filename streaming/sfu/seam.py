"""The one place where Corridor's SFU reaches into aiortc's internals (aiortc 1.16.0, pinned in pyproject).

aiortc decodes everything it receives and encodes everything it sends. A forwarding unit needs neither, so this
module connects the two ends of aiortc at the RTP packet level:

* Receive side (`tap_receiver`): `RTCRtpReceiver._handle_rtp_packet` keeps doing its own work (RTCP statistics and
  receiver reports, REMB, RTX unwrapping, NACK generation, depayloading into `packet._data`) and then hands the
  packet to its `JitterBuffer`. We replace that jitter buffer with a stand-in that keeps the packet and never returns
  a frame, so the decoder thread stays idle (no decoder is ever built) and no frame waits for the next frame's
  first packet (~33 ms at 30 fps). The receiver's coroutine is wrapped so the packet is forwarded right after it.
* Send side (`PassthroughSender`): the sender is given an `IdleTrack` whose `recv()` never yields, so its RTP loop
  never builds an encoder nor packetizer. We write RTP packets for it: its SSRC, its negotiated payload type, its
  header-extension map and MID, and we store each packet in its retransmission history and update its RTCP sender
  report counters, so aiortc's own NACK/RTX repair and sender reports keep working. PLI/FIR arriving at the sender
  (`_send_keyframe`, which would only set an encoder flag) are redirected to a callback. A forwarded packet skips
  aiortc's chain of five coroutines (DTLS transport → ICE transport → aioice connection → its protocol → the
  datagram transport): `send_serialized` protects it with the DTLS transport's SRTP session and hands it to the
  nominated candidate pair's datagram transport in one synchronous call, as `_send_rtp` would. Fan-out is per-leg
  work, so this is the SFU's hot path; retransmissions keep aiortc's own path.

`check_aiortc_seam()` fails loudly (AiortcSeamError) if any of this is missing; tests/streaming/test_sfu_seam.py
checks it against real peer connections. Upgrading aiortc means re-reading the receiver and sender and that test.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Sized
from typing import Any, Final, NamedTuple

import aiortc
from aioice.ice import CandidatePair
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import CODECS, depayload
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcpeerconnection import find_common_codecs
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import RTP_HISTORY_SIZE, HeaderExtensionsMap, RtpPacket
from av.frame import Frame
from av.packet import Packet

PINNED_AIORTC_VERSION: Final = "1.16.0"

# Name-mangled private attributes this module reads or replaces.
_RECEIVER_JITTER_BUFFER: Final = "_RTCRtpReceiver__jitter_buffer"
_SENDER_STARTED: Final = "_RTCRtpSender__started"
_SENDER_HISTORY: Final = "_RTCRtpSender__rtp_history"
_SENDER_EXTENSIONS_MAP: Final = "_RTCRtpSender__rtp_header_extensions_map"
_SENDER_MID: Final = "_RTCRtpSender__mid"
_SENDER_NTP_TIMESTAMP: Final = "_RTCRtpSender__ntp_timestamp"
_SENDER_RTP_TIMESTAMP: Final = "_RTCRtpSender__rtp_timestamp"
_SENDER_OCTET_COUNT: Final = "_RTCRtpSender__octet_count"
_SENDER_PACKET_COUNT: Final = "_RTCRtpSender__packet_count"
_SENDER_RTT: Final = "_RTCRtpSender__rtt"
_DTLS_TX_BYTES: Final = "_RTCDtlsTransport__tx_bytes"
_DTLS_TX_PACKETS: Final = "_RTCDtlsTransport__tx_packets"
# The ICE component RTP (and, bundled and muxed, RTCP) travels on.
_RTP_COMPONENT: Final = 1

# Methods whose (private) signatures we call or replace.
_EXPECTED_SIGNATURES: Final[dict[tuple[type, str], tuple[str, ...]]] = {
    (RTCRtpReceiver, "_handle_rtp_packet"): ("self", "packet", "arrival_time_ms"),
    (RTCRtpReceiver, "_send_rtcp_pli"): ("self", "media_ssrc"),
    (RTCRtpSender, "_send_keyframe"): ("self",),
    (RTCRtpSender, "_retransmit"): ("self", "sequence_number"),
    (RTCRtpSender, "_handle_rtcp_packet"): ("self", "packet"),
    (RTCDtlsTransport, "_send_rtp"): ("self", "data"),
    (JitterBuffer, "add"): ("self", "packet"),
}

PacketHandler = Callable[[RtpPacket], Awaitable[None]]

logger = logging.getLogger(__name__)

_RTP_HEADER: Final = struct.Struct("!BBHLL")
# A packet is resent to a subscriber at most once per round trip (100 ms until one is measured, never under 20 ms): a
# receiver asking again sooner asks for a copy already on its way. Under heavy loss aiortc's receivers re-ask for every
# missing packet at each new gap, and answering each ask made retransmissions most of the SFU's work (as mediasoup).
DEFAULT_RESEND_INTERVAL_S: Final = 0.1
MIN_RESEND_INTERVAL_S: Final = 0.02
_DTLS_CONNECTED: Final = DtlsState.CONNECTED


class AiortcSeamError(RuntimeError):
    """aiortc's internals no longer look like the version this seam was written against."""


def check_aiortc_seam() -> None:
    """Raise AiortcSeamError unless aiortc is the pinned version with the private methods we rely on."""
    if aiortc.__version__ != PINNED_AIORTC_VERSION:
        raise AiortcSeamError(
            f"streaming.sfu.seam targets aiortc {PINNED_AIORTC_VERSION}, found {aiortc.__version__}: re-check the seam"
        )
    for (cls, name), expected in _EXPECTED_SIGNATURES.items():
        method = getattr(cls, name, None)
        if method is None:
            raise AiortcSeamError(f"{cls.__name__}.{name} is gone")
        if tuple(inspect.signature(method).parameters) != expected:
            raise AiortcSeamError(f"{cls.__name__}.{name} changed signature")


def _private(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise AiortcSeamError(f"{type(obj).__name__} has no {name}: aiortc internals changed") from None


def rtp_payload_data(packet: RtpPacket) -> bytes:
    """The depayloaded codec data (VP8 frame fragment, H.264 Annex-B NAL units, Opus packet) the receiver stored."""
    data: bytes = getattr(packet, "_data", b"")
    return data


def set_payload_data(packet: RtpPacket, codec: RTCRtpCodecParameters) -> bool:
    """Depayload a packet that did not come through an RTCRtpReceiver (one relayed over the SFU link), as the
    receiver would have: keyframe detection and frame assembly read `rtp_payload_data`. False (and the packet
    should be dropped, as the receiver drops it) if the payload does not parse."""
    try:
        packet._data = depayload(codec, packet.payload) if packet.payload else b""  # type: ignore[attr-defined]
    except ValueError:
        return False
    return True


# --- receive side -----------------------------------------------------------------------------------------------


class _PacketTap:
    """Stands in for the receiver's JitterBuffer: keeps each packet for forwarding, never assembles a frame."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.pending: list[RtpPacket] = []
        self.handler_failures = 0

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        self.pending.append(packet)
        # No picture-loss flag: keyframes are the SFU's decision (forwarded PLIs, joins), not the buffer's.
        return False, None


def tap_receiver(receiver: RTCRtpReceiver, handler: PacketHandler) -> None:
    """Send every RTP packet the receiver accepts to `handler`, instead of to its jitter buffer and decoder.

    The handler sees the media packet after RTX unwrapping (retransmissions arrive as the original sequence
    number), with `rtp_payload_data(packet)` holding the depayloaded data. The receiver keeps sending NACKs,
    receiver reports and REMB to its remote sender. Call before the first packet arrives (right after
    setRemoteDescription / setLocalDescription).
    """
    buffer = _private(receiver, _RECEIVER_JITTER_BUFFER)
    if not isinstance(buffer, JitterBuffer):
        raise AiortcSeamError(f"RTCRtpReceiver jitter buffer is {type(buffer).__name__}, expected JitterBuffer")
    tap = _PacketTap(buffer.capacity)
    setattr(receiver, _RECEIVER_JITTER_BUFFER, tap)
    original: Callable[..., Awaitable[None]] = receiver._handle_rtp_packet

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        await original(packet, arrival_time_ms=arrival_time_ms)
        if tap.pending:
            packets, tap.pending = tap.pending, []
            for accepted in packets:
                try:
                    await handler(accepted)
                except Exception:
                    # An error escaping here would end aiortc's DTLS receive loop, and with it the publisher's
                    # connection: a fault in forwarding to one subscriber must not take the picture from everyone.
                    tap.handler_failures += 1
                    if tap.handler_failures & (tap.handler_failures - 1) == 0:  # the 1st, 2nd, 4th, 8th...
                        logger.exception("forwarding a packet failed (%d so far)", tap.handler_failures)

    # The DTLS transport's router looks the method up on the instance for every packet.
    setattr(receiver, "_handle_rtp_packet", handle_rtp_packet)  # noqa: B010


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send a PLI for `media_ssrc` to the remote sender through this receiver's RTCP path."""
    await receiver._send_rtcp_pli(media_ssrc)


# --- send side --------------------------------------------------------------------------------------------------


class IdleTrack(MediaStreamTrack):
    """A track whose recv() never yields: it keeps an RTCRtpSender's own RTP loop parked (no encoder, no polling)."""

    def __init__(self, kind: str, track_id: str) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id
        self._ended = asyncio.Event()

    async def recv(self) -> Frame | Packet[Any]:
        await self._ended.wait()
        raise MediaStreamError

    def stop(self) -> None:
        super().stop()
        self._ended.set()


def _not_connected(data: bytes, addr: tuple[str, int]) -> None:
    raise ConnectionError("not connected")


class NativeTarget(NamedTuple):
    """What the native fan-out needs to send as `send_serialized` does: the DTLS transport's outbound SRTP session
    (a pylibsrtp Session), and the nominated pair's UDP socket and remote address."""

    dtls: RTCDtlsTransport
    srtp_session: Any
    pair: CandidatePair
    sock: socket.socket
    address: tuple[Any, ...]


class PassthroughSender:
    """Writes already-encoded RTP payloads through an RTCRtpSender that aiortc has negotiated and started.

    Sequence numbers and timestamps are the caller's (an SFU leg keeps its own offsets); the sender provides SSRC,
    payload type, MID and abs-send-time extensions, RTX retransmission and sender reports. For speed a packet is
    serialized once per `header_key` (legs whose headers differ only in SSRC, sequence number and timestamp share
    it) and patched per leg; the RtpPacket aiortc needs for a retransmission is rebuilt on NACK by `on_nack`.
    """

    def __init__(
        self,
        transceiver: RTCRtpTransceiver,
        *,
        on_keyframe_request: Callable[[], None],
        on_nack: Callable[[int], RtpPacket | None],
    ) -> None:
        sender = transceiver.sender
        self._transceiver = transceiver
        self._sender = sender
        history: dict[int, RtpPacket] = _private(sender, _SENDER_HISTORY)
        self._ready = False
        self._transport: RTCDtlsTransport | None = None
        # The ICE connection's nominated pair per component (aioice keeps this dict for the connection's life).
        self._nominated: dict[int, CandidatePair] = {}
        self._pair: CandidatePair | None = None
        self._pair_addr: tuple[str, int] = ("", 0)
        self._udp_sendto: Callable[[bytes, tuple[str, int]], None] = _not_connected
        self._sock_sendto: Callable[[bytes, tuple[str, int]], int] | None = None
        self._udp_buffer: Sized = ()
        self._extensions_map = HeaderExtensionsMap()
        self.mid: str | None = None
        self.payload_type = 0
        self.header_key: tuple[int, bytes] = (0, b"")
        self.ssrc: int = sender._ssrc
        self.nacked_packets = 0
        self.repeated_nacks = 0  # asks for a packet resent less than a round trip before, not answered
        self.packets_sent = 0
        self.bytes_sent = 0
        # In passthrough the sender has no encoder to flag: the keyframe must be asked of the publisher.
        setattr(sender, "_send_keyframe", on_keyframe_request)  # noqa: B010
        original_retransmit: Callable[[int], Awaitable[None]] = sender._retransmit

        resent_seq = [-1] * RTP_HISTORY_SIZE
        resent_at = [0.0] * RTP_HISTORY_SIZE

        async def retransmit(sequence_number: int) -> None:
            self.nacked_packets += 1
            slot = sequence_number % RTP_HISTORY_SIZE
            now = time.monotonic()
            if resent_seq[slot] == sequence_number and now - resent_at[slot] < self.resend_interval():
                self.repeated_nacks += 1
                return
            packet = on_nack(sequence_number)
            if packet is not None:
                resent_seq[slot], resent_at[slot] = sequence_number, now
                history[slot] = packet
                await original_retransmit(sequence_number)

        setattr(sender, "_retransmit", retransmit)  # noqa: B010

    def resend_interval(self) -> float:
        """How long a resent packet is not resent again: the round trip aiortc measured from receiver reports."""
        rtt: float | None = getattr(self._sender, _SENDER_RTT, None)
        return DEFAULT_RESEND_INTERVAL_S if rtt is None else max(MIN_RESEND_INTERVAL_S, rtt)

    @property
    def ready(self) -> bool:
        """True once DTLS is up and the sender has been started with its negotiated parameters."""
        if not self._ready and _private(self._sender, _SENDER_STARTED):
            codec = negotiated_codec(self._transceiver)
            if codec is None or codec.payloadType is None:
                raise AiortcSeamError("a started RTCRtpSender without a negotiated codec")
            self.payload_type = codec.payloadType
            self._transport = self._sender.transport
            ice_connection = _private(self._transport.transport, "_connection")
            self._nominated = _private(ice_connection, "_nominated")
            self._extensions_map = _private(self._sender, _SENDER_EXTENSIONS_MAP)
            self.mid = _private(self._sender, _SENDER_MID)
            probe = RtpPacket(payload_type=self.payload_type)
            probe.extensions.mid = self.mid
            probe.extensions.abs_send_time = 1
            probe.extensions.audio_level = (False, 1)
            self.header_key = (self.payload_type, probe.serialize(self._extensions_map))
            self._ready = True
        return self._ready

    def build_packet(
        self,
        *,
        sequence_number: int,
        timestamp: int,
        marker: int,
        payload: bytes,
        abs_send_time: int,
        audio_level: tuple[bool, int] | None,
    ) -> RtpPacket:
        packet = RtpPacket(
            payload_type=self.payload_type,
            marker=marker,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=self.ssrc,
            payload=payload,
        )
        extensions = packet.extensions
        extensions.abs_send_time = abs_send_time
        extensions.mid = self.mid
        if audio_level is not None:
            extensions.audio_level = audio_level
        return packet

    def serialize(self, packet: RtpPacket) -> bytes:
        """The packet's wire form; reusable by every sender with the same header_key via `send_serialized`."""
        return packet.serialize(self._extensions_map)

    def send_serialized(
        self, serialized: bytes, marker: int, sequence_number: int, timestamp: int, ntp_time: int, size: int
    ) -> None:
        """Send `serialized` (from a sender with the same header_key) under this sender's SSRC and numbering.

        The caller has checked `ready`. Raises ConnectionError if the transport is not (or no longer) connected.
        Called once per packet per leg: keep it lean.
        """
        pair = self._nominated.get(_RTP_COMPONENT)
        if pair is not self._pair:
            self._use_pair(pair)
        dtls = self._transport
        if dtls is None or dtls._state is not _DTLS_CONNECTED:
            raise ConnectionError("the subscriber's transport is not connected")
        data = dtls._tx_srtp.protect(
            _RTP_HEADER.pack(serialized[0], marker << 7 | self.payload_type, sequence_number, timestamp, self.ssrc)
            + serialized[12:]
        )
        sock_sendto = self._sock_sendto
        if sock_sendto is None or self._udp_buffer:
            self._udp_sendto(data, self._pair_addr)
        else:
            try:
                sock_sendto(data, self._pair_addr)
            except OSError:
                # Full socket buffer or an ICMP error: asyncio's transport queues the packet or reports the error.
                self._udp_sendto(data, self._pair_addr)
        self._count_sent(dtls, 1, size, len(data), timestamp, ntp_time)

    def native_target(self) -> NativeTarget | None:
        """Where the native fan-out may send this sender's packets, or None while only Python can: not yet connected,
        a TURN-relayed pair (each packet is wrapped for the relay), or asyncio holding queued packets."""
        if not self.ready:
            return None
        dtls = self._transport
        if dtls is None or dtls._state is not _DTLS_CONNECTED or dtls._tx_srtp is None:
            return None
        pair = self._nominated.get(_RTP_COMPONENT)
        transport = pair.protocol.transport if pair is not None else None
        if pair is None or transport is None or transport.is_closing():
            return None
        sock = getattr(transport, "_sock", None)
        buffer = getattr(transport, "_buffer", None)
        if not isinstance(sock, socket.socket) or buffer is None or buffer or sock.fileno() < 0:
            return None
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return None
        return NativeTarget(dtls, dtls._tx_srtp, pair, sock, pair.remote_addr)

    def native_target_holds(self, target: NativeTarget) -> bool:
        """True while `target` is still this sender's way out (same pair and SRTP session, transport open)."""
        dtls = target.dtls
        transport = target.pair.protocol.transport
        return (
            dtls._state is _DTLS_CONNECTED
            and dtls._tx_srtp is target.srtp_session
            and self._nominated.get(_RTP_COMPONENT) is target.pair
            and transport is not None
            and not transport.is_closing()
        )

    def absorb_native(
        self, *, packets: int, payload_bytes: int, wire_bytes: int, last_timestamp: int, last_ntp_time: int
    ) -> None:
        """Count packets the native fan-out sent, as `send_serialized` counts its own: the DTLS transport's statistics
        and the sender-report counters (the newest packet's NTP and RTP times stay a consistent pair for lip sync)."""
        self._count_sent(self._transport, packets, payload_bytes, wire_bytes, last_timestamp, last_ntp_time)

    def _count_sent(
        self,
        dtls: RTCDtlsTransport | None,
        packets: int,
        payload_bytes: int,
        wire_bytes: int,
        last_timestamp: int,
        last_ntp_time: int,
    ) -> None:
        """What aiortc's own send path would have counted: the DTLS transport's statistics and the sender-report
        counters, so RTCP SRs stay truthful (receivers use them for lip sync and RTT)."""
        if dtls is not None:
            setattr(dtls, _DTLS_TX_BYTES, getattr(dtls, _DTLS_TX_BYTES) + wire_bytes)
            setattr(dtls, _DTLS_TX_PACKETS, getattr(dtls, _DTLS_TX_PACKETS) + packets)
        self.packets_sent += packets
        self.bytes_sent += payload_bytes
        sender = self._sender
        setattr(sender, _SENDER_NTP_TIMESTAMP, last_ntp_time)
        setattr(sender, _SENDER_RTP_TIMESTAMP, last_timestamp)
        setattr(sender, _SENDER_OCTET_COUNT, self.bytes_sent)
        setattr(sender, _SENDER_PACKET_COUNT, self.packets_sent)

    def _use_pair(self, pair: CandidatePair | None) -> None:
        """Send through the ICE connection's (newly) nominated pair: straight to its UDP socket when it has one (a
        host or server-reflexive candidate), through its transport otherwise (a TURN relay wraps each packet)."""
        if pair is None:
            raise ConnectionError("the subscriber's ICE connection has no nominated pair")
        transport = pair.protocol.transport
        if transport is None:
            raise ConnectionError("the subscriber's ICE candidate is closed")
        self._pair, self._pair_addr = pair, pair.remote_addr
        self._udp_sendto = transport.sendto
        sock = getattr(transport, "_sock", None)
        buffer = getattr(transport, "_buffer", None)
        if isinstance(sock, socket.socket) and buffer is not None:
            # asyncio's own datagram transport: its sendto tries the socket first too, unless packets are queued.
            self._sock_sendto, self._udp_buffer = sock.sendto, buffer
        else:
            self._sock_sendto, self._udp_buffer = None, ()


# --- codecs -----------------------------------------------------------------------------------------------------


def negotiable_codecs(kind: str, offered: list[RTCRtpCodecParameters]) -> list[RTCRtpCodecParameters]:
    """The codecs aiortc would accept from an offer, in aiortc's preference order (VP8 before H.264, Opus first)."""
    common = find_common_codecs(CODECS[kind], offered)
    local_order = [c.mimeType.lower() for c in CODECS[kind]]
    media = [c for c in common if c.mimeType.lower() != f"{kind}/rtx"]
    return sorted(media, key=lambda c: local_order.index(c.mimeType.lower()))


def codec_preferences(codec: RTCRtpCodecParameters) -> list[RTCRtpCodecCapability]:
    """Codec preferences restricting a transceiver to exactly `codec` (plus RTX for video, so NACK repair works).

    `codec` comes from `negotiable_codecs`, a copy of aiortc's own entry, so it matches its capabilities.
    """
    capability = RTCRtpCodecCapability(
        mimeType=codec.mimeType,
        clockRate=codec.clockRate,
        channels=codec.channels,
        parameters=copy.deepcopy(codec.parameters),
    )
    preferences = [capability]
    if codec.mimeType.lower().startswith("video/"):
        preferences.append(RTCRtpCodecCapability(mimeType="video/rtx", clockRate=codec.clockRate))
    return preferences


def negotiated_codec(transceiver: RTCRtpTransceiver) -> RTCRtpCodecParameters | None:
    """The media codec a transceiver settled on in offer/answer (aiortc keeps it on the transceiver)."""
    for codec in transceiver._codecs:
        if codec.name.lower() != "rtx":
            return codec
    return None


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """Name the MediaStream (msid) a sender's track belongs to: browsers lip-sync tracks of one stream."""
    sender._stream_id = stream_id
