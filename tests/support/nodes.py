"""SFU node processes (`python -m streaming.node`) on a real Redis, for the tests of SFU_MODE "nodes"."""

from __future__ import annotations

import asyncio
import json
import os
import socket
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
    layer_prefix: str = ""
    redis_url: str = ""
    tmp_path: Path = Path()
    env: Mapping[str, str] | None = None
    run: str = ""

    def start(self, name: str, *, env: Mapping[str, str] | None = None) -> Node:
        """Another node process (a city's new or replacement node), once registered."""
        node_id = f"node-{name}-{self.run}"
        node = start_node(
            node_id=node_id,
            prefix=self.prefix,
            layer_prefix=self.layer_prefix,
            redis_url=self.redis_url,
            log=self.tmp_path / f"{node_id}.log",
            env={**(self.env or {}), **(env or {})},
        )
        self.nodes.append(node)
        self.wait_registered(node)
        return node

    def wait_registered(self, *nodes: Node) -> None:
        def registered() -> bool:
            for node in nodes:
                assert node.process.poll() is None, node.log.read_text()
            return all(self.record(node.node_id) for node in nodes)

        wait_until(registered, timeout=30, interval=0.1, message="the SFU nodes to register")

    def by_name(self, name: str) -> Node:
        return self.node(f"node-{name}-{self.run}")

    def record(self, node_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(registry.node_key(self.prefix, node_id))
        return json.loads(raw) if raw else None

    def pinned(self, session_id: int, city: str = "singapore") -> str | None:
        raw = self.redis.get(registry.pin_key(self.prefix, session_id, city))
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
    *,
    names: tuple[str, ...],
    redis_url: str,
    settings: Any,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    node_env: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[Nodes]:
    """Node processes under a Redis prefix of this run's own, once registered; the app in SFU_MODE "nodes".
    `node_env` adds to one node's environment, by name (its city: SFU_NODE_CITY, its link: SFU_LINK_*)."""
    run = uuid.uuid4().hex[:10]
    prefix = f"{settings.CHANNEL_LAYER_PREFIX}:sfu-test-{run}"
    settings.SFU_MODE = "nodes"
    settings.SFU_REDIS_PREFIX = prefix
    settings.SFU_REQUEST_TIMEOUT = REQUEST_TIMEOUT
    settings.SFU_NODE_CHECK_INTERVAL = 0.25
    client = redis.Redis.from_url(redis_url)
    nodes = Nodes(
        prefix=prefix,
        redis=client,
        nodes=[],
        layer_prefix=settings.CHANNEL_LAYER_PREFIX,
        redis_url=redis_url,
        tmp_path=tmp_path,
        env=env,
        run=run,
    )
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
                    env={**(env or {}), **((node_env or {}).get(name) or {})},
                )
            )
        nodes.wait_registered(*nodes.nodes)
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


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
