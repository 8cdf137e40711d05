"""What every Corridor websocket does to an incoming frame before its consumer reads it.

The live-session, media and device sockets share these guards so that a client sees the same error codes
everywhere (docs/live-protocol.md): a binary or oversized frame, text that is not JSON, JSON that is not an object
with a string `type`, and too many frames in a second. Each raises a CorridorError; the consumer answers with an
error frame and keeps the socket open.

Then each message type's fields are checked against its schema (a `MessageSchema`), in one place: a consumer's
table maps a type to a `Route` (schema and handler), and the handler receives the validated, typed message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, ValidationError

from lms.errors import CorridorError

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

Handler = TypeVar("Handler")
Consumer = TypeVar("Consumer")
Message = TypeVar("Message", bound="MessageSchema")
Reply = TypeVar("Reply")


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


class MessageSchema(BaseModel):
    """The fields of one client message type. `type` and `ref` are the frame's own and are not repeated here.

    Strict: JSON's types are taken as they are (no "5" for 5, no `true` for 1), numbers are finite, unknown fields
    are ignored. A field that fails its check is refused with the code `error_codes` names for it (the protocol's
    documented code, such as `invalid_text`), or `invalid_message`; the message names the field.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore", allow_inf_nan=False)
    error_codes: ClassVar[Mapping[str, str]] = {}


class NoFields(MessageSchema):
    """A message that is its `type` alone (a heartbeat, an unpublish)."""


def validate_message(schema: type[Message], message: dict[str, Any]) -> Message:
    """The message checked against its type's schema, or one CorridorError naming the first field that is wrong."""
    try:
        return schema.model_validate(message)
    except ValidationError as invalid:
        problem = invalid.errors(include_url=False, include_context=False, include_input=False)[0]
        location = problem["loc"]
        field = ".".join(str(part) for part in location)
        code = schema.error_codes.get(str(location[0]), "invalid_message") if location else "invalid_message"
        if problem["type"] == "missing":
            text = _("`%(field)s` is missing.") % {"field": field}
        else:
            text = _("`%(field)s` is not valid: %(problem)s.") % {"field": field, "problem": problem["msg"]}
        raise CorridorError(code, text) from None


@dataclass(frozen=True)
class Route(Generic[Consumer, Message, Reply]):
    """One message type of a socket: the schema its fields are checked against, and the handler of the checked
    message. Calling the route validates, then handles: `await handler_for(ROUTES, message)(consumer, message)`."""

    schema: type[Message]
    handler: Callable[[Consumer, Message], Awaitable[Reply]]

    async def __call__(self, consumer: Consumer, message: dict[str, Any]) -> Reply:
        return await self.handler(consumer, validate_message(self.schema, message))


def with_ref(frame: dict[str, Any], ref: Any) -> dict[str, Any]:
    """A reply or error carries the `ref` of the message it answers, when the client gave one."""
    return {**frame, "ref": ref} if ref is not None else frame


def error_frame(code: str, message: str, ref: Any) -> dict[str, Any]:
    return with_ref({"type": "error", "code": code, "message": message}, ref)


# A socket sending this many times its limit in one second is not a busy page but a flood: it is closed.
FLOOD_FACTOR = 5


class FrameRateLimit:
    """At most `per_second` frames in each one-second window of one socket. Every frame spends, before it is parsed:
    a malformed or oversized frame costs as much as a good one."""

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.window_started = time.monotonic()
        self.count = 0

    def spend(self) -> None:
        """CorridorError `rate_limited` for a frame over the limit (it is not handled), `flooded` once the socket
        has sent FLOOD_FACTOR times its limit within the second (the consumer then closes it)."""
        now = time.monotonic()
        if now - self.window_started >= 1.0:
            self.window_started, self.count = now, 0
        self.count += 1
        if self.count > self.per_second * FLOOD_FACTOR:
            raise CorridorError("flooded", _("Far too many messages: this connection is closed."))
        if self.count > self.per_second:
            raise CorridorError("rate_limited", _("Too many messages; slow down."))
