from django.urls import path

from classrooms.consumers import LiveSessionConsumer

websocket_urlpatterns = [path("ws/sessions/<int:session_id>/", LiveSessionConsumer.as_asgi())]
