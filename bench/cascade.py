"""Cascade benchmark: one publisher in Singapore, N subscribers in Chongqing, two SFU nodes and an impaired link.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/cascade.py                 # 20 subscribers, 60 s
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/cascade.py --subscribers 50
    REDIS_URL=... .venv/bin/python bench/cascade.py --delay-ms 40 --jitter-ms 10 --loss-pct 2 --outage-s 3

The setup, as SFU_MODE "nodes" runs it (the bench reads REDIS_URL and DATABASE_URL like the app: the channel
layer's prefix comes from them; it writes nothing to the database):

* two node processes (`python -m streaming.node`): SG (SFU_NODE_CITY=singapore) and CQ (chongqing), under a Redis
  prefix of this run's own; each binds its link socket (SFU_LINK_BIND) and advertises (SFU_LINK_ADVERTISE) the port
  of the relay that forwards to it;
* a relay process with two `tests.support.impairment.ImpairmentRelay`s, SG→CQ and CQ→SG: --delay-ms one way
  (default 40), ±--jitter-ms uniform per packet (10), --loss-pct random loss (2), each direction;
* this process signals as the app does (`streaming.node.client.RemoteMediaHub`, over the Redis channel layer) and
  publishes as the instructor in Singapore: a pre-encoded 640×480 30 fps VP8 loop (bench/sfu.py's; a keyframe only
  when the SFU asks for one with a PLI, as a browser's encoder does) and a 48 kHz Opus tone, through aiortc's
  sender `pack()` path (no encoding during the run);
* subscriber processes (one per 26 peers): one Singapore reference subscriber on SG and --subscribers Chongqing
  subscribers on CQ, all non-decoding aiortc peers logging whole video frames on the SFU's seam; they take the
  video only (--subscribe-audio: the audio too; it crosses the link either way), since on a 2-core machine the
  subscriber processes, not the nodes, are what saturates first. They measure at the RTP level (whole frames by
  first packet and marker bit, their arrival times): nothing decodes, so the figures are the SFU's and the link's,
  from real packets through the real nodes and link, not the clients' decoders' (bench/sfu.py's subscribers count
  frames the same way; tests/streaming/test_cascade.py decodes what crosses the link).

The worker processes (relay, subscribers) are this script in another role (bench/_workers.py). Once everyone has
frames, every process of the bench collects its garbage once and freezes what survives (gc.freeze; the nodes do the
same after start-up): a full collection over 50 peer connections stalls a process for 100-300 ms on a loaded
machine, which would show as everyone's freeze.

After every subscriber has frames and a warm-up, the run lasts --seconds (default 60); in its middle the link is cut
both ways for --outage-s (default 3). Figures (the last line of stdout is one JSON object with exactly these keys):

* delay_ms, jitter_ms, loss_pct: the link's impairment, each way; subscribers: the number of CQ subscribers;
* subscriber_fps: mean over CQ subscribers of whole video frames received per second outside the outage window,
  counting only frames a decoder can use (after a frame that never came whole, none until the next keyframe);
* freeze_ms_per_min: per CQ subscriber, the total of every stretch with no new frame (counted as above, at its
  arrival) for longer than 100 ms (three frame intervals; the whole stretch counts), outside the outage window,
  per minute of that time; mean over them. Printed beside it, not in the JSON: the same in decoding order with no
  playout buffer (a frame repaired late holds up the frames after it), an upper bound of what a viewer sees;
* recovery_s: from the link's return to the first complete frame starting with a keyframe at a CQ subscriber;
  the largest over subscribers (the run's length when one never recovers);
* link_streams_per_track: how many link streams carried the video track SG→CQ, counted on the relay: distinct
  SSRCs of RTP packets with the video's payload type (the link keeps the publisher's), not counting RTX streams
  (nor the parity stream, whose payload type is the link's own).
  Must be 1 however many subscribers; the SG node's own link stats (streams_out) are printed beside it;
* link_kbps: bytes the relay forwarded SG→CQ (RTP, RTX and RTCP, both tracks), outside the outage window;
* publisher_kbps: the publisher's sent media (RTP payload bytes of both tracks, its senders' bytesSent), over the
  same time;
* added_delay_p95_ms: p95 over frames (every CQ subscriber's, outside the outage window) of the frame's arrival at
  the CQ subscriber minus the same frame's arrival at the SG reference subscriber. Frames are told apart by a number
  the publisher writes into each frame's last 4 bytes (nothing decodes them), not by RTP timestamp: a leg that
  resumes after the outage continues its own timestamps.

The outage window is from the cut to the link's return + 2 s (recovery_s's goal), so a slower recovery also shows
as freezes. Human-readable lines (and the nodes' log paths) go first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import socket
import statistics
import struct
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import itertools

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RtpPacket

from bench._workers import Worker, reply, settle_garbage, stdin_lines
from bench.sfu import (
    AUDIO_PACKETS_PER_S,
    LOOP_FRAMES,
    PreEncodedAudio,
    PreEncodedTrack,
    config,
    log,
    pre_encode,
    pre_encode_audio,
)
from streaming.node.config import default_layer_prefix, default_registry_prefix
from streaming.sfu.frames import is_keyframe_start
from streaming.sfu.seam import negotiated_codec, rtp_payload_data, tap_receiver

ROOT = Path(__file__).resolve().parent.parent
SESSION_ID = 1
FREEZE_S = 0.1
FRAME_ID = struct.Struct("!I")
RECOVERY_GOAL_S = 2.0
KEYS = (
    "delay_ms",
    "jitter_ms",
    "loss_pct",
    "subscribers",
    "subscriber_fps",
    "freeze_ms_per_min",
    "recovery_s",
    "link_streams_per_track",
    "link_kbps",
    "publisher_kbps",
    "added_delay_p95_ms",
)


# --- child processes (relay, subscribers) ----------------------------------------------------------------------


class SubscriberPool:
    """The subscriber processes: each peer always in the same one (the SG reference in the first)."""

    def __init__(self, processes: int) -> None:
        self.children = [Worker(__file__, "subscribers") for _ in range(max(1, processes))]
        self._where: dict[str, Worker] = {}

    async def start(self) -> None:
        await asyncio.gather(*(child.start() for child in self.children))

    async def answers(self, offers: dict[str, str]) -> dict[str, str]:
        batches: dict[int, dict[str, str]] = {}
        for peer_id, sdp in offers.items():
            child = self._where.setdefault(peer_id, self.children[len(self._where) % len(self.children)])
            batches.setdefault(self.children.index(child), {})[peer_id] = sdp
        replies = await asyncio.gather(
            *(self.children[i].call({"cmd": "offers", "offers": batch}) for i, batch in batches.items())
        )
        return {peer_id: sdp for reply_ in replies for peer_id, sdp in reply_["answers"].items()}

    async def merged(self, command: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for reply_ in await asyncio.gather(*(child.call({"cmd": command}) for child in self.children)):
            for key, value in reply_.items():
                if isinstance(value, dict):
                    merged.setdefault(key, {}).update(value)
                else:
                    merged[key] = value
        return merged

    async def stop(self) -> None:
        await asyncio.gather(*(child.stop() for child in self.children))


# --- the relay process ------------------------------------------------------------------------------------------


def _watching_relay_class() -> type[Any]:
    from tests.support.impairment import ImpairmentRelay

    class WatchingRelay(ImpairmentRelay):
        """An ImpairmentRelay that also notes, per SSRC, the RTP packets it is handed and their payload type."""

        streams: dict[int, list[int]]  # ssrc → [packets, payload type]

        def _received(self, data: bytes) -> None:
            # RTCP's packet types 200-206 sit where RTP's marker bit and payload type are: 72-78 once masked.
            if len(data) >= 12 and data[0] >> 6 == 2 and not 72 <= data[1] & 0x7F <= 78:
                counts = self.streams.setdefault(int.from_bytes(data[8:12], "big"), [0, data[1] & 0x7F])
                counts[0] += 1
            super()._received(data)

    return WatchingRelay


async def run_relay(args: argparse.Namespace) -> None:
    relay_class = _watching_relay_class()
    relays: dict[str, Any] = {}
    for name, target in (("to_cq", args.cq_link_port), ("to_sg", args.sg_link_port)):
        relay = await relay_class.start(
            target=("127.0.0.1", target), delay_ms=args.delay_ms, jitter_ms=args.jitter_ms, loss_pct=args.loss_pct
        )
        relay.streams = {}
        relays[name] = relay
    reader = await stdin_lines()
    reply({name: relay.address[1] for name, relay in relays.items()})
    while line := await reader.readline():
        message = json.loads(line)
        if message["cmd"] == "snap":
            reply(
                {
                    "at": time.monotonic(),
                    **{
                        name: {**vars(relay.counters), "streams": {str(k): v for k, v in relay.streams.items()}}
                        for name, relay in relays.items()
                    },
                }
            )
        elif message["cmd"] == "outage":
            for relay in relays.values():
                relay.outage(message["seconds"])
            reply({"at": time.monotonic()})
        elif message["cmd"] == "settle":
            settle_garbage()
            reply({"ok": True})
    for relay in relays.values():
        await relay.close()


# --- the subscriber process -------------------------------------------------------------------------------------


class VideoFrames:
    """Whole VP8 frames from RTP packets in any order, as a browser's jitter buffer completes them (the link's jitter
    reorders packets across frames, which streaming.sfu.frames.FrameAssembler, made for in-order input, would count
    as lost frames). A frame is whole once its first packet, its marker packet and everything between are in."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[int, RtpPacket]] = {}  # RTP timestamp → packets by sequence number
        self._first: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._done: dict[int, None] = {}  # recently completed timestamps, oldest first

    def push(self, packet: RtpPacket) -> tuple[bytes, bool] | None:
        """(the frame's data, whether it is a keyframe) when this packet completes a frame."""
        timestamp, seq = packet.timestamp, packet.sequence_number
        if timestamp in self._done:
            return None
        parts = self._parts.setdefault(timestamp, {})
        parts[seq] = packet
        payload = packet.payload
        if payload and payload[0] & 0x10 and not payload[0] & 0x0F:  # VP8 descriptor: start of partition 0
            self._first[timestamp] = seq
        if packet.marker:
            self._last[timestamp] = seq
        first, last = self._first.get(timestamp), self._last.get(timestamp)
        if first is None or last is None or len(parts) != ((last - first) & 0xFFFF) + 1:
            if len(self._parts) > 64:  # frames that will never complete
                self._forget(next(iter(self._parts)))
            return None
        ordered = [parts[(first + i) & 0xFFFF] for i in range(len(parts)) if (first + i) & 0xFFFF in parts]
        if len(ordered) != len(parts):
            return None
        self._forget(timestamp)
        self._done[timestamp] = None
        if len(self._done) > 256:
            del self._done[next(iter(self._done))]
        return b"".join(rtp_payload_data(part) for part in ordered), is_keyframe_start("VP8", ordered[0])

    def _forget(self, timestamp: int) -> None:
        self._parts.pop(timestamp, None)
        self._first.pop(timestamp, None)
        self._last.pop(timestamp, None)


class FrameLog:
    """A non-decoding subscriber: every whole video frame's (frame number, arrival, keyframe), audio packets."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(config())
        self.video: list[tuple[int, float, bool]] = []
        self.audio = 0
        self._frames = VideoFrames()

    async def answer(self, offer_sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        for transceiver in self.pc.getTransceivers():
            tap_receiver(transceiver.receiver, self._video if transceiver.kind == "video" else self._audio)
            # No bandwidth estimate needed (aiortc's pure-Python REMB estimator would double this process's CPU).
            setattr(transceiver.receiver, "_RTCRtpReceiver__remote_bitrate_estimator", None)  # noqa: B010
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def _video(self, packet: RtpPacket) -> None:
        frame = self._frames.push(packet)
        if frame is not None:
            data, keyframe = frame
            [frame_id] = FRAME_ID.unpack(data[-FRAME_ID.size :])
            self.video.append((frame_id, time.monotonic(), keyframe))

    async def _audio(self, packet: RtpPacket) -> None:
        self.audio += 1


async def run_subscribers() -> None:
    reader = await stdin_lines()
    subscribers: dict[str, FrameLog] = {}
    reply({"ready": True})
    while line := await reader.readline():
        message = json.loads(line)
        command = message["cmd"]
        if command == "offers":
            answers = {}
            for subscriber_id, sdp in message["offers"].items():
                subscriber = subscribers[subscriber_id] = FrameLog()
                answers[subscriber_id] = await subscriber.answer(sdp)
            reply({"answers": answers})
        elif command == "counts":
            reply({k: len(s.video) for k, s in subscribers.items()})
        elif command == "frames":
            reply(
                {
                    "video": {k: s.video for k, s in subscribers.items()},
                    "audio": {k: s.audio for k, s in subscribers.items()},
                }
            )
        elif command == "settle":
            settle_garbage()
            reply({"ok": True})
        elif command == "close_all":
            for subscriber in subscribers.values():
                await subscriber.pc.close()
            subscribers.clear()
            reply({"ok": True})


# --- the publisher (in the bench process) -----------------------------------------------------------------------


class OnDemandKeyframes(PreEncodedTrack):
    """The pre-encoded loop without keyframes; the keyframe is sent first and whenever the SFU asks (PLI/FIR), as a
    browser's encoder does. Nothing decodes it, so a keyframe in place of any frame does."""

    def __init__(self, keyframe: bytes, frames: list[bytes]) -> None:
        super().__init__(frames)
        self.keyframe = keyframe
        self.sender: RTCRtpSender | None = None
        self.keyframes_sent = 0
        self.frame_id = 0

    async def recv(self) -> av.Packet:
        packet = await super().recv()
        self.frame_id += 1
        sender = self.sender
        # aiortc's sender flags a PLI/FIR for its encoder, which pack() never reads: answer it here.
        wanted = sender is not None and getattr(sender, "_RTCRtpSender__force_keyframe", False)
        data = bytes(packet)
        if wanted or self.keyframes_sent == 0:
            setattr(sender, "_RTCRtpSender__force_keyframe", False)  # noqa: B010
            self.keyframes_sent += 1
            data = self.keyframe
        # The frame's number in its last bytes (nobody decodes): subscribers on both nodes name the same frame alike
        # whatever RTP timestamps their legs use (a leg that resumes after the outage shifts them).
        numbered = av.Packet(data[: -FRAME_ID.size] + FRAME_ID.pack(self.frame_id))
        numbered.pts, numbered.time_base = packet.pts, packet.time_base
        return numbered


@dataclass(eq=False)
class BenchSocket:
    """What RemoteMediaHub needs of a media socket (streaming.signaling.MediaSocket) for one bench peer."""

    session_id: int
    user_id: int
    peer_id: str
    role: str
    city: str
    name: str = ""
    room: dict[str, Any] | None = None
    channel_name: str = ""  # where a node sends this socket's announcements (nobody listens: the bench polls)
    heard: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.channel_name = self.channel_name or f"bench-socket.{uuid.uuid4().hex}"

    async def deliver(self, frame: dict[str, Any]) -> None:
        self.heard.append(str(frame.get("type")))


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- figures ----------------------------------------------------------------------------------------------------


def quantile(samples: list[float], q: int) -> float:
    if not samples:
        return math.nan
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def freezes(arrivals: list[float], start: float, end: float) -> list[float]:
    """The stretches longer than FREEZE_S with no new frame between `start` and `end` (seconds)."""
    points = [start, *(a for a in arrivals if start < a < end), end]
    return [gap for gap in (b - a for a, b in itertools.pairwise(points)) if gap > FREEZE_S]


def decodable(log_: list[list[Any]], *, in_order: bool = False) -> list[float]:
    """The arrival times of the frames a decoder can use: each whole frame whose every predecessor back to a keyframe
    came whole too (after a frame that never came, none until the next keyframe). With `in_order`, a frame counts
    only once all those predecessors are in: a frame repaired late holds up the ones after it, as with no playout
    buffer at all (a browser's jitter buffer adds delay, about a round trip once it sees repairs, to hide that)."""
    times: list[float] = []
    previous: int | None = None
    ready = -math.inf
    for frame_id, arrival, keyframe in sorted(log_):
        if keyframe or (previous is not None and frame_id == previous + 1):
            ready = max(ready, arrival)
            times.append(ready if in_order else arrival)
            previous = frame_id
        else:
            previous = None  # a gap: wait for a keyframe
    return sorted(times)


def missing_frames(log_: list[list[Any]], start: float, end: float) -> int:
    """Frame numbers that never came whole between the first and last frame that arrived in [start, end]."""
    ids = sorted(frame_id for frame_id, arrival, _ in log_ if start <= arrival <= end)
    return ids[-1] - ids[0] + 1 - len(set(ids)) if ids else 0


def figures(
    *,
    frames: dict[str, list[list[Any]]],
    reference: str,
    start: float,
    end: float,
    cut: float,
    back: float,
) -> dict[str, float]:
    """subscriber_fps, freeze_ms_per_min (both on the frames a decoder can use), recovery_s, added_delay_p95_ms
    from the subscribers' frame logs."""
    excluded = (cut, back + RECOVERY_GOAL_S)
    spans = [(start, excluded[0]), (excluded[1], end)]
    counted = sum(b - a for a, b in spans)

    def outside(at: float) -> bool:
        return any(a <= at < b for a, b in spans)

    sg_arrival = {frame_id: arrival for frame_id, arrival, _ in frames[reference]}
    sg_frozen = sum(gap for a, b in spans for gap in freezes(decodable(frames[reference]), a, b))
    fps, frozen_per_min, recoveries, delays, stretches, in_order_frozen = [], [], [], [], [], []
    for subscriber_id, log_ in frames.items():
        if subscriber_id == reference:
            continue
        arrivals = decodable(log_)
        fps.append(sum(1 for a in arrivals if outside(a)) / counted)
        mine = [gap for a, b in spans for gap in freezes(arrivals, a, b)]
        stretches.extend(mine)
        frozen_per_min.append(sum(mine) * 1000 / (counted / 60))
        held = decodable(log_, in_order=True)
        in_order_frozen.append(sum(gap for a, b in spans for gap in freezes(held, a, b)) * 1000 / (counted / 60))
        recovered = next((arrival - back for _, arrival, key in log_ if key and arrival >= back), end - back)
        recoveries.append(recovered)
        for frame_id, arrival, _ in log_:
            if outside(arrival) and (sg := sg_arrival.get(frame_id)) is not None:
                delays.append((arrival - sg) * 1000)
    return {
        "subscriber_fps": round(statistics.mean(fps), 2) if fps else 0.0,
        "freeze_ms_per_min": round(statistics.mean(frozen_per_min), 1) if frozen_per_min else math.nan,
        "freezes": len(stretches),
        "longest_freeze_ms": round(max(stretches, default=0.0) * 1000),
        "reference_freeze_ms_per_min": round(sg_frozen * 1000 / (counted / 60), 1),
        "in_order_freeze_ms_per_min": round(statistics.mean(in_order_frozen), 1) if in_order_frozen else math.nan,
        "recovery_s": round(max(recoveries), 3) if recoveries else math.nan,
        "added_delay_p95_ms": round(quantile(delays, 95), 1),
        "added_delay_p50_ms": round(quantile(delays, 50), 1),
        "added_delay_p90_ms": round(quantile(delays, 90), 1),
    }


def video_link_streams(streams: dict[str, list[int]], video_payload_type: int) -> int:
    """Distinct SSRCs carrying the video's payload type among the relay's SG→CQ RTP streams, RTX ones apart."""
    from streaming.sfu.link import link_rtx_ssrc

    # A stream and its RTX stream pair up (link_rtx_ssrc both ways); the relay lists SSRCs as first seen, and a
    # stream's media comes before its first repair.
    seen: set[int] = set()
    rtx: set[int] = set()
    for ssrc in map(int, streams):
        if link_rtx_ssrc(ssrc) in seen:
            rtx.add(ssrc)
        seen.add(ssrc)
    return sum(1 for ssrc, (_, kind) in streams.items() if int(ssrc) not in rtx and kind == video_payload_type)


# --- the bench --------------------------------------------------------------------------------------------------


def cpu_seconds(pids: Any) -> dict[int, float]:
    """CPU time (user + system) of each process so far."""
    import psutil

    times = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            cpu = psutil.Process(pid).cpu_times()
            times[pid] = cpu.user + cpu.system
    return times


class Nodes:
    """The two node processes (SG, CQ) under this run's own Redis prefix."""

    def __init__(self, *, redis_url: str, layer_prefix: str, prefix: str, logs: Path) -> None:
        self.redis_url, self.layer_prefix, self.prefix, self.logs = redis_url, layer_prefix, prefix, logs
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.ids: dict[str, str] = {}

    async def start(self, name: str, city: str, link_port: int, advertised_port: int) -> None:
        node_id = self.ids[name] = f"bench-{name}-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "REDIS_URL": self.redis_url,
            "CHANNEL_LAYER_PREFIX": self.layer_prefix,
            "SFU_REDIS_PREFIX": self.prefix,
            "SFU_NODE_ID": node_id,
            # A loaded 2-core machine can hold a node's loop up for seconds while 50 subscribers connect (DTLS):
            # its record must outlive that, or its sockets move to the other city's node mid-run.
            "SFU_NODE_HEARTBEAT": "1.0",
            "SFU_NODE_TTL": "15.0",
            "SFU_NODE_RECORDINGS": "0",
            "SFU_NODE_CITY": city,
            "SFU_LINK_BIND": f"127.0.0.1:{link_port}",
            "SFU_LINK_ADVERTISE": f"127.0.0.1:{advertised_port}",
        }
        with (self.logs / f"{name}.log").open("wb") as out:
            self.processes[name] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "streaming.node", cwd=ROOT, env=env, stdout=out, stderr=out
            )

    async def wait_registered(self, redis: Any, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for name, process in self.processes.items():
                if process.returncode is not None:
                    raise RuntimeError(f"node {name} exited: see {self.logs / (name + '.log')}")
            if all([await redis.exists(self.record_key(node_id)) for node_id in self.ids.values()]):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the nodes did not register in {timeout:g} s: see {self.logs}")
            await asyncio.sleep(0.1)

    def record_key(self, node_id: str) -> str:
        from streaming.node import registry

        return registry.node_key(self.prefix, node_id)

    async def record(self, redis: Any, name: str) -> dict[str, Any]:
        raw = await redis.get(self.record_key(self.ids[name]))
        return json.loads(raw) if raw else {}

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.terminate()
        for process in self.processes.values():
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def subscribe_all(
    hub: Any, subscribers: SubscriberPool, sockets: list[BenchSocket], track_ids: list[str], *, timeout: float = 30
) -> None:
    """Subscribe each socket to `track_ids` (retrying until its node has them: a CQ node relays the publisher once
    its cascade has pulled it), then have the subscriber processes answer, 25 at a time."""
    from streaming.sfu import SfuError

    offers: dict[str, str] = {}
    by_id = {s.peer_id: s for s in sockets}
    deadline = time.monotonic() + timeout
    for sock in sockets:
        while True:
            try:
                offer = await hub.subscribe(sock, track_ids=track_ids)
                if any(track["kind"] == "video" for track in offer["tracks"]):
                    offers[sock.peer_id] = offer["sdp"]
                    break
            except SfuError as error:
                if error.code not in ("no_tracks", "unknown_track") or time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise RuntimeError(f"{sock.peer_id} ({sock.city}) found no video to subscribe to in {timeout:g} s")
            await asyncio.sleep(0.25)
    items = list(offers.items())
    for begin in range(0, len(items), 25):
        answers = await subscribers.answers(dict(items[begin : begin + 25]))
        for peer_id, sdp in answers.items():
            await hub.subscriber_answer(by_id[peer_id], sdp=sdp)


async def publisher_bytes(pc: RTCPeerConnection) -> int:
    total = 0
    for sender in pc.getSenders():
        for stats in (await sender.getStats()).values():
            if stats.type == "outbound-rtp":  # not the transport's, which counts every track
                total += stats.bytesSent
    return total


async def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    from channels_redis.pubsub import RedisPubSubChannelLayer
    from redis.asyncio import Redis

    from streaming.node.client import RemoteMediaHub

    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        raise SystemExit("bench/cascade.py needs REDIS_URL (SFU nodes are coordinated through Redis)")
    layer_prefix = default_layer_prefix(os.environ)
    prefix = f"{default_registry_prefix(layer_prefix)}-bench-{uuid.uuid4().hex[:8]}"
    logs = Path(tempfile.mkdtemp(prefix="cascade-bench-"))
    log(f"node logs in {logs}; link {args.delay_ms:g} ms ±{args.jitter_ms:g} ms, {args.loss_pct:g} % loss each way")

    sg_link, cq_link = free_udp_port(), free_udp_port()
    relay = Worker(
        __file__,
        "relay",
        *("--sg-link-port", str(sg_link), "--cq-link-port", str(cq_link)),
        *("--delay-ms", str(args.delay_ms), "--jitter-ms", str(args.jitter_ms), "--loss-pct", str(args.loss_pct)),
    )
    subscribers = SubscriberPool(args.subscriber_processes or math.ceil((args.subscribers + 1) / 26))
    redis = Redis.from_url(redis_url)
    layer = RedisPubSubChannelLayer(hosts=[redis_url], prefix=layer_prefix)
    nodes = Nodes(redis_url=redis_url, layer_prefix=layer_prefix, prefix=prefix, logs=logs)
    hub = RemoteMediaHub(layer=layer, redis=redis, prefix=prefix, timeout=10.0, check_interval=0.5)
    publisher_pc: RTCPeerConnection | None = None
    sockets: list[BenchSocket] = []
    try:
        ports = await relay.start()
        await subscribers.start()
        await nodes.start("sg", "singapore", sg_link, ports["to_sg"])
        await nodes.start("cq", "chongqing", cq_link, ports["to_cq"])
        await nodes.wait_registered(redis)
        log("nodes SG and CQ registered")

        frames = pre_encode(LOOP_FRAMES + 1, keyframe_every=LOOP_FRAMES + 1)
        video = OnDemandKeyframes(frames[0], frames[1:])
        publisher_pc = RTCPeerConnection(config())
        video.sender = publisher_pc.addTransceiver(video, direction="sendonly").sender
        publisher_pc.addTransceiver(PreEncodedAudio(pre_encode_audio(AUDIO_PACKETS_PER_S * 2)), direction="sendonly")
        instructor = BenchSocket(SESSION_ID, 1, "instructor", "instructor", "singapore", name="Instructor")
        sockets.append(instructor)
        await hub.join(instructor)
        await publisher_pc.setLocalDescription(await publisher_pc.createOffer())
        answer = await hub.publish(instructor, sdp=publisher_pc.localDescription.sdp, label="instructor")
        await publisher_pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        video_codec = negotiated_codec(publisher_pc.getTransceivers()[0])
        assert video_codec is not None
        assert video_codec.payloadType is not None
        video_payload_type = video_codec.payloadType

        reference = BenchSocket(SESSION_ID, 2, "sg-reference", "trainee", "singapore")
        far = [BenchSocket(SESSION_ID, 100 + i, f"cq-{i}", "trainee", "chongqing") for i in range(args.subscribers)]
        for sock in (reference, *far):
            sockets.append(sock)
            await hub.join(sock)
        joined = time.monotonic()
        wanted = [t["track_id"] for t in answer["tracks"] if args.subscribe_audio or t["kind"] == "video"]
        await subscribe_all(hub, subscribers, [reference, *far], wanted)
        deadline = time.monotonic() + 30
        while True:
            counts = await subscribers.merged("counts")
            if all(counts.values()):
                break
            if time.monotonic() > deadline:
                waiting = sorted(k for k, v in counts.items() if not v)
                raise RuntimeError(f"no frames after 30 s at {len(waiting)} subscribers, e.g. {waiting[:3]}")
            await asyncio.sleep(0.2)
        log(f"{len(far)} CQ subscribers and the SG reference have frames ({time.monotonic() - joined:.1f} s)")
        await asyncio.sleep(args.warmup)
        # Every bench process's set-up out of the collector's way, so that its full passes do not stall the
        # publisher or the subscribers mid-run (the nodes freeze their start-up themselves).
        await asyncio.gather(relay.call({"cmd": "settle"}), subscribers.merged("settle"))
        settle_garbage()

        processes = {
            "SG node": nodes.processes["sg"].pid,
            "CQ node": nodes.processes["cq"].pid,
            "relay": relay.pid,
            "this process (publisher, signaling)": os.getpid(),
            **{f"subscribers {i + 1}": child.pid for i, child in enumerate(subscribers.children)},
        }
        cpu_before = cpu_seconds(processes.values())
        start_snap = await relay.call({"cmd": "snap"})
        start_bytes, start = await publisher_bytes(publisher_pc), time.monotonic()
        await asyncio.sleep(max(0.0, args.seconds / 2 - args.outage_s / 2))
        cut_snap = await relay.call({"cmd": "snap"})
        cut_bytes = await publisher_bytes(publisher_pc)
        cut = (await relay.call({"cmd": "outage", "seconds": args.outage_s}))["at"]
        log(f"link cut for {args.outage_s:g} s")
        await asyncio.sleep(args.outage_s)
        back = cut + args.outage_s
        await asyncio.sleep(max(0.0, back + RECOVERY_GOAL_S - time.monotonic()))
        resume_snap = await relay.call({"cmd": "snap"})
        resume_bytes = await publisher_bytes(publisher_pc)
        await asyncio.sleep(max(0.0, start + args.seconds - time.monotonic()))
        end_snap = await relay.call({"cmd": "snap"})
        cpu_after = cpu_seconds(processes.values())
        end_bytes, end = await publisher_bytes(publisher_pc), time.monotonic()
        sg_record, cq_record = await nodes.record(redis, "sg"), await nodes.record(redis, "cq")
        logged = await subscribers.merged("frames")
    finally:
        for sock in reversed(sockets):
            with contextlib.suppress(Exception):
                await hub.leave(sock)
        with contextlib.suppress(Exception):
            await subscribers.merged("close_all")
        if publisher_pc is not None:
            await publisher_pc.close()
        await hub.close()
        await nodes.stop()
        await asyncio.gather(relay.stop(), subscribers.stop())
        async for key in redis.scan_iter(match=f"{prefix}*"):
            await redis.delete(key)
        await redis.aclose()

    # Media counted outside the outage window: [start, cut) and [cut + outage + 2 s, end].
    spans = [(start_snap, cut_snap, start_bytes, cut_bytes), (resume_snap, end_snap, resume_bytes, end_bytes)]
    seconds = sum(b["at"] - a["at"] for a, b, _, _ in spans)
    link_bytes = sum(b["to_cq"]["bytes_out"] - a["to_cq"]["bytes_out"] for a, b, _, _ in spans)
    media_bytes = sum(b_bytes - a_bytes for _, _, a_bytes, b_bytes in spans)
    result: dict[str, Any] = {
        "delay_ms": args.delay_ms,
        "jitter_ms": args.jitter_ms,
        "loss_pct": args.loss_pct,
        "subscribers": args.subscribers,
        **figures(frames=logged["video"], reference=reference.peer_id, start=start, end=end, cut=cut, back=back),
        "link_streams_per_track": video_link_streams(end_snap["to_cq"]["streams"], video_payload_type),
        "link_kbps": round(link_bytes * 8 / seconds / 1000, 1),
        "publisher_kbps": round(media_bytes * 8 / seconds / 1000, 1),
    }
    sg_links = sg_record.get("links") or []
    log(f"SG node link stats: {json.dumps(sg_links)[:600]}; CQ node: {json.dumps(cq_record.get('links') or [])[:600]}")
    log(
        f"relay SG→CQ: {end_snap['to_cq']['packets_in']} packets in, {end_snap['to_cq']['dropped']} dropped; "
        f"CQ→SG: {end_snap['to_sg']['packets_in']} in; SSRCs SG→CQ {end_snap['to_cq']['streams']}"
    )
    audio = logged["audio"]
    wall = end - start
    log(
        "CPU over the run, % of a core: "
        + ", ".join(f"{name} {(cpu_after[pid] - cpu_before[pid]) / wall * 100:.0f}" for name, pid in processes.items())
    )
    if args.dump:
        marks = {"start": start, "end": end, "cut": cut, "back": back}
        Path(args.dump).write_text(json.dumps({"marks": marks, "video": logged["video"]}))
    missing = {k: missing_frames(v, start, end) for k, v in logged["video"].items()}
    log(
        f"frames that never came whole (over the whole run, the outage too): SG reference "
        f"{missing.pop(reference.peer_id)}, CQ subscribers {sorted(missing.values())}"
    )
    log(
        f"CQ subscribers: {result['subscriber_fps']} fps, {result['freeze_ms_per_min']} ms frozen per minute, "
        f"({result['freezes']} freezes over all, the longest {result['longest_freeze_ms']} ms; in decoding order "
        f"with no playout buffer {result['in_order_freeze_ms_per_min']} ms per minute; the SG reference, whose "
        f"freezes are this machine's, {result['reference_freeze_ms_per_min']} ms per minute), "
        f"recovered {result['recovery_s']} s after the link's return; added delay p50 "
        f"{result['added_delay_p50_ms']} ms p90 {result['added_delay_p90_ms']} ms p95 {result['added_delay_p95_ms']} "
        f"ms; audio packets per CQ subscriber min {min(v for k, v in audio.items() if k != reference.peer_id)}; "
        f"link {result['link_kbps']} kbps for "
        f"{result['publisher_kbps']} kbps published; link streams for the video: {result['link_streams_per_track']}"
    )
    return {key: result[key] for key in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["bench", "relay", "subscribers"], default="bench")
    parser.add_argument("--subscribers", type=int, default=20, help="Chongqing subscribers")
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured run, the outage in its middle")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after every subscriber has frames")
    parser.add_argument("--delay-ms", type=float, default=40.0, help="the link's one-way delay")
    parser.add_argument("--jitter-ms", type=float, default=10.0, help="± per packet, uniform")
    parser.add_argument("--loss-pct", type=float, default=2.0, help="random loss, each way")
    parser.add_argument("--outage-s", type=float, default=3.0, help="the link's outage in the middle of the run")
    parser.add_argument("--subscribe-audio", action="store_true", help="subscribers take the audio too")
    parser.add_argument(
        "--subscriber-processes", type=int, default=0, help="processes for the subscribers (default: one per 26)"
    )
    parser.add_argument("--dump", help="write every subscriber's frame log to this JSON file")
    parser.add_argument("--sg-link-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--cq-link-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "relay":
        asyncio.run(run_relay(args))
    elif args.role == "subscribers":
        asyncio.run(run_subscribers())
    else:
        if args.seconds < args.outage_s + 2 * RECOVERY_GOAL_S + 2:
            parser.error("--seconds must leave room around the outage and its recovery")
        result = asyncio.run(run_bench(args))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
