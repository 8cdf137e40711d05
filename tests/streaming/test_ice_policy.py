"""The SFU tries only the remote ICE candidates its policy allows (public addresses by default), caps how many one
connection may name, and a peer whose candidates it refused still connects (peer-reflexive)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from streaming.node.config import NodeConfig
from streaming.sfu import Sfu, SfuError
from streaming.sfu.ice_policy import IcePolicy, filter_sdp_candidates
from tests.support.media import CONFIG, SyntheticVideo
from tests.support.waiting import wait_until_async

SESSION = "ice-session"

REFUSED_IN_PUBLIC = [
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.9", "private"),
    ("192.168.1.20", "private"),
    ("100.64.0.1", "private"),  # carrier-grade NAT
    ("fd00::1", "private"),
    ("169.254.10.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("192.0.2.7", "reserved"),  # TEST-NET-1
    ("240.0.0.1", "reserved"),
    ("::ffff:10.0.0.1", "private"),  # IPv4-mapped: judged by the IPv4 address inside
    ("::ffff:127.0.0.1", "loopback"),
    ("0b7a1c7e-5f1e-4d5a-9d0e-3c2f3b6c1a11.local", "an mDNS name"),
    ("not-an-address", "not an IP address"),
]


@pytest.mark.parametrize(("host", "reason"), REFUSED_IN_PUBLIC)
def test_the_public_policy_refuses_every_address_that_is_not_globally_routable(host: str, reason: str) -> None:
    assert IcePolicy().refusal(host) == reason


@pytest.mark.parametrize("host", ["8.8.8.8", "203.0.114.9", "2001:4860:4860::8888", "::ffff:8.8.4.4"])
def test_public_addresses_are_tried(host: str) -> None:
    assert IcePolicy().refusal(host) is None
    assert IcePolicy(addresses="private").refusal(host) is None


def test_the_private_policy_adds_the_lan_ranges_and_nothing_else() -> None:
    policy = IcePolicy(addresses="private")
    for host in ("10.1.2.3", "172.16.0.9", "192.168.1.20", "100.64.0.1", "fd00::1", "::ffff:192.168.0.4"):
        assert policy.refusal(host) is None, host
    for host in ("127.0.0.1", "169.254.10.1", "224.0.0.251", "192.0.2.7", "x.local", "fe80::1"):
        assert policy.refusal(host) is not None, host


def test_any_is_for_development_and_bad_settings_are_refused_by_name() -> None:
    assert IcePolicy(addresses="any").refusal("127.0.0.1") is None
    with pytest.raises(ValueError, match="SFU_ICE_ADDRESSES"):
        IcePolicy.parse("everything")
    with pytest.raises(ValueError, match="SFU_ICE_MAX_CANDIDATES"):
        IcePolicy.parse("public", 0)
    config = NodeConfig.from_env(
        {"REDIS_URL": "redis://x", "SFU_ICE_ADDRESSES": "private", "SFU_ICE_MAX_CANDIDATES": "9"}
    )
    assert config.ice_policy == IcePolicy(addresses="private", max_candidates=9)
    assert NodeConfig.from_env({"REDIS_URL": "redis://x"}).ice_policy == IcePolicy(addresses="public")


def test_an_sdp_keeps_only_allowed_candidates_up_to_the_cap_and_loses_its_end_marker_if_any_went() -> None:
    sdp = (
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        "a=candidate:1 1 udp 2130706431 8.8.8.8 5000 typ host\r\n"
        "a=candidate:2 1 udp 2130706431 10.0.0.4 5000 typ host\r\n"
        "a=candidate:3 1 udp 2130706431 8.8.4.4 5000 typ srflx raddr 10.0.0.4 rport 5000\r\n"
        "a=candidate:4 1 udp 2130706431 1.1.1.1 5000 typ host\r\n"
        "a=end-of-candidates\r\n"
    )
    kept_sdp, kept, dropped = filter_sdp_candidates(sdp, IcePolicy(max_candidates=2))
    assert (kept, dropped) == (2, 2)
    assert "8.8.8.8" in kept_sdp and "8.8.4.4" in kept_sdp
    assert "10.0.0.4 5000 typ host" not in kept_sdp and "1.1.1.1" not in kept_sdp
    assert "end-of-candidates" not in kept_sdp
    untouched, kept, dropped = filter_sdp_candidates(sdp, IcePolicy(addresses="any", max_candidates=10))
    assert (untouched, kept, dropped) == (sdp, 4, 0)


def _trap() -> socket.socket:
    trap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trap.bind(("127.0.0.1", 0))
    trap.setblocking(False)
    return trap


def _received(trap: socket.socket) -> int:
    count = 0
    while True:
        try:
            trap.recv(2048)
        except BlockingIOError:
            return count
        count += 1


async def _publish_naming_only(sfu: Sfu, host_port: tuple[str, int]) -> RTCPeerConnection:
    """A publisher whose offer names one candidate of the test's choosing instead of its own."""
    publisher = RTCPeerConnection(CONFIG)
    publisher.addTransceiver(SyntheticVideo(), direction="sendonly")
    await publisher.setLocalDescription(await publisher.createOffer())
    host, port = host_port
    lines = [line for line in publisher.localDescription.sdp.splitlines() if not line.startswith("a=candidate:")]
    at = next(index for index, line in enumerate(lines) if line.startswith("a=end-of-candidates"))
    lines.insert(at, f"a=candidate:1 1 udp 2130706431 {host} {port} typ host")
    answer = await sfu.publish(session_key=SESSION, publisher_id="teacher", offer_sdp="\r\n".join(lines) + "\r\n")
    await publisher.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    return publisher


@pytest.mark.parametrize(("addresses", "checks_reach_the_trap"), [("public", False), ("any", True)])
async def test_the_sfu_sends_no_check_to_a_refused_address_and_the_peer_still_connects(
    addresses: str, checks_reach_the_trap: bool
) -> None:
    trap = _trap()
    sfu = Sfu(media_timeout=5.0, ice_policy=IcePolicy.parse(addresses))
    try:
        publisher = await _publish_naming_only(sfu, trap.getsockname())
        # The publisher connects either way: its own checks teach the SFU its real address.
        await wait_until_async(lambda: publisher.connectionState == "connected", timeout=15, message="connected")
        await asyncio.sleep(1.0)
        assert (_received(trap) > 0) is checks_reach_the_trap
        await publisher.close()
    finally:
        trap.close()
        await sfu.close()


async def test_trickled_candidates_are_filtered_and_capped_per_connection() -> None:
    trap = _trap()
    sfu = Sfu(media_timeout=5.0, ice_policy=IcePolicy(max_candidates=2))
    publisher = RTCPeerConnection(CONFIG)
    publisher.addTransceiver(SyntheticVideo(), direction="sendonly")
    try:
        await publisher.setLocalDescription(await publisher.createOffer())
        # An offer with no candidate at all (a browser that trickles them).
        sdp = "".join(
            line
            for line in publisher.localDescription.sdp.splitlines(keepends=True)
            if not line.startswith(("a=candidate:", "a=end-of-candidates"))
        )
        answer = await sfu.publish(session_key=SESSION, publisher_id="teacher", offer_sdp=sdp)
        await publisher.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        port = trap.getsockname()[1]

        async def trickle(host: str, number: int) -> None:
            await sfu.add_ice_candidate(
                session_key=SESSION,
                peer_id="teacher",
                role="publisher",
                candidate=f"candidate:{number} 1 udp 2130706431 {host} {port} typ host",
                sdp_mid="0",
            )

        for number in range(5):  # refused: ignored, and not counted towards the cap
            await trickle("127.0.0.1", number)
        await trickle("8.8.8.8", 10)
        await trickle("1.1.1.1", 11)
        with pytest.raises(SfuError) as refused:
            await trickle("9.9.9.9", 12)
        assert refused.value.code == "too_many_candidates"
        # The end of candidates is not passed on after a refusal: the SFU still learns the publisher's address.
        await sfu.add_ice_candidate(session_key=SESSION, peer_id="teacher", role="publisher", candidate="", sdp_mid="0")
        await wait_until_async(lambda: publisher.connectionState == "connected", timeout=15, message="connected")
        assert _received(trap) == 0
    finally:
        await publisher.close()
        trap.close()
        await sfu.close()
