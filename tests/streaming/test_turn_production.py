"""coturn with the production configuration's peer rules and quotas (infra/coturn/turnserver.conf), for real: it
relays only to the SFU nodes' addresses (every other address is refused, IPv6 and IPv4-mapped included), and the
per-user quota counts the person, not the credential."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from streaming.turn import turn_credentials
from tests.support.coturn import CoturnServer, production_options, running_coturn

# In the test, 127.0.0.1 plays the SFU node (the one allowed peer) and 127.0.0.2 any other machine.
SFU_NODE = "127.0.0.1"
ELSEWHERE = "127.0.0.2"
QUOTA = 2


def test_the_production_configuration_denies_every_peer_but_the_sfu_nodes() -> None:
    denied = production_options("denied-peer-ip")
    assert "0.0.0.0-255.255.255.255" in denied
    assert "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" in denied
    assert production_options("allowed-peer-ip"), "the SFU nodes' addresses must be allowed"
    assert production_options("user-quota") and production_options("total-quota")
    assert "allow-loopback-peers" not in Path("infra/coturn/turnserver.conf").read_text().replace("# ", "")


@pytest.fixture(scope="module")
def production_coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoturnServer]:
    rules = [f"--denied-peer-ip={value}" for value in production_options("denied-peer-ip")]
    # The nodes' example addresses stay allowed (harmless here), and the test's own node is added.
    rules += [f"--allowed-peer-ip={value}" for value in production_options("allowed-peer-ip")]
    rules += [f"--allowed-peer-ip={SFU_NODE}", f"--user-quota={QUOTA}"]
    with running_coturn(tmp_path_factory.mktemp("coturn-production"), options=rules) as server:
        yield server


class Received(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.errors: list[Exception] = []

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)


def udp_listener(host: str) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind((host, 0))
    listener.settimeout(1.0)
    return listener


async def relay(coturn: CoturnServer, user_key: str, *, now: float | None = None) -> tuple[Any, Received]:
    credentials = turn_credentials(user_key=user_key, secret=coturn.secret, ttl_s=3600, now=now or time.time())
    host, port = coturn.urls[0].removeprefix("turn:").split("?")[0].split(":")
    transport, protocol = await create_turn_endpoint(
        Received, server_addr=(host, int(port)), username=credentials.username, password=credentials.credential
    )
    return transport, protocol


async def test_coturn_relays_to_the_sfu_node_and_refuses_every_other_peer(production_coturn: CoturnServer) -> None:
    node, elsewhere = udp_listener(SFU_NODE), udp_listener(ELSEWHERE)
    transport, protocol = await relay(production_coturn, "42")
    try:
        transport.sendto(b"to the SFU", node.getsockname())
        data = await asyncio.to_thread(node.recv, 100)
        assert data == b"to the SFU"
        # 403: a denied peer (0.0.0.0 too: CVE-2020-26262); 443: an IPv6 (here IPv4-mapped) peer of an IPv4 relay.
        for peer, codes in [
            (elsewhere.getsockname(), {403}),
            (("0.0.0.0", 9), {403}),
            (("::ffff:127.0.0.2", elsewhere.getsockname()[1]), {403, 443}),
        ]:
            protocol.errors.clear()
            transport.sendto(b"to elsewhere", peer)
            await asyncio.sleep(0.5)
            refused = [error for error in protocol.errors if isinstance(error, stun.TransactionFailed)]
            assert refused and refused[0].response.attributes["ERROR-CODE"][0] in codes, (peer, protocol.errors)
        with pytest.raises(TimeoutError):
            elsewhere.recv(100)
    finally:
        transport.close()
        node.close()
        elsewhere.close()


async def test_the_quota_counts_the_person_not_their_credentials(production_coturn: CoturnServer) -> None:
    held = []
    try:
        # Fresh credentials each time (another expiry, so another username): still the same person.
        for n in range(QUOTA):
            held.append((await relay(production_coturn, "77", now=time.time() + n))[0])
        with pytest.raises(stun.TransactionFailed) as refused:
            await relay(production_coturn, "77", now=time.time() + QUOTA)
        assert refused.value.response.attributes["ERROR-CODE"][0] == 486  # allocation quota reached
        held.append((await relay(production_coturn, "78"))[0])  # someone else is not affected
    finally:
        for transport in held:
            transport.close()
