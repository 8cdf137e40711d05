"""Corridor's selective forwarding unit: encoded media forwarded between aiortc peer connections, never decoded.

Pure asyncio, no Django: the signaling layer calls `Sfu` with plain strings and turns `SfuError` and events into
socket frames. aiortc internals are touched only in `seam`.
"""

from streaming.sfu.core import PeerRole, RelayedPublisher, Sfu
from streaming.sfu.frames import EncodedFrame, EncodedFrameSink, FrameAssembler
from streaming.sfu.link import LinkConfig, LinkEndpoint, LinkReceiver, LinkSender, LinkStats, link_rtx_ssrc
from streaming.sfu.seam import AiortcSeamError
from streaming.sfu.types import (
    LegStats,
    PublishAnswer,
    PublisherLeftEvent,
    RelayedTrack,
    SessionStats,
    SfuError,
    SfuEvent,
    SubscribedTrack,
    SubscribeOffer,
    SubscriberLeftEvent,
    TrackInfo,
    TrackStats,
)

__all__ = [
    "AiortcSeamError",
    "EncodedFrame",
    "EncodedFrameSink",
    "FrameAssembler",
    "LegStats",
    "LinkConfig",
    "LinkEndpoint",
    "LinkReceiver",
    "LinkSender",
    "LinkStats",
    "PeerRole",
    "PublishAnswer",
    "PublisherLeftEvent",
    "RelayedPublisher",
    "RelayedTrack",
    "SessionStats",
    "Sfu",
    "SfuError",
    "SfuEvent",
    "SubscribeOffer",
    "SubscribedTrack",
    "SubscriberLeftEvent",
    "TrackInfo",
    "TrackStats",
    "link_rtx_ssrc",
]
