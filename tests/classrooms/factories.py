from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from classrooms.models import LiveSession, Room, SessionState
from courses.models import Enrolment


class RoomFactory(factory.django.DjangoModelFactory[Room]):
    class Meta:
        model = Room

    name = factory.Sequence(lambda n: f"Room {n}")
    city = "singapore"
    capacity = 30


class LiveSessionFactory(factory.django.DjangoModelFactory[LiveSession]):
    class Meta:
        model = LiveSession
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Live session {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=5))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=1))
    state = SessionState.LIVE

    @factory.post_generation
    def rooms(session: LiveSession, create: bool, extracted: Any, **kwargs: Any) -> None:
        # factory_boy passes the session just built, not the factory.
        if create and extracted:
            session.rooms.set(extracted)


def enrol(user: Any, course: Any) -> Enrolment:
    return Enrolment.objects.create(user=user, course=course, course_key=course.translation_key)
