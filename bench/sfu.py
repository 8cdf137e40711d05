"""SFU benchmark: aiortc's MediaRelay (decode once, encode per subscriber) against Corridor's passthrough SFU.

    .venv/bin/python bench/sfu.py                         # both, default steps
    .venv/bin/python bench/sfu.py --subscribers 150 --seconds 8
    .venv/bin/python bench/sfu.py --skip-baseline --steps 50,100
    .venv/bin/python bench/sfu.py --skip-baseline --class --steps 50,100 --class-steps 10,20,30,40

Three processes, on a 2-core machine:

* this one is the SFU (pinned to CPU 0 with os.sched_setaffinity): (a) a MediaRelay server, then (b) streaming.sfu.Sfu;
* a publisher (pinned to CPU 1) plays a pre-encoded 640×480 30 fps VP8 loop (encoded once at start-up with aiortc's
  VP8 settings, a keyframe every second) through aiortc's sender `pack()` path: its encoding never costs anything
  during the measurement, and the same publisher feeds (a) and (b);
* the subscribers (pinned to CPU 1): N RTCPeerConnections that never decode: each taps its receiver through
  streaming.sfu.seam and counts whole frames with streaming.sfu.frames.FrameAssembler.

For each step N, subscribers are added, given a warm-up, then measured for --seconds: the SFU process's CPU time
(all threads, so MediaRelay's decoder and encoder threads count), every subscriber's frame rate, and for (b) the
forwarding delay inside the SFU (tap of the publisher's packet → after the send to each leg). A step is sustained
when every subscriber got ≥ 29 fps. CPU per subscriber is the SFU process's CPU ÷ N at the largest sustained N;
subscribers per core = 80 % ÷ that. For (a) the delay is from a frame's last packet in to its re-encoded frame out.

--class adds (c) a class-shaped load after (b): three publishers (two rooms and the instructor), each a 640×480
30 fps VP8 loop and an Opus loop (48 kHz, 20 ms, encoded once with aiortc's Opus settings), and every subscriber
takes all three: 3 video + 3 audio tracks on one peer connection, as a trainee's page does. A class step is
sustained when every subscriber got ≥ 29 fps on each of its three videos and ≥ 45 audio packets per second on each
audio track; its figures are reported under the same names prefixed `class_` (None without --class). The
subscriber process (one core, six tracks per subscriber, SRTP decryption in Python) saturates long before the SFU
does, so class steps stay small and subscribers per core is extrapolated. Before the first step each load measures
the SFU with its publishers and nobody watching (N=0: the publishers' ingress, paid once per process); each step
reports its marginal CPU per subscriber (CPU at N minus that, ÷ N), and `class_subscribers_per_core` is
(80 % − ingress) ÷ the marginal at the largest sustained step: the subscribers one core carries at that load.
`class_subscribers_per_core_at_measured_load` is 80 % ÷ (CPU ÷ N) at that step, the ingress shared by its few
subscribers only (lower, since N is small). The single-stream figures keep CPU ÷ N.

Human-readable lines first; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import cProfile
import fractions
import json
import math
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from bench._workers import Worker, reply, stdin_lines
from streaming.sfu import FrameAssembler, Sfu
from streaming.sfu.seam import tap_receiver

WIDTH, HEIGHT, FPS = 640, 480, 30
CLOCK = 90_000
LOOP_FRAMES = 150
SUSTAINED_FPS = 29.0
AUDIO_RATE, AUDIO_PACKETS_PER_S = 48_000, 50
SUSTAINED_AUDIO_PPS = 45.0
CLASS_PUBLISHERS = ("room-a", "room-b", "instructor")  # a class: two rooms and the instructor, video + audio each
CORE_BUDGET_PCT = 80.0


def log(message: str) -> None:
    print(message, flush=True)


def errlog(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pin(cpu: int) -> None:
    with contextlib.suppress(AttributeError, OSError):
        if cpu < (os.cpu_count() or 1):
            os.sched_setaffinity(0, {cpu})


def config() -> RTCConfiguration:
    # Loopback only (aiortc would otherwise ask Google's STUN server); max-bundle as browsers and the SFU do: with
    # aiortc's default ("balanced") a subscriber receives only the first of several audio m-lines.
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


# --- the publisher process --------------------------------------------------------------------------------------


def pre_encode(frames: int, *, keyframe_every: int = FPS) -> list[bytes]:
    """A panning random texture, encoded like aiortc's Vp8Encoder does (500 kbps CBR), a keyframe every
    `keyframe_every` frames (every second by default)."""
    rng = random.Random(7)
    texture_width = WIDTH + 2 * frames
    texture = bytes(96 + (rng.getrandbits(5)) for _ in range(texture_width * 64))
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = WIDTH, HEIGHT
    codec.bit_rate = 500_000
    codec.pix_fmt = "yuv420p"
    codec.gop_size = keyframe_every
    codec.time_base = fractions.Fraction(1, FPS)
    codec.options = {
        "bufsize": "500000",
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": "500000",
        "maxrate": "500000",
        "static-thresh": "1",
        "undershoot-pct": "100",
        "overshoot-pct": "15",
    }
    encoded: list[bytes] = []
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    for index in range(frames + 10):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        shift = 2 * (index % frames)
        rows = [
            texture[(y % 64) * texture_width + shift : (y % 64) * texture_width + shift + WIDTH] for y in range(HEIGHT)
        ]
        frame.planes[0].update(b"".join(rows))
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = index
        if index % keyframe_every == 0:
            frame.pict_type = av.video.frame.PictureType.I
        encoded.extend(bytes(packet) for packet in codec.encode(frame))
    encoded.extend(bytes(packet) for packet in codec.encode(None))
    return encoded[:frames]


def pre_encode_audio(packets: int) -> list[bytes]:
    """A 440 Hz tone through aiortc's own Opus encoder settings (96 kbps, 20 ms packets), `packets` long."""
    from aiortc.codecs.opus import OpusEncoder

    encoder = OpusEncoder()
    encoded: list[bytes] = []
    samples_per_frame = AUDIO_RATE // AUDIO_PACKETS_PER_S
    index = 0
    while len(encoded) < packets:
        frame = av.AudioFrame(format="s16", layout="stereo", samples=samples_per_frame)
        tone = array.array(
            "h",
            (
                int(8000 * math.sin(2 * math.pi * 440 * (index * samples_per_frame + n // 2) / AUDIO_RATE))
                for n in range(samples_per_frame * 2)
            ),
        )
        frame.planes[0].update(tone.tobytes())
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * samples_per_frame
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        payloads, _ = encoder.encode(frame)
        encoded.extend(payloads)
        index += 1
    return encoded[:packets]


class PreEncodedAudio(MediaStreamTrack):
    """Plays pre-encoded Opus packets every 20 ms as av.Packets (packed by aiortc's sender, never encoded)."""

    kind = "audio"

    def __init__(self, packets: list[bytes]) -> None:
        super().__init__()
        self._packets = packets
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._start + self._index / AUDIO_PACKETS_PER_S - time.monotonic()))
        packet = av.Packet(self._packets[self._index % len(self._packets)])
        packet.pts = self._index * (AUDIO_RATE // AUDIO_PACKETS_PER_S)
        packet.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._index += 1
        return packet


class PreEncodedTrack(MediaStreamTrack):
    """Plays pre-encoded VP8 frames at 30 fps as av.Packets (aiortc's sender packetizes them, never encodes)."""

    kind = "video"

    def __init__(self, frames: list[bytes]) -> None:
        super().__init__()
        self._frames = frames
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._start + self._index / FPS - time.monotonic()))
        packet = av.Packet(self._frames[self._index % len(self._frames)])
        packet.pts = self._index * CLOCK // FPS
        packet.time_base = fractions.Fraction(1, CLOCK)
        self._index += 1
        return packet


async def run_publisher() -> None:
    pin(1)
    started = time.monotonic()
    frames = pre_encode(LOOP_FRAMES)
    sizes = [len(f) for f in frames]
    errlog(
        f"publisher: {len(frames)} frames pre-encoded in {time.monotonic() - started:.1f} s, "
        f"{statistics.mean(sizes) * 8 * FPS / 1000:.0f} kbps, keyframe {sizes[0]} B"
    )
    audio = pre_encode_audio(AUDIO_PACKETS_PER_S * 2)
    reader = await stdin_lines()
    pcs: dict[str, RTCPeerConnection] = {}
    reply({"ready": True})
    while line := await reader.readline():
        message = json.loads(line)
        name = message.get("publisher", "publisher")
        if message["cmd"] == "offer":
            if name in pcs:
                await pcs.pop(name).close()
            pc = pcs[name] = RTCPeerConnection(config())
            pc.addTransceiver(PreEncodedTrack(frames), direction="sendonly")
            if message.get("audio"):
                pc.addTransceiver(PreEncodedAudio(audio), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            reply({"sdp": pc.localDescription.sdp})
        elif message["cmd"] == "answer":
            await pcs[name].setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
            reply({"ok": True})
        elif message["cmd"] == "close":
            for pc in pcs.values():
                await pc.close()
            pcs.clear()
            reply({"ok": True})


# --- the subscribers process ------------------------------------------------------------------------------------


class CountingSubscriber:
    """A subscriber that counts whole encoded frames (through the SFU's own seam) and never decodes."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(config())
        self.frames = 0  # video frames, all tracks
        self.per_track: dict[str, int] = {}  # frames per mid ("video:<mid>" / "audio:<mid>")

    async def answer(self, offer_sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        for transceiver in self.pc.getTransceivers():
            video = transceiver.kind == "video"
            assembler = FrameAssembler(
                track_id=f"{transceiver.kind}:{transceiver.mid or ''}",
                kind="video" if video else "audio",
                mime_type="video/VP8" if video else "audio/opus",
                clock_rate=CLOCK if video else AUDIO_RATE,
            )
            self.per_track[assembler.track_id] = 0
            tap_receiver(transceiver.receiver, self._counter(assembler))
            # A test client needs no bandwidth estimate: skipping aiortc's (pure Python) REMB estimator roughly
            # halves the subscriber process's CPU, which is what saturates first on a 2-core machine.
            setattr(transceiver.receiver, "_RTCRtpReceiver__remote_bitrate_estimator", None)  # noqa: B010
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    def _counter(self, assembler: FrameAssembler) -> Callable[[RtpPacket], Awaitable[None]]:
        key, video = assembler.track_id, assembler.track_id.startswith("video")

        async def count(packet: RtpPacket) -> None:
            if assembler.push(packet) is not None:
                self.per_track[key] += 1
                self.frames += video

        return count


async def run_subscribers() -> None:
    pin(1)
    reader = await stdin_lines()
    subscribers: dict[str, CountingSubscriber] = {}
    window: tuple[float, float, dict[str, dict[str, int]]] | None = None
    reply({"ready": True})
    while line := await reader.readline():
        message = json.loads(line)
        command = message["cmd"]
        if command == "offers":
            answers = {}
            for subscriber_id, sdp in message["offers"].items():
                subscriber = subscribers[subscriber_id] = CountingSubscriber()
                answers[subscriber_id] = await subscriber.answer(sdp)
            reply({"answers": answers})
        elif command == "window_start":
            counts = {k: dict(s.per_track) for k, s in subscribers.items()}
            window = (time.monotonic(), time.process_time(), counts)
            reply({"ok": True})
        elif command == "window_stop":
            assert window is not None
            started, cpu_started, counts = window
            elapsed = time.monotonic() - started
            # Per subscriber: its slowest video track's frame rate, and its slowest audio track's packet rate.
            fps: dict[str, float] = {}
            audio_pps: dict[str, float] = {}
            for k, s in subscribers.items():
                rates = {t: (n - counts.get(k, {}).get(t, 0)) / elapsed for t, n in s.per_track.items()}
                fps[k] = min((r for t, r in rates.items() if t.startswith("video")), default=0.0)
                audio = [r for t, r in rates.items() if t.startswith("audio")]
                if audio:
                    audio_pps[k] = min(audio)
            cpu_pct = (time.process_time() - cpu_started) / elapsed * 100
            reply({"fps": fps, "audio_pps": audio_pps, "cpu_pct": cpu_pct})
        elif command == "close_all":
            for subscriber in subscribers.values():
                await subscriber.pc.close()
            subscribers.clear()
            reply({"ok": True})


# --- the SFU process (orchestrator) -----------------------------------------------------------------------------


class RelayServer:
    """The baseline: aiortc's documented MediaRelay fan-out (the publisher's video decoded once, encoded per viewer)."""

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.source: MediaStreamTrack | None = None
        self.publisher: RTCPeerConnection | None = None
        self.subscribers: dict[str, RTCPeerConnection] = {}
        self.arrivals: dict[int, float] = {}
        self.delays: list[float] = []
        self._first_timestamp: int | None = None

    async def publish(self, offer_sdp: str, publisher_id: str = "publisher") -> str:
        pc = self.publisher = RTCPeerConnection(config())

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.source = track

        await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        self._instrument_receiver(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    def _instrument_receiver(self, pc: RTCPeerConnection) -> None:
        # Delay: a frame's last packet in → that frame re-encoded for a subscriber (matched by RTP timestamp, which
        # aiortc's receiver maps to start at 0 and its sender keeps as the frame's pts).
        receiver = pc.getTransceivers()[0].receiver
        original: Callable[..., Awaitable[None]] = receiver._handle_rtp_packet

        async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
            if self._first_timestamp is None:
                self._first_timestamp = packet.timestamp
            if packet.marker:
                self.arrivals[(packet.timestamp - self._first_timestamp) & 0xFFFFFFFF] = time.perf_counter()
                if len(self.arrivals) > 600:
                    self.arrivals.pop(next(iter(self.arrivals)))
            await original(packet, arrival_time_ms=arrival_time_ms)

        setattr(receiver, "_handle_rtp_packet", handle)  # noqa: B010

    async def subscribe(self, subscriber_id: str) -> str:
        assert self.source is not None
        pc = self.subscribers[subscriber_id] = RTCPeerConnection(config())
        sender = pc.addTrack(self.relay.subscribe(self.source, buffered=False))
        original: Callable[..., Awaitable[Any]] = sender._next_encoded_frame

        async def next_encoded_frame(codec: Any) -> Any:
            frame = await original(codec)
            if frame is not None and (arrived := self.arrivals.get(frame.timestamp)) is not None:
                self.delays.append(time.perf_counter() - arrived)
            return frame

        setattr(sender, "_next_encoded_frame", next_encoded_frame)  # noqa: B010
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp

    async def answer(self, subscriber_id: str, answer_sdp: str) -> None:
        await self.subscribers[subscriber_id].setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))

    def delay_ms(self, *, reset: bool) -> dict[str, float]:
        samples = sorted(self.delays)
        if reset:
            self.delays.clear()
        if len(samples) < 2:
            return {"p50": float("nan"), "p95": float("nan")}
        q = statistics.quantiles(samples, n=100, method="inclusive")
        return {"p50": q[49] * 1000, "p95": q[94] * 1000}

    async def close(self) -> None:
        for pc in [*self.subscribers.values(), *([self.publisher] if self.publisher else [])]:
            await pc.close()


class SfuServer:
    def __init__(self) -> None:
        self.sfu = Sfu(measure_forwarding_delay=True)

    async def publish(self, offer_sdp: str, publisher_id: str = "publisher") -> str:
        answer = await self.sfu.publish(session_key="bench", publisher_id=publisher_id, offer_sdp=offer_sdp)
        return answer["sdp"]

    async def subscribe(self, subscriber_id: str) -> str:
        offer = await self.sfu.subscribe(session_key="bench", subscriber_id=subscriber_id)
        return offer["sdp"]

    async def answer(self, subscriber_id: str, answer_sdp: str) -> None:
        await self.sfu.subscriber_answer(session_key="bench", subscriber_id=subscriber_id, answer_sdp=answer_sdp)

    def delay_ms(self, *, reset: bool) -> dict[str, float]:
        return self.sfu.forwarding_delay_ms(reset=reset)

    def leg_packets(self) -> int:
        return sum(leg["packets"] for legs in self.sfu.stats("bench")["subscribers"].values() for leg in legs)

    async def close(self) -> None:
        await self.sfu.close()


Server = RelayServer | SfuServer


async def measure(
    name: str,
    server: Server,
    steps: list[int],
    publisher: Worker,
    subscribers: Worker,
    args: argparse.Namespace,
    *,
    publishers: tuple[str, ...] = ("publisher",),
    audio: bool = False,
) -> dict[str, Any]:
    for publisher_id in publishers:
        offer = await publisher.call({"cmd": "offer", "publisher": publisher_id, "audio": audio})
        answer = await server.publish(offer["sdp"], publisher_id)
        await publisher.call({"cmd": "answer", "publisher": publisher_id, "sdp": answer})
    for _ in range(100):
        await asyncio.sleep(0.1)
        if not isinstance(server, RelayServer) or server.source is not None:
            break
    await asyncio.sleep(1.0)
    # The publishers' ingress with nobody watching: paid once per SFU process, whatever the number of subscribers.
    wall, cpu = time.monotonic(), time.process_time()
    await asyncio.sleep(args.seconds)
    fixed_cpu_pct = (time.process_time() - cpu) / (time.monotonic() - wall) * 100
    log(f"[{name}] N=   0: SFU process {fixed_cpu_pct:5.1f} % of a core (the publishers' ingress alone)")
    results: list[dict[str, Any]] = []
    joined = 0
    for n in steps:
        offers = {}
        for index in range(joined, n):
            offers[f"{name}-{index}"] = await server.subscribe(f"{name}-{index}")
        for start in range(0, len(offers), 25):
            batch = dict(list(offers.items())[start : start + 25])
            answers = (await subscribers.call({"cmd": "offers", "offers": batch}))["answers"]
            for subscriber_id, sdp in answers.items():
                await server.answer(subscriber_id, sdp)
        joined = n
        await asyncio.sleep(args.warmup)
        server.delay_ms(reset=True)
        await subscribers.call({"cmd": "window_start"})
        frames_in = (
            server.sfu.stats("bench")["publishers"][publishers[0]][0]["frames"] if isinstance(server, SfuServer) else 0
        )
        leg_packets_in = server.leg_packets() if isinstance(server, SfuServer) else 0
        profiler = cProfile.Profile() if args.profile and isinstance(server, SfuServer) else None
        if profiler is not None:
            profiler.enable()
        wall, cpu = time.monotonic(), time.process_time()
        await asyncio.sleep(args.seconds)
        if profiler is not None:
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(35)
        cpu_pct = (time.process_time() - cpu) / (time.monotonic() - wall) * 100
        window = await subscribers.call({"cmd": "window_stop"})
        fps = sorted(window["fps"].values())
        audio_pps = sorted(window["audio_pps"].values())
        delay = server.delay_ms(reset=True)
        step = {
            "subscribers": n,
            "sfu_cpu_pct": round(cpu_pct, 2),
            "cpu_per_subscriber_pct": round(cpu_pct / n, 4),
            # What each subscriber adds to the publishers' ingress alone (N=0).
            "marginal_cpu_per_subscriber_pct": round((cpu_pct - fixed_cpu_pct) / n, 4),
            "fps_min": round(fps[0], 2),
            "fps_median": round(statistics.median(fps), 2),
            "subscriber_process_cpu_pct": round(window["cpu_pct"], 1),
            "forward_p50_ms": round(delay["p50"], 3),
            "forward_p95_ms": round(delay["p95"], 3),
            "sustained": fps[0] >= SUSTAINED_FPS and (not audio or audio_pps[0] >= SUSTAINED_AUDIO_PPS),
        }
        if audio:
            step["audio_pps_min"] = round(audio_pps[0], 2) if audio_pps else 0.0
        if isinstance(server, SfuServer):
            stats = server.sfu.stats("bench")
            legs = [leg for legs in stats["subscribers"].values() for leg in legs]
            step["nacked_packets"] = sum(leg["nacked_packets"] for leg in legs)
            step["subscriber_keyframe_requests"] = sum(leg["keyframe_requests"] for leg in legs)
            step["publisher"] = stats["publishers"][publishers[0]][0]
            step["ingress_fps"] = round((step["publisher"]["frames"] - frames_in) / args.seconds, 2)
            # CPU per packet sent on a leg: what forwarding costs whether or not the machine let every frame through.
            leg_packets = server.leg_packets() - leg_packets_in
            step["leg_packets_per_s"] = round(leg_packets / args.seconds, 1)
            step["cpu_us_per_leg_packet"] = (
                round(cpu_pct / 100 * args.seconds / leg_packets * 1e6, 2) if leg_packets else None
            )
        results.append(step)
        errlog(json.dumps(step))
        log(
            f"[{name}] N={n:4d}: SFU process {cpu_pct:5.1f} % of a core ({cpu_pct / n:.3f} %/subscriber), "
            f"fps min {fps[0]:.1f} median {statistics.median(fps):.1f}"
            + (f", audio min {audio_pps[0]:.1f} packets/s" if audio and audio_pps else "")
            + f", subscriber process {window['cpu_pct']:.0f} %, "
            f"delay p50 {delay['p50']:.2f} ms p95 {delay['p95']:.2f} ms"
            + ("" if step["sustained"] else "  NOT SUSTAINED")
        )
        if not step["sustained"] or cpu_pct > 95:
            break
    await subscribers.call({"cmd": "close_all"})
    await publisher.call({"cmd": "close"})
    await server.close()
    sustained = [r for r in results if r["sustained"]]
    best = sustained[-1] if sustained else results[0]
    return {
        "steps": results,
        "best": best,
        "max_sustained": best["subscribers"] if sustained else 0,
        "fixed_cpu_pct": round(fixed_cpu_pct, 2),
    }


def subscribers_per_core(result: dict[str, Any]) -> float | None:
    """Subscribers one core carries within CORE_BUDGET_PCT: the publishers' ingress is paid once, then each
    subscriber adds its marginal CPU (measured at the largest sustained step). None when a run too short to
    measure it saw no marginal CPU at all."""
    marginal = result["best"]["marginal_cpu_per_subscriber_pct"]
    room = CORE_BUDGET_PCT - result["fixed_cpu_pct"]
    return round(room / marginal, 1) if marginal > 0 else None


async def run_bench(args: argparse.Namespace) -> None:
    pin(0)
    publisher, subscribers = Worker(__file__, "publisher"), Worker(__file__, "subscribers")
    log(f"starting the publisher (pre-encoding {LOOP_FRAMES} frames) and the subscriber process ...")
    await asyncio.gather(publisher.start(), subscribers.start())
    try:
        baseline: dict[str, Any] | None = None
        if not args.skip_baseline:
            log("(a) baseline: aiortc MediaRelay")
            baseline = await measure("relay", RelayServer(), args.baseline_steps, publisher, subscribers, args)
        log("(b) Corridor SFU (passthrough)")
        sfu = await measure("sfu", SfuServer(), args.steps, publisher, subscribers, args)
        klass: dict[str, Any] | None = None
        if args.klass:
            log("(c) Corridor SFU, class-shaped: two rooms + the instructor, 3 video + 3 audio tracks per subscriber")
            klass = await measure(
                "class",
                SfuServer(),
                args.class_steps,
                publisher,
                subscribers,
                args,
                publishers=CLASS_PUBLISHERS,
                audio=True,
            )
    finally:
        await asyncio.gather(publisher.stop(), subscribers.stop())

    sfu_cpu = sfu["best"]["cpu_per_subscriber_pct"]
    sfu_per_core = CORE_BUDGET_PCT / sfu_cpu if sfu_cpu else float("inf")
    summary: dict[str, Any] = {
        "sfu_cpu_per_subscriber_pct": sfu_cpu,
        "sfu_subscribers_per_core": round(sfu_per_core, 1),
        "max_sustained_subscribers": sfu["max_sustained"],
        "forward_p50_ms": sfu["best"]["forward_p50_ms"],
        "forward_p95_ms": sfu["best"]["forward_p95_ms"],
        "baseline_cpu_per_subscriber_pct": None,
        "baseline_subscribers_per_core": None,
        "baseline_max_sustained_subscribers": None,
        "baseline_forward_p50_ms": None,
        "baseline_forward_p95_ms": None,
        "ratio": None,
        "sfu_steps": sfu["steps"],
        "class_cpu_per_subscriber_pct": None,
        "class_fixed_cpu_pct": None,
        "class_marginal_cpu_per_subscriber_pct": None,
        "class_subscribers_per_core": None,
        "class_subscribers_per_core_at_measured_load": None,
        "class_max_sustained_subscribers": None,
        "class_forward_p50_ms": None,
        "class_forward_p95_ms": None,
        "class_steps": None,
    }
    if klass is not None:
        class_cpu = klass["best"]["cpu_per_subscriber_pct"]
        class_marginal = klass["best"]["marginal_cpu_per_subscriber_pct"]
        class_per_core = subscribers_per_core(klass)
        summary.update(
            class_cpu_per_subscriber_pct=class_cpu,
            class_fixed_cpu_pct=klass["fixed_cpu_pct"],
            class_marginal_cpu_per_subscriber_pct=class_marginal,
            class_subscribers_per_core=class_per_core,
            class_subscribers_per_core_at_measured_load=round(CORE_BUDGET_PCT / class_cpu, 1),
            class_max_sustained_subscribers=klass["max_sustained"],
            class_forward_p50_ms=klass["best"]["forward_p50_ms"],
            class_forward_p95_ms=klass["best"]["forward_p95_ms"],
            class_steps=klass["steps"],
        )
        log(
            f"class-shaped (3 video + 3 audio per subscriber): the publishers' ingress {klass['fixed_cpu_pct']:.1f} % "
            f"of a core, then {class_marginal:.3f} % per subscriber → {class_per_core} subscribers per core "
            f"(at {klass['best']['subscribers']} subscribers, {class_cpu:.3f} % each with the ingress shared: "
            f"{CORE_BUDGET_PCT / class_cpu:.0f} per core; sustained {klass['max_sustained']}), forwarding p50 "
            f"{summary['class_forward_p50_ms']} ms p95 {summary['class_forward_p95_ms']} ms"
        )
    if baseline is not None:
        base_cpu = baseline["best"]["cpu_per_subscriber_pct"]
        base_per_core = CORE_BUDGET_PCT / base_cpu
        summary.update(
            baseline_cpu_per_subscriber_pct=base_cpu,
            baseline_subscribers_per_core=round(base_per_core, 1),
            baseline_max_sustained_subscribers=baseline["max_sustained"],
            baseline_forward_p50_ms=baseline["best"]["forward_p50_ms"],
            baseline_forward_p95_ms=baseline["best"]["forward_p95_ms"],
            ratio=round(sfu_per_core / base_per_core, 1),
            baseline_steps=baseline["steps"],
        )
        log(
            f"baseline: {base_cpu:.3f} % of a core per subscriber → {base_per_core:.1f} subscribers per core "
            f"(sustained {baseline['max_sustained']})"
        )
    log(
        f"SFU: {sfu_cpu:.3f} % of a core per subscriber → {sfu_per_core:.0f} subscribers per core "
        f"(sustained {sfu['max_sustained']}), forwarding p50 {summary['forward_p50_ms']} ms "
        f"p95 {summary['forward_p95_ms']} ms" + (f", {summary['ratio']}× the baseline" if baseline else "")
    )
    print(json.dumps(summary), flush=True)


def parse_steps(text: str) -> list[int]:
    return sorted({int(part) for part in text.split(",") if part.strip()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["bench", "publisher", "subscribers"], default="bench")
    parser.add_argument("--subscribers", type=int, default=150, help="largest N tried for the SFU")
    parser.add_argument("--steps", type=parse_steps, default=None, help="SFU steps, e.g. 25,50,100")
    parser.add_argument("--baseline-steps", type=parse_steps, default=parse_steps("2,4,6,8,10,12,14,16"))
    parser.add_argument("--seconds", type=float, default=8.0, help="measurement window per step")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after joining before measuring")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--class", dest="klass", action="store_true", help="also measure the class-shaped load (3 video + 3 audio)"
    )
    parser.add_argument("--class-steps", type=parse_steps, default=parse_steps("10,20,30,40,50,60"))
    parser.add_argument("--profile", action="store_true", help="cProfile the SFU during each window (to stderr)")
    args = parser.parse_args()
    if args.steps is None:
        args.steps = [n for n in (25, 50, 75, 100, 125, 150, 200, 250) if n <= args.subscribers]
    args.steps = [n for n in args.steps if n <= args.subscribers] or [args.subscribers]
    runner = {"bench": run_bench, "publisher": lambda _: run_publisher(), "subscribers": lambda _: run_subscribers()}
    asyncio.run(runner[args.role](args))


if __name__ == "__main__":
    main()
