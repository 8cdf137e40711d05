"""Role × action over every HTTP view: each route of `django.urls.get_resolver()` has a row in `ROUTES`, and each
(case, actor) is a test of its own that asserts what that person gets: the thing itself (ALLOW), the login page
(LOGIN), a refusal (DENY, 403), nothing (NOT_FOUND, 404: a forged id, or a thing whose existence is not revealed),
a wrong method (METHOD, 405) or a refused form (BAD, 400). A refused POST changes nothing.

`test_every_route_has_a_row` fails for a new route without a row and prints the rows to add. Wagtail's own admin
(everything under /admin/) is one group: the dashboard, a course page's editor and a live session's editor.

The world (tests/support/authz.py) is built once for the module inside a transaction that is rolled back at its end;
each test runs in a savepoint of it, so one actor's allowed POST never shows in another's test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone, translation

from certificates.models import Certificate, CertificateRule, CertificateState, IssueBatch
from exams import services as exam_services
from exams.models import Paper, PaperRule
from internships import services as internship_services
from internships.models import InternTask, LogFile, WeekLog
from lms.accounts.models import DataExport, DataExportState, User
from lms.xapi.models import QueuedStatement, StatementState
from lti.models import Platform as LtiPlatform
from lti.models import PlatformContext
from streaming.models import CompositionState, Recording, RecordingState, SessionComposition
from tests import factories
from tests.support import authz
from tests.support.authz import (
    ADMIN,
    ANONYMOUS,
    FORGED_ID,
    INSTRUCTOR,
    OPERATOR,
    OTHER_INSTRUCTOR,
    OTHER_OPERATOR,
    OUTSIDER,
    PEOPLE,
    TRAINEE,
    World,
)


class Outcome(StrEnum):
    ALLOW = "ALLOW"  # 2xx, or a redirect to anything but a login page
    LOGIN = "LOGIN"  # a redirect to a login page
    DENY = "DENY"  # 403
    NOT_FOUND = "NOT_FOUND"  # 404
    METHOD = "METHOD"  # 405
    BAD = "BAD"  # 400 (a refused form)
    CONFLICT = "CONFLICT"  # 409 (past the checks of who asks, refused as not possible now)
    AWAY = "AWAY"  # sent to another page instead (a lesson's visitors to its course page, to enrol)


ALLOW, LOGIN, DENY, NOT_FOUND, METHOD, BAD, CONFLICT, AWAY = list(Outcome)
LOGIN_PATHS = ("/accounts/login/", "/admin/login/", "/_util/login/")


def expect(default: Outcome, *, anonymous: Outcome = LOGIN, **overrides: Outcome) -> dict[str, Outcome]:
    """Every person gets `default` unless named in `overrides` (by actor: trainee_enrolled=ALLOW, ...)."""
    unknown = set(overrides) - set(PEOPLE)
    assert not unknown, f"unknown actors {unknown}"
    return {ANONYMOUS: anonymous, **{actor: overrides.get(actor, default) for actor in PEOPLE}}


def everyone(outcome: Outcome) -> dict[str, Outcome]:
    return expect(outcome, anonymous=outcome)


STAFF_OF_A = {INSTRUCTOR: ALLOW, ADMIN: ALLOW}
ROOM_A = {OPERATOR: ALLOW, ADMIN: ALLOW}
OPERATORS_AND_ADMIN = {OPERATOR: ALLOW, OTHER_OPERATOR: ALLOW, ADMIN: ALLOW}
COURSE_STAFF = {INSTRUCTOR: ALLOW, OTHER_INSTRUCTOR: ALLOW, ADMIN: ALLOW}
ATTENDANCE_READERS = {INSTRUCTOR: ALLOW, OPERATOR: ALLOW, ADMIN: ALLOW}
PARTICIPANTS_OF_A = {TRAINEE: ALLOW, INSTRUCTOR: ALLOW, OPERATOR: ALLOW, ADMIN: ALLOW}


@dataclass(frozen=True)
class Case:
    url: Callable[[World], str]
    expected: dict[str, Outcome]
    method: str = "get"
    data: Callable[[World], dict[str, Any]] | None = None
    label: str = ""
    json: bool = False  # ask for JSON (Accept), as the pages' scripts do
    follow: bool = False  # judge by where the redirects lead (LocaleMiddleware sends a 404 to the /en/ path)
    away: Callable[[World], str] | None = None  # the page a refused person is sent to instead (AWAY)
    # Text (e.g. a session's title) that the response must not show these actors, whatever their outcome.
    secret: Callable[[World], str] | None = None
    hidden_from: tuple[str, ...] = ()


def url(name: str, **kwargs: Callable[[World], Any]) -> Callable[[World], str]:
    def build(world: World) -> str:
        with translation.override("en"):
            return reverse(name, kwargs={key: value(world) for key, value in kwargs.items()})

    return build


def fixed(value: Any) -> Callable[[World], Any]:
    return lambda world: value


def session_a(world: World) -> int:
    return world.session.pk


def session_b(world: World) -> int:
    return world.other_session.pk


def room_a(world: World) -> int:
    return world.room.pk


def room_b(world: World) -> int:
    return world.other_room.pk


def course_a(world: World) -> int:
    return world.course.pk


def lesson_a(world: World) -> int:
    return world.lesson.pk


def extra(key: str) -> Callable[[World], Any]:
    return lambda world: world.extra[key]


def session_title(world: World) -> str:
    return world.session.title


STRANGERS_TO_A = (ANONYMOUS, OUTSIDER, OTHER_INSTRUCTOR, OTHER_OPERATOR)


def trainee_id(world: World) -> dict[str, Any]:
    return {"user_id": world.people[TRAINEE].pk, "present": "1"}


# The table: route (its name, or its pattern when it has none) → the cases that exercise it. --------------------------

ROUTES: dict[str, list[Case]] = {
    # The shared core and the site.
    "healthz": [Case(fixed("/healthz"), everyone(ALLOW))],
    "readyz": [Case(fixed("/readyz"), everyone(ALLOW))],
    # Closed to every person: scrapers present METRICS_TOKEN or come from METRICS_ALLOWED_NETWORKS (unset here).
    "metrics": [Case(fixed("/metrics"), everyone(DENY))],
    # Sign-in's second step, two-step sign-in (administrators only) and unlocking sign-ins (administrators).
    "accounts:login-code": [Case(url("accounts:login-code"), everyone(LOGIN), label="no password given just now")],
    "accounts:locked-sign-ins": [Case(url("accounts:locked-sign-ins"), expect(DENY, **{ADMIN: ALLOW}))],
    # The xAPI queue (administrators): counts, failing statements, "Retry now" (all, or one by its id).
    "xapi:queue": [Case(url("xapi:queue"), expect(DENY, **{ADMIN: ALLOW}))],
    "xapi:retry": [
        Case(url("xapi:retry"), everyone(METHOD)),
        Case(url("xapi:retry"), expect(DENY, **{ADMIN: ALLOW}), "post", label="all failing"),
        Case(
            url("xapi:retry"),
            expect(DENY, **{ADMIN: ALLOW}),
            "post",
            data=lambda w: {"statement": w.extra["xapi_statement"]},
            label="one",
        ),
        Case(
            url("xapi:retry"),
            expect(DENY, **{ADMIN: NOT_FOUND}),
            "post",
            data=fixed({"statement": "00000000-0000-0000-0000-000000000000"}),
            label="forged",
        ),
    ],
    "accounts:two-step-start": [
        Case(url("accounts:two-step-start"), everyone(METHOD)),
        Case(url("accounts:two-step-start"), expect(NOT_FOUND, **{ADMIN: ALLOW}), "post"),
    ],
    "accounts:two-step-confirm": [
        Case(url("accounts:two-step-confirm"), expect(NOT_FOUND, **{ADMIN: BAD}), "post", lambda w: {"code": "000000"}),
    ],
    "accounts:two-step-off": [
        Case(
            url("accounts:two-step-off"),
            expect(NOT_FOUND, **{ADMIN: BAD}),
            "post",
            lambda w: {"password": "wrong", "code": "000000"},
        ),
    ],
    "accounts:two-step-qr": [Case(url("accounts:two-step-qr"), expect(NOT_FOUND), label="nothing being set up")],
    "set_language": [
        Case(fixed("/i18n/setlang/"), everyone(ALLOW), "post", lambda w: {"language": "zh-hans", "next": "/en/"})
    ],
    "^media/(?P<path>images/[^/]+)$": [
        Case(fixed("/media/images/nothing-here.png"), everyone(NOT_FOUND), label="a guessed path")
    ],
    "accounts:login": [Case(url("accounts:login"), everyone(ALLOW))],
    "accounts:logout": [Case(url("accounts:logout"), everyone(ALLOW), "post")],
    "accounts:after-login": [Case(url("accounts:after-login"), expect(ALLOW))],
    "accounts:settings": [
        Case(url("accounts:settings"), expect(ALLOW)),
        Case(
            url("accounts:settings"),
            expect(ALLOW),
            "post",
            lambda w: {"home_region": "chongqing", "media_region": "home"},
        ),
    ],
    # A person's data (docs/privacy.md): their own export from Settings, its page and download (the person and
    # administrators only; anyone else is told it does not exist), erasing one's own account (password), and the
    # administrators' page for one account (export, erase).
    "accounts:data-export-start": [
        Case(url("accounts:data-export-start"), expect(METHOD, anonymous=METHOD)),
        Case(url("accounts:data-export-start"), expect(ALLOW), "post", label="each their own"),
    ],
    "accounts:erase-self": [
        Case(url("accounts:erase-self"), expect(METHOD, anonymous=METHOD)),
        Case(
            url("accounts:erase-self"),
            expect(BAD),
            "post",
            lambda w: {"confirmation": "someone@else.test", "password": "wrong", "reason": ""},
            label="wrong password",
        ),
    ],
    "accounts:data-export": [
        Case(
            url("accounts:data-export", export_id=extra("export")), expect(NOT_FOUND, **{TRAINEE: ALLOW, ADMIN: ALLOW})
        ),
        Case(url("accounts:data-export", export_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "accounts:data-export-download": [
        Case(
            url("accounts:data-export-download", export_id=extra("export")),
            expect(NOT_FOUND, **{TRAINEE: ALLOW, ADMIN: ALLOW}),
        ),
    ],
    "accounts:data-export-file": [
        Case(url("accounts:data-export-file", token=fixed("forged")), expect(NOT_FOUND), label="forged token")
    ],
    "accounts:user-data": [
        Case(url("accounts:user-data", user_id=extra("trainee")), expect(DENY, **{ADMIN: ALLOW})),
        Case(url("accounts:user-data", user_id=fixed(FORGED_ID)), expect(DENY, **{ADMIN: NOT_FOUND}), label="forged"),
    ],
    "accounts:user-data-export": [
        Case(url("accounts:user-data-export", user_id=extra("trainee")), everyone(METHOD)),
        Case(url("accounts:user-data-export", user_id=extra("trainee")), expect(DENY, **{ADMIN: ALLOW}), "post"),
    ],
    "accounts:user-data-erase": [
        Case(
            url("accounts:user-data-erase", user_id=extra("trainee")),
            expect(DENY, **{ADMIN: BAD}),
            "post",
            lambda w: {"confirmation": "not-their@email.test", "reason": "asked"},
            label="wrong confirmation",
        ),
    ],
    # The exam centre: the exams and an exam's page are public; a trainee registers (a trainee already registered is
    # refused as not possible now, anyone but a trainee is refused); a slip is its candidate's (and administrators');
    # the sittings' pages are for their rooms' invigilators and administrators; administrators prepare papers.
    "exams:index": [Case(url("exams:index"), everyone(ALLOW))],
    "exams:exam": [
        Case(url("exams:exam", code=extra("exam_code")), everyone(ALLOW)),
        Case(url("exams:exam", code=fixed("NO-SUCH-EXAM")), everyone(NOT_FOUND), label="unknown code"),
    ],
    "exams:mine": [Case(url("exams:mine"), expect(ALLOW))],
    "exams:register": [
        Case(url("exams:register", sitting_id=extra("sitting")), everyone(METHOD)),
        Case(
            url("exams:register", sitting_id=extra("sitting")),
            expect(DENY, **{TRAINEE: CONFLICT, OUTSIDER: ALLOW}),
            "post",
        ),
        Case(url("exams:register", sitting_id=fixed(FORGED_ID)), expect(NOT_FOUND), "post", label="forged id"),
    ],
    "exams:slip": [
        Case(url("exams:slip", candidate_id=extra("candidate")), expect(DENY, **{TRAINEE: ALLOW, ADMIN: ALLOW})),
        Case(url("exams:slip", candidate_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "exams:sittings": [Case(url("exams:sittings"), expect(DENY, **{ADMIN: ALLOW}))],
    "exams:sitting": [
        Case(url("exams:sitting", sitting_id=extra("sitting")), expect(DENY, **{ADMIN: ALLOW})),
        Case(url("exams:sitting", sitting_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    # Check-in: the room's invigilators and administrators; the table's sitting is days away, so a code is refused as
    # not possible yet (and a forged code would be refused as not a slip's).
    "exams:check-in": [
        Case(url("exams:check-in", sitting_id=extra("sitting")), expect(DENY, **{ADMIN: ALLOW})),
        Case(
            url("exams:check-in", sitting_id=extra("sitting")),
            expect(DENY, **{ADMIN: CONFLICT}),
            "post",
            lambda w: {"token": "forged", "confirm": "on"},
        ),
        Case(url("exams:check-in", sitting_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "exams:prepare-papers": [
        Case(url("exams:prepare-papers", sitting_id=extra("sitting")), everyone(METHOD)),
        Case(url("exams:prepare-papers", sitting_id=extra("sitting")), expect(DENY, **{ADMIN: ALLOW}), "post"),
        Case(url("exams:prepare-papers", sitting_id=fixed(FORGED_ID)), expect(NOT_FOUND), "post", label="forged id"),
    ],
    # Taking an exam: a registration's exam page and its paper are the candidate's alone (anyone else: not found).
    # The table's trainee is not checked in and the sitting is days away, so starting and submitting are refused as
    # not possible now; a save that is not JSON is refused as invalid.
    "exams:take": [
        Case(url("exams:take", candidate_id=extra("candidate")), expect(NOT_FOUND, **{TRAINEE: ALLOW})),
        Case(url("exams:take", candidate_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "exams:start": [
        Case(url("exams:start", candidate_id=extra("candidate")), everyone(METHOD)),
        Case(url("exams:start", candidate_id=extra("candidate")), expect(NOT_FOUND, **{TRAINEE: CONFLICT}), "post"),
        Case(url("exams:start", candidate_id=fixed(FORGED_ID)), expect(NOT_FOUND), "post", label="forged id"),
    ],
    "exams:paper-state": [
        Case(url("exams:paper-state", paper_id=extra("paper")), expect(NOT_FOUND, **{TRAINEE: ALLOW}), json=True),
        Case(url("exams:paper-state", paper_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id", json=True),
    ],
    "exams:paper-answers": [
        Case(url("exams:paper-answers", paper_id=extra("paper")), everyone(METHOD)),
        Case(
            url("exams:paper-answers", paper_id=extra("paper")),
            expect(NOT_FOUND, **{TRAINEE: BAD}),
            "post",
            lambda w: {"answers": "not JSON"},
            json=True,
        ),
        Case(
            url("exams:paper-answers", paper_id=fixed(FORGED_ID)),
            expect(NOT_FOUND),
            "post",
            label="forged id",
            json=True,
        ),
    ],
    "exams:paper-submit": [
        Case(url("exams:paper-submit", paper_id=extra("paper")), everyone(METHOD)),
        Case(
            url("exams:paper-submit", paper_id=extra("paper")),
            expect(NOT_FOUND, **{TRAINEE: CONFLICT}),
            "post",
            json=True,
        ),
        Case(url("exams:paper-submit", paper_id=fixed(FORGED_ID)), expect(NOT_FOUND), "post", label="forged id"),
    ],
    # The invigilator's console (exams.console_views): the room's invigilators and administrators. No paper of the
    # table's sitting has started, so a room pause is refused as not possible now; an incident is logged.
    "exams:console": [
        Case(url("exams:console", sitting_id=extra("sitting")), expect(DENY, **{ADMIN: ALLOW})),
        Case(url("exams:console", sitting_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "exams:console-action": [
        Case(url("exams:console-action", sitting_id=extra("sitting")), everyone(METHOD)),
        Case(
            url("exams:console-action", sitting_id=extra("sitting")),
            expect(DENY, **{ADMIN: CONFLICT}),
            "post",
            lambda w: {"target": "room", "action": "pause", "cause": "health", "explanation": "Unwell."},
            label="room pause, nothing running",
        ),
        Case(
            url("exams:console-action", sitting_id=extra("sitting")),
            expect(DENY, **{ADMIN: NOT_FOUND}),
            "post",
            lambda w: {"target": str(FORGED_ID), "action": "pause", "cause": "health", "explanation": "Unwell."},
            label="forged candidate",
        ),
        Case(
            url("exams:console-action", sitting_id=fixed(FORGED_ID)),
            expect(NOT_FOUND),
            "post",
            lambda w: {"target": "room", "action": "pause", "cause": "health", "explanation": "Unwell."},
            label="forged id",
        ),
    ],
    "exams:console-incident": [
        Case(url("exams:console-incident", sitting_id=extra("sitting")), everyone(METHOD)),
        Case(
            url("exams:console-incident", sitting_id=extra("sitting")),
            expect(DENY, **{ADMIN: ALLOW}),
            "post",
            lambda w: {"target": "room", "category": "disturbance", "note": "Drilling next door."},
        ),
        Case(
            url("exams:console-incident", sitting_id=extra("sitting")),
            expect(DENY, **{ADMIN: BAD}),
            "post",
            lambda w: {"target": "room", "category": "disturbance", "note": ""},
            label="no note",
        ),
    ],
    "exams:console-record": [
        Case(url("exams:console-record", sitting_id=extra("sitting")), expect(DENY, **{ADMIN: ALLOW})),
        Case(url("exams:console-record", sitting_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "exams:console-record-pdf": [
        Case(url("exams:console-record-pdf", sitting_id=extra("sitting")), expect(DENY, **{ADMIN: ALLOW})),
        Case(url("exams:console-record-pdf", sitting_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    # Marking (exams.marking_views): the instructor marks the world's marking exam; scripts are its markers' only.
    # Results: administrators see a sitting's and release them (refused while an essay waits for its marker).
    "exams:marking": [Case(url("exams:marking"), expect(DENY, **{INSTRUCTOR: ALLOW}))],
    "exams:marking-queue": [
        Case(url("exams:marking-queue", code=extra("marking_exam")), expect(DENY, **{INSTRUCTOR: ALLOW})),
        Case(url("exams:marking-queue", code=fixed("NO-SUCH-EXAM")), expect(NOT_FOUND), label="unknown code"),
    ],
    "exams:mark-answer": [
        Case(url("exams:mark-answer", answer_id=extra("essay_answer")), expect(DENY, **{INSTRUCTOR: ALLOW})),
        Case(
            url("exams:mark-answer", answer_id=extra("essay_answer")),
            expect(DENY, **{INSTRUCTOR: BAD}),
            "post",
            lambda w: {"stage": "first", "marks": "99", "comment": ""},
            label="marks out of range",
        ),
        Case(
            url("exams:mark-answer", answer_id=extra("essay_answer")),
            expect(DENY, **{INSTRUCTOR: CONFLICT}),
            "post",
            lambda w: {"stage": "second", "marks": "5", "comment": ""},
            label="stage moved on",
        ),
        Case(
            url("exams:mark-answer", answer_id=fixed(FORGED_ID)),
            expect(NOT_FOUND),
            "post",
            lambda w: {"stage": "first", "marks": "5", "comment": ""},
            label="forged id",
        ),
    ],
    "exams:results": [
        Case(url("exams:results", sitting_id=extra("marking_sitting")), expect(DENY, **{ADMIN: ALLOW})),
        Case(url("exams:results", sitting_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "exams:results-release": [
        Case(url("exams:results-release", sitting_id=extra("marking_sitting")), everyone(METHOD)),
        Case(
            url("exams:results-release", sitting_id=extra("marking_sitting")),
            expect(DENY, **{ADMIN: BAD}),
            "post",
            label="not confirmed",
        ),
        Case(
            url("exams:results-release", sitting_id=extra("marking_sitting")),
            expect(DENY, **{ADMIN: CONFLICT}),
            "post",
            lambda w: {"confirm": "on"},
            label="not fully marked",
        ),
        Case(
            url("exams:results-release", sitting_id=fixed(FORGED_ID)),
            expect(NOT_FOUND),
            "post",
            lambda w: {"confirm": "on"},
            label="forged id",
        ),
    ],
    "wagtailcore_login": [Case(fixed("/en/_util/login/"), everyone(ALLOW))],
    "wagtailcore_authenticate_with_password": [
        Case(
            lambda w: f"/en/_util/authenticate_with_password/{FORGED_ID}/{w.course.pk}/",
            everyone(NOT_FOUND),
            label="forged restriction",
        )
    ],
    "wagtail_serve": [
        Case(lambda w: w.course.url, everyone(ALLOW), label="course page"),
        Case(
            lambda w: w.lesson.url,
            expect(AWAY, anonymous=AWAY, trainee_enrolled=ALLOW, **COURSE_STAFF),
            label="lesson page",
            away=lambda w: w.course.url,
        ),
        Case(fixed("/en/no-such-page/"), everyone(NOT_FOUND), label="no such page"),
    ],
    "wagtaildocs_serve": [
        Case(
            lambda w: w.document.url,
            expect(DENY, trainee_enrolled=ALLOW, **COURSE_STAFF),
            label="a lesson's handout",
        ),
        Case(fixed(f"/documents/{FORGED_ID}/x.pdf"), everyone(NOT_FOUND), label="forged id"),
    ],
    "wagtaildocs_authenticate_with_password": [
        Case(
            fixed(f"/documents/authenticate_with_password/{FORGED_ID}/"),
            everyone(NOT_FOUND),
            label="forged restriction",
            follow=True,
        )
    ],
    # Wagtail's admin, as one group (`ADMIN_GROUP`).
    "wagtailadmin_home": [Case(fixed("/admin/"), expect(LOGIN, **COURSE_STAFF))],
    "wagtailadmin_pages:edit": [
        Case(lambda w: f"/admin/pages/{w.course.pk}/edit/", expect(LOGIN, **COURSE_STAFF), label="course A")
    ],
    "wagtailsnippets_classrooms_livesession:edit": [
        Case(
            lambda w: f"/admin/snippets/classrooms/livesession/edit/{w.session.pk}/",
            expect(LOGIN, instructor_other=DENY, **STAFF_OF_A),
            label="session A",
        ),
    ],
    # Courses.
    "courses:my-learning": [Case(url("courses:my-learning"), expect(ALLOW))],
    "courses:enrol": [
        Case(url("courses:enrol", page_id=course_a), expect(ALLOW), "post"),
        Case(url("courses:enrol", page_id=fixed(FORGED_ID)), expect(NOT_FOUND), "post", label="forged id"),
    ],
    "courses:lesson-complete": [
        Case(url("courses:lesson-complete", page_id=lesson_a), expect(DENY, trainee_enrolled=ALLOW), "post"),
        Case(url("courses:lesson-complete", page_id=fixed(FORGED_ID)), expect(NOT_FOUND), "post", label="forged id"),
    ],
    "courses:quiz-submit": [
        Case(
            url("courses:quiz-submit", page_id=lesson_a, block_id=extra("quiz")),
            expect(DENY, trainee_enrolled=ALLOW),
            "post",
            lambda w: w.extra["quiz_answers"],
        ),
    ],
    # Live sessions.
    "classrooms:live-session": [
        Case(
            url("classrooms:live-session", session_id=session_a),
            expect(NOT_FOUND, **PARTICIPANTS_OF_A),
            secret=session_title,
            hidden_from=STRANGERS_TO_A,
        ),
        Case(url("classrooms:live-session", session_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "classrooms:live-session-state": [
        Case(
            url("classrooms:live-session-state", session_id=session_a),
            expect(NOT_FOUND, trainee_enrolled=DENY, operator_own=DENY, **STAFF_OF_A),
            "post",
            lambda w: {"state": "ended"},
        ),
    ],
    "classrooms:live-recording-consent": [
        Case(
            url("classrooms:live-recording-consent", session_id=session_a),
            expect(NOT_FOUND, trainee_enrolled=ALLOW, instructor_own=DENY, operator_own=DENY, administrator=DENY),
            "post",
            lambda w: {"answer": "agreed"},
            json=True,
        ),
        Case(
            url("classrooms:live-recording-consent", session_id=session_a),
            expect(NOT_FOUND, trainee_enrolled=BAD, instructor_own=BAD, operator_own=BAD, administrator=BAD),
            "post",
            lambda w: {"answer": "perhaps"},
            label="neither agreed nor declined",
            json=True,
        ),
        Case(url("classrooms:live-recording-consent", session_id=session_a), expect(METHOD), label="GET"),
        Case(
            url("classrooms:live-recording-consent", session_id=fixed(FORGED_ID)),
            expect(NOT_FOUND),
            "post",
            lambda w: {"answer": "agreed"},
            label="forged id",
        ),
    ],
    "classrooms:attendance-display": [
        Case(
            url("classrooms:attendance-display", session_id=session_a, room_id=room_a),
            expect(DENY, operator_own=ALLOW, **STAFF_OF_A),
        ),
        Case(
            url("classrooms:attendance-display", session_id=session_a, room_id=room_b),
            expect(NOT_FOUND),
            label="a room not in the session",
        ),
    ],
    "classrooms:attendance-display-code": [
        Case(
            url("classrooms:attendance-display-code", session_id=session_a, room_id=room_a),
            expect(DENY, operator_own=ALLOW, **STAFF_OF_A),
        ),
    ],
    "classrooms:attendance-roster": [
        Case(
            url("classrooms:attendance-roster", session_id=session_a, room_id=room_a),
            expect(DENY, **ROOM_A),
        ),
        Case(
            url("classrooms:attendance-roster", session_id=session_a, room_id=room_a),
            expect(DENY, **ROOM_A),
            "post",
            trainee_id,
        ),
    ],
    "classrooms:attendance-report": [
        Case(url("classrooms:attendance-report", session_id=session_a), expect(DENY, **ATTENDANCE_READERS)),
        Case(url("classrooms:attendance-report", session_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "classrooms:attendance-now": [
        Case(url("classrooms:attendance-now", session_id=session_a), expect(DENY, **ATTENDANCE_READERS)),
    ],
    "classrooms:attendance-csv": [
        Case(url("classrooms:attendance-csv", session_id=session_a), expect(DENY, **ATTENDANCE_READERS)),
    ],
    "classrooms:attendance-stays-csv": [
        Case(url("classrooms:attendance-stays-csv", session_id=session_a), expect(DENY, **ATTENDANCE_READERS)),
    ],
    "classrooms:attendance-checkin": [
        Case(
            url("classrooms:attendance-checkin", session_id=session_a, room_id=room_a, code=fixed("WRONG1")),
            expect(DENY, trainee_enrolled=BAD),
            label="a wrong code",
            secret=session_title,
            hidden_from=STRANGERS_TO_A,
        ),
        Case(
            url("classrooms:attendance-checkin", session_id=session_a, room_id=room_a, code=fixed("WRONG1")),
            expect(DENY, trainee_enrolled=BAD),
            "post",
            label="a wrong code",
            secret=session_title,
            hidden_from=STRANGERS_TO_A,
        ),
    ],
    "classrooms:attendance-checked-in": [
        Case(
            url("classrooms:attendance-checked-in", session_id=session_a, room_id=room_a),
            expect(NOT_FOUND, **PARTICIPANTS_OF_A),
            secret=session_title,
            hidden_from=STRANGERS_TO_A,
        ),
    ],
    "classrooms:timetable": [Case(url("classrooms:timetable"), expect(ALLOW))],
    "classrooms:calendar-link-reset": [Case(url("classrooms:calendar-link-reset"), expect(ALLOW), "post")],
    "calendar:feed": [Case(url("calendar:feed", token=fixed("forged-token")), everyone(NOT_FOUND))],
    # Rooms' consoles: operators of the very room, and administrators.
    "classrooms:room-index": [Case(url("classrooms:room-index"), expect(DENY, **OPERATORS_AND_ADMIN))],
    "classrooms:room-devices": [
        Case(url("classrooms:room-devices", room_id=room_a), expect(DENY, **ROOM_A)),
        Case(url("classrooms:room-devices", room_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "classrooms:room-devices-panel": [
        Case(url("classrooms:room-devices-panel", room_id=room_a), expect(DENY, **ROOM_A))
    ],
    "classrooms:room-stream": [
        Case(
            url("classrooms:room-stream", room_id=room_a), expect(DENY, **ROOM_A), "post", lambda w: {"command": "stop"}
        )
    ],
    "classrooms:room-microphone": [
        Case(
            url("classrooms:room-microphone", room_id=room_a), expect(DENY, **ROOM_A), "post", lambda w: {"muted": "1"}
        )
    ],
    "classrooms:room-token-issue": [
        Case(url("classrooms:room-token-issue", room_id=room_a), expect(DENY, **ROOM_A), "post")
    ],
    "classrooms:room-token-revoke": [
        Case(
            url("classrooms:room-token-revoke", room_id=room_a, token_id=extra("token")),
            expect(DENY, **ROOM_A),
            "post",
        ),
        Case(
            url("classrooms:room-token-revoke", room_id=room_a, token_id=extra("other_token")),
            expect(DENY, operator_own=NOT_FOUND, administrator=NOT_FOUND),
            "post",
            label="room B's token through room A",
        ),
    ],
    "classrooms:alerts-active": [Case(url("classrooms:alerts-active"), expect(DENY, **OPERATORS_AND_ADMIN))],
    "classrooms:room-links": [Case(url("classrooms:room-links", room_id=room_a), expect(DENY, **ROOM_A))],
    "classrooms:room-links-panel": [Case(url("classrooms:room-links-panel", room_id=room_a), expect(DENY, **ROOM_A))],
    "classrooms:session-links": [
        Case(url("classrooms:session-links", session_id=session_a), expect(DENY, **ATTENDANCE_READERS))
    ],
    "classrooms:audit-log": [Case(url("classrooms:audit-log"), expect(DENY, administrator=ALLOW))],
    "classrooms:audit-log-csv": [Case(url("classrooms:audit-log-csv"), expect(DENY, administrator=ALLOW))],
    "classrooms:room-device-new": [
        Case(url("classrooms:room-device-new", room_id=room_a), expect(DENY, **ROOM_A)),
        Case(
            url("classrooms:room-device-new", room_id=room_a),
            expect(DENY, **ROOM_A),
            "post",
            lambda w: {"kind": "microphone", "name": "Ceiling microphone"},
        ),
    ],
    "classrooms:room-device-edit": [
        Case(url("classrooms:room-device-edit", room_id=room_a, device_id=extra("camera")), expect(DENY, **ROOM_A)),
        Case(
            url("classrooms:room-device-edit", room_id=room_a, device_id=extra("other_camera")),
            expect(DENY, operator_own=NOT_FOUND, administrator=NOT_FOUND),
            label="room B's camera through room A",
        ),
    ],
    "classrooms:room-device-review": [
        Case(
            url("classrooms:room-device-review", room_id=room_a, device_id=extra("camera")),
            expect(DENY, **ROOM_A),
            "post",
            lambda w: {"decision": "dismiss"},
        )
    ],
    "classrooms:room-camera-preset": [
        Case(
            url("classrooms:room-camera-preset", room_id=room_a, camera_id=extra("camera")),
            expect(DENY, operator_own=CONFLICT, administrator=CONFLICT),
            "post",
            lambda w: {"action": "recall", "preset": "1"},
            label="no agent connected",
        ),
        Case(
            url("classrooms:room-camera-preset", room_id=room_a, camera_id=extra("other_camera")),
            expect(DENY, operator_own=NOT_FOUND, administrator=NOT_FOUND),
            "post",
            lambda w: {"action": "recall", "preset": "1"},
            label="room B's camera through room A",
        ),
    ],
    "classrooms:room-camera-state": [
        Case(url("classrooms:room-camera-state", room_id=room_a, camera_id=extra("camera")), expect(DENY, **ROOM_A))
    ],
    # Recordings: course staff and trainees enrolled in the course; anyone else is told nothing.
    "streaming:recording-watch": [
        Case(
            url("streaming:recording-watch", recording_id=extra("recording")),
            expect(NOT_FOUND, trainee_enrolled=ALLOW, **COURSE_STAFF),
        ),
        Case(url("streaming:recording-watch", recording_id=fixed(FORGED_ID)), expect(NOT_FOUND), label="forged id"),
    ],
    "streaming:recording-file": [
        Case(url("streaming:recording-file", token=fixed("forged")), expect(NOT_FOUND), label="forged token")
    ],
    "streaming:composition-watch": [
        Case(
            url("streaming:composition-watch", composition_id=extra("composition")),
            expect(NOT_FOUND, trainee_enrolled=ALLOW, **COURSE_STAFF),
        ),
    ],
    "streaming:composition-file": [
        Case(url("streaming:composition-file", token=fixed("forged")), expect(NOT_FOUND), label="forged token")
    ],
    "streaming:composition-progress": [
        Case(
            url("streaming:composition-progress", composition_id=extra("composition")),
            expect(NOT_FOUND, trainee_enrolled=ALLOW, **COURSE_STAFF),
        ),
    ],
    # Where a session's recordings are stored: its instructor and administrators; anyone else is told nothing.
    "streaming:session-storage": [
        Case(url("streaming:session-storage", session_id=session_a), expect(NOT_FOUND, **STAFF_OF_A)),
        Case(
            url("streaming:session-storage", session_id=session_a),
            expect(NOT_FOUND, **STAFF_OF_A),
            "post",
            lambda w: {"region": "chongqing"},
        ),
        Case(
            url("streaming:session-storage", session_id=session_a),
            expect(NOT_FOUND, **{INSTRUCTOR: BAD, ADMIN: BAD}),
            "post",
            lambda w: {"region": "mars"},
            label="no such region",
        ),
        Case(
            url("streaming:session-storage", session_id=fixed(FORGED_ID)),
            expect(NOT_FOUND),
            label="forged id",
        ),
    ],
    # Certificates: issuing is the administrators'; a trainee downloads their own; verification is public.
    "certificates:courses": [Case(url("certificates:courses"), expect(DENY, administrator=ALLOW))],
    "certificates:mine": [Case(url("certificates:mine"), expect(ALLOW))],
    "certificates:eligibility": [
        Case(url("certificates:eligibility", course_id=course_a), expect(DENY, administrator=ALLOW)),
        Case(
            url("certificates:eligibility", course_id=fixed(FORGED_ID)),
            expect(DENY, administrator=NOT_FOUND),
            label="forged id",
        ),
    ],
    "certificates:rule-save": [
        Case(
            url("certificates:rule-save", course_id=course_a),
            expect(DENY, administrator=ALLOW),
            "post",
            lambda w: {"min_attendance_percent": "50", "require_all_modules": "on"},
        )
    ],
    "certificates:issue-one": [
        Case(
            url("certificates:issue-one", course_id=course_a),
            expect(DENY, administrator=BAD),
            "post",
            lambda w: {"user": str(w.people[OUTSIDER].pk)},
            label="a trainee of another course, without a justification",
        )
    ],
    "certificates:batch-start": [
        Case(url("certificates:batch-start", course_id=course_a), expect(DENY, administrator=BAD), "post")
    ],
    "certificates:batch": [Case(url("certificates:batch", batch_id=extra("batch")), expect(DENY, administrator=ALLOW))],
    "certificates:batch-progress": [
        Case(url("certificates:batch-progress", batch_id=extra("batch")), expect(DENY, administrator=ALLOW))
    ],
    "certificates:batch-retry": [
        Case(url("certificates:batch-retry", batch_id=extra("batch")), expect(DENY, administrator=ALLOW), "post")
    ],
    "certificates:revoke": [
        Case(
            url("certificates:revoke", code=extra("certificate")),
            expect(DENY, administrator=ALLOW),
            "post",
            lambda w: {"reason": "Issued in error"},
        )
    ],
    "certificates:file": [
        Case(
            url("certificates:file", code=extra("certificate"), kind=fixed("pdf")),
            expect(NOT_FOUND, trainee_enrolled=ALLOW, administrator=ALLOW),
        )
    ],
    "certificates:signed-file": [
        Case(url("certificates:signed-file", token=fixed("forged")), expect(NOT_FOUND), label="forged token")
    ],
    "certificates:verify-form": [Case(url("certificates:verify-form"), everyone(ALLOW))],
    "certificates:verify": [
        Case(url("certificates:verify", code=extra("certificate")), everyone(ALLOW)),
        Case(url("certificates:verify", code=fixed("NO-SUCH-CODE")), everyone(NOT_FOUND), label="unknown code"),
    ],
    "verify:page": [Case(url("verify:page", code=extra("certificate")), everyone(ALLOW))],
    "verify:json": [Case(url("verify:json", code=extra("certificate")), everyone(ALLOW))],
    "verify:credential": [
        Case(url("verify:credential"), everyone(BAD), "post", lambda w: {"credential": "{}"}, label="junk")
    ],
    "verify:issuer-key": [Case(url("verify:issuer-key"), everyone(ALLOW))],
    "verify:status-list": [Case(url("verify:status-list", number=fixed(1)), everyone(ALLOW))],
    # Internships (issue 16): the enrolled trainee is the intern of placement A, the administrator its coordinator;
    # its company supervisor is not an actor here (tests/internships/test_supervisor_isolation.py covers them).
    "internships:mine": [Case(url("internships:mine"), expect(ALLOW))],
    "internships:log-week": [
        Case(
            url("internships:log-week", placement_id=extra("placement")),
            expect(NOT_FOUND, trainee_enrolled=ALLOW),
            "post",
            lambda w: {
                f"p{w.extra['placement']}-week_start": w.extra["week_start"],
                f"p{w.extra['placement']}-hours_0": "8",
                f"p{w.extra['placement']}-done": "Wired the conveyor sensors",
            },
        ),
        Case(
            url("internships:log-week", placement_id=fixed(FORGED_ID)),
            expect(NOT_FOUND),
            "post",
            label="forged placement",
        ),
    ],
    "internships:attach-file": [
        Case(
            url("internships:attach-file", log_id=extra("week_log")),
            expect(NOT_FOUND, trainee_enrolled=BAD),
            "post",
            label="no file",
        )
    ],
    "internships:file": [
        Case(
            url("internships:file", file_id=extra("log_file")),
            expect(NOT_FOUND, trainee_enrolled=ALLOW, administrator=ALLOW),
        )
    ],
    "internships:signed-file": [
        Case(url("internships:signed-file", token=fixed("forged")), expect(NOT_FOUND), label="forged token")
    ],
    "internships:task-status": [
        Case(
            url("internships:task-status", task_id=extra("intern_task")),
            expect(NOT_FOUND, trainee_enrolled=ALLOW, administrator=ALLOW),
            "post",
            lambda w: {"status": "done"},
        )
    ],
    "internships:dashboard": [Case(url("internships:dashboard"), expect(DENY, administrator=ALLOW))],
    "internships:placement": [
        Case(url("internships:placement", placement_id=extra("placement")), expect(DENY, administrator=ALLOW)),
        Case(
            url("internships:placement", placement_id=fixed(FORGED_ID)),
            expect(DENY, administrator=NOT_FOUND),
            label="forged placement",
        ),
    ],
    "internships:task-create": [
        Case(
            url("internships:task-create", placement_id=extra("placement")),
            expect(DENY, administrator=ALLOW),
            "post",
            lambda w: {"title": "Draft the test plan", "deadline": "2026-12-31"},
        )
    ],
    "internships:approve": [
        Case(
            url("internships:approve"),
            expect(DENY, administrator=ALLOW),
            "post",
            lambda w: {"logs": [w.extra["week_log"]]},
        )
    ],
    "internships:check-in": [
        # The coordinator reads check-ins; only the intern's supervisor records them.
        Case(
            url("internships:check-in", placement_id=extra("placement")),
            expect(DENY),
            "post",
            lambda w: {"held_on": w.extra["week_start"], "notes": "Weekly call"},
        ),
    ],
    "internships:check-in-schedule": [
        # The coordinator reads the placement; only the intern's supervisor schedules a check-in with them.
        Case(
            url("internships:check-in-schedule", placement_id=extra("placement")),
            expect(DENY),
            "post",
            lambda w: {"day": w.extra["week_start"], "time": "10:00", "minutes": "30"},
        ),
        Case(
            url("internships:check-in-schedule", placement_id=fixed(FORGED_ID)),
            expect(DENY, administrator=NOT_FOUND),
            "post",
            lambda w: {"day": w.extra["week_start"], "time": "10:00", "minutes": "30"},
            label="forged placement",
        ),
    ],
    "internships:check-in-notes": [
        Case(
            url("internships:check-in-notes", live_id=extra("live_check_in")),
            expect(DENY),
            "post",
            lambda w: {"notes": "Weekly call"},
        ),
        Case(
            url("internships:check-in-notes", live_id=fixed(FORGED_ID)),
            expect(DENY, administrator=NOT_FOUND),
            "post",
            lambda w: {"notes": "Weekly call"},
            label="forged check-in",
        ),
    ],
    "internships:evaluate": [
        Case(
            url("internships:evaluate", placement_id=extra("placement"), kind=fixed("midterm")),
            expect(DENY, administrator=ALLOW),
        ),
        # The coordinator reads evaluations; only the intern's supervisor writes them.
        Case(
            url("internships:evaluate", placement_id=extra("placement"), kind=fixed("midterm")),
            expect(DENY),
            "post",
            lambda w: {"score_quality": "4"},
            label="not the supervisor",
        ),
        Case(
            url("internships:evaluate", placement_id=fixed(FORGED_ID), kind=fixed("final")),
            expect(DENY, administrator=NOT_FOUND),
            label="forged placement",
        ),
    ],
    "internships:self-evaluate": [
        Case(
            url("internships:self-evaluate", placement_id=extra("placement")),
            expect(NOT_FOUND, trainee_enrolled=ALLOW),
        ),
        Case(
            url("internships:self-evaluate", placement_id=extra("placement")),
            expect(NOT_FOUND, trainee_enrolled=BAD),
            "post",
            lambda w: {"score_quality": "9"},
            label="bad score",
        ),
    ],
    "internships:coordinate": [Case(url("internships:coordinate"), expect(DENY, administrator=ALLOW))],
    "internships:company-create": [
        Case(url("internships:company-create"), expect(DENY, administrator=BAD), "post", label="empty form")
    ],
    "internships:internship-create": [
        Case(url("internships:internship-create"), expect(DENY, administrator=BAD), "post", label="empty form")
    ],
    "internships:placement-create": [
        Case(url("internships:placement-create"), expect(DENY, administrator=BAD), "post", label="empty form")
    ],
    "internships:sign-in-request": [Case(url("internships:sign-in-request"), everyone(ALLOW))],
    "internships:sign-in-link": [
        Case(
            url("internships:sign-in-link", uidb64=fixed("MQ"), token=fixed("forged-token")),
            everyone(NOT_FOUND),
            label="forged link",
        )
    ],
    # LTI 1.3 (lti/): platforms call these for a person's browser; who they are is in the signed launch, not the
    # session, so every actor gets the same. A login without a registered issuer, or a launch without a valid
    # id_token, is refused (400) and changes nothing.
    "lti:jwks": [Case(url("lti:jwks"), everyone(ALLOW))],
    "lti:login": [
        Case(url("lti:login"), everyone(BAD), label="no issuer"),
        Case(
            url("lti:login"),
            everyone(BAD),
            "post",
            lambda w: {"iss": "https://unregistered.example", "login_hint": "1"},
            label="unregistered issuer",
        ),
    ],
    "lti:launch": [
        Case(url("lti:launch"), everyone(METHOD)),
        Case(url("lti:launch"), everyone(BAD), "post", lambda w: {"id_token": "a.b.c", "state": "x"}, label="junk"),
    ],
    # The deep linking picker answers only the browser whose instructor the platform sent there (a forged id: 404).
    "lti:deep-link": [
        Case(url("lti:deep-link", launch_id=fixed("lti1p3-launch-forged")), expect(NOT_FOUND), follow=True),
        Case(
            url("lti:deep-link", launch_id=fixed("lti1p3-launch-forged")),
            expect(NOT_FOUND),
            "post",
            lambda w: {"choice": f"course:{w.course.pk}"},
            follow=True,
        ),
    ],
    # An instructor's platform courses (LTI NRPS): instructors (their own) and administrators (all) see the page; a
    # platform course's roster is pulled only by the instructors who launched from it, and administrators.
    "lti-pages:courses": [
        Case(url("lti-pages:courses"), expect(DENY, instructor_own=ALLOW, instructor_other=ALLOW, administrator=ALLOW))
    ],
    "lti-pages:roster-pull": [
        Case(url("lti-pages:roster-pull", context_id=extra("lti_context")), expect(METHOD)),
        Case(
            url("lti-pages:roster-pull", context_id=extra("lti_context")),
            expect(NOT_FOUND, **STAFF_OF_A),
            "post",
        ),
        Case(url("lti-pages:roster-pull", context_id=fixed(FORGED_ID)), expect(NOT_FOUND), "post", label="forged id"),
    ],
}

# Wagtail's own admin views (under /admin/) are checked as one group: the rows named here.
ADMIN_PREFIX = "admin/"
ADMIN_GROUP = ("wagtailadmin_home", "wagtailadmin_pages:edit", "wagtailsnippets_classrooms_livesession:edit")


def resolved_routes() -> dict[str, str]:
    """Every route of the site: its key in `ROUTES` (name, or pattern when unnamed) → its full pattern."""
    routes: dict[str, str] = {}

    def walk(resolver: URLResolver, prefix: str, namespace: str) -> None:
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                inner = (
                    f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace or namespace
                )
                walk(entry, prefix + str(entry.pattern), inner or "")
            elif isinstance(entry, URLPattern):
                pattern = prefix + str(entry.pattern)
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or ""
                routes[name or pattern] = pattern

    with translation.override("en"):
        walk(get_resolver(), "", "")
    return routes


def test_every_route_has_a_row() -> None:
    routes = resolved_routes()
    missing = sorted(
        key for key, pattern in routes.items() if not pattern.startswith(ADMIN_PREFIX) and key not in ROUTES
    )
    assert not missing, (
        "These routes have no row in ROUTES of tests/security/test_role_action_table.py; add one for each, with a "
        "Case per method (URL, body) and what every actor gets, e.g.\n"
        + "\n".join(
            f'    "{key}": [Case(url("{key}", ...), expect(DENY, administrator=ALLOW))],  # {routes[key]}'
            for key in missing
        )
    )
    stale = sorted(key for key in ROUTES if key not in routes)
    assert not stale, f"ROUTES names routes that no longer exist: {stale}"
    assert all(routes[key].startswith(ADMIN_PREFIX) for key in ADMIN_GROUP)


# The world, once per module. -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield _build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _build() -> World:
    from classrooms.services import devices

    world = authz.build_world()
    [(block_id, quiz)] = world.lesson.quiz_blocks().items()
    world.extra["quiz"] = block_id
    world.extra["quiz_answers"] = {
        f"question-{question.id}": next(
            choice.id for choice in question.value["choices"].bound_blocks if choice.value["is_correct"]
        )
        for question in quiz["questions"].bound_blocks
    }
    world.extra["token"] = devices.device_token_issue(room=world.room).token.pk
    world.extra["other_token"] = devices.device_token_issue(room=world.other_room).token.pk
    world.extra["camera"] = world.camera.pk
    world.extra["other_camera"] = world.other_camera.pk
    now = timezone.now()
    world.extra["recording"] = Recording.objects.create(
        session=world.session,
        publisher="instructor",
        state=RecordingState.STORED,
        storage_key="recordings/authz/instructor.webm",
        started_at=now - timedelta(minutes=4),
        ended_at=now,
    ).pk
    world.extra["composition"] = SessionComposition.objects.create(
        session=world.session, state=CompositionState.STORED, progress=100, storage_key="recordings/authz/session.mp4"
    ).pk
    admin = world.people[ADMIN]
    rule = CertificateRule.objects.create(course_key=world.course.translation_key, version=1, created_by=admin)
    trainee = world.people[TRAINEE]
    world.extra["certificate"] = Certificate.objects.create(
        code="AUTHZ-0001",
        user=trainee,
        course_key=world.course.translation_key,
        rule=rule,
        state=CertificateState.ISSUED,
        name_en=trainee.get_full_name(),
        course_title_en=world.course.title,
        issued_at=now,
        issued_by=admin,
        pdf_key="certificates/authz/AUTHZ-0001.pdf",
    ).code
    world.extra["trainee"] = trainee.pk
    # A platform course that instructor A launched from: its roster service is unreachable (nothing listens on
    # port 9), so an allowed pull fails quickly and changes nothing but its own record.
    lti_platform = LtiPlatform.objects.create(
        name="Authz Moodle",
        issuer="https://moodle.authz.example",
        client_id="authz",
        deployment_ids="1",
        auth_login_url="https://moodle.authz.example/auth",
        auth_token_url="http://127.0.0.1:9/token",
        key_set={"keys": []},
    )
    lti_context = PlatformContext.objects.create(
        platform=lti_platform,
        context_id="authz-course",
        title="Authz platform course",
        course_key=world.course.translation_key,
        memberships_url="http://127.0.0.1:9/memberships",
    )
    lti_context.instructors.add(world.people[INSTRUCTOR])
    world.extra["lti_context"] = lti_context.pk
    world.extra["export"] = DataExport.objects.create(
        user=trainee,
        requested_by=trainee,
        state=DataExportState.READY,
        progress=100,
        storage_key="exports/authz/trainee.zip",
        finished_at=now,
        expires_at=now + timedelta(days=7),
    ).pk
    world.extra["batch"] = IssueBatch.objects.create(
        course_key=world.course.translation_key, rule=rule, created_by=admin
    ).pk
    placement = factories.placement(intern=trainee, coordinator=admin)
    week_start = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    week_log = WeekLog.objects.create(
        placement=placement,
        week_start=week_start - timedelta(days=7),
        daily_hours=[4] * 5 + [0, 0],
        total_hours=20,
        done="Calibrated the arm",
        submitted_at=now,
    )
    world.extra["placement"] = placement.pk
    world.extra["week_start"] = week_start.isoformat()
    world.extra["week_log"] = week_log.pk
    world.extra["log_file"] = LogFile.objects.create(
        week_log=week_log,
        filename="notes.txt",
        content_type="text/plain",
        size=5,
        sha256="0" * 64,
        storage_key="internships/authz/notes.txt",
        storage_region="singapore",
    ).pk
    world.extra["intern_task"] = InternTask.objects.create(
        placement=placement, title="Read the safety manual", deadline=week_start
    ).pk
    # A live check-in of placement A (tomorrow, with its company supervisor), for its notes' route.
    factories.check_in_course(placement)
    world.extra["live_check_in"] = internship_services.check_in_schedule(
        placement=placement,
        by=placement.supervisor,
        starts_at=timezone.now().replace(microsecond=0) + timedelta(days=1),
        minutes=30,
    ).pk
    world.extra["xapi_statement"] = str(
        QueuedStatement.objects.create(
            statement={"id": "authz"},
            verb="registered",
            state=StatementState.FAILING,
            attempts=1,
            last_error="LRS unreachable",
            next_attempt_at=now + timedelta(minutes=1),
        ).pk
    )
    exam = factories.ExamFactory.create()
    factories.QuestionFactory.create_batch(2, exam=exam)
    PaperRule.objects.create(exam=exam, kind="single", topic="safety", count=1)
    sitting = factories.sitting(exam=exam)
    world.extra["exam_code"] = exam.code
    world.extra["sitting"] = sitting.pk
    world.extra["candidate"] = exam_services.candidate_register(sitting=sitting, user=trainee).pk
    exam_services.paper_prepare(sitting=sitting)
    world.extra["paper"] = Paper.objects.get(candidate_id=world.extra["candidate"]).pk
    # Marking: a past sitting of another exam, one paper submitted with an essay waiting; the instructor marks it.
    marking_exam = factories.marked_exam()
    marking_exam.markers.add(world.people[INSTRUCTOR])
    marking_sitting = factories.past_sitting(exam=marking_exam, candidates=[factories.trainee()])
    paper = factories.submit_paper_as_candidate(
        candidate=marking_sitting.candidates.get(), answers={"First single?": ["a"], "Plan a hybrid class.": "A plan."}
    )
    world.extra["marking_exam"] = marking_exam.code
    world.extra["marking_sitting"] = marking_sitting.pk
    world.extra["essay_answer"] = paper.answers.get(question__kind="essay").pk
    return world


# What a refused POST must leave alone. --------------------------------------------------------------------------------


FINGERPRINTED = (
    "accounts.User",
    "accounts.DataExport",
    "certificates.CertificateRule",
    "certificates.Certificate",
    "certificates.IssueBatch",
    "certificates.IssueBatchItem",
    "courses.Enrolment",
    "courses.CourseTeacher",
    "exams.Candidate",
    "exams.Paper",
    "exams.Answer",
    "exams.Sitting",
    "exams.Incident",
    "exams.InvigilationAction",
    "exams.Answer",
    "exams.Mark",
    "courses.LessonCompletion",
    "courses.QuizAttempt",
    "classrooms.Room",
    "classrooms.LiveSession",
    "classrooms.AttendanceRecord",
    "classrooms.AttendanceStay",
    "classrooms.AttendanceCheckin",
    "classrooms.LiveEvent",
    "classrooms.Device",
    "classrooms.DeviceToken",
    "streaming.Recording",
    "streaming.SessionComposition",
    "internships.HostCompany",
    "internships.Internship",
    "internships.Placement",
    "internships.WeekLog",
    "internships.LogFile",
    "internships.InternTask",
    "internships.Evaluation",
    "internships.CheckIn",
    "internships.LiveCheckIn",
    "xapi.QueuedStatement",
    "lti.PlatformAccount",
    "lti.UsedNonce",
    "lti.PlatformContext",
    "lti.RosterPull",
    "accounts.Cohort",
)


def fingerprint() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the models the site's POSTs change (not the audit log, which records refusals, nor sign-in
    times)."""
    from django.apps import apps

    rows: dict[str, list[tuple[Any, ...]]] = {}
    for label in FINGERPRINTED:
        model = apps.get_model(label)
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "last_login"]
        rows[label] = list(model.objects.order_by("pk").values_list(*fields))
    return rows


def observed(response: Any, *, away: str | None = None) -> Outcome | str:
    status = response.status_code
    chain = [location for location, _status in getattr(response, "redirect_chain", [])]
    if any(path in location for location in chain for path in LOGIN_PATHS):
        return LOGIN
    if 300 <= status < 400:
        location = response.get("Location", "")
        if any(path in location for path in LOGIN_PATHS):
            return LOGIN
        path = response.request["PATH_INFO"]
        if location == "/admin/" and path.startswith("/admin/") and path != "/admin/":
            return DENY  # Wagtail's admin refuses by sending to its dashboard with "no permission"
        if away is not None and location == away:
            return AWAY
        return ALLOW
    if 200 <= status < 300:
        return ALLOW
    by_status = {400: BAD, 403: DENY, 404: NOT_FOUND, 405: METHOD, 409: CONFLICT}
    return by_status.get(status, f"HTTP {status}")


def _params() -> list[Any]:
    params = []
    for route, cases in ROUTES.items():
        for index, case in enumerate(cases):
            for actor, outcome in case.expected.items():
                label = case.label or case.method.upper()
                case_id = f"{route}[{index}:{label}]-{actor}"
                params.append(pytest.param(route, index, actor, outcome, id=case_id))
    return params


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "index", "actor", "expected"), _params())
def test_role_action(world: World, route: str, index: int, actor: str, expected: Outcome) -> None:
    case = ROUTES[route][index]
    client = Client()
    person: User | None = world.user(actor)
    if person is not None:
        client.force_login(person)
    target = case.url(world)
    headers = {"Accept": "application/json"} if case.json else {}
    before = fingerprint() if case.method == "post" and expected != ALLOW else None
    data = case.data(world) if case.data else {}
    response = getattr(client, case.method)(target, data, headers=headers, follow=case.follow)
    got = observed(response, away=case.away(world) if case.away else None)
    assert got == expected, (
        f"{actor} {case.method.upper()} {target}: expected {expected}, got {got} "
        f"(HTTP {response.status_code} {response.get('Location', '')})"
    )
    if case.secret is not None and actor in case.hidden_from:
        content = b"" if response.streaming else response.content
        assert case.secret(world).encode() not in content, f"{actor} {case.method.upper()} {target} shows it"
    if before is not None:
        after = fingerprint()
        changed = {label for label in before if before[label] != after[label]}
        assert not changed, f"{actor}'s refused {case.method.upper()} {target} changed {sorted(changed)}"
