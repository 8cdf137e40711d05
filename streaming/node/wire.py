"""The messages between app processes and SFU nodes (channel-layer messages: msgpack-serialised dicts).

App → node, on the node's channel:
    {"type": "sfu.request", "id": str, "reply_to": str, "op": str, "session_id": int,
     "socket": SocketInfo | None, "args": {...}}
Node → app, on the `reply_to` channel (one per app process):
    {"type": "sfu.reply", "id": str, "ok": True, "result": ...}
    {"type": "sfu.reply", "id": str, "ok": False, "code": str, "message": str}
Node → a media socket, on its channel (MediaConsumer.media_frame):
    {"type": "media.frame", "frame": {...}}   (media.tracks, media.publisher_left, media.subscription_lost, ...)
Node → node, on the other node's channel, the same request and reply (`streaming.node.cascade`), with no socket:
    op "link.tracks": the session's tracks published on that node, each with its codec (`codec`);
    op "link.pull", args {"link_address": "host:port", "ssrcs": {track id: ssrc}}: send those tracks' RTP over the
        link to that address with those SSRCs (once per track and peer, however often asked);
    op "link.drop", args {"link_address": "host:port", "track_ids": [...]}: stop sending them.

A message that does not parse is logged and dropped by whoever receives it (`Malformed`).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

Op = Literal[
    "join",
    "leave",
    "tracks",
    "may_speak",
    "invite",
    "revoke",
    "publish",
    "subscribe",
    "answer",
    "candidate",
    "unpublish",
    "stop_recording",
    "record",
    "link.tracks",
    "link.pull",
    "link.drop",
]
OPS: frozenset[str] = frozenset(Op.__args__)  # type: ignore[attr-defined]
SOCKET_OPS: frozenset[str] = frozenset(
    {"join", "leave", "publish", "subscribe", "answer", "candidate", "unpublish", "record"}
)


class Malformed(ValueError):
    """A message from the other side that cannot be used: log it and drop it."""


class SocketInfo(TypedDict):
    """A media socket as the node knows it: enough to describe its tracks and to send it frames."""

    session_id: int
    user_id: int
    peer_id: str
    role: str
    room: dict[str, Any] | None
    channel_name: str
    name: str  # the publisher's display name, for its tile
    city: str  # the city whose node serves the socket (streaming.node.client.socket_city)


class Request(TypedDict):
    type: Literal["sfu.request"]
    id: str
    reply_to: str
    op: Op
    session_id: int
    socket: SocketInfo | None
    args: dict[str, Any]


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_socket(value: Any, session_id: int) -> SocketInfo:
    if not isinstance(value, dict):
        raise Malformed("`socket` is not an object")
    if value.get("session_id") != session_id or not _int(value.get("user_id")):
        raise Malformed("`socket` names another session, or no user id")
    for name in ("peer_id", "role", "channel_name"):
        if not isinstance(value.get(name), str) or not value[name]:
            raise Malformed(f"`socket.{name}` is not a string")
    if value.get("room") is not None and not isinstance(value.get("room"), dict):
        raise Malformed("`socket.room` is not an object")
    found = {key: value.get(key) for key in SocketInfo.__annotations__}
    found["name"] = value["name"] if isinstance(value.get("name"), str) else ""  # absent from an older app
    found["city"] = value["city"] if isinstance(value.get("city"), str) else ""
    return cast(SocketInfo, found)


def parse_request(message: Any) -> Request:
    if not isinstance(message, dict) or message.get("type") != "sfu.request":
        raise Malformed("not an sfu.request")
    for name in ("id", "reply_to", "op"):
        if not isinstance(message.get(name), str) or not message[name]:
            raise Malformed(f"`{name}` is not a string")
    if message["op"] not in OPS:
        raise Malformed(f"unknown op {message['op']!r}")
    session_id = message.get("session_id")
    if not isinstance(session_id, int) or isinstance(session_id, bool):
        raise Malformed("`session_id` is not an integer")
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise Malformed("`args` is not an object")
    socket = message.get("socket")
    if message["op"] in SOCKET_OPS:
        socket = parse_socket(socket, session_id)
    return cast(Request, {**message, "socket": socket, "args": args})


def parse_reply(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or message.get("type") != "sfu.reply" or not isinstance(message.get("id"), str):
        raise Malformed("not an sfu.reply")
    if not isinstance(message.get("ok"), bool):
        raise Malformed("`ok` is not a boolean")
    if not message["ok"] and not (isinstance(message.get("code"), str) and isinstance(message.get("message"), str)):
        raise Malformed("an error reply without code and message")
    return message


def arg_str(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str):
        raise Malformed(f"`args.{name}` is not a string")
    return value


def arg_optional_str(args: dict[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is not None and not isinstance(value, str):
        raise Malformed(f"`args.{name}` is not a string")
    return value


def arg_int(args: dict[str, Any], name: str) -> int:
    value = args.get(name)
    if not _int(value):
        raise Malformed(f"`args.{name}` is not an integer")
    return cast(int, value)
