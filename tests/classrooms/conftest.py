import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from lms.asgi import application
from tests.support.live import LiveClient, session_cookie


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Any]]:
    opened: list[LiveClient] = []

    async def open_socket(
        user: Any, session_id: int, *, origin: str = "http://testserver"
    ) -> tuple[bool, Any, LiveClient]:
        headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
        if user is not None:
            cookie = await sync_to_async(session_cookie)(user)
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        communicator = WebsocketCommunicator(application, f"/ws/sessions/{session_id}/", headers=headers)
        connected, subprotocol = await communicator.connect()
        client = LiveClient(communicator)
        opened.append(client)
        return connected, subprotocol, client

    yield open_socket
    for client in opened:
        # The server may already have closed it.
        with contextlib.suppress(Exception):
            await client.close()
