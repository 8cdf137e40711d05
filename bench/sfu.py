"""SFU benchmark: aiortc's MediaRelay (decode once, encode per subscriber) against Corridor's passthrough SFU.

    .venv/bin/python bench/sfu.py                         # both, default steps
    .venv/bin/python bench/sfu.py --subscribers 150 --seconds 8
    .venv/bin/python bench/sfu.py --skip-baseline --steps 50,100

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

Human-readable lines first; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import fractions
import json
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
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from streaming.sfu import FrameAssembler, Sfu
from streaming.sfu.seam import tap_receiver

WIDTH, HEIGHT, FPS = 640, 480, 30
CLOCK = 90_000
LOOP_FRAMES = 150
SUSTAINED_FPS = 29.0
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
    return RTCConfiguration(iceServers=[])  # loopback only; aiortc would otherwise ask Google's STUN server


# --- the publisher process --------------------------------------------------------------------------------------


def pre_encode(frames: int) -> list[bytes]:
    """A panning random texture, encoded like aiortc's Vp8Encoder does (500 kbps CBR), keyframe every second."""
    rng = random.Random(7)
    texture_width = WIDTH + 2 * frames
    texture = bytes(96 + (rng.getrandbits(5)) for _ in range(texture_width * 64))
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = WIDTH, HEIGHT
    codec.bit_rate = 500_000
    codec.pix_fmt = "yuv420p"
    codec.gop_size = FPS
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
        if index % FPS == 0:
            frame.pict_type = av.video.frame.PictureType.I
        encoded.extend(bytes(packet) for packet in codec.encode(frame))
    encoded.extend(bytes(packet) for packet in codec.encode(None))
    return encoded[:frames]


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


async def stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def run_publisher() -> None:
    pin(1)
    started = time.monotonic()
    frames = pre_encode(LOOP_FRAMES)
    sizes = [len(f) for f in frames]
    errlog(
        f"publisher: {len(frames)} frames pre-encoded in {time.monotonic() - started:.1f} s, "
        f"{statistics.mean(sizes) * 8 * FPS / 1000:.0f} kbps, keyframe {sizes[0]} B"
    )
    reader = await stdin_lines()
    pc: RTCPeerConnection | None = None
    reply({"ready": True})
    while line := await reader.readline():
        message = json.loads(line)
        if message["cmd"] == "offer":
            if pc is not None:
                await pc.close()
            pc = RTCPeerConnection(config())
            pc.addTransceiver(PreEncodedTrack(frames), direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            reply({"sdp": pc.localDescription.sdp})
        elif message["cmd"] == "answer":
            assert pc is not None
            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
            reply({"ok": True})
        elif message["cmd"] == "close":
            if pc is not None:
                await pc.close()
                pc = None
            reply({"ok": True})


# --- the subscribers process ------------------------------------------------------------------------------------


class CountingSubscriber:
    """A subscriber that counts whole encoded frames (through the SFU's own seam) and never decodes."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(config())
        self.frames = 0

    async def answer(self, offer_sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        for transceiver in self.pc.getTransceivers():
            kind = transceiver.kind
            assembler = FrameAssembler(
                track_id=transceiver.mid or "",
                kind="video" if kind == "video" else "audio",
                mime_type=f"{kind}/VP8",
                clock_rate=CLOCK,
            )
            tap_receiver(transceiver.receiver, self._counter(assembler))
            # A test client needs no bandwidth estimate: skipping aiortc's (pure Python) REMB estimator roughly
            # halves the subscriber process's CPU, which is what saturates first on a 2-core machine.
            setattr(transceiver.receiver, "_RTCRtpReceiver__remote_bitrate_estimator", None)  # noqa: B010
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    def _counter(self, assembler: FrameAssembler) -> Callable[[RtpPacket], Awaitable[None]]:
        async def count(packet: RtpPacket) -> None:
            if assembler.push(packet) is not None:
                self.frames += 1

        return count


async def run_subscribers() -> None:
    pin(1)
    reader = await stdin_lines()
    subscribers: dict[str, CountingSubscriber] = {}
    window: tuple[float, float, dict[str, int]] | None = None
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
            window = (time.monotonic(), time.process_time(), {k: s.frames for k, s in subscribers.items()})
            reply({"ok": True})
        elif command == "window_stop":
            assert window is not None
            started, cpu_started, counts = window
            elapsed = time.monotonic() - started
            fps = {k: (s.frames - counts.get(k, 0)) / elapsed for k, s in subscribers.items()}
            reply({"fps": fps, "cpu_pct": (time.process_time() - cpu_started) / elapsed * 100})
        elif command == "close_all":
            for subscriber in subscribers.values():
                await subscriber.pc.close()
            subscribers.clear()
            reply({"ok": True})


# --- the SFU process (orchestrator) -----------------------------------------------------------------------------


class Child:
    def __init__(self, role: str) -> None:
        self.role = role
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--role", self.role,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26,
        )  # fmt: skip
        await self.read()

    async def call(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()
        return await self.read()

    async def read(self) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.role} process died")
        result: dict[str, Any] = json.loads(line)
        return result

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


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

    async def publish(self, offer_sdp: str) -> str:
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

    async def publish(self, offer_sdp: str) -> str:
        answer = await self.sfu.publish(session_key="bench", publisher_id="publisher", offer_sdp=offer_sdp)
        return answer["sdp"]

    async def subscribe(self, subscriber_id: str) -> str:
        offer = await self.sfu.subscribe(session_key="bench", subscriber_id=subscriber_id)
        return offer["sdp"]

    async def answer(self, subscriber_id: str, answer_sdp: str) -> None:
        await self.sfu.subscriber_answer(session_key="bench", subscriber_id=subscriber_id, answer_sdp=answer_sdp)

    def delay_ms(self, *, reset: bool) -> dict[str, float]:
        return self.sfu.forwarding_delay_ms(reset=reset)

    async def close(self) -> None:
        await self.sfu.close()


Server = RelayServer | SfuServer


async def measure(
    name: str, server: Server, steps: list[int], publisher: Child, subscribers: Child, args: argparse.Namespace
) -> dict[str, Any]:
    answer = await server.publish((await publisher.call({"cmd": "offer"}))["sdp"])
    await publisher.call({"cmd": "answer", "sdp": answer})
    for _ in range(100):
        await asyncio.sleep(0.1)
        if not isinstance(server, RelayServer) or server.source is not None:
            break
    await asyncio.sleep(1.0)
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
            server.sfu.stats("bench")["publishers"]["publisher"][0]["frames"] if isinstance(server, SfuServer) else 0
        )
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
        delay = server.delay_ms(reset=True)
        step = {
            "subscribers": n,
            "sfu_cpu_pct": round(cpu_pct, 2),
            "cpu_per_subscriber_pct": round(cpu_pct / n, 4),
            "fps_min": round(fps[0], 2),
            "fps_median": round(statistics.median(fps), 2),
            "subscriber_process_cpu_pct": round(window["cpu_pct"], 1),
            "forward_p50_ms": round(delay["p50"], 3),
            "forward_p95_ms": round(delay["p95"], 3),
            "sustained": fps[0] >= SUSTAINED_FPS,
        }
        if isinstance(server, SfuServer):
            stats = server.sfu.stats("bench")
            legs = [leg for legs in stats["subscribers"].values() for leg in legs]
            step["nacked_packets"] = sum(leg["nacked_packets"] for leg in legs)
            step["subscriber_keyframe_requests"] = sum(leg["keyframe_requests"] for leg in legs)
            step["publisher"] = stats["publishers"]["publisher"][0]
            step["ingress_fps"] = round((step["publisher"]["frames"] - frames_in) / args.seconds, 2)
        results.append(step)
        errlog(json.dumps(step))
        log(
            f"[{name}] N={n:4d}: SFU process {cpu_pct:5.1f} % of a core ({cpu_pct / n:.3f} %/subscriber), "
            f"fps min {fps[0]:.1f} median {statistics.median(fps):.1f}, subscriber process {window['cpu_pct']:.0f} %, "
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
    return {"steps": results, "best": best, "max_sustained": best["subscribers"] if sustained else 0}


async def run_bench(args: argparse.Namespace) -> None:
    pin(0)
    publisher, subscribers = Child("publisher"), Child("subscribers")
    log(f"starting the publisher (pre-encoding {LOOP_FRAMES} frames) and the subscriber process ...")
    await asyncio.gather(publisher.start(), subscribers.start())
    try:
        baseline: dict[str, Any] | None = None
        if not args.skip_baseline:
            log("(a) baseline: aiortc MediaRelay")
            baseline = await measure("relay", RelayServer(), args.baseline_steps, publisher, subscribers, args)
        log("(b) Corridor SFU (passthrough)")
        sfu = await measure("sfu", SfuServer(), args.steps, publisher, subscribers, args)
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
    }
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
    parser.add_argument("--profile", action="store_true", help="cProfile the SFU during each window (to stderr)")
    args = parser.parse_args()
    if args.steps is None:
        args.steps = [n for n in (25, 50, 75, 100, 125, 150, 200, 250) if n <= args.subscribers]
    args.steps = [n for n in args.steps if n <= args.subscribers] or [args.subscribers]
    runner = {"bench": run_bench, "publisher": lambda _: run_publisher(), "subscribers": lambda _: run_subscribers()}
    asyncio.run(runner[args.role](args))


if __name__ == "__main__":
    main()
