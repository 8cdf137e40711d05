"""Two Sfus (two cities' nodes) in one process, joined by their links through impairment relays, with real aiortc
media: a publisher on A, its tracks tapped once into A's link, relayed into B, watched by subscribers on B.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from streaming.sfu import LinkEndpoint, LinkReceiver, LinkSender, RelayedPublisher, RelayedTrack, Sfu, SfuError
from streaming.sfu.forwarder import PublishedTrack
from streaming.sfu.seam import request_keyframe
from tests.streaming.test_sfu import SESSION, CountingSubscriber, DecodingSubscriber, Publisher
from tests.support.impairment import ImpairmentRelay
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.serial  # frame rates, freezes and round trips: measured alone

LOCALHOST = "127.0.0.1"


@dataclass
class Cities:
    """Node A (where the publisher is) and node B, each an Sfu with a link endpoint, joined by two relays."""

    a: Sfu
    b: Sfu
    link_a: LinkEndpoint
    link_b: LinkEndpoint
    a_to_b: ImpairmentRelay
    b_to_a: ImpairmentRelay
    senders: dict[str, LinkSender] = field(default_factory=dict)
    receivers: dict[str, LinkReceiver] = field(default_factory=dict)
    untaps: list[Any] = field(default_factory=list)

    def impair(self, **impairment: float) -> None:
        for relay in (self.a_to_b, self.b_to_a):
            for name, value in impairment.items():
                setattr(relay, name, value)

    async def cross(self, publisher_id: str) -> RelayedPublisher:
        """What the node layer does when B needs A's publisher: one link stream per track, relayed into B."""
        tracks = [t for t in self.a.tracks(SESSION) if t["publisher_id"] == publisher_id]
        relayed_tracks: list[RelayedTrack] = [
            {"info": t, "codec": self.a.track_codec(session_key=SESSION, track_id=t["track_id"])} for t in tracks
        ]
        relayed = await self.b.relay_publish(
            session_key=SESSION,
            publisher_id=publisher_id,
            tracks=relayed_tracks,
            request_keyframe=lambda track_id: self.receivers[track_id].request_keyframe(),
        )
        for relayed_track in relayed_tracks:
            track_id = relayed_track["info"]["track_id"]
            kind = relayed_track["info"]["kind"]
            clock_rate = int(relayed_track["codec"]["clockRate"])
            ssrc = random.getrandbits(32)

            async def push(packet: RtpPacket, track_id: str = track_id) -> None:
                await relayed.push(track_id, packet)

            def keyframe(track_id: str = track_id) -> None:
                self.a.request_keyframe(session_key=SESSION, track_id=track_id)

            self.receivers[track_id] = self.link_b.open_receiver(
                peer=self.b_to_a.address, ssrc=ssrc, kind=kind, clock_rate=clock_rate, on_packet=push
            )
            sender = self.senders[track_id] = self.link_a.open_sender(
                peer=self.a_to_b.address, ssrc=ssrc, kind=kind, clock_rate=clock_rate, on_keyframe_request=keyframe
            )
            self.untaps.append(self.a.tap_track(session_key=SESSION, track_id=track_id, on_packet=sender.send))
        return relayed

    async def uncross(self, publisher_id: str) -> None:
        """Undo `cross`: B forgets the relayed publisher, A's taps and both ends of the link streams close."""
        await self.b.unpublish(session_key=SESSION, publisher_id=publisher_id)
        for untap in self.untaps:
            untap()
        self.untaps.clear()
        for sender in self.senders.values():
            sender.close()
        for receiver in self.receivers.values():
            receiver.close()
        self.senders.clear()
        self.receivers.clear()


@pytest.fixture
async def cities() -> AsyncIterator[Cities]:
    a, b = Sfu(media_timeout=10), Sfu(media_timeout=10)
    link_a = await LinkEndpoint.open(LOCALHOST)
    link_b = await LinkEndpoint.open(LOCALHOST)
    # Each node advertises the relay that forwards to it: what A sends to B goes through a_to_b.
    a_to_b = await ImpairmentRelay.start(target=link_b.address, seed=11)
    b_to_a = await ImpairmentRelay.start(target=link_a.address, seed=12)
    made = Cities(a, b, link_a, link_b, a_to_b, b_to_a)
    yield made
    for untap in made.untaps:
        untap()
    for closable in (link_a, link_b, a_to_b, b_to_a):
        await closable.close()
    await b.close()
    await a.close()


def video_times(subscriber: DecodingSubscriber) -> list[float]:
    return [at for at, _ in subscriber.video]


def freeze_seconds(times: list[float]) -> float:
    """Time spent in freezes, as WebRTC's stats count them (freezeCount, totalFreezesDuration): a gap between two
    decoded frames longer than max(3 x the mean frame interval, the mean + 150 ms), i.e. 183 ms at 30 fps."""
    gaps = [b - a for a, b in itertools.pairwise(times)]
    if not gaps:
        return 0.0
    mean = sum(gaps) / len(gaps)
    return sum(gap for gap in gaps if gap > max(3 * mean, mean + 0.15))


async def test_video_keeps_flowing_across_an_impaired_link(cities: Cities) -> None:
    cities.impair(delay_ms=40, jitter_ms=10, loss_pct=2)
    publisher = Publisher()
    await publisher.publish(cities.a)
    await cities.cross("teacher")
    viewer = DecodingSubscriber()
    await viewer.join(cities.b, "viewer-far")
    counters = [CountingSubscriber() for _ in range(3)]
    for index, counter in enumerate(counters):
        await counter.join(cities.b, f"counter-{index}")
    await wait_until_async(lambda: len(viewer.video) >= 10, timeout=15, interval=0.05, message="far video")

    measured_from = time.monotonic()
    await asyncio.sleep(8)
    times = [t for t in video_times(viewer) if t >= measured_from]
    fps = len(times) / (time.monotonic() - measured_from)
    freeze = freeze_seconds(times)
    [a_link] = cities.link_a.stats()
    [b_link] = cities.link_b.stats()
    gaps = [round((b - a) * 1000) for a, b in itertools.pairwise(times) if b - a > 0.08]
    print(f"far fps {fps:.1f}, freeze {freeze * 1000:.0f} ms in 8 s, gaps {gaps}, A {a_link}, B {b_link}")

    assert fps >= 25
    assert freeze <= 0.25  # goal: 500 ms a minute, i.e. 67 ms in 8 s; this machine is shared
    # The link's repair did visible work: losses NACKed across, retransmitted and repaired.
    assert cities.a_to_b.counters.dropped > 0
    assert a_link["retransmissions"] > 0 and b_link["repaired"] > 0
    assert b_link["nacks_sent"] > 0 and a_link["nacks_received"] > 0
    # A's view of its streams to B, from B's receiver reports: 2 x 40 ms round trip, 2 % loss, some jitter.
    assert a_link["rtt_ms"] is not None and 65 <= a_link["rtt_ms"] <= 130
    assert a_link["loss_pct"] is not None and 0.5 <= a_link["loss_pct"] <= 5
    assert a_link["jitter_ms"] is not None and a_link["jitter_ms"] > 0
    # B sends no stream to A: it knows the round trip from its NACKs to A's retransmissions.
    assert b_link["rtt_ms"] is not None and 65 <= b_link["rtt_ms"] <= 150
    assert b_link["receive_loss_pct"] is not None and 0.5 <= b_link["receive_loss_pct"] <= 5
    assert a_link["send_kbps"] > 0 and b_link["receive_kbps"] > 0
    # One link stream per track however many subscribers on B: A has one tap per track, B fans out.
    assert a_link["streams_out"] == 2 and b_link["streams_in"] == 2
    a_tracks = cities.a.stats(SESSION)["publishers"]["teacher"]
    assert [(t["taps"], t["subscribers"]) for t in a_tracks] == [(1, 0), (1, 0)]
    b_tracks = cities.b.stats(SESSION)["publishers"]["teacher"]
    assert [(t["relayed"], t["subscribers"]) for t in b_tracks] == [(True, 4), (True, 4)]
    assert all(len(c.frames["video"]) > 100 and c.frames["video"][0].keyframe for c in counters)
    assert all(len(c.frames["audio"]) > 100 for c in counters)
    for peer in (viewer, *counters):
        await peer.close()
    await publisher.pc.close()


async def test_stream_recovers_by_itself_after_a_3_second_outage(cities: Cities) -> None:
    cities.impair(delay_ms=40, jitter_ms=10, loss_pct=2)
    publisher = Publisher(audio=False)
    await publisher.publish(cities.a)
    await cities.cross("teacher")
    viewer = DecodingSubscriber()
    await viewer.join(cities.b, "viewer-far")
    counter = CountingSubscriber()
    await counter.join(cities.b, "counter")
    await wait_until_async(lambda: len(viewer.video) >= 30, timeout=15, interval=0.05, message="far video")
    await asyncio.sleep(1.5)  # the publisher's last keyframe is old now: nothing arrives by chance

    cities.a_to_b.outage(3)
    cities.b_to_a.outage(3)
    link_back_at = time.monotonic() + 3
    await asyncio.sleep(3)
    await wait_until_async(
        lambda: any(t > link_back_at for t in video_times(viewer)), timeout=5, interval=0.02, message="video again"
    )
    first_frame = min(t for t in video_times(viewer) if t > link_back_at) - link_back_at
    frozen = [t for t in video_times(viewer) if link_back_at - 3 + 0.2 < t < link_back_at]
    # Frames flow again starting at a keyframe, asked across the link by B when it saw the gap.
    keyframes = await wait_until_async(
        lambda: [f.arrival for f in counter.frames["video"] if f.keyframe and f.arrival > link_back_at],
        timeout=5,
        interval=0.02,
        message="a keyframe after the outage",
    )
    recovery = keyframes[0] - link_back_at
    print(f"link back: first frame after {first_frame:.2f} s, first keyframe after {recovery:.2f} s")

    assert frozen == []  # the outage really cut the link
    assert recovery <= 2
    assert cities.receivers["teacher:0"].keyframe_requests_sent >= 1
    await asyncio.sleep(1)
    times = [t for t in video_times(viewer) if t > link_back_at + recovery]
    assert len(times) >= 20  # and it keeps flowing
    await viewer.close()
    await counter.close()
    await publisher.pc.close()


async def test_far_subscribers_keyframe_requests_reach_the_publisher_rate_limited(cities: Cities) -> None:
    cities.impair(delay_ms=10)
    publisher = Publisher(audio=False)
    await publisher.publish(cities.a)
    await cities.cross("teacher")
    flooder, bystander = CountingSubscriber(), CountingSubscriber()
    await flooder.join(cities.b, "flooder")
    await bystander.join(cities.b, "bystander")
    await wait_until_async(
        lambda: len(flooder.frames["video"]) > 0 and len(bystander.frames["video"]) > 0,
        timeout=15,
        interval=0.02,
        message="far video",
    )
    await asyncio.sleep(1.2)  # earlier keyframe requests are older than the interval
    requests_before = publisher.keyframe_requests
    keyframes_before = sum(1 for f in bystander.frames["video"] if f.keyframe)
    receiver = flooder.pc.getTransceivers()[0].receiver
    sfu_ssrc = receiver.getSynchronizationSources()[0].source

    started = time.monotonic()
    for _ in range(100):
        await request_keyframe(receiver, sfu_ssrc)
        await asyncio.sleep(0.025)
    elapsed = time.monotonic() - started
    await asyncio.sleep(0.3)

    crossed = cities.receivers["teacher:0"].keyframe_requests_sent
    reached = publisher.keyframe_requests - requests_before
    print(f"{reached} keyframe requests reached the publisher in {elapsed:.1f} s ({crossed} crossed in all)")
    assert 1 <= reached <= int(elapsed) + 2
    assert sum(1 for f in bystander.frames["video"] if f.keyframe) > keyframes_before  # the keyframes came back
    for peer in (flooder, bystander):
        await peer.close()
    await publisher.pc.close()


async def test_relayed_publisher_records_leaves_and_is_replaced(cities: Cities) -> None:
    class ListSink:
        def __init__(self) -> None:
            self.frames: list[tuple[str, bool]] = []
            self.closed = 0

        def write(self, kind: Any, payload: bytes, timestamp: int, clock_rate: int, keyframe: bool) -> None:
            self.frames.append((kind, keyframe))

        def close(self) -> None:
            self.closed += 1

    events: list[Any] = []
    cities.b._on_event = events.append
    publisher = Publisher()
    await publisher.publish(cities.a)
    relayed = await cities.cross("teacher")
    assert relayed.track_ids == ["teacher:0", "teacher:1"]
    assert cities.b.tracks(SESSION) == cities.a.tracks(SESSION)  # the same ids on both nodes
    viewer = CountingSubscriber()
    await viewer.join(cities.b, "viewer")
    sink = ListSink()
    await cities.b.set_recording_sink(session_key=SESSION, publisher_id="teacher", sink=sink)
    await wait_until_async(
        lambda: sum(1 for kind, _ in sink.frames if kind == "video") >= 20, timeout=15, message="recorded video"
    )
    assert next(keyframe for kind, keyframe in sink.frames if kind == "video")  # a recording starts at a keyframe
    assert any(kind == "audio" for kind, _ in sink.frames)

    # A relayed publisher has no peer connection to trickle to.
    with pytest.raises(SfuError) as error:
        await cities.b.add_ice_candidate(session_key=SESSION, peer_id="teacher", role="publisher", candidate="")
    assert error.value.code == "unknown_peer"

    await cities.b.unpublish(session_key=SESSION, publisher_id="teacher")
    assert events[-1]["type"] == "publisher_left" and events[-1]["subscriber_ids"] == ["viewer"]
    assert sink.closed == 1
    assert relayed.closed
    await relayed.push("teacher:0", RtpPacket())  # a late packet after the end: ignored
    assert cities.b.tracks(SESSION) == []
    await viewer.close()
    await publisher.pc.close()


async def test_relay_publish_refuses_what_it_cannot_forward(cities: Cities) -> None:
    publisher = Publisher(audio=False)
    await publisher.publish(cities.a)
    [info] = cities.a.tracks(SESSION)
    codec = cities.a.track_codec(session_key=SESSION, track_id="teacher:0")
    assert codec["mimeType"] == "video/VP8" and codec["clockRate"] == 90000
    assert {"type": "nack", "parameter": None} in codec["rtcpFeedback"]

    async def refused(code: str, tracks: list[Any], publisher_id: str = "teacher") -> None:
        with pytest.raises(SfuError) as error:
            await cities.b.relay_publish(
                session_key=SESSION, publisher_id=publisher_id, tracks=tracks, request_keyframe=lambda _: None
            )
        assert error.value.code == code

    await refused("no_tracks", [])
    await refused("no_codec", [{"info": info, "codec": {**codec, "mimeType": "video/AV1"}}])
    await refused("no_codec", [{"info": info, "codec": {"clockRate": "fast"}}])
    await refused("unknown_track", [{"info": info, "codec": codec}], publisher_id="someone-else")
    assert cities.b.tracks(SESSION) == []
    for call in (
        lambda: cities.a.track_codec(session_key=SESSION, track_id="nope"),
        lambda: cities.a.tap_track(session_key=SESSION, track_id="nope", on_packet=lambda _: None),
        lambda: cities.a.request_keyframe(session_key=SESSION, track_id="nope"),
    ):
        with pytest.raises(SfuError) as error:
            call()
        assert error.value.code == "unknown_track"
    await publisher.pc.close()


async def test_crossing_100_times_leaves_nothing_behind(cities: Cities) -> None:
    publisher = Publisher()
    await publisher.publish(cities.a)
    warm = CountingSubscriber()
    await cities.cross("teacher")
    await warm.join(cities.b, "warm")
    await wait_until_async(lambda: len(warm.frames["video"]) > 0, timeout=15, interval=0.05, message="far video")
    await warm.close()
    await cities.b.leave(session_key=SESSION, peer_id="warm")
    await cities.uncross("teacher")
    await asyncio.sleep(0.2)
    tasks_before = len(asyncio.all_tasks())
    gc.collect()
    tracks_before = sum(1 for obj in gc.get_objects() if type(obj) is PublishedTrack)

    for index in range(100):
        relayed = await cities.cross("teacher")
        if index % 25 == 0:  # some crossings carry media before they end
            await wait_until_async(
                lambda: cities.receivers["teacher:0"].packets > 0, timeout=5, interval=0.02, message="link media"
            )
        if index % 2:  # relaying again replaces the relayed publisher
            await cities.b.relay_publish(
                session_key=SESSION,
                publisher_id="teacher",
                tracks=[
                    {"info": t, "codec": cities.a.track_codec(session_key=SESSION, track_id=t["track_id"])}
                    for t in cities.a.tracks(SESSION)
                ],
                request_keyframe=lambda _: None,
            )
            assert relayed.closed
        await cities.uncross("teacher")
    del relayed

    await asyncio.sleep(0.5)
    gc.collect()
    assert len(asyncio.all_tasks()) <= tasks_before
    assert sum(1 for obj in gc.get_objects() if type(obj) is PublishedTrack) == tracks_before
    assert cities.link_a.stats() == [] and cities.link_b.stats() == []
    assert cities.b.tracks(SESSION) == []
    assert [t["taps"] for t in cities.a.stats(SESSION)["publishers"]["teacher"]] == [0, 0]
    await publisher.pc.close()
