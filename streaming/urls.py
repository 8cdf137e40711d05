"""Recording links: `<id>/` checks the viewer, then redirects to a short-lived signed URL."""

from typing import Any

from django.urls import path

from streaming import views

app_name = "streaming"

urlpatterns: list[Any] = [
    path("<int:recording_id>/", views.recording_watch, name="recording-watch"),
    path("file/<str:token>/", views.recording_file, name="recording-file"),
    # A session's one composed file.
    path("sessions/<int:composition_id>/", views.composition_watch, name="composition-watch"),
    path("sessions/file/<str:token>/", views.composition_file, name="composition-file"),
    # Where a session's recordings are stored (its instructor or an administrator chooses).
    path("sessions/<int:session_id>/storage/", views.session_storage, name="session-storage"),
    path("sessions/<int:composition_id>/progress/", views.composition_progress, name="composition-progress"),
]
