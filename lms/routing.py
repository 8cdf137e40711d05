from typing import Any

from classrooms.routing import websocket_urlpatterns as classroom_sockets

websocket_urlpatterns: list[Any] = [*classroom_sockets]
