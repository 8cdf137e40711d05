"""SFU node processes (`python -m streaming.node`) on a real Redis, for the tests of SFU_MODE "nodes"."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from streaming import media_hubs
from streaming.node import registry
from tests.support.processes import stop_processes
from tests.support.waiting import wait_until

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
        stop_processes(*(node.process for node in nodes.nodes))
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def no_sfu_here() -> bool:
    """This process runs no Sfu: the media socket used no local MediaHub."""
    local = media_hubs._local_hubs.get(asyncio.get_running_loop())
    return local is None or local._sfu is None
