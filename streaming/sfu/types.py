"""The SFU's plain-data API: its one error class, its results and its events (all JSON-serialisable)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class SfuError(Exception):
    """A refusal the signaling layer turns into an error frame: a stable `code` and a human `message`.

    Codes: bad_sdp, no_codec, bad_candidate, too_many_candidates, unknown_mid, unknown_track, unknown_peer,
    no_tracks, closed.
    (lms.errors.CorridorError is not used here: it imports Django, and streaming's media path must not.)
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TrackInfo(TypedDict):
    track_id: str
    publisher_id: str
    kind: Literal["audio", "video"]
    codec: str  # MIME type, e.g. "video/VP8"
    mid: str  # the publisher's MID for this track


class RelayedTrack(TypedDict):
    """A track published on another SFU node and relayed to this one (see Sfu.relay_publish)."""

    info: TrackInfo  # as the origin node announced it: the same track_id and publisher_id on both nodes
    # The origin's negotiated codec as JSON (Sfu.track_codec): mimeType, clockRate, channels, payloadType,
    # parameters, rtcpFeedback [{type, parameter}]. Subscribers here are offered exactly this codec.
    codec: dict[str, Any]


class PublishAnswer(TypedDict):
    sdp: str  # type "answer"
    tracks: list[TrackInfo]


class SubscribedTrack(TypedDict):
    track_id: str
    publisher_id: str
    kind: Literal["audio", "video"]
    codec: str
    mid: str  # the MID of this track in the subscriber's offer


class SubscribeOffer(TypedDict):
    sdp: str  # type "offer"; answer with Sfu.subscriber_answer
    tracks: list[SubscribedTrack]


PublisherLeftReason = Literal["unpublished", "left", "failed", "media_timeout", "closed"]
SubscriberLeftReason = Literal["left", "failed", "resubscribed", "closed"]


class PublisherLeftEvent(TypedDict):
    """A publisher is gone: tell `subscriber_ids` to drop `track_ids`."""

    type: Literal["publisher_left"]
    session_key: str
    publisher_id: str
    reason: PublisherLeftReason
    track_ids: list[str]
    subscriber_ids: list[str]


class SubscriberLeftEvent(TypedDict):
    type: Literal["subscriber_left"]
    session_key: str
    subscriber_id: str
    reason: SubscriberLeftReason


SfuEvent = PublisherLeftEvent | SubscriberLeftEvent


class LegStats(TypedDict):
    track_id: str
    packets: int
    bytes: int
    bitrate_bps: float  # since the previous stats() call (or since the leg started)
    keyframe_requests: int  # PLI/FIR received from this subscriber for this track
    nacked_packets: int  # packets this subscriber asked to be retransmitted
    waiting_for_keyframe: bool


class TrackStats(TypedDict):
    track_id: str
    kind: str
    codec: str
    packets: int
    bytes: int
    bitrate_bps: float
    frames: int  # video: marker-bit packets received; audio: packets
    keyframes: int
    keyframe_requests_received: int  # from subscribers (and joins), before rate limiting
    keyframe_requests_sent: int  # PLIs actually sent to the publisher
    subscribers: int
    taps: int  # packet taps (e.g. link senders to other SFU nodes): not subscribers
    relayed: bool  # published on another node and relayed here over the link


class SessionStats(TypedDict):
    publishers: dict[str, list[TrackStats]]
    subscribers: dict[str, list[LegStats]]
