from django.urls import path

from classrooms.consumers import LiveSessionConsumer
from classrooms.device_consumer import RoomAgentConsumer
from streaming.consumers import MediaConsumer

websocket_urlpatterns = [
    path("ws/sessions/<int:session_id>/", LiveSessionConsumer.as_asgi()),
    path("ws/sessions/<int:session_id>/media/", MediaConsumer.as_asgi()),
    path("ws/rooms/<str:room>/agent/", RoomAgentConsumer.as_asgi()),
]
