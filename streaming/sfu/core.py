"""The Sfu registry: publishers and subscribers per session, their peer connections, events and statistics.

The signaling layer (the Django consumer) calls this API with plain strings and gets plain dicts back, so the Sfu
can later move behind `python -m streaming.node` without changing its callers. Everything runs on one event loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import statistics
import weakref
from collections import deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc import sdp as aiortc_sdp
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import RtpPacket

from streaming.sfu.forwarder import PacketTap, PublishedTrack, SubscriberLeg
from streaming.sfu.frames import EncodedFrameSink
from streaming.sfu.ice_policy import IcePolicy, candidate_address, filter_sdp_candidates
from streaming.sfu.seam import (
    IdleTrack,
    check_aiortc_seam,
    codec_preferences,
    negotiable_codecs,
    negotiated_codec,
    request_keyframe,
    set_payload_data,
    set_stream_id,
    tap_receiver,
)
from streaming.sfu.types import (
    PublishAnswer,
    PublisherLeftEvent,
    PublisherLeftReason,
    RelayedTrack,
    SessionStats,
    SfuError,
    SfuEvent,
    SubscribedTrack,
    SubscribeOffer,
    SubscriberLeftEvent,
    SubscriberLeftReason,
    TrackInfo,
)

logger = logging.getLogger(__name__)

PeerRole = Literal["publisher", "subscriber"]


@dataclass(eq=False)
class _Publisher:
    publisher_id: str
    pc: RTCPeerConnection | None  # None for a publisher relayed from another node
    tracks: dict[str, PublishedTrack] = field(default_factory=dict)
    media_watchdog: asyncio.TimerHandle | None = None
    sink: EncodedFrameSink | None = None


@dataclass(eq=False)
class _Subscriber:
    subscriber_id: str
    pc: RTCPeerConnection
    legs: dict[str, SubscriberLeg] = field(default_factory=dict)


@dataclass(eq=False)
class _Session:
    publishers: dict[str, _Publisher] = field(default_factory=dict)
    subscribers: dict[str, _Subscriber] = field(default_factory=dict)


def _parse_sdp(text: str, kind: str) -> aiortc_sdp.SessionDescription:
    if not isinstance(text, str) or not text.strip().startswith("v=0"):
        raise SfuError("bad_sdp", f"The {kind} is not an SDP session description.")
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever the bad line provokes
        raise SfuError("bad_sdp", f"The {kind} SDP could not be parsed: {exc}") from None
    for media in description.media:
        if media.kind in ("audio", "video") and (media.ice is None or not media.ice.usernameFragment or not media.dtls):
            raise SfuError("bad_sdp", f"The {kind} SDP lacks ICE or DTLS parameters.")
    return description


def codec_to_json(codec: RTCRtpCodecParameters) -> dict[str, Any]:
    """A negotiated codec as JSON, for another node to offer its subscribers exactly the same (RelayedTrack)."""
    return {
        "mimeType": codec.mimeType,
        "clockRate": codec.clockRate,
        "channels": codec.channels,
        "payloadType": codec.payloadType,
        "parameters": dict(codec.parameters),
        "rtcpFeedback": [{"type": fb.type, "parameter": fb.parameter} for fb in codec.rtcpFeedback],
    }


def codec_from_json(data: Mapping[str, Any], kind: str) -> RTCRtpCodecParameters:
    """The inverse of codec_to_json; SfuError("no_codec") unless it is a codec this SFU forwards for `kind`."""
    try:
        codec = RTCRtpCodecParameters(
            mimeType=str(data["mimeType"]),
            clockRate=int(data["clockRate"]),
            channels=int(data["channels"]) if data.get("channels") is not None else None,
            payloadType=int(data["payloadType"]) if data.get("payloadType") is not None else None,
            parameters=dict(data.get("parameters") or {}),
            rtcpFeedback=[
                RTCRtcpFeedback(type=str(fb["type"]), parameter=fb.get("parameter"))
                for fb in data.get("rtcpFeedback") or ()
            ],
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SfuError("no_codec", "The relayed track's codec is not a codec description.") from None
    if not negotiable_codecs(kind, [codec]):
        raise SfuError("no_codec", f"The relayed {kind} codec {codec.mimeType} cannot be forwarded here.")
    return codec


def _ask_origin(request_keyframe: Callable[[str], None], track_id: str) -> Callable[[int], None]:
    """A relayed track's keyframe requester: the media SSRC is the link's, the origin wants the track id."""

    def send(_media_ssrc: int) -> None:
        request_keyframe(track_id)

    return send


class RelayedPublisher:
    """A publisher on another SFU node whose tracks arrive over the link: push each packet with `push`.

    It has no peer connection; its subscribers, events, statistics and recording sink work as for any publisher.
    It ends with `Sfu.unpublish`/`leave` (or when relayed again); `push` then does nothing.
    """

    def __init__(self, publisher: _Publisher) -> None:
        self._publisher = publisher
        self.publisher_id = publisher.publisher_id

    @property
    def track_ids(self) -> list[str]:
        return list(self._publisher.tracks)

    @property
    def closed(self) -> bool:
        return all(track.closed for track in self._publisher.tracks.values())

    async def push(self, track_id: str, packet: RtpPacket) -> None:
        """One RTP packet of `track_id` as received over the link (RTX already unwrapped, duplicates dropped)."""
        track = self._publisher.tracks.get(track_id)
        if track is None or track.closed or not set_payload_data(packet, track.codec):
            return
        await track.on_packet(packet)


async def _close_peer_connection(pc: RTCPeerConnection) -> None:
    # aiortc may already be closing this pc itself (remote DTLS close) and every closer awaits one shared future:
    # shield it, so cancelling one of them cannot cancel that future under aiortc's own close task.
    await asyncio.shield(pc.close())


class Sfu:
    """A selective forwarding unit: publishers' encoded media forwarded to subscribers, never decoded.

    Lifecycle: construct on a running event loop, call the async API, `await close()` on shutdown (every peer
    connection, task and timer is released). All identifiers are caller-chosen strings; a peer is identified by
    (session_key, peer id) and may publish once and subscribe once per session. Errors are SfuError with a `code`.
    `on_event` receives PublisherLeftEvent / SubscriberLeftEvent dicts (JSON-serialisable) for the signaling layer.
    """

    def __init__(
        self,
        *,
        ice_servers: Sequence[Mapping[str, Any]] = (),
        media_timeout: float = 10.0,
        keyframe_interval: float = 1.0,
        on_event: Callable[[SfuEvent], None] | None = None,
        measure_forwarding_delay: bool = False,
        ice_policy: IcePolicy | None = None,
    ) -> None:
        """`ice_servers`: dicts with `urls` (str or list), optional `username`, `credential` (TURN from turn.py).
        `media_timeout`: seconds a new publisher has to send its first packet. `keyframe_interval`: the least
        time between two keyframe requests to one publisher track. `ice_policy`: which remote candidates the SFU
        tries (public addresses only unless told otherwise), and how many per peer."""
        check_aiortc_seam()
        self._ice_servers = [
            RTCIceServer(urls=server["urls"], username=server.get("username"), credential=server.get("credential"))
            for server in ice_servers
        ]
        self._media_timeout = media_timeout
        self._ice_policy = ice_policy or IcePolicy()
        # Remote candidates taken per peer connection (from its SDP and trickled), for the policy's cap.
        self._candidates_taken: weakref.WeakKeyDictionary[RTCPeerConnection, int] = weakref.WeakKeyDictionary()
        # Peer connections some of whose candidates were refused: their end-of-candidates is not passed on.
        self._candidates_refused: weakref.WeakSet[RTCPeerConnection] = weakref.WeakSet()
        self._keyframe_interval = keyframe_interval
        self._on_event = on_event
        self._sessions: dict[str, _Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # Seconds from a packet's arrival to its send, per (packet, leg); read by forwarding_delay_ms().
        self._delay_samples: deque[float] | None = deque(maxlen=200_000) if measure_forwarding_delay else None

    # -- publishing --------------------------------------------------------------------------------------------

    async def publish(self, *, session_key: str, publisher_id: str, offer_sdp: str) -> PublishAnswer:
        """Accept a publisher's offer; answer it and announce its tracks. Publishing again replaces the old one."""
        self._check_open()
        description = _parse_sdp(offer_sdp, "offer")
        plan: list[tuple[str, bool]] = []  # (kind, sends media) per audio/video m-line, in order
        preferences = []
        for media in description.media:
            if media.kind not in ("audio", "video"):
                continue
            codecs = negotiable_codecs(media.kind, media.rtp.codecs)
            if not codecs:
                offered = ", ".join(sorted({c.mimeType for c in media.rtp.codecs})) or "none"
                raise SfuError("no_codec", f"No {media.kind} codec we can forward was offered (offered: {offered}).")
            plan.append((media.kind, media.direction in ("sendonly", "sendrecv")))
            preferences.append(codec_preferences(codecs[0]))
        if not any(sends for _, sends in plan):
            raise SfuError("no_codec", "The offer sends no audio or video.")

        await self._remove_publisher(session_key, publisher_id, "unpublished")
        pc = RTCPeerConnection(self._configuration())
        publisher = _Publisher(publisher_id=publisher_id, pc=pc)
        try:
            for (kind, _), codec_prefs in zip(plan, preferences, strict=True):
                # One codec per track: what arrives is exactly what subscribers are offered.
                pc.addTransceiver(kind, direction="recvonly").setCodecPreferences(codec_prefs)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=self._allowed_sdp(pc, offer_sdp), type="offer"))
            # aiortc matched the offer's m-lines to our transceivers in order.
            for (_, sends), transceiver in zip(plan, pc.getTransceivers(), strict=True):
                track = self._published_track(publisher_id, transceiver) if sends else None
                if track is not None:
                    publisher.tracks[track.track_id] = track
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except SfuError:
            await pc.close()
            raise
        except Exception as exc:
            await pc.close()
            raise SfuError("bad_sdp", f"The offer was refused: {exc}") from None
        self._check_open()

        session = self._sessions.setdefault(session_key, _Session())
        session.publishers[publisher_id] = publisher
        publisher.media_watchdog = asyncio.get_running_loop().call_later(
            self._media_timeout, self._check_media, session_key, publisher
        )
        self._watch_connection(pc, lambda: self._publisher_failed(session_key, publisher))
        return {"sdp": pc.localDescription.sdp, "tracks": [track.info for track in publisher.tracks.values()]}

    def _published_track(self, publisher_id: str, transceiver: RTCRtpTransceiver) -> PublishedTrack | None:
        codec = negotiated_codec(transceiver)
        mid = transceiver.mid
        if codec is None or mid is None:
            return None
        kind: Literal["audio", "video"] = "video" if transceiver.kind == "video" else "audio"
        info: TrackInfo = {
            "track_id": f"{publisher_id}:{mid}",
            "publisher_id": publisher_id,
            "kind": kind,
            "codec": codec.mimeType,
            "mid": mid,
        }
        track = PublishedTrack(
            info=info,
            send_keyframe_request=functools.partial(request_keyframe, transceiver.receiver),
            codec=codec,
            keyframe_interval=self._keyframe_interval,
            delay_samples=self._delay_samples,
        )
        tap_receiver(transceiver.receiver, track.on_packet)
        return track

    # -- relaying between nodes ---------------------------------------------------------------------------------

    async def relay_publish(
        self,
        *,
        session_key: str,
        publisher_id: str,
        tracks: Sequence[RelayedTrack],
        request_keyframe: Callable[[str], None],
    ) -> RelayedPublisher:
        """Publish tracks that arrive from another SFU node (over the link) under the same publisher and track ids.

        `request_keyframe(track_id)` is called (rate-limited per track like any publisher's) when a subscriber here
        needs a keyframe: send it across. Relaying again replaces the previous relayed (or local) publisher.
        """
        self._check_open()
        if not tracks:
            raise SfuError("no_tracks", "A relayed publisher needs at least one track.")
        built: list[PublishedTrack] = []
        for relayed in tracks:
            info = relayed["info"]
            kind = info.get("kind")
            if kind not in ("audio", "video") or info.get("publisher_id") != publisher_id:
                raise SfuError(
                    "unknown_track", f"The relayed track {info.get('track_id')} does not fit {publisher_id}."
                )
            codec = codec_from_json(relayed["codec"], kind)
            track_id = info["track_id"]
            built.append(
                PublishedTrack(
                    info=TrackInfo(
                        track_id=track_id, publisher_id=publisher_id, kind=kind, codec=codec.mimeType, mid=info["mid"]
                    ),
                    send_keyframe_request=_ask_origin(request_keyframe, track_id),
                    codec=codec,
                    keyframe_interval=self._keyframe_interval,
                    delay_samples=self._delay_samples,
                    relayed=True,
                )
            )
        await self._remove_publisher(session_key, publisher_id, "unpublished")
        self._check_open()
        publisher = _Publisher(publisher_id=publisher_id, pc=None)
        for track in built:
            publisher.tracks[track.track_id] = track
        self._sessions.setdefault(session_key, _Session()).publishers[publisher_id] = publisher
        return RelayedPublisher(publisher)

    def track_codec(self, *, session_key: str, track_id: str) -> dict[str, Any]:
        """The negotiated codec of a track here, as JSON (for RelayedTrack on another node)."""
        return codec_to_json(self._find_track(session_key, track_id).codec)

    def tap_track(self, *, session_key: str, track_id: str, on_packet: PacketTap) -> Callable[[], None]:
        """Hand every packet of a track to `on_packet` (a link sender); returns "untap". A tap is not a subscriber:
        it asks for no keyframe (the far side does, through `request_keyframe`) and ends when the track closes."""
        return self._find_track(session_key, track_id).add_tap(on_packet)

    def request_keyframe(self, *, session_key: str, track_id: str) -> None:
        """Ask a track's publisher for a keyframe (a PLI from another node), rate-limited like subscribers' own."""
        self._find_track(session_key, track_id).request_keyframe()

    async def unpublish(self, *, session_key: str, publisher_id: str) -> None:
        """Stop a publisher; its subscribers are told through a `publisher_left` event."""
        if not await self._remove_publisher(session_key, publisher_id, "unpublished"):
            raise SfuError("unknown_peer", f"{publisher_id} is not publishing in this session.")

    async def set_recording_sink(self, *, session_key: str, publisher_id: str, sink: EncodedFrameSink | None) -> None:
        """Hand every frame of a publisher's tracks to `sink` (see EncodedFrameSink); None removes the current one.

        A replaced or removed sink is closed (in a worker thread); so is the sink when the publisher goes away.
        """
        publisher = self._current_publisher(session_key, publisher_id)
        if publisher is None:
            raise SfuError("unknown_peer", f"{publisher_id} is not publishing in this session.")
        previous, publisher.sink = publisher.sink, sink
        for track in publisher.tracks.values():
            track.attach_sink(sink, on_error=lambda: self._spawn(self._sink_failed(session_key, publisher)))
        if previous is not None and previous is not sink:
            await self._close_sink(previous)

    def is_recording(self, *, session_key: str, publisher_id: str) -> bool:
        """Whether a publisher's tracks are being written to a recording sink now."""
        publisher = self._current_publisher(session_key, publisher_id)
        return publisher is not None and publisher.sink is not None

    async def _sink_failed(self, session_key: str, publisher: _Publisher) -> None:
        sink, publisher.sink = publisher.sink, None
        for track in publisher.tracks.values():
            track.attach_sink(None)
        if sink is not None:
            await self._close_sink(sink)

    async def _close_sink(self, sink: EncodedFrameSink) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, sink.close)
        except Exception:
            logger.exception("closing a recording sink failed")

    # -- subscribing -------------------------------------------------------------------------------------------

    async def subscribe(
        self, *, session_key: str, subscriber_id: str, track_ids: Sequence[str] | None = None
    ) -> SubscribeOffer:
        """Create an offer sending the given tracks (default: every track not the subscriber's own).

        Subscribing again replaces the previous subscription (a new peer connection); answer with
        `subscriber_answer`. Video starts at a keyframe requested when the subscriber's connection is up.
        """
        self._check_open()
        session = self._sessions.get(session_key)
        available = {tid: t for p in session.publishers.values() for tid, t in p.tracks.items()} if session else {}
        if track_ids is None:
            chosen = [t for t in available.values() if t.publisher_id != subscriber_id]
        else:
            unknown = [tid for tid in track_ids if tid not in available]
            if unknown:
                raise SfuError("unknown_track", f"No such track in this session: {', '.join(unknown)}.")
            chosen = [available[tid] for tid in dict.fromkeys(track_ids)]
        if not chosen:
            raise SfuError("no_tracks", "Nothing is published in this session yet.")

        await self._remove_subscriber(session_key, subscriber_id, "resubscribed", notify=False)
        pc = RTCPeerConnection(self._configuration())
        subscriber = _Subscriber(subscriber_id=subscriber_id, pc=pc)
        transceivers: list[tuple[PublishedTrack, RTCRtpTransceiver]] = []
        try:
            for track in chosen:
                transceiver = pc.addTransceiver(IdleTrack(track.kind, track.track_id), direction="sendonly")
                transceiver.setCodecPreferences(codec_preferences(track.codec))
                set_stream_id(transceiver.sender, track.publisher_id)
                transceivers.append((track, transceiver))
            offer = await pc.createOffer()
            await pc.setLocalDescription(offer)
        except Exception:
            await pc.close()
            raise
        self._check_open()

        session = self._sessions.setdefault(session_key, _Session())
        offered: list[SubscribedTrack] = []
        for track, transceiver in transceivers:
            if track.closed or transceiver.mid is None:
                continue  # unpublished while we were negotiating: the transceiver stays idle
            leg = SubscriberLeg(track=track, subscriber_id=subscriber_id, transceiver=transceiver)
            subscriber.legs[track.track_id] = leg
            track.add_leg(leg)
            offered.append(
                {
                    "track_id": track.track_id,
                    "publisher_id": track.publisher_id,
                    "kind": track.info["kind"],
                    "codec": track.codec.mimeType,
                    "mid": transceiver.mid,
                }
            )
        session.subscribers[subscriber_id] = subscriber
        self._watch_connection(pc, lambda: self._subscriber_failed(session_key, subscriber))
        return {"sdp": pc.localDescription.sdp, "tracks": offered}

    async def subscriber_answer(self, *, session_key: str, subscriber_id: str, answer_sdp: str) -> None:
        """Apply the subscriber's answer to the offer from `subscribe`; media flows once ICE and DTLS are up."""
        subscriber = self._subscriber(session_key, subscriber_id)
        _parse_sdp(answer_sdp, "answer")
        if subscriber.pc.signalingState != "have-local-offer":
            raise SfuError("bad_sdp", "There is no offer waiting for an answer.")
        try:
            await subscriber.pc.setRemoteDescription(
                RTCSessionDescription(sdp=self._allowed_sdp(subscriber.pc, answer_sdp), type="answer")
            )
        except Exception as exc:
            raise SfuError("bad_sdp", f"The answer was refused: {exc}") from None

    # -- ICE ---------------------------------------------------------------------------------------------------

    async def add_ice_candidate(
        self,
        *,
        session_key: str,
        peer_id: str,
        role: PeerRole,
        candidate: str,
        sdp_mid: str | None = None,
        sdp_mline_index: int | None = None,
    ) -> None:
        """Add a trickled ICE candidate (the browser's `candidate` string; "" means end of candidates)."""
        pc = self._peer_connection(session_key, peer_id, role)
        transceivers = pc.getTransceivers()
        mids = {t.mid for t in transceivers if t.mid is not None}
        if sdp_mid is not None and sdp_mid not in mids:
            raise SfuError("unknown_mid", f"No media section with mid {sdp_mid!r}.")
        if sdp_mid is None and sdp_mline_index is not None and not 0 <= sdp_mline_index < len(transceivers):
            raise SfuError("unknown_mid", f"No media section at index {sdp_mline_index}.")
        if not candidate:
            # After a refused candidate, the ICE agent must keep waiting for the peer's checks (peer-reflexive).
            if pc not in self._candidates_refused:
                await pc.addIceCandidate(None)
            return
        if sdp_mid is None and sdp_mline_index is None:
            raise SfuError("bad_candidate", "A candidate needs sdpMid or sdpMLineIndex.")
        try:
            parsed = aiortc_sdp.candidate_from_sdp(candidate.removeprefix("candidate:"))
        except (AssertionError, ValueError, IndexError):
            raise SfuError("bad_candidate", "The ICE candidate could not be parsed.") from None
        host = candidate_address(candidate) or parsed.ip
        refusal = self._ice_policy.refusal(host)
        if refusal is not None:
            # Not an error: browsers name their private and mDNS addresses as a matter of course.
            logger.debug("ignored a remote candidate of %s (%s): %s", peer_id, refusal, host)
            self._candidates_refused.add(pc)
            return
        taken = self._candidates_taken.get(pc, 0)
        if taken >= self._ice_policy.max_candidates:
            raise SfuError(
                "too_many_candidates", f"A connection may name at most {self._ice_policy.max_candidates} candidates."
            )
        self._candidates_taken[pc] = taken + 1
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        await pc.addIceCandidate(parsed)

    def _allowed_sdp(self, pc: RTCPeerConnection, sdp: str) -> str:
        """`sdp` with only the candidates the policy lets the SFU try (counted towards the peer's cap)."""
        allowed, kept, dropped = filter_sdp_candidates(sdp, self._ice_policy)
        if dropped:
            logger.debug("ignored %d remote candidates of an SDP", dropped)
            self._candidates_refused.add(pc)
        self._candidates_taken[pc] = self._candidates_taken.get(pc, 0) + kept
        return allowed

    # -- leaving -----------------------------------------------------------------------------------------------

    async def leave(self, *, session_key: str, peer_id: str) -> None:
        """A peer left the session: stop what it published and what it received (idempotent)."""
        await self._remove_publisher(session_key, peer_id, "left")
        await self._remove_subscriber(session_key, peer_id, "left", notify=False)

    async def close(self) -> None:
        """Close every peer connection and free every task and timer; the Sfu refuses further calls."""
        self._closed = True
        for session_key, session in list(self._sessions.items()):
            for publisher_id in list(session.publishers):
                await self._remove_publisher(session_key, publisher_id, "closed")
            for subscriber_id in list(session.subscribers):
                await self._remove_subscriber(session_key, subscriber_id, "closed", notify=True)
        # Pending removals are short (close a pc, emit an event): let them finish rather than cancel them.
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._sessions.clear()

    # -- reading -----------------------------------------------------------------------------------------------

    def tracks(self, session_key: str) -> list[TrackInfo]:
        session = self._sessions.get(session_key)
        if session is None:
            return []
        return [track.info for p in session.publishers.values() for track in p.tracks.values()]

    def peer_counts(self) -> tuple[int, int, int]:
        """(publishers, subscribers, tracks) over every session: the load an SFU node advertises."""
        sessions = self._sessions.values()
        return (
            sum(len(session.publishers) for session in sessions),
            sum(len(session.subscribers) for session in sessions),
            sum(len(publisher.tracks) for session in sessions for publisher in session.publishers.values()),
        )

    def stats(self, session_key: str) -> SessionStats:
        """Per publisher track and per subscriber leg: packets, bytes, bitrate, keyframe requests."""
        session = self._sessions.get(session_key)
        if session is None:
            return {"publishers": {}, "subscribers": {}}
        return {
            "publishers": {pid: [t.stats() for t in p.tracks.values()] for pid, p in session.publishers.items()},
            "subscribers": {sid: [leg.stats() for leg in s.legs.values()] for sid, s in session.subscribers.items()},
        }

    def forwarding_delay_ms(self, *, reset: bool = False) -> dict[str, float]:
        """p50/p95/max of packet-in to packet-out per leg (needs measure_forwarding_delay=True)."""
        samples = sorted(self._delay_samples or ())
        if reset and self._delay_samples is not None:
            self._delay_samples.clear()
        if not samples:
            return {"count": 0, "p50": 0.0, "p95": 0.0, "max": 0.0}
        quantiles = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else samples * 99
        return {
            "count": len(samples),
            "p50": quantiles[49] * 1000,
            "p95": quantiles[94] * 1000,
            "max": samples[-1] * 1000,
        }

    # -- internals ---------------------------------------------------------------------------------------------

    def _configuration(self) -> RTCConfiguration:
        # max-bundle: every m-line on the first one's transport from the start. With aiortc's default ("balanced",
        # one transport per kind) a BUNDLE answer moves only the first audio (and first video) m-line onto the
        # bundle's transport and stops the old one under the others: a subscriber to two rooms got one room's audio.
        return RTCConfiguration(iceServers=self._ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    def _check_open(self) -> None:
        if self._closed:
            raise SfuError("closed", "The SFU is shutting down.")

    def _subscriber(self, session_key: str, subscriber_id: str) -> _Subscriber:
        session = self._sessions.get(session_key)
        subscriber = session.subscribers.get(subscriber_id) if session else None
        if subscriber is None:
            raise SfuError("unknown_peer", f"{subscriber_id} has no subscription in this session.")
        return subscriber

    def _peer_connection(self, session_key: str, peer_id: str, role: PeerRole) -> RTCPeerConnection:
        if role == "subscriber":
            return self._subscriber(session_key, peer_id).pc
        session = self._sessions.get(session_key)
        publisher = session.publishers.get(peer_id) if session else None
        if publisher is None or publisher.pc is None:
            raise SfuError("unknown_peer", f"{peer_id} is not publishing in this session.")
        return publisher.pc

    def _find_track(self, session_key: str, track_id: str) -> PublishedTrack:
        session = self._sessions.get(session_key)
        for publisher in session.publishers.values() if session else ():
            if track_id in publisher.tracks:
                return publisher.tracks[track_id]
        raise SfuError("unknown_track", f"No such track in this session: {track_id}.")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _watch_connection(self, pc: RTCPeerConnection, on_failed: Callable[[], Coroutine[Any, Any, None]]) -> None:
        def on_state_change() -> None:
            # "closed" here is the remote end closing: when we close a pc we have already forgotten it.
            if pc.connectionState in ("failed", "closed"):
                self._spawn(on_failed())

        # pc.close() removes all listeners, which also breaks this closure's reference cycle.
        pc.on("connectionstatechange", on_state_change)

    async def _publisher_failed(self, session_key: str, publisher: _Publisher) -> None:
        if self._current_publisher(session_key, publisher.publisher_id) is publisher:
            await self._remove_publisher(session_key, publisher.publisher_id, "failed")

    async def _subscriber_failed(self, session_key: str, subscriber: _Subscriber) -> None:
        session = self._sessions.get(session_key)
        if session is not None and session.subscribers.get(subscriber.subscriber_id) is subscriber:
            await self._remove_subscriber(session_key, subscriber.subscriber_id, "failed", notify=True)

    def _current_publisher(self, session_key: str, publisher_id: str) -> _Publisher | None:
        session = self._sessions.get(session_key)
        return session.publishers.get(publisher_id) if session else None

    def _check_media(self, session_key: str, publisher: _Publisher) -> None:
        publisher.media_watchdog = None
        if self._current_publisher(session_key, publisher.publisher_id) is not publisher:
            return
        if all(track.first_packet_at is None for track in publisher.tracks.values()):
            logger.info("publisher %s sent no media within %.1f s", publisher.publisher_id, self._media_timeout)
            self._spawn(self._expire_publisher(session_key, publisher.publisher_id))

    async def _expire_publisher(self, session_key: str, publisher_id: str) -> None:
        await self._remove_publisher(session_key, publisher_id, "media_timeout")

    async def _remove_publisher(self, session_key: str, publisher_id: str, reason: PublisherLeftReason) -> bool:
        session = self._sessions.get(session_key)
        publisher = session.publishers.pop(publisher_id, None) if session else None
        if session is None or publisher is None:
            return False
        if publisher.media_watchdog is not None:
            publisher.media_watchdog.cancel()
        subscriber_ids: set[str] = set()
        for track_id, track in publisher.tracks.items():
            for subscriber_id in track.legs:
                subscriber_ids.add(subscriber_id)
                subscriber = session.subscribers.get(subscriber_id)
                if subscriber is not None:
                    subscriber.legs.pop(track_id, None)
            track.close()
        sink, publisher.sink = publisher.sink, None
        if sink is not None:
            await self._close_sink(sink)
        if publisher.pc is not None:
            await _close_peer_connection(publisher.pc)
        self._forget_if_empty(session_key)
        event: PublisherLeftEvent = {
            "type": "publisher_left",
            "session_key": session_key,
            "publisher_id": publisher_id,
            "reason": reason,
            "track_ids": list(publisher.tracks),
            "subscriber_ids": sorted(subscriber_ids),
        }
        self._emit(event)
        return True

    async def _remove_subscriber(
        self, session_key: str, subscriber_id: str, reason: SubscriberLeftReason, *, notify: bool
    ) -> bool:
        session = self._sessions.get(session_key)
        subscriber = session.subscribers.pop(subscriber_id, None) if session else None
        if subscriber is None:
            return False
        for leg in subscriber.legs.values():
            leg.track.remove_leg(leg)
        subscriber.legs.clear()
        await _close_peer_connection(subscriber.pc)
        self._forget_if_empty(session_key)
        if notify:
            event: SubscriberLeftEvent = {
                "type": "subscriber_left",
                "session_key": session_key,
                "subscriber_id": subscriber_id,
                "reason": reason,
            }
            self._emit(event)
        return True

    def _forget_if_empty(self, session_key: str) -> None:
        session = self._sessions.get(session_key)
        if session is not None and not session.publishers and not session.subscribers:
            del self._sessions[session_key]

    def _emit(self, event: SfuEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            logger.exception("SFU event handler failed for %s", event["type"])
