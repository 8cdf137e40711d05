"""A one-to-one live session on the sockets: its two people join the live and media sockets (the other person
publishes without being invited: the call is theirs); a third person enrolled in the course is refused on both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from classrooms.models import LiveSession
from classrooms.services.sessions import session_schedule
from lms.close_codes import CloseCode
from tests import factories
from tests.classrooms.factories import enrol
from tests.support.live import joined, refused_with
from tests.support.media import joined as media_joined

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def one_to_one(live: Any) -> tuple[LiveSession, Any, Any]:
    """A live one-to-one of `live`'s course between a supervisor and an intern enrolled in the course."""
    supervisor = factories.supervisor(first_name="Grace", last_name="Ho")
    intern = factories.trainee(first_name="Mei", last_name="Tan")
    enrol(intern, live.course)
    starts_at = timezone.now() - timedelta(minutes=1)
    session = session_schedule(
        title="Check-in",
        course=live.course,
        instructor=supervisor,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30) + timedelta(hours=2),
        rooms=[],
        one_to_one_with=intern,
    )
    LiveSession.objects.filter(pk=session.pk).update(state="live", live_since=timezone.now())
    session.refresh_from_db()
    return session, supervisor, intern


async def test_its_two_people_join_and_a_trainee_of_the_course_is_refused(connect: Any, live: Any) -> None:
    session, grace, intern = await sync_to_async(one_to_one)(live)
    supervisor = await joined(connect, grace, session)
    assert supervisor.welcome["you"]["role"] == "instructor" and supervisor.welcome["you"]["moderator"]
    other = await joined(connect, intern, session)
    assert other.welcome["you"] == {"user_id": intern.pk, "role": "trainee", "moderator": False}

    for stranger in (live.trainee, live.operator, live.instructor):  # enrolled; operating a room; teaching the course
        _, _, client = await connect(stranger, session.pk)
        frame, code = await refused_with(client)
        assert (frame["code"], code) == ("forbidden", CloseCode.FORBIDDEN)


async def test_on_the_media_socket_the_other_person_may_publish_and_a_third_is_refused(media: Any, live: Any) -> None:
    session, grace, intern = await sync_to_async(one_to_one)(live)
    _, welcome = await media_joined(media, intern, session.pk)
    assert welcome["can_publish"] is True
    _, welcome = await media_joined(media, grace, session.pk)
    assert welcome["can_publish"] is True
    # In a class, an enrolled trainee publishes only once invited.
    _, welcome = await media_joined(media, live.trainee, live.session.pk)
    assert welcome["can_publish"] is False

    _connected, client = await media(live.trainee, session.pk)
    frame, code = await refused_with(client)
    assert (frame["code"], code) == ("forbidden", CloseCode.FORBIDDEN)
