"""Encoded frames: recognising keyframes in RTP payloads, completing frames on the marker bit, and the sink Protocol.

Used by the SFU (for a recording sink) and by anything that must count or store whole encoded frames without
decoding them (the benchmark's subscribers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal, Protocol

from aiortc.rtp import RtpPacket

from streaming.sfu.seam import rtp_payload_data

_H264_IDR = 5
_H264_SPS = 7
_H264_STAP_A = 24
_H264_FU_A = 28


MediaKind = Literal["audio", "video"]


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded frame of a published track, exactly as the publisher encoded it.

    - `payload`: the codec bitstream without RTP framing: a VP8 frame, an H.264 access unit in Annex-B form
      (00 00 00 01 start codes), or one Opus packet (20 ms for browsers).
    - `timestamp`: the frame's RTP timestamp as the publisher sent it: 32 bits (it wraps), a random origin per
      track, `clock_rate` units per second (90000 for video, 48000 for Opus).
    - `arrival`: `time.monotonic()` when the frame was completed in this process.
    - `keyframe`: the frame decodes on its own (VP8 key frame, H.264 IDR/SPS); audio frames are always True.
    """

    track_id: str
    kind: MediaKind
    codec: str
    payload: bytes
    timestamp: int
    clock_rate: int
    keyframe: bool
    arrival: float


class EncodedFrameSink(Protocol):
    """Receives one publisher's frames, audio and video, as the SFU forwards them (for example a WebM recorder).

    `write(kind, payload, timestamp, clock_rate, keyframe)` is called positionally on the SFU's event loop, once
    per complete frame, in arrival order per track:
    - `kind`: "audio" or "video"; `payload`: the codec bitstream of one frame (a VP8 frame, an H.264 access unit
      in Annex-B form, one Opus packet), without RTP framing;
    - `timestamp`: the frame's RTP timestamp exactly as the publisher sent it, in units of `clock_rate` per second
      (90000 for video, 48000 for Opus): 32-bit, wrapping, with an unrelated random origin per track (and a new one
      if the publisher restarts its stream). Line tracks up by arrival time, not by comparing their timestamps;
    - `keyframe`: the frame decodes on its own; always True for audio.
    Video starts at a keyframe (the SFU asks the publisher for one when the sink is attached) and after a frame
    lost on the way in, the next video frame written is again a keyframe. `write` must not block: queue the work.
    If it raises, the SFU logs it and detaches and closes the sink.

    `close()` is called exactly once, in a worker thread (it may block: flush, trailer), when the publisher
    leaves, fails or times out, when the SFU closes, or when the sink is replaced or removed. Its return value is
    ignored.
    """

    def write(self, kind: MediaKind, payload: bytes, timestamp: int, clock_rate: int, keyframe: bool) -> None: ...

    def close(self) -> object: ...


def codec_name(mime_type: str) -> str:
    return mime_type.split("/", 1)[-1].upper()


def is_keyframe_start(codec: str, packet: RtpPacket) -> bool:
    """Whether this RTP packet begins a frame that decodes on its own. `codec` is the name: VP8, H264, OPUS."""
    payload = packet.payload
    if not payload:
        return False
    if codec == "VP8":
        # Payload descriptor: S (start of partition) set and partition index 0; then the VP8 frame header, whose
        # lowest bit (P, inverse key frame flag) is 0 for a key frame.
        if not payload[0] & 0x10 or payload[0] & 0x0F:
            return False
        data = rtp_payload_data(packet)
        return bool(data) and not data[0] & 0x01
    if codec == "H264":
        nal_type = payload[0] & 0x1F
        if nal_type == _H264_FU_A:
            return len(payload) > 1 and bool(payload[1] & 0x80) and payload[1] & 0x1F in (_H264_IDR, _H264_SPS)
        if nal_type == _H264_STAP_A:
            pos = 1
            while pos + 2 < len(payload):
                size = int.from_bytes(payload[pos : pos + 2], "big")
                if payload[pos + 2] & 0x1F in (_H264_IDR, _H264_SPS):
                    return True
                pos += 2 + size
            return False
        return nal_type in (_H264_IDR, _H264_SPS)
    return True


def _is_frame_start(codec: str, packet: RtpPacket) -> bool:
    payload = packet.payload
    if not payload:
        return False
    if codec == "VP8":
        return bool(payload[0] & 0x10) and not payload[0] & 0x0F
    if codec == "H264":
        return payload[0] & 0x1F != _H264_FU_A or (len(payload) > 1 and bool(payload[1] & 0x80))
    return True


class FrameAssembler:
    """Completes encoded frames from depayloaded RTP packets (as handed over by `seam.tap_receiver`).

    A video frame is complete when its marker-bit packet and every packet before it back to the frame's first
    packet have arrived, so a frame is ready as soon as its last packet is in, not when the next frame starts
    (aiortc's JitterBuffer adds a frame interval that way). Late retransmissions complete a frame that is still
    current; packets of older frames are ignored, and a frame superseded while incomplete counts as dropped.
    Every audio packet is a frame.
    """

    def __init__(self, *, track_id: str, kind: MediaKind, mime_type: str, clock_rate: int) -> None:
        self.track_id = track_id
        self.kind = kind
        self.mime_type = mime_type
        self.clock_rate = clock_rate
        self.frames = 0
        self.keyframes = 0
        self.dropped = 0
        self._codec = codec_name(mime_type)
        self._video = kind == "video"
        self._timestamp: int | None = None
        self._parts: dict[int, RtpPacket] = {}
        self._marker_seq: int | None = None
        self._done = False
        self._last_marker_seq: int | None = None

    def push(self, packet: RtpPacket) -> EncodedFrame | None:
        if not self._video:
            return self._emit([packet], packet.timestamp, keyframe=True)

        timestamp = packet.timestamp
        if timestamp != self._timestamp:
            if self._timestamp is not None and (self._timestamp - timestamp) & 0xFFFFFFFF < 1 << 31:
                return None  # a late packet of a frame we already emitted or gave up
            if self._parts and not self._done:
                self.dropped += 1
            self._timestamp = timestamp
            self._parts = {}
            self._marker_seq = None
            self._done = False
        if self._done:
            return None
        self._parts[packet.sequence_number] = packet
        if packet.marker:
            self._marker_seq = packet.sequence_number
        if self._marker_seq is None:
            return None

        # Walk back from the marker packet over contiguous sequence numbers.
        seq = self._marker_seq
        ordered: list[RtpPacket] = []
        while seq in self._parts:
            ordered.append(self._parts[seq])
            seq = (seq - 1) & 0xFFFF
        if len(ordered) != len(self._parts):
            return None
        first = ordered[-1]
        follows_previous = self._last_marker_seq is not None and seq == self._last_marker_seq
        if not (follows_previous or _is_frame_start(self._codec, first)):
            return None
        ordered.reverse()
        self._done = True
        self._last_marker_seq = self._marker_seq
        return self._emit(ordered, timestamp, keyframe=is_keyframe_start(self._codec, first))

    def _emit(self, packets: list[RtpPacket], timestamp: int, *, keyframe: bool) -> EncodedFrame:
        self.frames += 1
        if keyframe and self._video:
            self.keyframes += 1
        payload = (
            rtp_payload_data(packets[0])
            if len(packets) == 1
            else b"".join(rtp_payload_data(packet) for packet in packets)
        )
        return EncodedFrame(
            track_id=self.track_id,
            kind=self.kind,
            codec=self.mime_type,
            payload=payload,
            timestamp=timestamp,
            clock_rate=self.clock_rate,
            keyframe=keyframe,
            arrival=time.monotonic(),
        )
