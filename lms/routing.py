"""Every websocket route of the site (lms/asgi.py wraps them in origin checks and session auth).

- the live session: Q&A, polls, hands, attendance presence (classrooms/consumers.py, docs/live-protocol.md);
- its media signaling: publish, subscribe, trickle ICE, invite to speak (streaming/consumers.py);
- a room agent's control socket: health reports and operator commands (classrooms/device_consumer.py);
- a candidate's exam page: pushes when the paper changes, presence for the console (exams/consumers.py).
- an exam sitting's invigilator console: its candidates' state, pushed (exams/console_consumer.py).
"""

from django.urls import URLPattern, path

from classrooms.consumers import LiveSessionConsumer
from classrooms.device_consumer import RoomAgentConsumer
from exams.console_consumer import SittingConsoleConsumer
from exams.consumers import ExamPaperConsumer
from streaming.consumers import MediaConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/sessions/<int:session_id>/", LiveSessionConsumer.as_asgi()),
    path("ws/sessions/<int:session_id>/media/", MediaConsumer.as_asgi()),
    path("ws/rooms/<str:room>/agent/", RoomAgentConsumer.as_asgi()),
    path("ws/exams/papers/<int:paper_id>/", ExamPaperConsumer.as_asgi()),
    path("ws/exams/sittings/<int:sitting_id>/console/", SittingConsoleConsumer.as_asgi()),
]
