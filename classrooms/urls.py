"""Live-session pages (under the locale prefix) and the calendar feed (without it)."""

from typing import Any

from django.urls import include, path

from classrooms.views import attendance, calendar_feed, devices, live, timetable

app_name = "classrooms"

urlpatterns: list[Any] = [
    path("", include(live.urlpatterns)),
    path("", include(attendance.urlpatterns)),
    path("", include(timetable.urlpatterns)),
    path("", include(devices.urlpatterns)),
]

feed_urlpatterns: list[Any] = [path("", include((calendar_feed.urlpatterns, "calendar"), namespace="calendar"))]
