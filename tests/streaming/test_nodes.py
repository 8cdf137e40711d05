"""SFU nodes (SFU_MODE "nodes"): two real `python -m streaming.node` processes on a real Redis, real aiortc peers
through the media socket; the media goes through a node process, never through this one."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from streaming.node import registry
from tests.classrooms.factories import LiveSessionFactory
from tests.support.media import Camera, Viewer, frames_arrive, joined
from tests.support.nodes import NODE_TTL, REQUEST_TIMEOUT, Nodes, no_sfu_here, nodes_running

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("close_remote_media_hub"),
]


@pytest.fixture
def sfu_nodes(redis_url: str, settings: Any, tmp_path: Path) -> Iterator[Nodes]:
    """Two node processes (not recording)."""
    with nodes_running(names=("a", "b"), redis_url=redis_url, settings=settings, tmp_path=tmp_path) as nodes:
        yield nodes


async def test_media_flows_through_a_node_process(live: Any, media: Any, peers: list[Any], sfu_nodes: Nodes) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    serving = sfu_nodes.pinned(live.session.pk)
    assert serving in {node.node_id for node in sfu_nodes.nodes}

    # Garbage on the node's channel is logged and dropped; the node goes on serving.
    layer = get_channel_layer()
    assert layer is not None
    channel = sfu_nodes.record(serving)["channel"]  # type: ignore[index]
    await layer.send(channel, {"type": "sfu.request", "op": "explode"})
    await layer.send(channel, {"type": "something else"})

    camera = Camera()
    peers.append(camera)
    answer = await camera.publish(teacher)
    assert answer["type"] == "media.answer", answer
    trainee, welcome = await joined(media, live.trainee, live.session.pk)
    assert [t["track_id"] for t in welcome["tracks"]] == [answer["tracks"][0]["track_id"]]
    assert welcome["tracks"][0]["role"] == "instructor"

    viewer = Viewer()
    peers.append(viewer)
    await viewer.subscribe(trainee)
    await frames_arrive(viewer, 20)

    # Through the node: it counts the publisher and the subscriber; this process holds no Sfu.
    record = sfu_nodes.record(serving)
    assert record is not None
    assert (record["publishers"], record["subscribers"], record["tracks"]) == (1, 1, 1)
    assert no_sfu_here()
    assert "Traceback" not in sfu_nodes.node(serving).log.read_text()


async def test_sessions_spread_over_the_nodes(live: Any, media: Any, sfu_nodes: Nodes) -> None:
    other = await sync_to_async(LiveSessionFactory.create)(
        course=live.course, instructor=live.instructor, rooms=[live.room]
    )
    await joined(media, live.instructor, live.session.pk)
    await joined(media, live.instructor, other.pk)
    first, second = sfu_nodes.pinned(live.session.pk), sfu_nodes.pinned(other.pk)
    assert first is not None
    assert {first, second} == {node.node_id for node in sfu_nodes.nodes}
    # A second socket of a session meets the first on its node.
    await joined(media, live.trainee, live.session.pk)
    assert sfu_nodes.pinned(live.session.pk) == first
    assert sfu_nodes.record(first)["sockets"] == 2  # type: ignore[index]


async def test_a_killed_node_s_session_moves_to_a_live_one(
    live: Any, media: Any, peers: list[Any], sfu_nodes: Nodes
) -> None:
    teacher, _ = await joined(media, live.instructor, live.session.pk)
    trainee, _ = await joined(media, live.trainee, live.session.pk)
    camera = Camera()
    peers.append(camera)
    assert (await camera.publish(teacher))["type"] == "media.answer"
    viewer = Viewer()
    peers.append(viewer)
    await viewer.subscribe(trainee)
    await frames_arrive(viewer, 5)

    dead = sfu_nodes.pinned(live.session.pk)
    assert dead is not None
    [survivor] = [node.node_id for node in sfu_nodes.nodes if node.node_id != dead]
    killed_at = time.monotonic()
    os.kill(sfu_nodes.node(dead).process.pid, signal.SIGKILL)
    for client in (teacher, trainee):
        lost = await client.receive_type("media.node_lost", timeout=NODE_TTL + 3)
        assert lost["reason"] == "node_gone"
    assert time.monotonic() - killed_at < NODE_TTL + 3

    # The pages reconnect with fresh peer connections: the next publish lands on the surviving node.
    camera = Camera()
    peers.append(camera)
    assert (await camera.publish(teacher))["type"] == "media.answer"
    assert sfu_nodes.pinned(live.session.pk) == survivor
    await trainee.receive_type("media.tracks")  # the survivor announces what is published now
    viewer = Viewer()
    peers.append(viewer)
    await viewer.subscribe(trainee)
    await frames_arrive(viewer, 5)
    recovered = time.monotonic() - killed_at
    print(f"SFU node killed: recovered in {recovered:.2f} s (the subscriber re-attached, video again)")
    assert recovered < 5.0 + NODE_TTL  # the 5 s, after the node is known gone
    await frames_arrive(viewer, 20)
    record = sfu_nodes.record(survivor)
    assert record is not None and (record["publishers"], record["subscribers"]) == (1, 1)
    assert no_sfu_here()


async def test_a_node_that_does_not_answer_gives_sfu_unavailable(
    live: Any, media: Any, peers: list[Any], sfu_nodes: Nodes
) -> None:
    # A node that is advertised but does not answer (hung): its record and a session pinned to it.
    mute: registry.NodeRecord = {
        "id": f"mute-{uuid.uuid4().hex[:6]}",
        "address": "nowhere",
        "channel": f"sfu-node.nobody-listens-{uuid.uuid4().hex}",
        "sessions": 0,
        "sockets": 0,
        "peers": 0,
        "publishers": 0,
        "subscribers": 0,
        "tracks": 0,
        "updated": time.time(),
    }
    sfu_nodes.redis.set(registry.node_key(sfu_nodes.prefix, mute["id"]), json.dumps(mute), ex=60)
    sfu_nodes.redis.set(registry.pin_key(sfu_nodes.prefix, live.session.pk, "singapore"), mute["id"], ex=60)

    connected, teacher = await media(live.instructor, live.session.pk)
    assert connected
    welcome = await teacher.receive(timeout=3 * REQUEST_TIMEOUT + 2)  # still welcome: the error comes with a request
    assert welcome["type"] == "welcome"

    camera = Camera()
    peers.append(camera)
    offer = await camera.offer()
    started = time.monotonic()
    await teacher.send({"type": "media.publish", "sdp": offer, "ref": 1})
    reply = await teacher.receive(timeout=REQUEST_TIMEOUT + 3)
    assert (reply["type"], reply["code"], reply["ref"]) == ("error", "sfu_unavailable", 1)
    assert time.monotonic() - started < REQUEST_TIMEOUT + 1
    assert reply["message"]
    # The socket still answers.
    await teacher.send("{not json")
    assert (await teacher.receive())["code"] == "malformed_json"
