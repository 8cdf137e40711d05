"""Corridor's SFU with real aiortc peer connections over loopback, all in this process.

The publisher is an aiortc RTCPeerConnection (it encodes a synthetic VP8 video and Opus audio, as a browser would);
subscribers either decode with aiortc's normal receiver (proof the forwarded bitstream is valid) or count whole
encoded frames through the SFU's own seam.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiortc import (
    AudioStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc import rtcrtpreceiver as aiortc_receiver
from aiortc import rtcrtpsender as aiortc_sender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket
from av import VideoFrame

from streaming.sfu import FrameAssembler, Sfu, SfuError, SfuEvent, forwarder
from streaming.sfu.forwarder import SubscriberLeg
from streaming.sfu.seam import request_keyframe, tap_receiver
from tests.support.media import HEIGHT, WIDTH, SyntheticVideo
from tests.support.native import require_native_fanout
from tests.support.waiting import wait_until_async

CONFIG = RTCConfiguration(iceServers=[])  # loopback only, no STUN lookups
SESSION = "session-1"


class Publisher:
    def __init__(self, *, audio: bool = True) -> None:
        self.pc = RTCPeerConnection(CONFIG)
        self.pc.addTransceiver(SyntheticVideo(), direction="sendonly")
        if audio:
            self.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        self.keyframe_requests = 0

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def publish(self, sfu: Sfu, publisher_id: str = "teacher") -> list[str]:
        answer = await sfu.publish(session_key=SESSION, publisher_id=publisher_id, offer_sdp=await self.offer())
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        # Count the PLIs that reach the publisher's video sender (its encoder then makes a keyframe).
        sender = self.pc.getTransceivers()[0].sender
        original = sender._send_keyframe

        def counting() -> None:
            self.keyframe_requests += 1
            original()

        setattr(sender, "_send_keyframe", counting)  # noqa: B010
        return [track["track_id"] for track in answer["tracks"]]


class DecodingSubscriber:
    """A subscriber with aiortc's normal receiver: frames arrive decoded."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(CONFIG)
        self.video: list[tuple[float, VideoFrame]] = []
        self.audio = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        async def consume() -> None:
            try:
                while True:
                    frame = await track.recv()
                    if track.kind == "video":
                        assert isinstance(frame, VideoFrame)
                        self.video.append((time.monotonic(), frame))
                    else:
                        self.audio += 1
            except MediaStreamError:
                pass

        self._tasks.append(asyncio.ensure_future(consume()))

    async def join(self, sfu: Sfu, subscriber_id: str, track_ids: list[str] | None = None) -> None:
        offer = await sfu.subscribe(session_key=SESSION, subscriber_id=subscriber_id, track_ids=track_ids)
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        self.prepare()
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await sfu.subscriber_answer(
            session_key=SESSION, subscriber_id=subscriber_id, answer_sdp=self.pc.localDescription.sdp
        )

    def prepare(self) -> None:
        """Hook between setRemoteDescription and the answer."""

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class CountingSubscriber(DecodingSubscriber):
    """A subscriber that never decodes: it counts whole encoded frames through the SFU's seam."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: dict[str, list[Any]] = {"audio": [], "video": []}

    def prepare(self) -> None:
        for transceiver in self.pc.getTransceivers():
            codec = transceiver._codecs[0]
            assembler = FrameAssembler(
                track_id=transceiver.mid or "",
                kind="video" if transceiver.kind == "video" else "audio",
                mime_type=codec.mimeType,
                clock_rate=codec.clockRate,
            )

            async def count(packet: RtpPacket, assembler: FrameAssembler = assembler) -> None:
                frame = assembler.push(packet)
                if frame is not None:
                    self.frames[frame.kind].append(frame)

            tap_receiver(transceiver.receiver, count)


@pytest.fixture
async def sfu() -> Any:
    events: list[SfuEvent] = []
    instance = Sfu(on_event=events.append, media_timeout=5.0)
    instance.events = events  # type: ignore[attr-defined]
    yield instance
    await instance.close()


@pytest.fixture
def codec_spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts every encoder and decoder aiortc builds, by MIME type, across all peer connections here."""
    built: dict[str, int] = {}
    lock = threading.Lock()

    def spy(original: Callable[[Any], Any], role: str) -> Callable[[Any], Any]:
        def build(codec: Any) -> Any:
            with lock:
                key = f"{role} {codec.mimeType.lower()}"
                built[key] = built.get(key, 0) + 1
            return original(codec)

        return build

    monkeypatch.setattr(aiortc_sender, "get_encoder", spy(aiortc_sender.get_encoder, "encoder"))
    monkeypatch.setattr(aiortc_receiver, "get_decoder", spy(aiortc_receiver.get_decoder, "decoder"))
    return built


async def test_forwards_encoded_media_without_decoding_or_encoding(sfu: Sfu, codec_spy: dict[str, int]) -> None:
    publisher = Publisher()
    track_ids = await publisher.publish(sfu)
    assert [t["kind"] for t in sfu.tracks(SESSION)] == ["video", "audio"]
    decoding, counting, another = DecodingSubscriber(), CountingSubscriber(), CountingSubscriber()
    await decoding.join(sfu, "viewer-decoding")
    await counting.join(sfu, "viewer-counting")
    await another.join(sfu, "viewer-video-only", track_ids=[track_ids[0]])

    await wait_until_async(
        lambda: len(decoding.video) >= 30 and len(counting.frames["video"]) >= 30,
        timeout=10,
        interval=0.02,
        message="30 frames each",
    )
    await wait_until_async(
        lambda: decoding.audio >= 10 and len(another.frames["video"]) >= 10,
        timeout=5,
        interval=0.02,
        message="audio and 3rd viewer",
    )

    # The bitstream decodes with aiortc's own receiver: real pictures of the publisher's size.
    assert {(frame.width, frame.height) for _, frame in decoding.video} == {(WIDTH, HEIGHT)}
    video = counting.frames["video"]
    assert video[0].keyframe
    assert video[0].payload[3:6] == b"\x9d\x01\x2a"  # VP8 key frame start code
    assert len(counting.frames["audio"]) >= 10
    assert another.frames["audio"] == []
    # Only the publisher encoded and only the decoding viewer decoded: the SFU built no codec at all.
    assert codec_spy == {
        "encoder video/vp8": 1,
        "encoder audio/opus": 1,
        "decoder video/vp8": 1,
        "decoder audio/opus": 1,
    }
    stats = sfu.stats(SESSION)
    assert {leg["track_id"] for leg in stats["subscribers"]["viewer-counting"]} == set(track_ids)
    assert all(leg["packets"] > 0 and leg["bitrate_bps"] > 0 for leg in stats["subscribers"]["viewer-decoding"])
    assert stats["publishers"]["teacher"][0]["subscribers"] == 3
    for peer in (decoding, counting, another):
        await peer.close()
    await publisher.pc.close()


async def test_new_subscriber_sees_video_within_one_second(sfu: Sfu) -> None:
    publisher = Publisher(audio=False)
    await publisher.publish(sfu)
    first = DecodingSubscriber()
    await first.join(sfu, "early")
    await wait_until_async(lambda: len(first.video) > 0, timeout=10, interval=0.02, message="the first viewer's video")
    requests_before = publisher.keyframe_requests
    await asyncio.sleep(1.2)  # the last keyframe is old now (aiortc's encoder only makes one when asked)

    late = DecodingSubscriber()
    connected_at: list[float] = []

    def on_state() -> None:
        if late.pc.connectionState == "connected":
            connected_at.append(time.monotonic())

    late.pc.on("connectionstatechange", on_state)
    await late.join(sfu, "late")
    await wait_until_async(lambda: len(late.video) > 0, timeout=10, interval=0.02, message="the late viewer's video")
    assert connected_at
    assert late.video[0][0] - connected_at[0] < 1.0
    # The join asked the publisher for a keyframe (the subscriber's own receiver may add a PLI of its own).
    assert requests_before + 1 <= publisher.keyframe_requests <= requests_before + 2
    for peer in (first, late):
        await peer.close()
    await publisher.pc.close()


async def test_pli_flood_is_rate_limited_and_harms_nobody(sfu: Sfu) -> None:
    publisher = Publisher(audio=False)
    await publisher.publish(sfu)
    flooder, bystander = CountingSubscriber(), CountingSubscriber()
    await flooder.join(sfu, "flooder")
    await bystander.join(sfu, "bystander")
    await wait_until_async(
        lambda: len(flooder.frames["video"]) > 0 and len(bystander.frames["video"]) > 0,
        timeout=10,
        interval=0.02,
        message="video",
    )
    requests_before = publisher.keyframe_requests
    receiver = flooder.pc.getTransceivers()[0].receiver
    sfu_ssrc = receiver.getSynchronizationSources()[0].source
    frames_before = len(bystander.frames["video"])

    started = time.monotonic()
    for _ in range(100):
        await request_keyframe(receiver, sfu_ssrc)
        await asyncio.sleep(0.02)
    elapsed = time.monotonic() - started

    await wait_until_async(
        lambda: next(leg for leg in sfu.stats(SESSION)["subscribers"]["flooder"])["keyframe_requests"] == 100,
        timeout=2,
        interval=0.02,
        message="the SFU to see every PLI",
    )
    # At most one keyframe request per second reaches the publisher (plus one for a window boundary).
    assert publisher.keyframe_requests - requests_before <= int(elapsed) + 2
    # The bystander kept its frame rate (~30 fps) through the flood.
    assert len(bystander.frames["video"]) - frames_before >= 25 * elapsed
    for peer in (flooder, bystander):
        await peer.close()
    await publisher.pc.close()


@pytest.mark.parametrize("forwarding", ["native", "python"])
async def test_subscriber_losses_are_repaired_by_retransmission(
    forwarding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packets lost between the SFU and one subscriber are NACKed by it and retransmitted from its leg's history,
    whether the leg's packets go out through the native fan-out or the Python one."""
    if forwarding == "native":
        require_native_fanout()
    else:
        monkeypatch.setattr(forwarder, "load_native", lambda: None)
    sfu = Sfu(media_timeout=5.0)
    publisher = Publisher(audio=False)
    await publisher.publish(sfu)
    viewer = DecodingSubscriber()
    await viewer.join(sfu, "lossy")
    await wait_until_async(lambda: len(viewer.video) > 5, timeout=10, interval=0.02, message="video")
    leg = next(iter(sfu._sessions[SESSION].subscribers["lossy"].legs.values()))
    if forwarding == "native":
        await wait_until_async(lambda: leg.native_group is not None, timeout=3, interval=0.02, message="native leg")
    # Lose packets on the way to this subscriber: its receiver never sees them (a retransmission comes as RTX).
    receiver = viewer.pc.getReceivers()[0]
    handle_rtp_packet = receiver._handle_rtp_packet
    dropped: list[int] = []

    async def lossy(packet: RtpPacket, arrival_time_ms: int) -> None:
        if packet.payload_type == leg.sender.payload_type and len(dropped) < 5 and packet.sequence_number % 7 == 0:
            dropped.append(packet.sequence_number)
            return
        await handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)

    setattr(receiver, "_handle_rtp_packet", lossy)  # noqa: B010
    await wait_until_async(lambda: len(dropped) == 5, timeout=5, interval=0.02, message="five dropped packets")
    await wait_until_async(
        lambda: leg.sender.nacked_packets >= 5, timeout=3, interval=0.02, message="the subscriber's NACKs"
    )
    decoded = len(viewer.video)
    await asyncio.sleep(0.5)
    assert len(viewer.video) > decoded + 10  # still decoding after the repaired losses
    assert (leg.native_group is not None) == (forwarding == "native")
    await viewer.close()
    await publisher.pc.close()
    await sfu.close()


async def test_publisher_leaving_or_failing_tells_its_subscribers(sfu: Sfu) -> None:
    events: list[SfuEvent] = sfu.events  # type: ignore[attr-defined]
    first = Publisher(audio=False)
    first_tracks = await first.publish(sfu, "teacher")
    second = Publisher(audio=False)
    await second.publish(sfu, "student")
    viewer = CountingSubscriber()
    await viewer.join(sfu, "viewer")
    await wait_until_async(
        lambda: len(viewer.frames["video"]) >= 10, timeout=10, interval=0.02, message="video from both"
    )

    await sfu.unpublish(session_key=SESSION, publisher_id="teacher")
    assert events[-1] == {
        "type": "publisher_left",
        "session_key": SESSION,
        "publisher_id": "teacher",
        "reason": "unpublished",
        "track_ids": first_tracks,
        "subscriber_ids": ["viewer"],
    }
    assert [t["publisher_id"] for t in sfu.tracks(SESSION)] == ["student"]

    await second.pc.close()  # the remote end goes away without unpublishing
    await wait_until_async(lambda: len(events) == 2, timeout=5, interval=0.02, message="the failure to be noticed")
    assert events[-1]["type"] == "publisher_left"
    assert events[-1]["reason"] == "failed"
    assert events[-1]["subscriber_ids"] == ["viewer"]
    assert sfu.tracks(SESSION) == []
    assert sfu.stats(SESSION)["subscribers"]["viewer"] == []
    await viewer.close()
    await first.pc.close()


async def test_publisher_that_never_sends_media_times_out_alone() -> None:
    events: list[SfuEvent] = []
    sfu = Sfu(on_event=events.append, media_timeout=2.0)  # long enough for a loaded CI machine to connect the live one
    silent, live = Publisher(audio=False), Publisher(audio=False)
    await sfu.publish(session_key=SESSION, publisher_id="silent", offer_sdp=await silent.offer())  # never answered
    await live.publish(sfu, "live")
    viewer = CountingSubscriber()
    await viewer.join(sfu, "viewer", track_ids=["live:0"])
    await wait_until_async(lambda: bool(events), timeout=8, interval=0.02, message="the timeout")
    assert events == [
        {
            "type": "publisher_left",
            "session_key": SESSION,
            "publisher_id": "silent",
            "reason": "media_timeout",
            "track_ids": ["silent:0"],
            "subscriber_ids": [],
        }
    ]
    frames = len(viewer.frames["video"])
    await asyncio.sleep(0.5)
    assert len(viewer.frames["video"]) > frames + 5
    assert [t["track_id"] for t in sfu.tracks(SESSION)] == ["live:0"]
    await viewer.close()
    for peer in (silent, live):
        await peer.pc.close()
    await sfu.close()


def _media_threads() -> int:
    """Threads other than the event loop's executor pool (which grows on demand and is reused)."""
    return sum(1 for thread in threading.enumerate() if not thread.name.startswith(("asyncio_", "ThreadPoolExecutor")))


def _live_objects(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)  # isinstance would evaluate lazy objects


def has_video(subscriber: CountingSubscriber) -> bool:
    return len(subscriber.frames["video"]) > 0


async def test_joining_and_leaving_200_times_leaves_nothing_behind(sfu: Sfu) -> None:
    publisher = Publisher(audio=False)
    await publisher.publish(sfu)
    warm = CountingSubscriber()  # warm every lazy import/cache before counting
    await warm.join(sfu, "warm")
    await wait_until_async(functools.partial(has_video, warm), timeout=10, interval=0.02, message="video")
    await warm.close()
    await sfu.leave(session_key=SESSION, peer_id="warm")
    del warm
    await asyncio.sleep(0.2)
    tasks_before = len(asyncio.all_tasks())
    threads_before = _media_threads()
    pcs_before = _live_objects(RTCPeerConnection)
    assert _live_objects(SubscriberLeg) == 0

    for index in range(200):
        viewer = CountingSubscriber()
        await viewer.join(sfu, f"viewer-{index}")
        if index % 50 == 0:  # some joins get all the way to media before leaving
            await wait_until_async(functools.partial(has_video, viewer), timeout=10, interval=0.02, message="video")
        await sfu.leave(session_key=SESSION, peer_id=f"viewer-{index}")
        await viewer.close()
    del viewer

    await asyncio.sleep(0.5)
    assert len(asyncio.all_tasks()) <= tasks_before
    assert _media_threads() <= threads_before
    assert _live_objects(SubscriberLeg) == 0
    assert _live_objects(RTCPeerConnection) == pcs_before
    assert sfu.stats(SESSION)["subscribers"] == {}
    assert sfu.stats(SESSION)["publishers"]["teacher"][0]["subscribers"] == 0
    await publisher.pc.close()


async def test_bad_input_is_a_domain_error(sfu: Sfu) -> None:
    async def refused(code: str, call: Any) -> None:
        with pytest.raises(SfuError) as error:
            await call
        assert error.value.code == code

    await refused("bad_sdp", sfu.publish(session_key=SESSION, publisher_id="p", offer_sdp="hello"))
    await refused("bad_sdp", sfu.publish(session_key=SESSION, publisher_id="p", offer_sdp="v=0\r\nm=video 9 nonsense"))
    offer = await Publisher(audio=False).offer()
    without_ice = "\r\n".join(line for line in offer.split("\r\n") if not line.startswith("a=ice-"))
    await refused("bad_sdp", sfu.publish(session_key=SESSION, publisher_id="p", offer_sdp=without_ice))
    unusable = offer.replace("VP8/90000", "AV1/90000").replace("H264/90000", "H265/90000")
    await refused("no_codec", sfu.publish(session_key=SESSION, publisher_id="p", offer_sdp=unusable))
    assert sfu.tracks(SESSION) == []

    publisher = Publisher(audio=False)
    await publisher.publish(sfu, "p")
    await refused("unknown_track", sfu.subscribe(session_key=SESSION, subscriber_id="v", track_ids=["nope"]))
    await refused("no_tracks", sfu.subscribe(session_key=SESSION, subscriber_id="p"))
    candidate = "candidate:1 1 UDP 2122252543 192.0.2.1 50000 typ host"
    add_ice = functools.partial(sfu.add_ice_candidate, session_key=SESSION, peer_id="p", role="publisher")
    await refused("unknown_mid", add_ice(candidate=candidate, sdp_mid="7"))
    await refused("bad_candidate", add_ice(candidate="candidate:garbage", sdp_mid="0"))
    await refused("unknown_peer", add_ice(role="subscriber", candidate=candidate))
    await add_ice(candidate=candidate, sdp_mid="0")
    await add_ice(candidate="", sdp_mid="0")  # end of candidates
    await publisher.pc.close()


async def test_recording_sink_gets_whole_frames_from_a_keyframe(sfu: Sfu) -> None:
    class ListSink:
        def __init__(self) -> None:
            self.frames: list[tuple[str, bytes, int, int, bool]] = []
            self.closed = 0

        def write(self, kind: Any, payload: bytes, timestamp: int, clock_rate: int, keyframe: bool) -> None:
            self.frames.append((kind, payload, timestamp, clock_rate, keyframe))

        def close(self) -> None:
            self.closed += 1

    publisher = Publisher()
    await publisher.publish(sfu)
    await asyncio.sleep(0.5)
    sink = ListSink()
    await sfu.set_recording_sink(session_key=SESSION, publisher_id="teacher", sink=sink)
    await wait_until_async(
        lambda: sum(1 for f in sink.frames if f[0] == "video") >= 20,
        timeout=10,
        interval=0.02,
        message="recorded video",
    )
    video = [f for f in sink.frames if f[0] == "video"]
    audio = [f for f in sink.frames if f[0] == "audio"]
    assert video[0][4] and video[0][1][3:6] == b"\x9d\x01\x2a"
    assert {f[3] for f in video} == {90000} and {f[3] for f in audio} == {48000}
    steps = {(b[2] - a[2]) % 2**32 for a, b in itertools.pairwise(video)}
    assert all(2990 <= step <= 3010 for step in steps)  # 30 fps in 90 kHz units: every frame, in order
    await sfu.unpublish(session_key=SESSION, publisher_id="teacher")
    assert sink.closed == 1
    await publisher.pc.close()
