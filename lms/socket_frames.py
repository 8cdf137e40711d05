"""What every Corridor websocket does to an incoming frame before its consumer reads it.

The live-session, media and device sockets share these guards so that a client sees the same error codes
everywhere (docs/live-protocol.md): a binary or oversized frame, text that is not JSON, JSON that is not an object
with a string `type`, and too many frames in a second. Each raises a CorridorError; the consumer answers with an
error frame and keeps the socket open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from django.utils.translation import gettext as _

from lms.errors import CorridorError

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

Handler = TypeVar("Handler")


def parse_json_frame(text_data: str | None, *, max_bytes: int, too_large: str | _StrPromise) -> dict[str, Any]:
    """The frame as a JSON object with a string `type`; `too_large` is the message that names the limit."""
    if text_data is None:
        raise CorridorError("invalid_message", _("Messages are JSON text frames."))
    # Cheap bound first: a UTF-8 character is at most 4 bytes, so only long text needs encoding to measure.
    if len(text_data) * 4 > max_bytes and len(text_data.encode()) > max_bytes:
        raise CorridorError("too_large", too_large)
    try:
        message = json.loads(text_data)
    except ValueError:
        raise CorridorError("malformed_json", _("That message is not valid JSON.")) from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise CorridorError("invalid_message", _("A message is a JSON object with a string `type`."))
    return message


def handler_for(handlers: Mapping[str, Handler], message: dict[str, Any]) -> Handler:
    """The consumer's handler for the message's `type`, or an `unknown_type` error."""
    handler = handlers.get(message["type"])
    if handler is None:
        raise CorridorError("unknown_type", _("Unknown message type: %(type)s") % {"type": message["type"]})
    return handler


def with_ref(frame: dict[str, Any], ref: Any) -> dict[str, Any]:
    """A reply or error carries the `ref` of the message it answers, when the client gave one."""
    return {**frame, "ref": ref} if ref is not None else frame


def error_frame(code: str, message: str, ref: Any) -> dict[str, Any]:
    return with_ref({"type": "error", "code": code, "message": message}, ref)


class FrameRateLimit:
    """At most `per_second` frames in each one-second window of one socket."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.window_started = time.monotonic()
        self.count = 0

    def spend(self) -> None:
        now = time.monotonic()
        if now - self.window_started >= 1.0:
            self.window_started, self.count = now, 0
        self.count += 1
        if self.count > self.per_second:
            raise CorridorError("rate_limited", _("Too many messages; slow down."))
