"""The websocket transport as deployed (uvicorn from lms/serve.py): a frame over the cap is closed by the server before
the application parses it, and no per-message compression is negotiated. No browser: a websockets client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from django.conf import settings
from websockets.exceptions import ConnectionClosed

from lms.serve import WS_MAX_BYTES
from tests.support.browser import AsgiServer
from tests.support.live import a_live_session, session_cookie

pytestmark = [pytest.mark.e2e, pytest.mark.serial]


async def open_live_socket(server: AsgiServer, cookie: str, session_id: int) -> Any:
    socket = await websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/sessions/{session_id}/",
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"},
        max_size=None,
    )
    welcome = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert welcome["type"] == "welcome"
    return socket


def test_a_frame_over_the_cap_is_closed_by_the_server_and_compression_is_not_offered(
    asgi_live_server: AsgiServer,
) -> None:
    live = a_live_session()
    cookie = session_cookie(live.trainee)

    async def run() -> None:
        socket = await open_live_socket(asgi_live_server, cookie, live.session.pk)
        # The client offered permessage-deflate (websockets does by default); the server declined it.
        assert socket.response.headers.get("Sec-WebSocket-Extensions") is None
        # Under the cap: the application answers (its own 16 KB limit for the live socket), the socket stays open.
        await socket.send(json.dumps({"type": "question.ask", "text": "x" * 30_000}))
        reply = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert reply["code"] == "too_large"
        # Over the cap: uvicorn closes with 1009 (message too big), no application frame comes back.
        await socket.send("x" * (WS_MAX_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

    asyncio.run(run())
