"""The link between two SFU nodes (one per city): plain RTP/RTCP over one UDP socket per node, with its own repair.

Like mediasoup's PipeTransport, not a WebRTC peer connection: no ICE, no DTLS (the link runs between the
consortium's own nodes). Per track, a `LinkSender` on the origin node sends the publisher's RTP packets (payload,
marker and timestamp unchanged, the link's own SSRC and sequence numbers) to the peer node's advertised link
address, where a `LinkReceiver` with the same SSRC hands every packet to its Sfu at once (no reorder wait: the
subscribers' jitter buffers reorder), drops duplicates and NACKs gaps. A gap is NACKed at its own due time (a timer
per receiver, not a periodic tick), once it is older than the reordering this receiver has seen lately (how long
after a gap its reordered packets came, at most `max_reorder_ms`): on a link that does not reorder a loss is asked
for a few milliseconds after it shows, and a packet that came after its NACK makes the next gaps wait longer.
The sender answers NACKs from its history with RFC 4588 retransmissions (own RTX SSRC, original sequence number in
the first two payload bytes). A retransmission comes a round trip late, so a video sender also sends, right behind
a frame's last packet, an XOR parity of the frame's packets on its FEC SSRC, as often as `fec_share` of its bytes
allows (about one frame in three at 12 %, leaving the repairs inside the 15 % a link may add): a receiver missing
exactly one of those packets rebuilds it at once, with no NACK. PLIs go back to the sender (at most one per
`keyframe_interval` per track) and reach the publisher through the origin Sfu. Both sides send RTCP (SR from
senders, RR from receivers) so each knows the link's round trip (LSR/DLSR), loss, interarrival jitter (RFC 3550)
and bitrate.

Incoming packets are matched by SSRC only, never by source address (a relay or NAT may rewrite it): media and SR
by the receiver's SSRC, RTX by its RTX SSRC, NACK/PLI by `media_ssrc` and RR blocks by their `ssrc` to a sender.
Malformed datagrams are counted and dropped. Pure asyncio, no Django.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import logging
import math
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from aiortc import clock
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    HeaderExtensionsMap,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    is_rtcp,
    unwrap_rtx,
    wrap_rtx,
)

logger = logging.getLogger(__name__)

Address = tuple[str, int]
PacketHandler = Callable[[RtpPacket], Awaitable[None]]

# The link's own header extensions: only the audio level survives the crossing (legs forward it to subscribers).
_EXTENSIONS = HeaderExtensionsMap()
_EXTENSIONS.configure(
    RTCRtpParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")]
    )
)
_FIR = 4  # RTCP PSFB FMT for a full intra request, treated as a PLI
_RECEIVED_WINDOW = 4096  # sequence numbers a receiver remembers for duplicate detection
_MAX_MISSING = 2048  # lost packets a receiver tracks at once (bounded memory under any loss pattern)
_QUEUE_LIMIT = 10_000  # packets waiting to be handed to the Sfu before new ones are dropped
_READ_BURST = 2000  # datagrams read at most per readable event (then the loop runs others and comes back)
# A sender whose source restarts (a new publisher SSRC) skips this many sequence numbers: more than any receiver's
# max_gap, so the far side sees a restart rather than losses to repair.
_RESTART_SKIP = 0x4000


def link_rtx_ssrc(ssrc: int) -> int:
    """The RTX SSRC that goes with a link stream's media SSRC (both sides derive it, so nothing is negotiated)."""
    return ssrc ^ 0x5A5A5A5A


def link_fec_ssrc(ssrc: int) -> int:
    """The SSRC of a link stream's parity packets (derived like the RTX one)."""
    return ssrc ^ 0x0FEC0FEC


# Parity packets: RTP on the FEC SSRC with this payload type (outside the dynamic range aiortc's codecs use), payload
# `base sequence number (16 bits), count (8 bits)` then the XOR of each protected packet's block (below), the
# shorter blocks zero-padded: a receiver missing exactly one of the `count` packets from `base` rebuilds it.
_FEC_PAYLOAD_TYPE = 127
_FEC_HEADER = struct.Struct("!HB")
_FEC_LENGTH = struct.Struct("!H")
_FEC_RECENT = 512  # packets a video receiver keeps (sequence number → wire form) to rebuild a lost one from parity
_FEC_PENDING = 16  # parities a receiver holds while more than one of their packets is still missing


def _fec_block(data: bytes) -> bytes:
    """What a parity protects of one packet: the first two header bytes (flags, marker, payload type), the
    timestamp, the length after the fixed header, and that remainder (extensions and payload). The sequence number
    comes from the parity's range and the SSRC from the stream."""
    return data[0:2] + data[4:8] + _FEC_LENGTH.pack(len(data) - 12) + data[12:]


def _xor(blocks: Sequence[bytes]) -> bytes:
    """XOR of byte strings, the shorter ones zero-padded on the right."""
    size = max(len(block) for block in blocks)
    value = 0
    for block in blocks:
        value ^= int.from_bytes(block.ljust(size, b"\0"), "big")
    return value.to_bytes(size, "big")


def _fec_rebuild(block: bytes, sequence_number: int, ssrc: int) -> bytes:
    """The wire form of a packet from its block (the inverse of `_fec_block`); ValueError if it is not one."""
    if len(block) < 8:
        raise ValueError("parity block too short")
    (length,) = _FEC_LENGTH.unpack_from(block, 6)
    if len(block) < 8 + length:
        raise ValueError("parity block shorter than its length")
    return (
        block[0:2] + struct.pack("!H", sequence_number) + block[2:6] + struct.pack("!I", ssrc) + block[8 : 8 + length]
    )


@dataclass(frozen=True)
class LinkConfig:
    nack_history: int = 1024  # packets per sender kept for retransmission (a ring: bounded memory)
    rtcp_interval: float = 0.5  # seconds between SR/RR
    keyframe_interval: float = 1.0  # least time between two PLIs a receiver sends for one track
    reorder_ms: float = 5.0  # a gap waits this long beyond the reordering seen lately before its first NACK
    reorder_window: float = 5.0  # seconds of reordering remembered (the largest lateness in them counts)
    max_nacks: int = 6  # NACKs per lost packet before giving up on it
    max_nack_age: float = 1.0  # seconds: a lost packet older than this is given up on (video: keyframe asked)
    max_gap: int = 400  # a larger gap (an outage, a restart) is not NACKed: a keyframe is asked instead
    max_reorder_ms: float = 80.0  # the reorder allowance (reorder_ms + the reordering seen) never exceeds this
    tick: float = 0.01  # seconds between runs of the periodic timer (give-ups, keyframe requests, RTCP due)
    rtx_share: float = 0.5  # retransmissions may add at most this share of a stream's media bytes (libwebrtc's)
    rtx_burst_bytes: int = 64_000  # ...saved up to this many bytes, for a burst of losses
    receive_buffer: int = 1 << 20  # SO_RCVBUF of the link socket: a busy node's loop must not lose what queues
    default_rtt_ms: float = 100.0  # until a round trip is measured
    rate_window: float = 2.0  # seconds over which send/receive bitrates are averaged
    tail_probe_after: float = 0.25  # a stream quiet this long has its last packet resent (a lost tail shows no gap)
    tail_probes: int = 2  # ...at most this many times
    fec_share: float = 0.12  # a video stream's parity packets may add at most this share of its media bytes
    fec_burst_bytes: int = 4_000  # ...saved up to this many bytes


class LinkStats(TypedDict):
    """One peer node, both directions. loss/jitter: what the peer reports about our streams (None before its first
    report or with no stream to it); rtt likewise, or, with no stream of ours to it, measured from our NACKs to its
    retransmissions (None until something was lost); receive_*: what we measure on its streams to us."""

    peer: str  # "host:port" advertised address
    rtt_ms: float | None
    loss_pct: float | None
    jitter_ms: float | None
    receive_loss_pct: float | None  # before repair
    receive_jitter_ms: float | None
    send_kbps: float
    receive_kbps: float
    streams_out: int
    streams_in: int
    nacks_sent: int  # packets asked for again
    nacks_received: int
    retransmissions: int
    repaired: int  # lost packets that arrived by retransmission or were rebuilt from parity
    recovered: int  # ...of which rebuilt from parity (FEC): no round trip
    parities_sent: int
    lost: int  # lost packets given up on
    duplicates: int
    keyframe_requests_sent: int
    at: float  # time.time()


class _Peer:
    """Counters for one peer node (both directions) and the samples its bitrates are computed from."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self.bytes_sent = 0
        self.bytes_received = 0
        self.nacks_sent = 0
        self.nacks_received = 0
        self.retransmissions = 0
        self.repaired = 0
        self.recovered = 0
        self.parities_sent = 0
        self.lost = 0
        self.duplicates = 0
        self.keyframe_requests_sent = 0
        self.receive_rtt_ms: float | None = None  # from NACK → retransmission, when we only receive
        self.samples: deque[tuple[float, int, int]] = deque()
        self.users = 0  # open senders and receivers

    def sample(self, now: float, window: float) -> None:
        self.samples.append((now, self.bytes_sent, self.bytes_received))
        while len(self.samples) > 2 and now - self.samples[1][0] >= window:
            self.samples.popleft()

    def rates_kbps(self, now: float) -> tuple[float, float]:
        if not self.samples:
            return 0.0, 0.0
        at, sent, received = self.samples[0]
        elapsed = now - at
        if elapsed <= 0:
            return 0.0, 0.0
        return (self.bytes_sent - sent) * 8 / elapsed / 1000, (self.bytes_received - received) * 8 / elapsed / 1000


def _smooth(previous: float | None, value: float, weight: float = 0.25) -> float:
    return value if previous is None else previous + weight * (value - previous)


class LinkSender:
    """One track sent over the link: renumbered, kept for retransmission, reported on by the peer's RRs."""

    def __init__(
        self,
        endpoint: LinkEndpoint,
        *,
        peer: Address,
        ssrc: int,
        kind: str,
        clock_rate: int,
        on_keyframe_request: Callable[[], None],
    ) -> None:
        self.peer = peer
        self.ssrc = ssrc
        self.rtx_ssrc = link_rtx_ssrc(ssrc)
        self.fec_ssrc = link_fec_ssrc(ssrc)
        self.kind = kind
        self.clock_rate = clock_rate
        self.closed = False
        self.packets = 0
        self.octets = 0
        self.keyframe_requests = 0
        self.parities = 0
        self.rtt_ms: float | None = None
        self.jitter_ms: float | None = None
        self._endpoint = endpoint
        self._on_keyframe_request = on_keyframe_request
        self._history: list[RtpPacket | None] = [None] * endpoint.config.nack_history
        self._rtx_at = [-math.inf] * endpoint.config.nack_history  # when each history packet was last resent
        self._rtx_budget = 0.0  # bytes retransmissions may still use (a share of the media sent)
        self.rtx_skipped = 0  # NACKed packets not resent: over the budget, or resent less than a round trip ago
        self._source_ssrc: int | None = None
        self._offset: int | None = None  # link seq = publisher seq + offset (keeps the publisher's gaps and order)
        self._next_seq = random.randrange(0x8000)
        self._last_seq: int | None = None
        self._rtx_seq = random.randrange(0x8000)
        self._last_timestamp = 0
        self._last_sent_at = 0.0
        self._tail_probes = 0  # resends of the last packet since the stream went quiet
        # The frame being sent (consecutive link packets of one timestamp), for its parity; video only.
        self._fec = kind == "video" and endpoint.config.fec_share > 0
        self._fec_budget = 0.0
        self._fec_seq = random.randrange(0x8000)
        self._frame: list[bytes] = []
        self._frame_first = 0
        self._frame_timestamp = 0
        # (monotonic time, cumulative lost, extended highest seq) from the peer's reports, for the loss rate.
        self._reports: deque[tuple[float, int, int]] = deque(maxlen=21)

    def send(self, packet: RtpPacket) -> None:
        """Send one of the publisher's packets (as the origin Sfu's tap hands it over) to the peer node."""
        if self.closed:
            return
        seq = packet.sequence_number
        if packet.ssrc != self._source_ssrc:
            # First packet, or the publisher restarted its stream: a jump in the link's numbering tells the far side.
            if self._last_seq is not None:
                self._next_seq = (self._last_seq + 1 + _RESTART_SKIP) & 0xFFFF
            self._offset = (self._next_seq - seq) & 0xFFFF
            self._source_ssrc = packet.ssrc
        assert self._offset is not None
        out_seq = (seq + self._offset) & 0xFFFF
        link_packet = RtpPacket(
            payload_type=packet.payload_type,
            marker=packet.marker,
            sequence_number=out_seq,
            timestamp=packet.timestamp,
            ssrc=self.ssrc,
            payload=packet.payload,
        )
        link_packet.extensions.audio_level = packet.extensions.audio_level
        data = link_packet.serialize(_EXTENSIONS)
        self._endpoint._send(data, self.peer)
        slot = out_seq % len(self._history)
        self._history[slot] = link_packet
        self._rtx_at[slot] = -math.inf
        config = self._endpoint.config
        self._rtx_budget = min(self._rtx_budget + len(data) * config.rtx_share, config.rtx_burst_bytes)
        if self._fec:
            self._protect(data, out_seq, packet.timestamp, packet.marker)
        self.packets += 1
        self.octets += len(packet.payload)
        if self._last_seq is None or 0 < (out_seq - self._last_seq) & 0xFFFF < 0x8000:
            self._last_seq = out_seq
            self._last_timestamp = packet.timestamp
            self._last_sent_at = time.monotonic()
            self._tail_probes = 0

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._history = []
            self._rtx_at = []
            self._frame = []
            self._endpoint._forget_sender(self)

    def _protect(self, data: bytes, seq: int, timestamp: int, marker: int) -> None:
        """Collect the frame's packets; after its last one (the marker), send their parity if the budget allows."""
        config = self._endpoint.config
        self._fec_budget = min(self._fec_budget + len(data) * config.fec_share, config.fec_burst_bytes)
        frame = self._frame
        if frame and (timestamp != self._frame_timestamp or seq != (self._frame_first + len(frame)) & 0xFFFF):
            frame.clear()  # a frame whose end was lost, or a retransmission from the publisher: NACKs repair those
        if not frame:
            self._frame_first, self._frame_timestamp = seq, timestamp
        frame.append(data)
        if not marker:
            return
        packets = list(frame)
        frame.clear()
        # A single-packet frame's parity would be a copy: the budget protects more packets in larger frames.
        if len(packets) < 2 or len(packets) > 255:
            return
        # The parity's size, known before it is built: RTP header, FEC header, then the longest block (a packet
        # less its sequence number and SSRC, plus its length).
        if 12 + _FEC_HEADER.size + max(map(len, packets)) - 4 > self._fec_budget:
            return
        parity = RtpPacket(
            payload_type=_FEC_PAYLOAD_TYPE,
            sequence_number=self._fec_seq,
            timestamp=timestamp,
            ssrc=self.fec_ssrc,
            payload=_FEC_HEADER.pack(self._frame_first, len(packets)) + _xor([_fec_block(p) for p in packets]),
        ).serialize()
        self._fec_budget -= len(parity)
        self._fec_seq = (self._fec_seq + 1) & 0xFFFF
        self.parities += 1
        self._endpoint._send(parity, self.peer)
        self._endpoint._peer(self.peer).parities_sent += 1

    # -- RTCP from the peer ---------------------------------------------------------------------------------------

    def _retransmit(self, sequence_numbers: list[int], peer: _Peer) -> None:
        peer.nacks_received += len(sequence_numbers)
        if not self._history:
            return
        now = time.monotonic()
        # A packet resent less than a round trip ago is on its way: a second copy only adds load (libwebrtc's rule).
        resend_after = 0.75 * self.rtt_ms / 1000 if self.rtt_ms is not None else 0.0
        for seq in sequence_numbers:
            slot = seq % len(self._history)
            packet = self._history[slot]
            if packet is None or packet.sequence_number != seq:
                continue  # too old: the receiver will give up on it
            if now - self._rtx_at[slot] < resend_after or not self._resend(packet, slot, now):
                self.rtx_skipped += 1
                continue
            peer.retransmissions += 1

    def _resend(self, packet: RtpPacket, slot: int, now: float) -> bool:
        """Send `packet` again on the RTX stream, if the retransmission budget allows."""
        # Retransmissions are told apart by their SSRC, so they keep the media payload type (nothing to map).
        rtx = wrap_rtx(packet, packet.payload_type, self._rtx_seq, self.rtx_ssrc)
        data = rtx.serialize(_EXTENSIONS)
        if len(data) > self._rtx_budget:
            # Repair must not crowd out the media: past its share, a loss waits for the next keyframe.
            return False
        self._rtx_budget -= len(data)
        self._rtx_at[slot] = now
        self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
        self._endpoint._send(data, self.peer)
        return True

    def _probe_tail(self, now: float) -> None:
        """A stream gone quiet: resend its last packet (twice at most), so that a receiver which lost the tail learns
        of the gap and asks for it; no later packet would tell it (TCP's tail loss probe)."""
        config = self._endpoint.config
        if (
            self._last_seq is None
            or not self._history
            or self._tail_probes >= config.tail_probes
            or now - self._last_sent_at < config.tail_probe_after
        ):
            return
        self._tail_probes += 1
        slot = self._last_seq % len(self._history)
        packet = self._history[slot]
        if packet is not None and packet.sequence_number == self._last_seq and self._resend(packet, slot, now):
            self._endpoint._peer(self.peer).retransmissions += 1

    def _keyframe_requested(self) -> None:
        self.keyframe_requests += 1
        try:
            self._on_keyframe_request()
        except Exception:
            logger.exception("keyframe request handler of link stream %08x failed", self.ssrc)

    def _report(self, report: RtcpReceiverInfo) -> None:
        if report.lsr:
            now_ntp = (clock.current_ntp_time() >> 16) & 0xFFFFFFFF
            rtt = ((now_ntp - report.lsr - report.dlsr) & 0xFFFFFFFF) / 65536
            if rtt < 60:
                self.rtt_ms = _smooth(self.rtt_ms, rtt * 1000)
        self.jitter_ms = report.jitter / self.clock_rate * 1000
        self._reports.append((time.monotonic(), report.packets_lost, report.highest_sequence))

    def _loss(self) -> tuple[int, int]:
        """(lost, expected) over the reports of the last ~10 s."""
        if len(self._reports) < 2:
            return 0, 0
        _, lost_0, highest_0 = self._reports[0]
        _, lost_1, highest_1 = self._reports[-1]
        return max(0, lost_1 - lost_0), max(0, highest_1 - highest_0)

    def _sender_report(self) -> RtcpSrPacket | None:
        if not self.packets:
            return None
        # The RTP timestamp of "now", extrapolated from the last packet sent.
        elapsed = time.monotonic() - self._last_sent_at
        rtp_timestamp = (self._last_timestamp + int(elapsed * self.clock_rate)) & 0xFFFFFFFF
        info = RtcpSenderInfo(
            ntp_timestamp=clock.current_ntp_time(),
            rtp_timestamp=rtp_timestamp,
            packet_count=self.packets & 0xFFFFFFFF,
            octet_count=self.octets & 0xFFFFFFFF,
        )
        return RtcpSrPacket(ssrc=self.ssrc, sender_info=info)


@dataclass
class _Missing:
    first_at: float
    nacks: int = 0
    last_nack_at: float = 0.0


class LinkReceiver:
    """One track received over the link: duplicates dropped, gaps NACKed, keyframes asked, RR statistics kept.

    `on_packet` gets each packet once, in arrival order, with the link's sequence numbers. After a gap that cannot
    be repaired (an outage, or the origin's publisher restarting) the packets handed on carry a new SSRC: to the
    Sfu that is a publisher restarting its stream, so its legs continue at the next keyframe (asked across at once)
    without a hole in their numbering that a subscriber's jitter buffer would wait on.
    """

    def __init__(
        self,
        endpoint: LinkEndpoint,
        *,
        peer: Address,
        ssrc: int,
        kind: str,
        clock_rate: int,
        on_packet: PacketHandler,
    ) -> None:
        self.peer = peer
        self.ssrc = ssrc
        self.rtx_ssrc = link_rtx_ssrc(ssrc)
        self.fec_ssrc = link_fec_ssrc(ssrc)
        self.kind = kind
        self.clock_rate = clock_rate
        self.on_packet = on_packet
        self.closed = False
        self.packets = 0  # originals received (not retransmissions, not duplicates)
        self.retransmissions = 0
        self.duplicates = 0
        self.repaired = 0
        self.recovered = 0  # lost packets rebuilt from parity
        self.lost = 0
        self.keyframe_requests_sent = 0
        self._endpoint = endpoint
        self._config = endpoint.config
        self._video = kind == "video"
        self._max_ext: int | None = None
        self._base_ext = 0
        self._received = [-1] * _RECEIVED_WINDOW
        self._missing: dict[int, _Missing] = {}
        self._last_arrival = 0.0
        self._jitter = 0.0  # RFC 3550, in timestamp units
        self._transit: int | None = None
        self._lsr = 0  # middle 32 bits of the last SR's NTP time
        self._lsr_at = 0.0
        self._expected_prior = 0
        self._received_prior = 0
        self._keyframe_at = -math.inf
        self._keyframe_wanted = False
        # (arrival, lateness) of reordered packets in the last reorder_window, latenesses decreasing: [0] is the peak.
        self._reordering: deque[tuple[float, float]] = deque()
        self.reordered = 0  # originals that came after a later packet (not lost: late)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self.generation = 0  # unrepairable gaps so far: packets are handed on with SSRC ssrc + generation
        # Video: recent packets' wire forms by sequence number, and parities still waiting for all but one packet.
        self._recent: list[tuple[int, bytes] | None] = [None] * _FEC_RECENT if self._video else []
        self._parities: deque[tuple[int, int, bytes]] = deque(maxlen=_FEC_PENDING)
        # Extended sequence numbers rebuilt from parity: (when they were first missed, counted as repaired).
        self._rebuilt_early: dict[int, tuple[float, bool]] = {}

    # -- control ------------------------------------------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the origin for a keyframe: now, or once when the last request is `keyframe_interval` old."""
        if self.closed or not self._video:
            return
        self._keyframe_wanted = True
        self._maybe_send_keyframe_request(time.monotonic())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._missing.clear()
            self._cancel_timer()
            self._endpoint._forget_receiver(self)

    @property
    def reorder_allowance_ms(self) -> float:
        """How long a gap waits now before its first NACK."""
        return self._allowance(time.monotonic()) * 1000

    # -- media in -----------------------------------------------------------------------------------------------

    def _accept(
        self, packet: RtpPacket, now: float, peer: _Peer, *, retransmission: bool, recovered: bool = False
    ) -> bool:
        """Book-keep one packet (the original, its retransmission or, `recovered`, its rebuild from parity); False if
        it is a duplicate or too old."""
        seq = packet.sequence_number
        if self._max_ext is None:
            self._max_ext = self._base_ext = seq
            self._last_arrival = now
            ext = seq
        else:
            delta = (seq - self._max_ext) & 0xFFFF
            ext = self._max_ext + delta if delta < 0x8000 else self._max_ext - (0x10000 - delta)
        newest = ext > self._max_ext
        if newest:
            gap = ext - self._max_ext - 1
            outage = gap > self._config.max_gap or now - self._last_arrival > self._config.max_nack_age
            # A retransmission beyond the highest number seen (a tail probe) shows a gap too, never an outage.
            if gap and (not retransmission or not outage):
                if outage:
                    # An outage or a restart: what was lost is too old to repair; start again from a keyframe.
                    if gap <= self._config.max_gap:
                        self.lost += gap
                        peer.lost += gap
                    else:
                        self._base_ext += gap  # numbers skipped by a restart were never sent: not lost
                    self._missing.clear()
                    self._transit = None  # a restarted source has a new timestamp origin: not jitter
                    self.generation += 1
                    self.request_keyframe()
                else:
                    for lost_ext in range(self._max_ext + 1, ext):
                        self._missing[lost_ext] = _Missing(first_at=now)
                    self._trim_missing(peer)
                    self._schedule(now + self._allowance(now))
            self._max_ext = ext
        elif ext <= self._max_ext - _RECEIVED_WINDOW or self._received[ext % _RECEIVED_WINDOW] == ext:
            early = self._rebuilt_early.pop(ext, None) if not retransmission else None
            if early is not None:
                self._late_original(early, now, peer)
            else:
                self.duplicates += 1
                peer.duplicates += 1
            return False
        self._received[ext % _RECEIVED_WINDOW] = ext
        missing = self._missing.pop(ext, None)
        if retransmission:
            repairs = missing is not None or newest  # newest: a tail probe brought a packet never seen
            if recovered:
                self.recovered += 1
                peer.recovered += 1
                # Rebuilt before its original came: that may yet come, only late (the link reorders).
                self._rebuilt_early[ext] = (missing.first_at if missing is not None else now, repairs)
                if len(self._rebuilt_early) > _FEC_RECENT:
                    del self._rebuilt_early[next(iter(self._rebuilt_early))]
            else:
                self.retransmissions += 1
            if repairs:
                self.repaired += 1
                peer.repaired += 1
                if missing is not None and missing.nacks == 1 and not recovered:
                    peer.receive_rtt_ms = _smooth(peer.receive_rtt_ms, (now - missing.last_nack_at) * 1000)
        else:
            self.packets += 1
            self._last_arrival = now
            if missing is not None:
                self._reordered(now, now - missing.first_at)
            # Interarrival jitter (RFC 3550 A.8) on originals only.
            transit = int(now * self.clock_rate) - packet.timestamp
            if self._transit is not None:
                difference = abs(((transit - self._transit + 0x80000000) & 0xFFFFFFFF) - 0x80000000)
                self._jitter += (difference - self._jitter) / 16
            self._transit = transit
        return True

    # -- parity (FEC) ------------------------------------------------------------------------------------------------

    def _late_original(self, early: tuple[float, bool], now: float, peer: _Peer) -> None:
        """The original of a packet rebuilt from parity came after all: it was late, not lost. Count it as received
        (loss is measured before repair) and as reordering, and take back the repair."""
        first_at, counted = early
        self.packets += 1
        self.recovered -= 1
        peer.recovered -= 1
        if counted:
            self.repaired -= 1
            peer.repaired -= 1
        self._reordered(now, now - first_at)

    def _remember(self, seq: int, data: bytes) -> bytes | None:
        """Keep an accepted packet for rebuilding; the wire form of a packet its arrival makes rebuildable, if any."""
        recent = self._recent
        if not recent:
            return None
        recent[seq % _FEC_RECENT] = (seq, data)
        for parity in self._parities:
            base, count, _ = parity
            if (seq - base) & 0xFFFF < count:
                return self._try_rebuild(parity)
        return None

    def _parity(self, packet: RtpPacket) -> bytes | None:
        """A parity packet arrived: the wire form of the one packet it rebuilds now, if any."""
        if not self._recent or len(packet.payload) <= _FEC_HEADER.size:
            return None
        base, count = _FEC_HEADER.unpack_from(packet.payload)
        if count < 1:
            return None
        parity = (base, count, packet.payload[_FEC_HEADER.size :])
        self._parities.append(parity)
        return self._try_rebuild(parity)

    def _try_rebuild(self, parity: tuple[int, int, bytes]) -> bytes | None:
        base, count, xor = parity
        recent = self._recent
        missing: int | None = None
        blocks = [xor]
        for offset in range(count):
            seq = (base + offset) & 0xFFFF
            kept = recent[seq % _FEC_RECENT]
            if kept is not None and kept[0] == seq:
                blocks.append(_fec_block(kept[1]))
            elif missing is not None:
                return None  # two or more still missing: wait for more packets (or leave them to NACKs)
            else:
                missing = seq
        self._parities.remove(parity)
        if missing is None:
            return None  # nothing was lost
        try:
            return _fec_rebuild(_xor(blocks), missing, self.ssrc)
        except ValueError:
            return None

    def _reordered(self, now: float, lateness: float) -> None:
        """An original came `lateness` seconds after a later packet showed its gap: the link reorders this much."""
        self.reordered += 1
        seen = self._reordering
        while seen and seen[-1][1] <= lateness:
            seen.pop()
        seen.append((now, lateness))

    def _allowance(self, now: float) -> float:
        """How long a gap waits before its first NACK: the largest lateness of a reordered packet lately (before any,
        twice the interarrival jitter) plus `reorder_ms`, at most `max_reorder_ms`."""
        config, seen = self._config, self._reordering
        while seen and now - seen[0][0] > config.reorder_window:
            seen.popleft()
        peak = seen[0][1] if seen else 2 * self._jitter / self.clock_rate
        return min(config.reorder_ms / 1000 + peak, config.max_reorder_ms / 1000)

    def _schedule(self, at: float) -> None:
        """Run the NACK timer at `at` (monotonic), unless it is due sooner already."""
        loop = self._endpoint._loop
        if self.closed or loop is None or self._timer_at <= at:
            return
        self._cancel_timer()
        self._timer_at = at
        self._timer = loop.call_later(max(0.0, at - time.monotonic()), self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = math.inf

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if not self.closed and self._missing:
            self._endpoint._receiver_due(self)

    def _trim_missing(self, peer: _Peer) -> None:
        while len(self._missing) > _MAX_MISSING:
            del self._missing[next(iter(self._missing))]
            self.lost += 1
            peer.lost += 1

    # -- timers -------------------------------------------------------------------------------------------------

    def _tick(self, now: float, rtt: float, peer: _Peer) -> None:
        self._maybe_send_keyframe_request(now)
        if not self._missing:
            return
        config = self._config
        # Jittery links reorder: wait a little longer than the reordering seen before calling a packet lost.
        allowance = self._allowance(now)
        retry = rtt + allowance
        lost: list[int] = []
        gave_up = False
        next_due = math.inf
        for ext, missing in list(self._missing.items()):
            age = now - missing.first_at
            exhausted = missing.nacks >= config.max_nacks and now - missing.last_nack_at > retry
            if age > config.max_nack_age or exhausted:
                del self._missing[ext]
                self.lost += 1
                peer.lost += 1
                gave_up = True
                continue
            if missing.nacks >= config.max_nacks:
                continue
            due = missing.first_at + allowance if missing.nacks == 0 else missing.last_nack_at + retry
            if now >= due:
                missing.nacks += 1
                missing.last_nack_at = now
                lost.append(ext & 0xFFFF)
                due = now + retry if missing.nacks < config.max_nacks else math.inf
            next_due = min(next_due, due)
        if next_due < math.inf:
            self._schedule(next_due)
        if lost:
            peer.nacks_sent += len(lost)
            for start in range(0, len(lost), 200):  # keep each NACK well inside one datagram
                nack = RtcpRtpfbPacket(
                    fmt=RTCP_RTPFB_NACK, ssrc=self._endpoint.rtcp_ssrc, media_ssrc=self.ssrc, lost=lost[start:][:200]
                )
                self._endpoint._send(bytes(nack), self.peer)
        if gave_up:
            self.request_keyframe()  # what follows a lost video packet does not decode until the next keyframe

    def _maybe_send_keyframe_request(self, now: float) -> None:
        if not self._keyframe_wanted or self.closed or now - self._keyframe_at < self._config.keyframe_interval:
            return
        self._keyframe_wanted = False
        self._keyframe_at = now
        self.keyframe_requests_sent += 1
        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=self._endpoint.rtcp_ssrc, media_ssrc=self.ssrc)
        self._endpoint._send(bytes(pli), self.peer)
        self._endpoint._peer(self.peer).keyframe_requests_sent += 1

    def _sender_report(self, packet: RtcpSrPacket) -> None:
        self._lsr = (packet.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF
        self._lsr_at = time.monotonic()

    def _report_block(self, now: float) -> RtcpReceiverInfo | None:
        if self._max_ext is None:
            return None
        expected = self._max_ext - self._base_ext + 1
        lost = expected - self.packets
        expected_interval = expected - self._expected_prior
        received_interval = self.packets - self._received_prior
        self._expected_prior, self._received_prior = expected, self.packets
        lost_interval = expected_interval - received_interval
        fraction = (lost_interval << 8) // expected_interval if expected_interval > 0 and lost_interval > 0 else 0
        return RtcpReceiverInfo(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            packets_lost=max(-0x800000, min(lost, 0x7FFFFF)),
            highest_sequence=self._max_ext & 0xFFFFFFFF,
            jitter=int(self._jitter),
            lsr=self._lsr,
            dlsr=int((now - self._lsr_at) * 65536) if self._lsr else 0,
        )

    def _loss(self) -> tuple[int, int]:
        if self._max_ext is None:
            return 0, 0
        expected = self._max_ext - self._base_ext + 1
        return max(0, expected - self.packets), expected


class LinkEndpoint:
    """A node's link socket: every sender and receiver to and from every peer node goes through it.

    `await LinkEndpoint.open(host, port)`; `open_sender` / `open_receiver` per track and peer; `stats()` per peer;
    `await close()` frees the socket, the timer task and the forwarding task.
    """

    def __init__(self, config: LinkConfig | None = None) -> None:
        self.config = config or LinkConfig()
        self.address: Address = ("", 0)
        self.rtcp_ssrc = random.getrandbits(32)  # our SSRC as a reporter in RR, NACK and PLI
        self.malformed = 0  # datagrams that were not RTP/RTCP
        self.unknown = 0  # well-formed packets for a stream we do not have (closed, or never opened)
        self.overflowed = 0  # packets dropped because the Sfu could not keep up
        self._socket: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._senders: dict[int, LinkSender] = {}
        self._receivers: dict[int, LinkReceiver] = {}
        self._receivers_rtx: dict[int, LinkReceiver] = {}
        self._receivers_fec: dict[int, LinkReceiver] = {}
        self._peers: dict[Address, _Peer] = {}
        self._queue: deque[tuple[LinkReceiver, RtpPacket]] = deque()
        self._queued = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @classmethod
    async def open(cls, host: str, port: int = 0, *, config: LinkConfig | None = None) -> LinkEndpoint:
        endpoint = cls(config)
        loop = asyncio.get_running_loop()
        # "" binds every IPv4 address, as asyncio's datagram endpoints do.
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
        [(family, _, _, _, local), *_] = infos
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            # A node whose loop is busy fanning out must find what arrived meanwhile still queued in the kernel.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, endpoint.config.receive_buffer)
            sock.setblocking(False)
            sock.bind(local)
        except OSError:
            sock.close()
            raise
        # Our own reader rather than asyncio's datagram transport, which reads one datagram per loop iteration:
        # each readable event drains the socket, so a lagging loop neither falls behind the link nor NACKs
        # packets that were only waiting in the socket.
        endpoint._socket, endpoint._loop = sock, loop
        loop.add_reader(sock.fileno(), endpoint._read)
        bound_host, bound_port = sock.getsockname()[:2]
        endpoint.address = (bound_host, bound_port)
        endpoint._tasks = [
            asyncio.ensure_future(endpoint._run_timers()),
            asyncio.ensure_future(endpoint._run_forwarding()),
        ]
        return endpoint

    # -- streams ------------------------------------------------------------------------------------------------

    def open_sender(
        self, *, peer: Address, ssrc: int, kind: str, clock_rate: int, on_keyframe_request: Callable[[], None]
    ) -> LinkSender:
        self._check_ssrc(ssrc, self._senders, peer)
        sender = LinkSender(
            self, peer=peer, ssrc=ssrc, kind=kind, clock_rate=clock_rate, on_keyframe_request=on_keyframe_request
        )
        self._senders[ssrc] = sender
        self._peer(peer).users += 1
        return sender

    def open_receiver(
        self, *, peer: Address, ssrc: int, kind: str, clock_rate: int, on_packet: PacketHandler
    ) -> LinkReceiver:
        self._check_ssrc(ssrc, self._receivers, peer)
        receiver = LinkReceiver(self, peer=peer, ssrc=ssrc, kind=kind, clock_rate=clock_rate, on_packet=on_packet)
        self._receivers[ssrc] = receiver
        self._receivers_rtx[receiver.rtx_ssrc] = receiver
        self._receivers_fec[receiver.fec_ssrc] = receiver
        self._peer(peer).users += 1
        return receiver

    def _check_ssrc(self, ssrc: int, streams: dict[int, LinkSender] | dict[int, LinkReceiver], peer: Address) -> None:
        if self._closed:
            raise RuntimeError("the link endpoint is closed")
        try:
            ipaddress.ip_address(peer[0])
        except ValueError:
            # A host name would be resolved again for every datagram: resolve it once, when the node starts.
            raise ValueError(f"a peer's link address must be a numeric IP address, not {peer[0]!r}") from None
        if not 0 <= ssrc <= 0xFFFFFFFF:
            raise ValueError(f"not an SSRC: {ssrc}")
        if ssrc in streams:
            raise ValueError(f"SSRC {ssrc:08x} is already in use on this link endpoint")

    def _forget_sender(self, sender: LinkSender) -> None:
        if self._senders.get(sender.ssrc) is sender:
            del self._senders[sender.ssrc]
            self._release_peer(sender.peer)

    def _forget_receiver(self, receiver: LinkReceiver) -> None:
        if self._receivers.get(receiver.ssrc) is receiver:
            del self._receivers[receiver.ssrc]
            self._receivers_rtx.pop(receiver.rtx_ssrc, None)
            self._receivers_fec.pop(receiver.fec_ssrc, None)
            self._release_peer(receiver.peer)

    def _peer(self, address: Address) -> _Peer:
        peer = self._peers.get(address)
        if peer is None:
            peer = self._peers[address] = _Peer(address)
        return peer

    def _release_peer(self, address: Address) -> None:
        peer = self._peers.get(address)
        if peer is not None:
            peer.users -= 1
            if peer.users <= 0:
                del self._peers[address]

    # -- reading ------------------------------------------------------------------------------------------------

    def stats(self) -> list[LinkStats]:
        now = time.monotonic()
        result: list[LinkStats] = []
        for address, peer in self._peers.items():
            senders = [s for s in self._senders.values() if s.peer == address]
            receivers = [r for r in self._receivers.values() if r.peer == address]
            rtts = [s.rtt_ms for s in senders if s.rtt_ms is not None]
            rtt = sum(rtts) / len(rtts) if rtts else peer.receive_rtt_ms
            jitters = [s.jitter_ms for s in senders if s.jitter_ms is not None]
            sent_losses = [s._loss() for s in senders]
            lost, expected = sum(x for x, _ in sent_losses), sum(y for _, y in sent_losses)
            received_losses = [r._loss() for r in receivers]
            received_lost, received_expected = sum(x for x, _ in received_losses), sum(y for _, y in received_losses)
            send_kbps, receive_kbps = peer.rates_kbps(now)
            result.append(
                {
                    "peer": f"{address[0]}:{address[1]}",
                    "rtt_ms": rtt,
                    "loss_pct": lost * 100 / expected if expected else (0.0 if rtts else None),
                    "jitter_ms": sum(jitters) / len(jitters) if jitters else None,
                    "receive_loss_pct": received_lost * 100 / received_expected if received_expected else None,
                    "receive_jitter_ms": (
                        sum(r._jitter / r.clock_rate * 1000 for r in receivers) / len(receivers) if receivers else None
                    ),
                    "send_kbps": send_kbps,
                    "receive_kbps": receive_kbps,
                    "streams_out": len(senders),
                    "streams_in": len(receivers),
                    "nacks_sent": peer.nacks_sent,
                    "nacks_received": peer.nacks_received,
                    "retransmissions": peer.retransmissions,
                    "repaired": peer.repaired,
                    "recovered": peer.recovered,
                    "parities_sent": peer.parities_sent,
                    "lost": peer.lost,
                    "duplicates": peer.duplicates,
                    "keyframe_requests_sent": peer.keyframe_requests_sent,
                    "at": time.time(),
                }
            )
        return result

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every stream, the socket and the endpoint's tasks (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for sender in list(self._senders.values()):
            sender.close()
        for receiver in list(self._receivers.values()):
            receiver.close()
        self._queue.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._socket is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._socket.fileno())
            self._socket.close()
            self._socket = None

    # -- the wire -----------------------------------------------------------------------------------------------

    def _send(self, data: bytes, address: Address) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(data, address)
        except OSError:
            return  # e.g. no route to the peer right now, or a full buffer: UDP may lose it, NACKs recover
        self._peer(address).bytes_sent += len(data)

    def _read(self) -> bool:
        """Read every datagram waiting in the socket (up to a burst); True if it is drained."""
        sock = self._socket
        if sock is None:
            return True
        for _ in range(_READ_BURST):
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                continue  # an ICMP error from a peer node that is down: UDP loses it, RTCP tells the story
            self._datagram(data)
        return False

    def _datagram(self, data: bytes) -> None:
        try:
            if is_rtcp(data):
                self._rtcp(RtcpPacket.parse(data), len(data))
            else:
                self._rtp(RtpPacket.parse(data, _EXTENSIONS), data)
        except Exception:
            # Whatever arrives on a UDP port must never take the node down: count it and carry on.
            self.malformed += 1

    def _rtp(self, packet: RtpPacket, data: bytes) -> None:
        now = time.monotonic()
        receiver = self._receivers.get(packet.ssrc)
        retransmission = False
        if receiver is None:
            receiver = self._receivers_rtx.get(packet.ssrc)
            if receiver is None:
                receiver = self._receivers_fec.get(packet.ssrc)
                if receiver is None:
                    self.unknown += 1
                    return
                self._peer(receiver.peer).bytes_received += len(data)
                self._rebuilt(receiver, receiver._parity(packet), now)
                return
            packet = unwrap_rtx(packet, packet.payload_type, receiver.ssrc)  # raises on a truncated one
            retransmission = True
        peer = self._peer(receiver.peer)
        peer.bytes_received += len(data)
        self._deliver(receiver, packet, data if not retransmission else None, now, peer, retransmission=retransmission)

    def _deliver(
        self,
        receiver: LinkReceiver,
        packet: RtpPacket,
        data: bytes | None,
        now: float,
        peer: _Peer,
        *,
        retransmission: bool,
        recovered: bool = False,
    ) -> None:
        """Hand an accepted packet to the Sfu's queue, and rebuild whatever its arrival makes rebuildable."""
        if not receiver._accept(packet, now, peer, retransmission=retransmission, recovered=recovered):
            return
        rebuilt: bytes | None = None
        if receiver._recent:
            seq = packet.sequence_number  # before the generation rewrite below
            rebuilt = receiver._remember(seq, data if data is not None else packet.serialize(_EXTENSIONS))
        if receiver.generation:
            packet.ssrc = (receiver.ssrc + receiver.generation) & 0xFFFFFFFF
        if len(self._queue) >= _QUEUE_LIMIT:
            self.overflowed += 1
        else:
            self._queue.append((receiver, packet))
            self._queued.set()
        self._rebuilt(receiver, rebuilt, now)

    def _rebuilt(self, receiver: LinkReceiver, data: bytes | None, now: float) -> None:
        """Deliver a packet rebuilt from parity as a repair (it may in turn complete another parity)."""
        if data is None:
            return
        try:
            packet = RtpPacket.parse(data, _EXTENSIONS)
        except ValueError:
            self.malformed += 1
            return
        self._deliver(receiver, packet, data, now, self._peer(receiver.peer), retransmission=True, recovered=True)

    def _rtcp(self, packets: Sequence[object], size: int) -> None:
        peers: set[Address] = set()  # whose streams this compound packet was about, for the byte count
        for packet in packets:
            if isinstance(packet, RtcpSrPacket):
                receiver = self._receivers.get(packet.ssrc)
                if receiver is not None:
                    receiver._sender_report(packet)
                    peers.add(receiver.peer)
                peers.update(self._reports(packet.reports))
            elif isinstance(packet, RtcpRrPacket):
                peers.update(self._reports(packet.reports))
            elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                sender = self._senders.get(packet.media_ssrc)
                if sender is not None:
                    sender._retransmit(packet.lost, self._peer(sender.peer))
                    peers.add(sender.peer)
            elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, _FIR):
                sender = self._senders.get(packet.media_ssrc)
                if sender is not None:
                    sender._keyframe_requested()
                    peers.add(sender.peer)
        if peers:
            self._peer(next(iter(peers))).bytes_received += size
        else:
            self.unknown += 1

    def _reports(self, reports: list[RtcpReceiverInfo]) -> set[Address]:
        peers: set[Address] = set()
        for report in reports:
            sender = self._senders.get(report.ssrc)
            if sender is not None:
                sender._report(report)
                peers.add(sender.peer)
        return peers

    # -- tasks --------------------------------------------------------------------------------------------------

    async def _run_forwarding(self) -> None:
        """Hand received packets to the Sfu in arrival order, one at a time (the datagram callback cannot await)."""
        queue = self._queue
        while True:
            await self._queued.wait()
            self._queued.clear()
            while queue:
                receiver, packet = queue.popleft()
                if receiver.closed:
                    continue
                try:
                    result = receiver.on_packet(packet)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    logger.exception("link stream %08x: the packet handler failed", receiver.ssrc)

    async def _run_timers(self) -> None:
        config = self.config
        next_rtcp = time.monotonic() + config.rtcp_interval
        while True:
            await asyncio.sleep(config.tick)
            # Whatever reached the socket while the loop was busy is read first: a packet still waiting there is
            # late, not lost, and must not be NACKed.
            drained = self._read()
            now = time.monotonic()
            if self._receivers and drained:
                rtts = self._rtt_seconds()
                for receiver in list(self._receivers.values()):
                    receiver._tick(now, rtts[receiver.peer], self._peer(receiver.peer))
            if now >= next_rtcp:
                next_rtcp = now + config.rtcp_interval
                self._send_rtcp(now)
                for peer in self._peers.values():
                    peer.sample(now, config.rate_window)

    def _receiver_due(self, receiver: LinkReceiver) -> None:
        """A receiver's NACK timer: judge its gaps now, once whatever waits in the socket is read (it may fill them)."""
        if not self._read():
            receiver._schedule(time.monotonic())  # more queued than one burst: read on, then judge
            return
        if receiver.closed:
            return
        receiver._tick(time.monotonic(), self._rtt_seconds()[receiver.peer], self._peer(receiver.peer))

    def _rtt_seconds(self) -> dict[Address, float]:
        """Each peer's round trip for NACK timing: from its reports on our streams, else from its retransmissions."""
        reported: dict[Address, list[float]] = {}
        for sender in self._senders.values():
            if sender.rtt_ms is not None:
                reported.setdefault(sender.peer, []).append(sender.rtt_ms)
        result: dict[Address, float] = {}
        for address, peer in self._peers.items():
            rtts = reported.get(address)
            rtt_ms = sum(rtts) / len(rtts) if rtts else peer.receive_rtt_ms
            result[address] = (rtt_ms if rtt_ms is not None else self.config.default_rtt_ms) / 1000
        return result

    def _send_rtcp(self, now: float) -> None:
        for sender in list(self._senders.values()):
            report = sender._sender_report()
            if report is not None:
                self._send(bytes(report), sender.peer)
            sender._probe_tail(now)
        blocks: dict[Address, list[RtcpReceiverInfo]] = {}
        for receiver in self._receivers.values():
            block = receiver._report_block(now)
            if block is not None:
                blocks.setdefault(receiver.peer, []).append(block)
        for address, reports in blocks.items():
            for start in range(0, len(reports), 31):  # an RR holds at most 31 report blocks
                rr = RtcpRrPacket(ssrc=self.rtcp_ssrc, reports=reports[start : start + 31])
                self._send(bytes(rr), address)
