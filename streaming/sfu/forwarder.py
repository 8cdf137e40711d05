"""Packet fan-out: one PublishedTrack per incoming track, one SubscriberLeg per (subscriber, track).

Each leg has its own SSRC, sequence numbers and retransmission history (its sender's), so every leg repairs its own
losses: the SFU NACKs the publisher for packets lost on the way in (aiortc's receiver does it) and forwards the
retransmission when it arrives, under the leg's mapped sequence number, while a subscriber's NACKs are answered from
its leg's history. Video legs start on a keyframe; keyframes are asked of the publisher, at most once per interval.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

from aiortc import clock
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import RtpPacket

from streaming.sfu.frames import EncodedFrameSink, FrameAssembler, codec_name, is_keyframe_start
from streaming.sfu.seam import PassthroughSender
from streaming.sfu.types import LegStats, TrackInfo, TrackStats

logger = logging.getLogger(__name__)

# Sends a keyframe request (PLI) for the given media SSRC toward the publisher: through the aiortc receiver for a
# WebRTC publisher, across the SFU link for a relayed one. May return an awaitable (then run as a task).
KeyframeRequester = Callable[[int], Awaitable[None] | None]
# Sees every packet of a track (e.g. a link sender to another node); may return an awaitable.
PacketTap = Callable[[RtpPacket], Awaitable[None] | None]

# Packets a new leg checks for "older than my first packet" (late retransmissions from before it joined).
_JOIN_GUARD_PACKETS = 1024
# Publisher packets kept for retransmissions to subscribers (aiortc's senders keep 128).
_HISTORY_SIZE = 512


class _Rate:
    """Bits per second between two reads."""

    def __init__(self) -> None:
        self._at = time.monotonic()
        self._bytes = 0

    def read(self, total_bytes: int) -> float:
        now = time.monotonic()
        elapsed = now - self._at
        rate = (total_bytes - self._bytes) * 8 / elapsed if elapsed > 0 else 0.0
        self._at, self._bytes = now, total_bytes
        return rate


class PublishedTrack:
    """An incoming track: rate-limited keyframe requests, the recording sink, taps and the fan-out to its legs."""

    def __init__(
        self,
        *,
        info: TrackInfo,
        send_keyframe_request: KeyframeRequester,
        codec: RTCRtpCodecParameters,
        keyframe_interval: float,
        delay_samples: deque[float] | None,
        relayed: bool = False,
    ) -> None:
        self.info = info
        self.track_id = info["track_id"]
        self.publisher_id = info["publisher_id"]
        self.kind = info["kind"]
        self.codec = codec
        self.codec_name = codec_name(codec.mimeType)
        self.legs: dict[str, SubscriberLeg] = {}
        self.media_ssrc: int | None = None
        self.first_packet_at: float | None = None
        self.closed = False
        self.packets = 0
        self.bytes = 0
        self.keyframes = 0
        self.frames = 0
        self.keyframe_requests_received = 0
        self.keyframe_requests_sent = 0
        self.keyframe_interval = keyframe_interval
        self._video = self.kind == "video"
        self.relayed = relayed
        self._send_keyframe_request = send_keyframe_request
        self._taps: tuple[PacketTap, ...] = ()
        self._fanout: tuple[SubscriberLeg, ...] = ()
        self._history: list[RtpPacket | None] = [None] * _HISTORY_SIZE
        self._delay_samples = delay_samples
        self._rate = _Rate()
        self._last_request_at = -math.inf
        self._request_wanted = False
        self._deferred_request: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._sink: EncodedFrameSink | None = None
        self._on_sink_error: Callable[[], None] | None = None
        self._assembler: FrameAssembler | None = None
        self._sink_needs_keyframe = False

    # -- legs --------------------------------------------------------------------------------------------------

    def add_leg(self, leg: SubscriberLeg) -> None:
        self.legs[leg.subscriber_id] = leg
        self._fanout = tuple(self.legs.values())

    def remove_leg(self, leg: SubscriberLeg) -> None:
        if self.legs.get(leg.subscriber_id) is leg:
            del self.legs[leg.subscriber_id]
            self._fanout = tuple(self.legs.values())
        leg.close()

    # -- taps ---------------------------------------------------------------------------------------------------

    def add_tap(self, tap: PacketTap) -> Callable[[], None]:
        """Hand every packet to `tap` (after the recording sink, before the legs); returns the "untap" callable."""
        self._taps = (*self._taps, tap)

        def untap() -> None:
            self._taps = tuple(t for t in self._taps if t is not tap)

        return untap

    @property
    def tap_count(self) -> int:
        return len(self._taps)

    # -- media in ----------------------------------------------------------------------------------------------

    async def on_packet(self, packet: RtpPacket) -> None:
        """Called by the receiver tap for every accepted packet (RTX already unwrapped)."""
        start = time.perf_counter()
        if self.closed:
            return
        if packet.ssrc != self.media_ssrc:
            if self.media_ssrc is not None:
                # The publisher restarted its stream: legs continue their own numbering from a new keyframe.
                for leg in self._fanout:
                    leg.rebase()
            else:
                self.first_packet_at = time.monotonic()
            self.media_ssrc = packet.ssrc
        self.packets += 1
        self.bytes += len(packet.payload)
        self.frames += packet.marker if self._video else 1
        keyframe = self._video and is_keyframe_start(self.codec_name, packet)
        if keyframe:
            self.keyframes += 1
            self._keyframe_arrived()
        if self._sink is not None:
            self._write_sink(packet)

        self._history[packet.sequence_number % _HISTORY_SIZE] = packet
        for tap in self._taps:
            try:
                result = tap(packet)
                if result is not None:
                    await result
            except Exception:
                logger.exception("a packet tap of track %s failed", self.track_id)
        fanout = self._fanout
        if not fanout:
            return
        ntp_time = clock.current_ntp_time()
        abs_send_time = (ntp_time >> 14) & 0x00FFFFFF
        # Wire form per distinct header (usually one for all legs), patched per leg with SSRC/seq/timestamp.
        serialized: dict[tuple[int, bytes], bytes] = {}
        samples = self._delay_samples
        for leg in fanout:
            leg.forward(packet, keyframe, serialized, abs_send_time, ntp_time)
            if samples is not None:
                samples.append(time.perf_counter() - start)

    def history_packet(self, sequence_number: int) -> RtpPacket | None:
        """A recent packet from the publisher, for a leg's retransmission."""
        packet = self._history[sequence_number % _HISTORY_SIZE]
        return packet if packet is not None and packet.sequence_number == sequence_number else None

    # -- keyframes ---------------------------------------------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe: now if the last request is older than the interval, else once later."""
        self.keyframe_requests_received += 1
        if self.closed or not self._video:
            return
        self._request_wanted = True
        now = time.monotonic()
        due = self._last_request_at + self.keyframe_interval
        if now >= due:
            self._send_request(now)
        elif self._deferred_request is None:
            self._deferred_request = asyncio.get_running_loop().call_later(due - now, self._send_deferred_request)

    def _send_deferred_request(self) -> None:
        self._deferred_request = None
        if self._request_wanted and not self.closed:
            self._send_request(time.monotonic())

    def _send_request(self, now: float) -> None:
        if self.media_ssrc is None:
            return  # nothing received yet: waiting legs ask again once media flows
        self._last_request_at = now
        self.keyframe_requests_sent += 1
        try:
            result = self._send_keyframe_request(self.media_ssrc)
        except Exception:
            logger.exception("keyframe request for track %s failed", self.track_id)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _keyframe_arrived(self) -> None:
        # Any request made before this keyframe is answered by it.
        self._request_wanted = False
        if self._deferred_request is not None:
            self._deferred_request.cancel()
            self._deferred_request = None

    # -- recording sink ----------------------------------------------------------------------------------------

    def attach_sink(self, sink: EncodedFrameSink | None, on_error: Callable[[], None] | None = None) -> None:
        """Write this track's frames to `sink` (shared by the publisher's tracks; the Sfu closes it), or stop."""
        self._sink = sink
        self._on_sink_error = on_error
        self._assembler = None
        if sink is None:
            return
        self._assembler = FrameAssembler(
            track_id=self.track_id, kind=self.kind, mime_type=self.codec.mimeType, clock_rate=self.codec.clockRate
        )
        self._sink_needs_keyframe = self._video
        if self._video:
            self.request_keyframe()

    def _write_sink(self, packet: RtpPacket) -> None:
        assembler, sink = self._assembler, self._sink
        if assembler is None or sink is None:
            return
        dropped = assembler.dropped
        frame = assembler.push(packet)
        if assembler.dropped != dropped and self._video:
            # A frame was lost on the way in: what follows cannot be decoded until the next keyframe.
            self._sink_needs_keyframe = True
            self.request_keyframe()
        if frame is None:
            return
        if self._sink_needs_keyframe:
            if not frame.keyframe:
                return
            self._sink_needs_keyframe = False
        try:
            sink.write(self.kind, frame.payload, frame.timestamp, frame.clock_rate, frame.keyframe)
        except Exception:
            logger.exception("recording sink of track %s failed; detaching it", self.track_id)
            on_error = self._on_sink_error
            self.attach_sink(None)
            if on_error is not None:
                on_error()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop forwarding and free every timer, task and leg (idempotent)."""
        self.closed = True
        for leg in self._fanout:
            leg.close()
        self.legs.clear()
        self._fanout = ()
        self._taps = ()  # a tap ends with its track
        if self._deferred_request is not None:
            self._deferred_request.cancel()
            self._deferred_request = None
        for task in self._tasks:
            task.cancel()
        self.attach_sink(None)

    def stats(self) -> TrackStats:
        return {
            "track_id": self.track_id,
            "kind": self.kind,
            "codec": self.codec.mimeType,
            "packets": self.packets,
            "bytes": self.bytes,
            "bitrate_bps": self._rate.read(self.bytes),
            "frames": self.frames,
            "keyframes": self.keyframes,
            "keyframe_requests_received": self.keyframe_requests_received,
            "keyframe_requests_sent": self.keyframe_requests_sent,
            "subscribers": len(self.legs),
            "taps": len(self._taps),
            "relayed": self.relayed,
        }


class SubscriberLeg:
    """One track sent to one subscriber, through that subscriber's RTCRtpSender, without touching the payload."""

    def __init__(self, *, track: PublishedTrack, subscriber_id: str, transceiver: RTCRtpTransceiver) -> None:
        self.track = track
        self.subscriber_id = subscriber_id
        self.keyframe_requests = 0
        self.closed = False
        self.sender = PassthroughSender(
            transceiver, on_keyframe_request=self._on_keyframe_request, on_nack=self._on_nack
        )
        self._video = track.kind == "video"
        self._offset: int | None = None  # out sequence number = in + offset (mod 2**16)
        self._seq_offset = 0  # the same, once started (read on the steady path)
        self._steady = False  # started, past the join guard, open: forward() skips its checks
        self._timestamp_offset = 0
        self._next_seq = transceiver.sender._ssrc & 0x7FFF  # any start; low half avoids early SRTP wraparound
        self._last_seq: int | None = None
        self._last_timestamp: int | None = None
        self._guard_seq = 0
        self._guard_left = 0
        self._asked_at = -math.inf
        self._rate = _Rate()

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._offset is None

    def forward(
        self,
        packet: RtpPacket,
        keyframe: bool,
        serialized: dict[tuple[int, bytes], bytes],
        abs_send_time: int,
        ntp_time: int,
    ) -> None:
        """Send one publisher packet on this leg. Called per packet per subscriber, so the steady state (started, past
        the join guard) takes one branch and no call but the send."""
        if not self._steady and not self._ready_to_forward(packet, keyframe):
            return
        out_seq = (packet.sequence_number + self._seq_offset) & 0xFFFF
        timestamp = (packet.timestamp + self._timestamp_offset) & 0xFFFFFFFF
        sender = self.sender
        wire = serialized.get(sender.header_key)
        if wire is None:
            wire = serialized[sender.header_key] = sender.serialize(
                self._leg_packet(packet, out_seq, timestamp, abs_send_time)
            )
        try:
            sender.send_serialized(wire, packet.marker, out_seq, timestamp, ntp_time, len(packet.payload))
        except ConnectionError:
            return  # the subscriber's transport is closing; its connection state handler cleans up
        last_seq = self._last_seq
        if last_seq is None or 0 < (out_seq - last_seq) & 0xFFFF < 0x8000:
            self._last_seq = out_seq
            self._last_timestamp = timestamp

    def _ready_to_forward(self, packet: RtpPacket, keyframe: bool) -> bool:
        """The leg's checks before its steady state: open, sender negotiated, started on a keyframe, and not a late
        retransmission from before its first packet."""
        if self.closed or not self.sender.ready:
            return False
        if self._offset is None:
            if self._video and not keyframe:
                self._ask_keyframe()
                return False
            self._start(packet)
            return True  # the first packet itself passes the guard
        if self._guard_left:
            # Drop late packets (retransmissions) from before this leg's first packet.
            if 0 < (self._guard_seq - packet.sequence_number) & 0xFFFF < 0x8000:
                return False
            self._guard_left -= 1
            self._steady = not self._guard_left
        return True

    def _leg_packet(self, packet: RtpPacket, out_seq: int, timestamp: int, abs_send_time: int) -> RtpPacket:
        return self.sender.build_packet(
            sequence_number=out_seq,
            timestamp=timestamp,
            marker=packet.marker,
            payload=packet.payload,
            abs_send_time=abs_send_time,
            audio_level=packet.extensions.audio_level,
        )

    def _on_nack(self, out_seq: int) -> RtpPacket | None:
        """Rebuild this leg's packet `out_seq` from the publisher's history, for aiortc's RTX retransmission."""
        if self._offset is None:
            return None
        packet = self.track.history_packet((out_seq - self._offset) & 0xFFFF)
        if packet is None:
            return None
        timestamp = (packet.timestamp + self._timestamp_offset) & 0xFFFFFFFF
        abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
        return self._leg_packet(packet, out_seq, timestamp, abs_send_time)

    def _start(self, packet: RtpPacket) -> None:
        self._offset = self._seq_offset = (self._next_seq - packet.sequence_number) & 0xFFFF
        if self._last_timestamp is not None:
            # After a rebase keep timestamps moving forward by about one frame / one audio packet.
            step = self.track.codec.clockRate // (30 if self._video else 50)
            self._timestamp_offset = (self._last_timestamp + step - packet.timestamp) & 0xFFFFFFFF
        self._guard_seq = packet.sequence_number
        self._guard_left = _JOIN_GUARD_PACKETS

    def _ask_keyframe(self) -> None:
        now = time.monotonic()
        if now - self._asked_at >= self.track.keyframe_interval:
            self._asked_at = now
            self.track.request_keyframe()

    def _on_keyframe_request(self) -> None:
        """A PLI or FIR from the subscriber (aiortc's sender calls this instead of flagging an encoder)."""
        self.keyframe_requests += 1
        if not self.closed and self._offset is not None:
            self.track.request_keyframe()

    def rebase(self) -> None:
        """The publisher's stream restarted: continue this leg's numbering from its next keyframe."""
        if self._last_seq is not None:
            self._next_seq = (self._last_seq + 1) & 0xFFFF
        self._offset = None
        self._steady = False
        self._asked_at = -math.inf

    def close(self) -> None:
        self.closed = True
        self._steady = False

    def stats(self) -> LegStats:
        return {
            "track_id": self.track.track_id,
            "packets": self.sender.packets_sent,
            "bytes": self.sender.bytes_sent,
            "bitrate_bps": self._rate.read(self.sender.bytes_sent),
            "keyframe_requests": self.keyframe_requests,
            "nacked_packets": self.sender.nacked_packets,
            "waiting_for_keyframe": self.waiting_for_keyframe,
        }
