"""A class for attendance tests, built from factories: one session in two rooms, at a fixed time."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol

# 09:00 in Singapore, on a whole minute (so on a check-in window's boundary).
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    """A moment of the test session: minutes (and seconds) after it starts."""
    return T0 + timedelta(minutes=minutes, seconds=seconds)


@dataclass
class Class:
    session: Any
    course: Any
    room: Any
    other_room: Any
    operator: Any
    other_operator: Any
    instructor: Any
    admin: Any
    outsider: Any
    trainees: list[Any] = field(default_factory=list)

    @property
    def trainee(self) -> Any:
        return self.trainees[0]

    def add_trainees(self, count: int, **kwargs: Any) -> list[Any]:
        added = [factories.trainee(**kwargs) for _ in range(count)]
        for user in added:
            enrol(user, self.course)
        self.trainees += added
        return added


def a_class(*, trainees: int = 1, starts_at: datetime | None = T0, minutes: int = 60) -> Class:
    """A session of `minutes` in two rooms (each with its operator), an instructor and enrolled trainees.

    `starts_at=None` starts it five minutes ago (for pages, which use the real clock).
    """
    course = factories.course_with_lessons(factories.site_catalogue(), modules=1, lessons=1)
    room, other_room = RoomFactory.create(city="singapore"), RoomFactory.create(city="chongqing")
    operator, other_operator = factories.operator(), factories.operator()
    room.operators.add(operator)
    other_room.operators.add(other_operator)
    instructor = factories.instructor()
    timing = {} if starts_at is None else {"starts_at": starts_at, "ends_at": starts_at + timedelta(minutes=minutes)}
    session = LiveSessionFactory.create(course=course, instructor=instructor, rooms=[room, other_room], **timing)
    group = Class(
        session=session,
        course=course,
        room=room,
        other_room=other_room,
        operator=operator,
        other_operator=other_operator,
        instructor=instructor,
        admin=factories.administrator(),
        outsider=factories.trainee(),
    )
    group.add_trainees(trainees)
    return group
