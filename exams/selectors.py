"""Reads for the exam centre: exams and their sittings, seats, clashes, who may do what, candidates' standing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.services.sessions import session_clashes
from courses.models import CourseKind, CoursePage
from courses.selectors import localized_courses, progress_by_course
from exams.models import Answer, Candidate, Exam, ExamRoom, Paper, Sitting
from exams.slip import SlipFields, SlipLine
from lms.accounts.roles import Role, user_roles
from lms.timezones import SCHEDULING_TIME_ZONE, CityTime, city_time


def user_is_exam_admin(user: Any) -> bool:
    return Role.ADMINISTRATOR in user_roles(user)


def user_invigilates(*, user: Any, room: ExamRoom) -> bool:
    """An invigilator of this exam room (administrators run every room)."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user_is_exam_admin(user):
        return True
    return Role.INVIGILATOR in user_roles(user) and room.invigilators.filter(pk=user.pk).exists()


def exams_prepared_for(*, course: CoursePage) -> QuerySet[Exam]:
    """The exams a (preparatory) course prepares for, whichever language version of it the exam names."""
    return Exam.objects.filter(preparatory_courses__translation_key=course.translation_key).distinct()


def exam_preparatory_courses(*, exam: Exam, locale: Any) -> list[CoursePage]:
    """The exam's preparatory courses, each in `locale` where it is translated (live pages only)."""
    keys = list(exam.preparatory_courses.values_list("translation_key", flat=True))
    return localized_courses(keys, locale) if keys else []


def preparatory_course_completed(*, user: Any, exam: Exam) -> bool:
    """Whether `user` completed (every lesson of) one of the exam's preparatory courses."""
    courses = list(
        CoursePage.objects.live().filter(
            translation_key__in=exam.preparatory_courses.values_list("translation_key", flat=True),
            kind=CourseKind.PREPARATORY,
        )
    )
    if not courses:
        return False
    return any(progress.is_complete for progress in progress_by_course(user=user, courses=courses).values())


def sitting_clashes(
    *, room: ExamRoom, starts_at: datetime, ends_at: datetime, exclude_id: int | None = None
) -> list[str]:
    """Human-readable descriptions of every booking of the room this sitting would collide with: other sittings in
    the exam room and, when the exam room is also a classroom, its live sessions (the sessions' own check)."""
    overlapping = (
        Sitting.objects.filter(room=room, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .select_related("exam", "room")
        .order_by("starts_at")
    )
    if exclude_id is not None:
        overlapping = overlapping.exclude(pk=exclude_id)
    clashes = [
        _("%(room)s is already booked for the sitting of %(exam)s (%(start)s–%(end)s, UTC+8).")
        % {
            "room": other.room.name,
            "exam": other.exam.code,
            "start": timezone.localtime(other.starts_at, SCHEDULING_TIME_ZONE).strftime("%Y-%m-%d %H:%M"),
            "end": timezone.localtime(other.ends_at, SCHEDULING_TIME_ZONE).strftime("%H:%M"),
        }
        for other in overlapping
    ]
    if room.classroom is not None:
        # No instructor is named: only the room's bookings count.
        clashes += session_clashes(starts_at=starts_at, ends_at=ends_at, instructor=None, rooms=[room.classroom])
    return clashes


def seats_taken(sittings: list[Sitting]) -> dict[int, int]:
    rows = (
        Candidate.objects.filter(sitting__in=sittings)
        .values("sitting")
        .annotate(taken=Count("id"))
        .values_list("sitting", "taken")
    )
    return dict(rows)


@dataclass(frozen=True)
class SittingEntry:
    sitting: Sitting
    seats_left: int
    registration_open: bool
    when: CityTime
    closes: datetime
    candidate: Candidate | None


def upcoming_sittings(*, exam: Exam, user: Any, now: datetime | None = None) -> list[SittingEntry]:
    """The exam's sittings not yet over, with seats left, whether registration is open, and the user's own
    registration; times on the exam room's city clock."""
    now = now or timezone.now()
    sittings = list(exam.sittings.filter(ends_at__gt=now).select_related("room").order_by("starts_at"))
    taken = seats_taken(sittings)
    mine: dict[int, Candidate] = {}
    if getattr(user, "is_authenticated", False):
        mine = {c.sitting_id: c for c in Candidate.objects.filter(user=user, sitting__in=sittings)}
    entries = []
    for sitting in sittings:
        when = city_time(sitting.room.city, sitting.starts_at, sitting.ends_at)
        entries.append(
            SittingEntry(
                sitting=sitting,
                seats_left=max(sitting.seats - taken.get(sitting.pk, 0), 0),
                registration_open=now < sitting.registration_closes_at,
                when=when,
                closes=sitting.registration_closes_at.astimezone(when.starts.tzinfo),
                candidate=mine.get(sitting.pk),
            )
        )
    return entries


def exams_listed() -> QuerySet[Exam]:
    return Exam.objects.order_by("code")


@dataclass(frozen=True)
class Registration:
    candidate: Candidate
    when: CityTime


def registrations_of(*, user: Any) -> list[Registration]:
    """The user's registrations, newest sitting first, with times on the exam room's city clock."""
    candidates = Candidate.objects.filter(user=user).select_related("sitting__exam", "sitting__room")
    return [
        Registration(
            candidate=c,
            when=city_time(c.sitting.room.city, c.sitting.starts_at, c.sitting.ends_at),
        )
        for c in candidates.order_by("-sitting__starts_at")
    ]


def sitting_candidates(*, sitting: Sitting) -> QuerySet[Candidate]:
    return sitting.candidates.select_related("user", "paper", "checked_in_by").order_by("seat_number")


def sittings_run_by(*, user: Any) -> QuerySet[Sitting]:
    """Sittings an invigilator runs (those in their rooms); every sitting for administrators."""
    sittings = Sitting.objects.select_related("exam", "room").order_by("starts_at")
    if user_is_exam_admin(user):
        return sittings
    if Role.INVIGILATOR not in user_roles(user):
        return sittings.none()
    return sittings.filter(room__invigilators=user)


# The admission slip -------------------------------------------------------------------------------------------------

# The QR code carries a token signed with the site's key (Django's signer, its own salt), naming the candidate: an
# invigilator's scan finds the candidate from it, and no one can make one for a seat they do not hold.
SLIP_SALT = "exams.admission-slip"


def slip_token(*, candidate: Candidate) -> str:
    return signing.dumps({"candidate": candidate.pk, "sitting": candidate.sitting_id}, salt=SLIP_SALT)


def candidate_from_slip_token(*, token: str) -> Candidate | None:
    """The candidate a slip's QR payload names, or None for anything forged, altered or of a deleted registration."""
    try:
        claims = signing.loads(token.strip(), salt=SLIP_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("candidate"), int):
        return None
    if not isinstance(claims.get("sitting"), int):
        return None
    return (
        Candidate.objects.select_related("sitting__exam", "sitting__room", "user")
        .filter(pk=claims["candidate"], sitting_id=claims["sitting"])
        .first()
    )


def candidate_slip_fields(*, candidate: Candidate) -> SlipFields:
    """What the slip says, in both languages at once (it is read by the candidate and by invigilators)."""
    sitting, user = candidate.sitting, candidate.user
    exam, room = sitting.exam, sitting.room
    when = city_time(room.city, sitting.starts_at, sitting.ends_at)
    name = user.get_full_name() or user.email
    if user.name_zh:
        name = f"{name} · {user.name_zh}" if user.get_full_name() else user.name_zh
    city_en = {"singapore": "Singapore", "chongqing": "Chongqing"}.get(room.city, room.city)
    city_zh = {"singapore": "新加坡", "chongqing": "重庆"}.get(room.city, room.city)
    return SlipFields(
        title_en="Admission slip",
        title_zh="准考证",
        exam_en=f"{exam.code} {exam.title}",
        exam_zh=f"{exam.code} {exam.title_zh}" if exam.title_zh else "",
        lines=[
            SlipLine("Candidate", "考生", name),
            SlipLine("Candidate number", "准考证号", candidate.number),
            SlipLine("Seat", "座位号", str(candidate.seat_number)),
            SlipLine("Exam room", "考场", f"{room.name} · {city_en} {city_zh}"),
            SlipLine(
                "Date and time",
                "考试时间",
                f"{when.starts:%Y-%m-%d %H:%M}–{when.ends:%H:%M} ({when.zone}, UTC+8)",
            ),
            SlipLine("Duration", "时长", f"{exam.duration_minutes} min · {exam.duration_minutes} 分钟"),
        ],
        qr_payload=slip_token(candidate=candidate),
        notes_en=(
            "Bring this slip and an identity document. Arrive 20 minutes before the start: the invigilator scans "
            "the QR code and checks your identity, which assigns your seat. A candidate not checked in cannot start."
        ),
        notes_zh="请携带本准考证和身份证件，提前20分钟到达考场：监考老师扫描二维码并核对身份后为你安排座位。未签到的考生不能开始考试。",
    )


def _paper_record(paper: Paper | None) -> dict[str, Any] | None:
    """A paper as its candidate's data export shows it: when it was taken, and every answer the server holds."""
    if paper is None:
        return None
    answers = Answer.objects.filter(paper=paper).select_related("question").order_by("question__pk")
    return {
        "started_at": paper.started_at.isoformat() if paper.started_at else None,
        "submitted_at": paper.submitted_at.isoformat() if paper.submitted_at else None,
        "submitted_how": paper.submitted_how or None,
        "answers": [
            {
                "question": answer.question.text,
                "choices": list(answer.choices),
                "text": answer.text,
                "saved_at": answer.saved_at.isoformat(),
            }
            for answer in answers
        ],
    }


def exam_records_of(*, user: Any) -> dict[str, Any]:
    """What the exam centre holds about a person (their data export): their registrations, seats, check-ins, and
    the papers they took with every answer."""
    candidates = Candidate.objects.filter(user=user).select_related("sitting__exam", "sitting__room", "paper")
    return {
        "registrations": [
            {
                "exam": c.sitting.exam.code,
                "exam_title": c.sitting.exam.title,
                "room": c.sitting.room.name,
                "starts_at": c.sitting.starts_at.isoformat(),
                "candidate_number": c.number,
                "seat": c.seat_number,
                "registered_at": c.registered_at.isoformat(),
                "checked_in_at": c.checked_in_at.isoformat() if c.checked_in_at else None,
                "paper_prepared": hasattr(c, "paper"),
                "paper": _paper_record(getattr(c, "paper", None)),
            }
            for c in candidates.order_by("sitting__starts_at")
        ]
    }
