"""The cast and the world of the role × action tables (tests/security/): every kind of person the product knows,
each with a counterpart who must not reach the same things, and the objects they act on.

Actors (`ACTORS`): a visitor; a trainee enrolled in course A and one who is not; the instructor of session A (course A,
room A) and the instructor of session B (course B, room B); the operators of room A and of room B; an administrator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone
from wagtail.documents.models import Document

from classrooms.models import Device, DeviceKind, LiveSession, Room
from courses.models import CoursePage, LessonPage
from lms.accounts.models import User
from tests import factories
from tests.classrooms.factories import LiveSessionFactory, RoomFactory, enrol

ANONYMOUS = "anonymous"
TRAINEE = "trainee_enrolled"
OUTSIDER = "trainee_not_enrolled"
INSTRUCTOR = "instructor_own"
OTHER_INSTRUCTOR = "instructor_other"
OPERATOR = "operator_own"
OTHER_OPERATOR = "operator_other"
ADMIN = "administrator"
ACTORS = (ANONYMOUS, TRAINEE, OUTSIDER, INSTRUCTOR, OTHER_INSTRUCTOR, OPERATOR, OTHER_OPERATOR, ADMIN)
PEOPLE = ACTORS[1:]
FORGED_ID = 987_654_321


@dataclass
class World:
    course: CoursePage
    other_course: CoursePage
    lesson: LessonPage
    room: Room
    other_room: Room
    session: LiveSession
    other_session: LiveSession
    camera: Device
    other_camera: Device
    document: Document
    people: dict[str, User] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def user(self, actor: str) -> User | None:
        return self.people.get(actor)


def build_world() -> World:
    """Course A (one module, one lesson linking a handout, with a quiz) taught live in room A (Singapore) by its
    instructor; course B taught by another instructor in room B (Chongqing); each room with its operator and a
    camera."""
    catalogue = factories.site_catalogue()
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    other_course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    lesson = LessonPage.objects.descendant_of(course).get()
    document = Document.objects.create(title="Safety handout", file=ContentFile(b"%PDF-1.4 x", name="authz.pdf"))
    lesson.body = [("document", {"document": document, "description": "Read before class"}), factories.quiz_block()]
    lesson.save_revision().publish()
    lesson.refresh_from_db()

    people = {
        TRAINEE: factories.trainee(),
        OUTSIDER: factories.trainee(),
        INSTRUCTOR: factories.instructor(),
        OTHER_INSTRUCTOR: factories.instructor(),
        OPERATOR: factories.operator(),
        OTHER_OPERATOR: factories.operator(),
        ADMIN: factories.administrator(),
    }
    enrol(people[TRAINEE], course)
    enrol(people[OUTSIDER], other_course)  # a trainee, just not of course A
    room = RoomFactory.create(city="singapore")
    other_room = RoomFactory.create(city="chongqing")
    room.operators.add(people[OPERATOR])
    other_room.operators.add(people[OTHER_OPERATOR])
    session = LiveSessionFactory.create(course=course, instructor=people[INSTRUCTOR], rooms=[room])
    other_session = LiveSessionFactory.create(
        course=other_course,
        instructor=people[OTHER_INSTRUCTOR],
        rooms=[other_room],
        starts_at=timezone.now() - timedelta(minutes=3),
    )
    camera = Device.objects.create(room=room, kind=DeviceKind.CAMERA, name="Front camera")
    other_camera = Device.objects.create(room=other_room, kind=DeviceKind.CAMERA, name="Back camera")
    return World(
        course=course,
        other_course=other_course,
        lesson=lesson,
        room=room,
        other_room=other_room,
        session=session,
        other_session=other_session,
        camera=camera,
        other_camera=other_camera,
        document=document,
        people=people,
    )
