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
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from itertools import repeat
from typing import Any

from aiortc import clock
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import RtpPacket

from streaming.sfu.frames import EncodedFrameSink, FrameAssembler, codec_name, is_keyframe_start
from streaming.sfu.native import NativeFanout
from streaming.sfu.native import load as load_native
from streaming.sfu.seam import NativeTarget, PassthroughSender
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
# How often a track moves started legs to the native fan-out (or back), and copies the native loop's counters into
# the legs' senders (their RTCP sender reports go out about once a second).
NATIVE_SYNC_INTERVAL = 0.25


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
        # Legs forwarded in Python (`_python_fanout`) and legs the native loop sends to, by header layout.
        self._python_fanout: tuple[SubscriberLeg, ...] = ()
        self._native = load_native()
        self._native_groups: dict[tuple[int, bytes], _NativeLegs] = {}
        self._native_sending: tuple[_NativeLegs, ...] = ()
        self._native_timer: asyncio.TimerHandle | None = None
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
        self._python_fanout = (*self._python_fanout, leg)
        if self._native is not None and self._native_timer is None:
            self._native_timer = asyncio.get_running_loop().call_later(NATIVE_SYNC_INTERVAL, self._native_tick)

    def remove_leg(self, leg: SubscriberLeg) -> None:
        if self.legs.get(leg.subscriber_id) is leg:
            del self.legs[leg.subscriber_id]
            self._fanout = tuple(self.legs.values())
        group = leg.native_group
        if group is not None:
            group.remove(leg)
            self._native_changed()
        self._python_fanout = tuple(other for other in self._python_fanout if other is not leg)
        leg.close()

    # -- native fan-out -----------------------------------------------------------------------------------------

    @property
    def native_leg_count(self) -> int:
        """Legs the native loop sends to (the rest forward in Python)."""
        return sum(group.count for group in self._native_groups.values())

    def sync_native(self) -> None:
        """Copy the native loop's counters into the legs (their senders' statistics and sender reports)."""
        for group in self._native_groups.values():
            group.sync()

    def _native_tick(self) -> None:
        self._native_timer = None
        if self.closed:
            return
        try:
            self.refresh_native()
        except Exception:
            logger.exception("native fan-out upkeep of track %s failed; forwarding in Python", self.track_id)
            self._leave_native()
            self._native = None
            return
        if self.legs:
            self._native_timer = asyncio.get_running_loop().call_later(NATIVE_SYNC_INTERVAL, self._native_tick)

    def refresh_native(self) -> None:
        """Sync counters, hand back to Python the legs whose transport changed, and move started legs to native."""
        native = self._native
        if native is None:
            return
        changed = False
        for group in self._native_groups.values():
            group.sync()
            for leg in group.legs_to_leave():
                group.remove(leg)
                changed = True
        for leg in self._python_fanout:
            if leg.closed or leg.waiting_for_keyframe:
                continue
            target = leg.sender.native_target()
            if target is None:
                continue
            key = leg.sender.header_key
            if key not in self._native_groups:
                self._native_groups[key] = _NativeLegs(native, key)
            self._native_groups[key].add(leg, target)
            changed = True
        if changed:
            self._native_changed()

    def _native_changed(self) -> None:
        for key in [key for key, group in self._native_groups.items() if not group.count]:
            del self._native_groups[key]
        self._native_sending = tuple(self._native_groups.values())
        self._python_fanout = tuple(leg for leg in self._fanout if leg.native_group is None)

    def _leave_native(self) -> None:
        """Every leg back to Python (their counters synced first)."""
        for group in self._native_groups.values():
            group.clear()
        self._native_groups.clear()
        self._native_changed()

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
                self._leave_native()
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
        fanout = self._python_fanout
        native_groups = self._native_sending
        if not fanout and not native_groups:
            return
        ntp_time = clock.current_ntp_time()
        abs_send_time = (ntp_time >> 14) & 0x00FFFFFF
        # Wire form per distinct header (usually one for all legs), patched per leg with SSRC/seq/timestamp.
        serialized: dict[tuple[int, bytes], bytes] = {}
        samples = self._delay_samples
        for group in native_groups:
            group.send(packet, serialized, abs_send_time, ntp_time)
            if samples is not None:
                samples.extend(repeat(time.perf_counter() - start, group.count))
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
        self._leave_native()
        if self._native_timer is not None:
            self._native_timer.cancel()
            self._native_timer = None
        for leg in self._fanout:
            leg.close()
        self.legs.clear()
        self._fanout = self._python_fanout = ()
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
        self.dropped_packets = 0  # the native loop found the socket buffer full
        self.native_group: _NativeLegs | None = None  # set while the native fan-out sends this leg's packets

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

    def wire(self, packet: RtpPacket, abs_send_time: int) -> bytes:
        """The packet's wire form under this leg's header layout (SSRC, sequence number and timestamp are patched
        per leg by whoever sends it)."""
        return self.sender.serialize(self._leg_packet(packet, 0, 0, abs_send_time))

    def fill_native(self, entry: Any, native: NativeFanout, target: NativeTarget, fd: int) -> None:
        """Write this leg's state into its native table entry."""
        sender = self.sender
        entry.srtp = native.srtp_context(target.srtp_session)
        entry.fd = fd
        native.set_address(entry, target.sock.family, target.address)
        entry.ssrc = sender.ssrc
        entry.payload_type = sender.payload_type
        entry.seq_offset = self._seq_offset
        entry.ts_offset = self._timestamp_offset
        entry.guard_seq = self._guard_seq
        entry.guard_left = self._guard_left
        if self._last_seq is not None and self._last_timestamp is not None:
            entry.has_last, entry.last_seq, entry.last_ts = 1, self._last_seq, self._last_timestamp

    def absorb_native(self, entry: Any) -> None:
        """Take back what the native loop did for this leg since the last sync, and zero its counters."""
        if entry.packets:
            self.sender.absorb_native(
                packets=entry.packets,
                payload_bytes=entry.payload_bytes,
                wire_bytes=entry.wire_bytes,
                last_timestamp=entry.last_ts,
                last_ntp_time=entry.last_ntp,
            )
            entry.packets = entry.payload_bytes = entry.wire_bytes = 0
        self.dropped_packets += entry.dropped
        entry.dropped = 0
        self._guard_left = entry.guard_left
        self._steady = not self._guard_left and not self.closed and self._offset is not None
        if entry.has_last:
            self._last_seq, self._last_timestamp = entry.last_seq, entry.last_ts

    def stats(self) -> LegStats:
        if self.native_group is not None:
            self.native_group.sync()
        return {
            "track_id": self.track.track_id,
            "packets": self.sender.packets_sent,
            "bytes": self.sender.bytes_sent,
            "bitrate_bps": self._rate.read(self.sender.bytes_sent),
            "keyframe_requests": self.keyframe_requests,
            "nacked_packets": self.sender.nacked_packets,
            "waiting_for_keyframe": self.waiting_for_keyframe,
        }


class _NativeLegs:
    """The legs of one track, with one header layout, that the native loop sends to: their C table, rebuilt when a
    leg joins or leaves (its counters synced into the legs first), and a dup of each leg's socket, so a transport
    closed before the next upkeep leaves the loop a valid descriptor, never a reused one."""

    def __init__(self, native: NativeFanout, header_key: tuple[int, bytes]) -> None:
        self.native = native
        self.header_key = header_key
        self.legs: list[SubscriberLeg] = []
        self.count = 0
        self._targets: list[NativeTarget] = []
        self._fds: list[int] = []
        self._table: Any = native.new_legs(1)
        self._fanout = native.lib.corridor_fanout
        self._protect = native.protect
        self._unsynced = False

    def send(self, packet: RtpPacket, serialized: dict[tuple[int, bytes], bytes], abs_send_time: int, ntp: int) -> None:
        wire = serialized.get(self.header_key)
        if wire is None:
            wire = serialized[self.header_key] = self.legs[0].wire(packet, abs_send_time)
        self._fanout(
            self._protect,
            wire,
            len(wire),
            packet.marker,
            packet.sequence_number,
            packet.timestamp,
            len(packet.payload),
            ntp,
            self._table,
            self.count,
        )
        self._unsynced = True

    def sync(self) -> None:
        if not self._unsynced:
            return
        self._unsynced = False
        table = self._table
        for index, leg in enumerate(self.legs):
            leg.absorb_native(table[index])

    def legs_to_leave(self) -> list[SubscriberLeg]:
        """Legs closed, restarted, or whose transport changed or failed since they joined."""
        table = self._table
        leaving = []
        for index, (leg, target) in enumerate(zip(self.legs, self._targets, strict=True)):
            entry = table[index]
            if leg.closed or leg.waiting_for_keyframe or entry.failed or not leg.sender.native_target_holds(target):
                if entry.failed:
                    logger.warning(
                        "native fan-out to %s failed (%s): back to Python",
                        leg.subscriber_id,
                        os.strerror(entry.last_errno) if entry.last_errno else "SRTP",
                    )
                leaving.append(leg)
        return leaving

    def add(self, leg: SubscriberLeg, target: NativeTarget) -> None:
        self.sync()
        self.legs.append(leg)
        self._targets.append(target)
        self._fds.append(os.dup(target.sock.fileno()))
        leg.native_group = self
        self._rebuild()

    def remove(self, leg: SubscriberLeg) -> None:
        self.sync()
        index = self.legs.index(leg)
        del self.legs[index], self._targets[index]
        os.close(self._fds.pop(index))
        leg.native_group = None
        self._rebuild()

    def clear(self) -> None:
        self.sync()
        for leg in self.legs:
            leg.native_group = None
        for fd in self._fds:
            os.close(fd)
        self.legs, self._targets, self._fds = [], [], []
        self._rebuild()

    def _rebuild(self) -> None:
        table = self.native.new_legs(max(1, len(self.legs)))
        for index, (leg, target, fd) in enumerate(zip(self.legs, self._targets, self._fds, strict=True)):
            leg.fill_native(table[index], self.native, target, fd)
        # Swap in the new table before dropping the old one: the loop only ever sees a complete table.
        self._table, self.count = table, len(self.legs)
