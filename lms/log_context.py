"""Who a log line is about: the request id of an HTTP request and the socket (and its live session) of a websocket.

Both live in context variables, set once where a request or a socket enters (`RequestIdMiddleware` for HTTP,
`SocketLogContext` around the websocket router) and read by `LogContextFilter`, which every handler of the site's
LOGGING carries (lms/settings/observability.py): a line logged anywhere below, in a thread of
`database_sync_to_async` too (it copies the context), names them. An incoming `X-Request-ID` (a proxy's, a
client's) is kept when it is well formed, so one id follows a request through the proxy and the app; the response
carries it back.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

request_id_var: ContextVar[str] = ContextVar("corridor_request_id", default="")
session_id_var: ContextVar[str] = ContextVar("corridor_session_id", default="")

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# A live session's sockets (ws/sessions/<id>/ and its media/); a room agent's socket names its room.
_SESSION_PATH = re.compile(r"^/ws/sessions/(\d+)/")
_ROOM_PATH = re.compile(r"^/ws/rooms/([^/]+)/")


def request_id_from(value: str | bytes | None) -> str:
    """The incoming id if it is one we can log safely (no spaces or control characters, at most 128), else a new one."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if value and _ACCEPTED_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the request id for the request's log lines and returns it in `X-Request-ID` (sync and async)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        token = request_id_var.set(request_id_from(request.headers.get(REQUEST_ID_HEADER)))
        try:
            response: HttpResponseBase = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id_var.get()
            return response
        finally:
            request_id_var.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        token = request_id_var.set(request_id_from(request.headers.get(REQUEST_ID_HEADER)))
        try:
            response: HttpResponseBase = await self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id_var.get()
            return response
        finally:
            request_id_var.reset(token)


ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class SocketLogContext:
    """ASGI middleware for websockets: every line logged while a socket lives names its request id (the upgrade
    request's X-Request-ID, or a new one) and its live session (`session_id`, or `room:<slug>` for a room agent)."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        headers = dict(scope.get("headers") or [])
        path = str(scope.get("path", ""))
        found = _SESSION_PATH.match(path)
        room = _ROOM_PATH.match(path)
        request_token = request_id_var.set(request_id_from(headers.get(REQUEST_ID_HEADER.lower().encode())))
        session_token = session_id_var.set(found.group(1) if found else f"room:{room.group(1)}" if room else "")
        try:
            await self.inner(scope, receive, send)
        finally:
            request_id_var.reset(request_token)
            session_id_var.reset(session_token)


class LogContextFilter(logging.Filter):
    """Adds `request_id` and `session_id` ("" when none) to every record, for both formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.session_id = session_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    """The human-readable lines (the default): time, level, logger, message, then the ids when there are any."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={value}" for name in ("request_id", "session_id") if (value := getattr(record, name, ""))]
        return f"{line} [{' '.join(ids)}]" if ids else line
