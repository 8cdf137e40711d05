"""streaming/csp.py: with SFU nodes, the live page's policy lets it time each city's node probe, and only that page."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from streaming import csp
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, enrol

PROBES = {"singapore": "http://10.0.0.1:9001/probe", "chongqing": "https://cq.corridor.example/probe"}


async def two_probes() -> dict[str, str]:
    return PROBES


def connect_src(response: Any) -> list[str]:
    for directive in response.headers["Content-Security-Policy"].split(";"):
        words = directive.split()
        if words and words[0] == "connect-src":
            return words[1:]
    raise AssertionError("no connect-src")


@pytest.mark.django_db
def test_the_live_page_may_fetch_each_citys_probe(catalogue: Any, settings: Any, monkeypatch: Any) -> None:
    settings.SFU_MODE = "nodes"
    monkeypatch.setattr(csp, "media_probes", two_probes)
    course = factories.course_with_lessons(catalogue)
    session = LiveSessionFactory.create(course=course, instructor=factories.instructor())
    trainee = factories.trainee()
    enrol(trainee, course)
    client = Client()
    client.force_login(trainee)

    live = client.get(reverse("classrooms:live-session", kwargs={"session_id": session.pk}))
    assert live.status_code == 200
    assert connect_src(live) == ["'self'", "http://10.0.0.1:9001", "https://cq.corridor.example"]
    assert connect_src(client.get(reverse("classrooms:timetable"))) == ["'self'"]

    settings.SFU_MODE = "local"
    again = Client()
    again.force_login(trainee)
    assert connect_src(again.get(reverse("classrooms:live-session", kwargs={"session_id": session.pk}))) == ["'self'"]
