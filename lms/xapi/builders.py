"""Corridor's xAPI profile (docs/xapi.md): one builder per learning event, from plain values (this module imports no
app). Each statement's `id` is derived from the event itself (`statement_id`), so the same event always gives the
same statement and a statement the LRS already has is never stored twice.

Adding an event (internship weeks and exams, built later): name its activity with `activity(kind, key, ...)`, pick
a verb from `Verb` (or add one, with its IRI, to the table and to docs/xapi.md), and build it with `statement(...)`,
giving it a key unique to that event; then queue it with `lms.xapi.services.xapi_statement_queue` inside the
service that writes the event. `internship_week_completed` and `assessment_scored` (exams) are ready for those apps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.conf import settings

# Statement ids are uuid5 names in this namespace: `<verb>:<event key>` → always the same id for the same event.
STATEMENT_NAMESPACE = uuid.UUID("6f1f4d2e-2b1a-5c3e-9a57-3c0a1d7e9b10")
XAPI_VERSION = "1.0.3"


class Verb(StrEnum):
    """The verbs Corridor sends: ADL's vocabulary, and the Tin Can registry's `earned` (ADL has none for it)."""

    REGISTERED = "http://adlnet.gov/expapi/verbs/registered"
    ATTENDED = "http://adlnet.gov/expapi/verbs/attended"
    ASKED = "http://adlnet.gov/expapi/verbs/asked"
    COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
    SCORED = "http://adlnet.gov/expapi/verbs/scored"
    EARNED = "http://id.tincanapi.com/verb/earned"


VERB_NAMES = {
    Verb.REGISTERED: "registered",
    Verb.ATTENDED: "attended",
    Verb.ASKED: "asked",
    Verb.COMPLETED: "completed",
    Verb.SCORED: "scored",
    Verb.EARNED: "earned",
}


class ActivityType(StrEnum):
    COURSE = "http://adlnet.gov/expapi/activities/course"
    LESSON = "http://adlnet.gov/expapi/activities/lesson"
    ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
    MEETING = "http://adlnet.gov/expapi/activities/meeting"
    QUESTION = "http://adlnet.gov/expapi/activities/question"


def site_url() -> str:
    return settings.CORRIDOR_PUBLIC_URL.rstrip("/")


def activity_id(kind: str, key: object) -> str:
    """Corridor's activity ids: `{CORRIDOR_PUBLIC_URL}/xapi/activities/<kind>/<key>` (stable: courses and lessons by
    their translation key, so both languages are one activity)."""
    return f"{site_url()}/xapi/activities/{kind}/{key}"


def corridor_type(kind: str) -> str:
    """An activity type ADL has no IRI for (certificate, internship week): Corridor's own."""
    return f"{site_url()}/xapi/activity-types/{kind}"


def extension(name: str) -> str:
    """Corridor's extension IRIs (place, session times): `{CORRIDOR_PUBLIC_URL}/xapi/extensions/<name>`."""
    return f"{site_url()}/xapi/extensions/{name}"


@dataclass(frozen=True)
class Activity:
    id: str
    type: str
    name_en: str
    name_zh: str = ""

    def as_object(self) -> dict[str, Any]:
        names = {"en": self.name_en} | ({"zh-CN": self.name_zh} if self.name_zh else {})
        return {"objectType": "Activity", "id": self.id, "definition": {"type": self.type, "name": names}}


def activity(kind: str, key: object, *, type: str | None = None, name_en: str, name_zh: str = "") -> Activity:
    return Activity(activity_id(kind, key), type or corridor_type(kind), name_en, name_zh)


def course_activity(*, course_key: object, title_en: str, title_zh: str = "") -> Activity:
    return activity("course", course_key, type=ActivityType.COURSE, name_en=title_en, name_zh=title_zh)


def actor(user_id: int) -> dict[str, Any]:
    """The person, pseudonymously: their Corridor account number on this site (no name or email leaves Corridor)."""
    return {"objectType": "Agent", "account": {"homePage": site_url(), "name": str(user_id)}}


def statement_id(verb: Verb, event_key: str) -> uuid.UUID:
    return uuid.uuid5(STATEMENT_NAMESPACE, f"{verb.value}:{event_key}")


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration, as xAPI's `result.duration` wants it: PT1H2M3S."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + f"{secs}S"


def statement(
    *,
    event_key: str,
    user_id: int,
    verb: Verb,
    target: Activity,
    timestamp: datetime,
    parents: tuple[Activity, ...] = (),
    result: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One statement: `user_id` `verb` `target` at `timestamp`, under `parents` (the course, a session)."""
    context: dict[str, Any] = {"platform": "Corridor"}
    if parents:
        context["contextActivities"] = {"parent": [parent.as_object() for parent in parents]}
    if extensions:
        context["extensions"] = extensions
    built: dict[str, Any] = {
        "id": str(statement_id(verb, event_key)),
        "actor": actor(user_id),
        "verb": {"id": verb.value, "display": {"en-US": VERB_NAMES[verb]}},
        "object": target.as_object(),
        "context": context,
        "timestamp": timestamp.isoformat(),
        "version": XAPI_VERSION,
    }
    if result:
        built["result"] = result
    return built


# The events. ----------------------------------------------------------------------------------------------------------


def course_enrolled(*, user_id: int, course: Activity, at: datetime) -> dict[str, Any]:
    return statement(
        event_key=f"{user_id}:{course.id}", user_id=user_id, verb=Verb.REGISTERED, target=course, timestamp=at
    )


def lesson_completed(
    *, user_id: int, lesson_key: object, title_en: str, course: Activity, at: datetime
) -> dict[str, Any]:
    lesson = activity("lesson", lesson_key, type=ActivityType.LESSON, name_en=title_en)
    return statement(
        event_key=f"{user_id}:{lesson.id}",
        user_id=user_id,
        verb=Verb.COMPLETED,
        target=lesson,
        timestamp=at,
        parents=(course,),
        result={"completion": True},
    )


def assessment_scored(
    *,
    event_key: str,
    user_id: int,
    assessment: Activity,
    score: int,
    max_score: int,
    passed: bool,
    parents: tuple[Activity, ...],
    at: datetime,
) -> dict[str, Any]:
    """A quiz (or, later, an exam) scored: raw, min, max and scaled score, and whether it passed."""
    scaled = round(score / max_score, 4) if max_score else 0.0
    return statement(
        event_key=event_key,
        user_id=user_id,
        verb=Verb.SCORED,
        target=assessment,
        timestamp=at,
        parents=parents,
        result={"score": {"raw": score, "min": 0, "max": max_score, "scaled": scaled}, "success": passed},
    )


def quiz_scored(
    *,
    attempt_id: int,
    user_id: int,
    lesson_key: object,
    quiz_block_id: str,
    title_en: str,
    score: int,
    max_score: int,
    passed: bool,
    course: Activity,
    at: datetime,
) -> dict[str, Any]:
    quiz = activity("quiz", f"{lesson_key}/{quiz_block_id}", type=ActivityType.ASSESSMENT, name_en=title_en)
    return assessment_scored(
        event_key=f"quiz-attempt:{attempt_id}",
        user_id=user_id,
        assessment=quiz,
        score=score,
        max_score=max_score,
        passed=passed,
        parents=(course,),
        at=at,
    )


@dataclass(frozen=True)
class Place:
    """Where someone attended from: a room (its name and city) or remote, and for how many seconds."""

    kind: str  # "room" or "remote"
    seconds: int
    room: str = ""
    city: str = ""

    def as_extension(self) -> dict[str, Any]:
        place: dict[str, Any] = {"kind": self.kind, "duration": iso_duration(self.seconds)}
        if self.kind == "room":
            place |= {"room": self.room, "city": self.city}
        return place


def session_attended(
    *,
    session_id: int,
    title: str,
    user_id: int,
    seconds: int,
    places: tuple[Place, ...],
    course: Activity,
    started_at: datetime,
    ended_at: datetime,
) -> dict[str, Any]:
    """A trainee attended a live session: `result.duration` is their time present (every stay merged, clipped to the
    scheduled time); the `place` extension lists where from (rooms and remote, each with its own duration)."""
    meeting = activity("session", session_id, type=ActivityType.MEETING, name_en=title)
    return statement(
        event_key=f"{user_id}:{meeting.id}",
        user_id=user_id,
        verb=Verb.ATTENDED,
        target=meeting,
        timestamp=ended_at,
        parents=(course,),
        result={"duration": iso_duration(seconds)},
        extensions={
            extension("place"): [place.as_extension() for place in places],
            extension("session-started-at"): started_at.isoformat(),
            extension("session-ended-at"): ended_at.isoformat(),
        },
    )


def question_asked(
    *, question_id: int, user_id: int, session_id: int, session_title: str, course: Activity, at: datetime
) -> dict[str, Any]:
    """A trainee asked a question in a live session's Q&A. Its text stays in Corridor (it is theirs to erase)."""
    question = activity("question", question_id, type=ActivityType.QUESTION, name_en=f"Question {question_id}")
    meeting = activity("session", session_id, type=ActivityType.MEETING, name_en=session_title)
    return statement(
        event_key=f"{question.id}",
        user_id=user_id,
        verb=Verb.ASKED,
        target=question,
        timestamp=at,
        parents=(meeting, course),
    )


def certificate_earned(
    *, code: str, user_id: int, course: Activity, at: datetime, verify_url: str = ""
) -> dict[str, Any]:
    certificate = activity("certificate", code, name_en=f"Certificate {code}")
    extensions = {extension("verify-url"): verify_url} if verify_url else None
    return statement(
        event_key=certificate.id,
        user_id=user_id,
        verb=Verb.EARNED,
        target=certificate,
        timestamp=at,
        parents=(course,),
        extensions=extensions,
    )


def internship_week_completed(
    *, placement_id: int, week: int, user_id: int, company: str, course: Activity | None, at: datetime
) -> dict[str, Any]:
    """The hook for internships (built in parallel): a trainee completed week `week` of placement `placement_id`.
    The internships app calls this from the service that signs a week off, with `xapi_statement_queue`."""
    week_activity = activity(
        "internship-week", f"{placement_id}/{week}", name_en=f"Internship week {week} at {company}"
    )
    return statement(
        event_key=week_activity.id,
        user_id=user_id,
        verb=Verb.COMPLETED,
        target=week_activity,
        timestamp=at,
        parents=(course,) if course is not None else (),
        result={"completion": True},
    )
