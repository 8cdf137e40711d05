"""SFU nodes (SFU_MODE "nodes"): two real `python -m streaming.node` processes on a real Redis, real aiortc peers
through the media socket; the media goes through a node process, never through this one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from streaming import media_hubs
from streaming.node import registry
from tests.classrooms.factories import LiveSessionFactory
from tests.streaming import test_signaling
from tests.streaming.test_signaling import Camera, Viewer, frames_arrive, joined
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

media = test_signaling.media  # the media socket fixture
peers = test_signaling.peers  # aiortc peers, closed after each test

HEARTBEAT = 0.3  # seconds between a node's refreshes
NODE_TTL = 1.5  # a node silent this long is gone
REQUEST_TIMEOUT = 2.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Node:
    node_id: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Nodes:
    prefix: str
    redis: redis.Redis
    nodes: list[Node]

    def record(self, node_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(registry.node_key(self.prefix, node_id))
        return json.loads(raw) if raw else None

    def pinned(self, session_id: int) -> str | None:
        raw = self.redis.get(registry.pin_key(self.prefix, session_id))
        if not raw:
            return None
        return raw.decode() if isinstance(raw, bytes) else raw

    def node(self, node_id: str) -> Node:
        [found] = [node for node in self.nodes if node.node_id == node_id]
        return found


def start_node(
    *, node_id: str, prefix: str, layer_prefix: str, redis_url: str, log: Path, env: Mapping[str, str] | None = None
) -> Node:
    """A node process; `env` adds to (or overrides) its environment."""
    environment = {
        **os.environ,
        "REDIS_URL": redis_url,
        "CHANNEL_LAYER_PREFIX": layer_prefix,
        "SFU_REDIS_PREFIX": prefix,
        "SFU_NODE_ID": node_id,
        "SFU_NODE_HEARTBEAT": str(HEARTBEAT),
        "SFU_NODE_TTL": str(NODE_TTL),
        "SFU_NODE_RECORDINGS": "0",
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streaming.node"], cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT
        )
    return Node(node_id=node_id, process=process, log=log)


@contextmanager
def nodes_running(
    *, names: tuple[str, ...], redis_url: str, settings: Any, tmp_path: Path, env: Mapping[str, str] | None = None
) -> Iterator[Nodes]:
    """Node processes under a Redis prefix of this run's own, once registered; the app in SFU_MODE "nodes"."""
    run = uuid.uuid4().hex[:10]
    prefix = f"{settings.CHANNEL_LAYER_PREFIX}:sfu-test-{run}"
    settings.SFU_MODE = "nodes"
    settings.SFU_REDIS_PREFIX = prefix
    settings.SFU_REQUEST_TIMEOUT = REQUEST_TIMEOUT
    settings.SFU_NODE_CHECK_INTERVAL = 0.25
    client = redis.Redis.from_url(redis_url)
    nodes = Nodes(prefix=prefix, redis=client, nodes=[])
    try:
        for name in names:
            node_id = f"node-{name}-{run}"
            nodes.nodes.append(
                start_node(
                    node_id=node_id,
                    prefix=prefix,
                    layer_prefix=settings.CHANNEL_LAYER_PREFIX,
                    redis_url=redis_url,
                    log=tmp_path / f"{node_id}.log",
                    env=env,
                )
            )

        def registered() -> bool:
            for node in nodes.nodes:
                assert node.process.poll() is None, node.log.read_text()
            return all(nodes.record(node.node_id) for node in nodes.nodes)

        wait_until(registered, timeout=30, interval=0.1, message="the SFU nodes to register")
        yield nodes
    finally:
        for node in nodes.nodes:
            if node.process.poll() is None:
                node.process.terminate()
        for node in nodes.nodes:
            try:
                node.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


@pytest.fixture
def sfu_nodes(redis_url: str, settings: Any, tmp_path: Path) -> Iterator[Nodes]:
    """Two node processes (not recording)."""
    with nodes_running(names=("a", "b"), redis_url=redis_url, settings=settings, tmp_path=tmp_path) as nodes:
        yield nodes


def no_sfu_here() -> bool:
    """This process runs no Sfu: the media socket used no local MediaHub."""
    local = media_hubs._local_hubs.get(asyncio.get_running_loop())
    return local is None or local._sfu is None


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
    sfu_nodes.redis.set(registry.pin_key(sfu_nodes.prefix, live.session.pk), mute["id"], ex=60)

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


@pytest.fixture(autouse=True)
async def close_remote_media_hub() -> AsyncIterator[None]:
    """SFU_MODE "nodes": close the test loop's remote hub while the loop and its Redis connections still run
    (cancelled by the loop's own shutdown, its channel-layer receive could wait forever to unsubscribe)."""
    yield
    await media_hubs.remote_media_hub_close()
