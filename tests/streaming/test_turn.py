"""TURN credentials: the TURN REST API scheme, checked against a real coturn and two relay-only peers."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnection

from streaming.selectors import ice_servers_for_user
from streaming.turn import ice_servers, turn_credentials
from tests import factories
from tests.support.coturn import CoturnServer

# Computed independently of the code under test:
#   printf '1700003600:42' | openssl dgst -sha1 -hmac 'north-south-corridor' -binary | base64
KNOWN_SECRET = "north-south-corridor"
KNOWN_PASSWORD = "3JuMcXeFEQeOV4ad7JqPs187Cqs="


def test_credentials_follow_the_turn_rest_api_scheme() -> None:
    credentials = turn_credentials(user_key="42", secret=KNOWN_SECRET, ttl_s=3600, now=1_700_000_000.7)
    assert credentials.username == "1700003600:42"
    assert credentials.expires_at == 1_700_003_600
    assert credentials.credential == KNOWN_PASSWORD


def test_expiry_is_now_plus_the_ttl() -> None:
    now = time.time()
    assert turn_credentials(user_key="7", secret="s", ttl_s=60, now=now).expires_at == int(now) + 60
    assert turn_credentials(user_key="7", secret="s", ttl_s=3600, now=now).expires_at == int(now) + 3600


@pytest.mark.parametrize(
    ("user_key", "secret", "ttl_s"), [("7", "", 60), ("7", "s", 0), ("", "s", 60), ("a:b", "s", 60)]
)
def test_unusable_input_is_refused(user_key: str, secret: str, ttl_s: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        turn_credentials(user_key=user_key, secret=secret, ttl_s=ttl_s, now=0)


def test_ice_servers_carry_stun_and_turn_but_never_the_secret() -> None:
    secret = "the-static-auth-secret"
    credentials = turn_credentials(user_key="42", secret=secret, ttl_s=3600, now=1_700_000_000)
    servers = ice_servers(
        turn_urls=["turn:turn.example:3478?transport=udp", "turn:turn.example:3478?transport=tcp"],
        stun_urls=["stun:turn.example:3478"],
        credentials=credentials,
    )
    assert servers == [
        {"urls": ["stun:turn.example:3478"]},
        {
            "urls": ["turn:turn.example:3478?transport=udp", "turn:turn.example:3478?transport=tcp"],
            "username": "1700003600:42",
            "credential": credentials.credential,
        },
    ]
    assert secret not in json.dumps(servers)


def test_no_turn_entry_without_credentials() -> None:
    assert ice_servers(turn_urls=["turn:turn.example:3478"], credentials=None) == []
    assert ice_servers(turn_urls=[], stun_urls=["stun:turn.example"]) == [{"urls": ["stun:turn.example"]}]


@pytest.mark.django_db
def test_a_participant_gets_credentials_for_the_configured_servers(settings: Any) -> None:
    settings.TURN_URLS = ["turn:turn.example:3478?transport=udp"]
    settings.TURN_SECRET = "the-static-auth-secret"
    settings.TURN_TTL_SECONDS = 600
    settings.STUN_URLS = []
    trainee = factories.trainee()
    [server] = ice_servers_for_user(user=trainee, now=1_700_000_000)
    assert server["username"] == f"1700000600:{trainee.pk}"
    assert trainee.email not in json.dumps(server)
    assert settings.TURN_SECRET not in json.dumps(server)


@pytest.mark.django_db
def test_embedded_default_hands_out_no_turn(settings: Any) -> None:
    settings.TURN_URLS = []
    settings.STUN_URLS = []
    assert ice_servers_for_user(user=factories.trainee()) == []


# --- against a real coturn ----------------------------------------------------------------------


def turn_address(coturn: CoturnServer) -> tuple[str, int]:
    host, port = coturn.urls[0].removeprefix("turn:").split("?")[0].split(":")
    return host, int(port)


async def allocate(coturn: CoturnServer, username: str, password: str) -> tuple[str, int]:
    """Ask coturn for a relay allocation with these credentials; the relayed address on success."""
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol, server_addr=turn_address(coturn), username=username, password=password
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


async def test_coturn_allocates_for_fresh_credentials(coturn: CoturnServer) -> None:
    credentials = turn_credentials(user_key="42", secret=coturn.secret, ttl_s=3600, now=time.time())
    host, port = await allocate(coturn, credentials.username, credentials.credential)
    assert host == "127.0.0.1" and port > 0


def bad_credentials(case: str, secret: str) -> tuple[str, str]:
    now = time.time()
    if case == "expired":
        expired = turn_credentials(user_key="42", secret=secret, ttl_s=60, now=now - 120)
        return expired.username, expired.credential
    if case == "wrong-secret":
        forged = turn_credentials(user_key="42", secret="not-the-secret", ttl_s=3600, now=now)
        return forged.username, forged.credential
    # Another participant's valid password under this participant's username.
    mine = turn_credentials(user_key="42", secret=secret, ttl_s=3600, now=now)
    theirs = turn_credentials(user_key="43", secret=secret, ttl_s=3600, now=now)
    return mine.username, theirs.credential


@pytest.mark.parametrize("case", ["expired", "wrong-secret", "someone-elses-password"])
async def test_coturn_refuses_bad_credentials(coturn: CoturnServer, case: str) -> None:
    username, password = bad_credentials(case, coturn.secret)
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(coturn, username, password)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401


async def test_two_relay_only_peers_exchange_data_through_coturn(coturn: CoturnServer, settings: Any) -> None:
    settings.TURN_URLS = coturn.urls
    settings.TURN_SECRET = coturn.secret
    settings.STUN_URLS = []
    # What each browser is handed (only the user's id matters, so no database is needed).
    alice, bob = SimpleNamespace(pk=41), SimpleNamespace(pk=42)

    async def peer(user: Any) -> RTCPeerConnection:
        servers = ice_servers_for_user(user=user)
        assert [server["username"].split(":")[1] for server in servers] == [str(user.pk)]
        return RTCPeerConnection(
            RTCConfiguration(
                iceServers=[
                    RTCIceServer(urls=s["urls"], username=s["username"], credential=s["credential"]) for s in servers
                ],
                iceTransportPolicy=RTCIceTransportPolicy.RELAY,
            )
        )

    caller, callee = await peer(alice), await peer(bob)
    received: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    try:
        channel = caller.createDataChannel("chat")

        @callee.on("datachannel")
        def on_datachannel(remote: Any) -> None:
            @remote.on("message")
            def on_message(message: str) -> None:
                if not received.done():
                    received.set_result(message)

        opened = asyncio.get_running_loop().create_future()
        channel.on("open", lambda: opened.set_result(True))

        await caller.setLocalDescription(await caller.createOffer())
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        await caller.setRemoteDescription(callee.localDescription)

        # Relay only: every candidate either side offered is a coturn relay address.
        for description in (caller.localDescription, callee.localDescription):
            candidates = [line for line in description.sdp.splitlines() if line.startswith("a=candidate:")]
            assert candidates
            assert all(" typ relay" in line for line in candidates), candidates

        await asyncio.wait_for(opened, 10)
        channel.send("你好 from Singapore")
        assert await asyncio.wait_for(received, 10) == "你好 from Singapore"
    finally:
        await caller.close()
        await callee.close()
