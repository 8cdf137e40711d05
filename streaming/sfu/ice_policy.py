"""Which remote ICE candidates the SFU will send connectivity checks to.

A browser names addresses for the server to try; an SFU that tries whatever it is told can be steered at the
machines around it (a port scan or request forgery from inside the network). So, as mediasoup's ICE-lite does, the
SFU tries only addresses it may reach: public ones in production, private ones as well on a LAN deployment, anything
in development. A peer behind a filtered address still connects, since the SFU learns the address its checks come
from (peer-reflexive candidates, RFC 8445 §7.3.1.3): that address has proven it is the peer.

`IcePolicy` is plain data, built from settings by the caller (streaming.media_hubs, the node's config).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

IceAddresses = Literal["public", "private", "any"]
ICE_ADDRESS_CHOICES: tuple[IceAddresses, ...] = ("public", "private", "any")

# What a browser sends is a few candidates per interface and transport; far more is an abuse of the SFU.
DEFAULT_MAX_CANDIDATES = 40


@dataclass(frozen=True)
class IcePolicy:
    # "public": globally routable addresses only; "private": also RFC 1918 / unique-local / shared (100.64/10)
    # ranges, for a deployment inside one network; "any": everything, loopback and mDNS included (development).
    addresses: IceAddresses = "public"
    max_candidates: int = DEFAULT_MAX_CANDIDATES  # remote candidates per peer connection, SDP and trickle together

    @classmethod
    def parse(cls, addresses: str, max_candidates: int = DEFAULT_MAX_CANDIDATES) -> IcePolicy:
        value = addresses.strip().lower()
        if value not in ICE_ADDRESS_CHOICES:
            raise ValueError(f"SFU_ICE_ADDRESSES is {addresses!r}: it must be one of {', '.join(ICE_ADDRESS_CHOICES)}")
        if max_candidates < 1:
            raise ValueError("SFU_ICE_MAX_CANDIDATES must be at least 1")
        return cls(addresses=value, max_candidates=max_candidates)

    def refusal(self, host: str) -> str | None:
        """Why the SFU will not try `host` (a candidate's connection address), or None if it may."""
        if self.addresses == "any":
            return None
        if host.lower().endswith(".local"):
            return "an mDNS name"
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return "not an IP address"
        if isinstance(address, ipaddress.IPv6Address):
            # ::ffff:10.0.0.1 and 64:ff9b::/96-less tricks: judge the IPv4 address it carries.
            mapped = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
            if mapped is not None:
                return self.refusal(str(mapped))
        if address.is_unspecified:
            return "unspecified"
        if address.is_loopback:
            return "loopback"
        if address.is_link_local:
            return "link-local"
        if address.is_multicast:
            return "multicast"
        if address.is_global:
            return None
        if self.addresses == "private" and _is_lan(address):
            return None
        return "private" if _is_lan(address) else "reserved"


_LAN_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _is_lan(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address.version == network.version and address in network for network in _LAN_NETWORKS)


def candidate_address(candidate: str) -> str | None:
    """The connection address of an SDP candidate (`candidate:<foundation> <component> <transport> <priority>
    <address> <port> typ …`, with or without `a=`), or None if it is not one."""
    parts = candidate.removeprefix("a=").removeprefix("candidate:").split()
    return parts[4] if len(parts) >= 8 and parts[6] == "typ" else None


def filter_sdp_candidates(sdp: str, policy: IcePolicy) -> tuple[str, int, int]:
    """`sdp` without the candidates `policy` refuses. Returns (sdp, kept, dropped).

    If any was dropped, `a=end-of-candidates` goes too: with no candidate left to try, the ICE agent would give up at
    once, before the peer's own checks arrive to teach it the peer-reflexive address that does work."""
    lines, kept, dropped = [], 0, 0
    for line in sdp.splitlines(keepends=True):
        if line.startswith("a=candidate:"):
            host = candidate_address(line.strip())
            if host is None or policy.refusal(host) is not None or kept >= policy.max_candidates:
                dropped += 1
                continue
            kept += 1
        lines.append(line)
    if dropped:
        lines = [line for line in lines if not line.startswith("a=end-of-candidates")]
    return "".join(lines), kept, dropped
