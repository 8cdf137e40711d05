"""Writes for the exam centre: scheduling sittings, registering candidates, preparing papers, checking in."""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from exams import selectors
from exams.live import papers_changed_on_commit
from exams.models import Candidate, Exam, ExamRoom, Paper, PaperRule, Question, QuestionKind, Sitting
from lms.accounts.roles import Role, user_roles
from lms.errors import CorridorError
from lms.timezones import city_time, city_time_zone

logger = logging.getLogger(__name__)


def sitting_check(
    *,
    exam: Exam,
    room: ExamRoom,
    starts_at: datetime,
    seats: int,
    registration_closes_at: datetime,
    exclude_id: int | None = None,
) -> datetime:
    """Refuse a sitting that cannot be held as asked (raises CorridorError); returns when it ends."""
    ends_at = starts_at + timedelta(minutes=exam.duration_minutes)
    if seats < 1:
        raise CorridorError("invalid_seats", _("A sitting offers at least one seat."))
    if seats > room.seats:
        raise CorridorError(
            "too_many_seats",
            _("%(room)s has %(seats)d seats: offer at most that many.") % {"room": room.name, "seats": room.seats},
        )
    if registration_closes_at > starts_at:
        raise CorridorError("invalid_time", _("Registration must close before the sitting starts."))
    clashes = selectors.sitting_clashes(room=room, starts_at=starts_at, ends_at=ends_at, exclude_id=exclude_id)
    if clashes:
        raise CorridorError("schedule_clash", " ".join(clashes), status=409)
    return ends_at


@transaction.atomic
def sitting_schedule(
    *,
    exam: Exam,
    room: ExamRoom,
    starts_at: datetime,
    seats: int,
    registration_closes_at: datetime,
) -> Sitting:
    """Schedule a sitting of `exam` in `room`; it lasts the exam's duration. Refused on a clash with another
    sitting in the room (or a live session, when the room is also a classroom), or more seats than the room has."""
    # Lock the room so that two sittings scheduled at once cannot both pass the clash check.
    ExamRoom.objects.select_for_update().filter(pk=room.pk).first()
    ends_at = sitting_check(
        exam=exam, room=room, starts_at=starts_at, seats=seats, registration_closes_at=registration_closes_at
    )
    return Sitting.objects.create(
        exam=exam,
        room=room,
        starts_at=starts_at,
        ends_at=ends_at,
        seats=seats,
        registration_closes_at=registration_closes_at,
    )


@transaction.atomic
def candidate_register(*, sitting: Sitting, user: Any, now: datetime | None = None) -> Candidate:
    """Register a trainee for a sitting and give them the lowest free seat.

    Refused, with nothing stored, when: the person is not a trainee, registration has closed, they are already
    registered, every seat is taken, or the exam requires a preparatory course they have not completed. The sitting
    row is locked (SELECT … FOR UPDATE) so that two registrations for the last seat cannot both get it."""
    now = now or timezone.now()
    sitting = Sitting.objects.select_for_update().select_related("exam").get(pk=sitting.pk)
    if Role.TRAINEE not in user_roles(user):
        raise CorridorError("forbidden", _("Only trainees register for exams."), status=403)
    if now >= sitting.registration_closes_at:
        raise CorridorError("registration_closed", _("Registration for this sitting has closed."), status=409)
    if Candidate.objects.filter(sitting=sitting, user=user).exists():
        raise CorridorError("already_registered", _("You are already registered for this sitting."), status=409)
    seats_used = set(Candidate.objects.filter(sitting=sitting).values_list("seat_number", flat=True))
    free = [seat for seat in range(1, sitting.seats + 1) if seat not in seats_used]
    if not free:
        raise CorridorError("sitting_full", _("This sitting is full: every seat is taken."), status=409)
    exam = sitting.exam
    if exam.requires_preparatory_course and not selectors.preparatory_course_completed(user=user, exam=exam):
        raise CorridorError(
            "prerequisite_missing",
            _("Complete a preparatory course for %(exam)s before you register.") % {"exam": exam.code},
            status=409,
        )
    return Candidate.objects.create(sitting=sitting, user=user, seat_number=free[0])


def paper_seed(*, candidate: Candidate) -> str:
    """The candidate's seed: the same candidate always gets the same paper; no one can work it out without the
    site's secret key."""
    message = f"exam-paper:{candidate.sitting_id}:{candidate.pk}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def paper_draw(*, rules: list[PaperRule], bank: list[Question], seed: str) -> list[dict[str, Any]]:
    """The questions of one paper, drawn from `bank` by the rules and shuffled with `seed`; choices shuffled too.

    Deterministic: the same bank, rules and seed give the same paper."""
    rng = random.Random(seed)
    chosen: list[Question] = []
    taken: set[int] = set()
    for rule in rules:
        pool = [
            q
            for q in sorted(bank, key=lambda q: q.pk)
            if q.kind == rule.kind and (not rule.topic or q.topic == rule.topic) and q.pk not in taken
        ]
        if len(pool) < rule.count:
            raise CorridorError(
                "bank_too_small",
                _("The question bank has %(have)d questions for “%(rule)s”, the paper rule asks for %(want)d.")
                % {"have": len(pool), "rule": rule, "want": rule.count},
            )
        picked = rng.sample(pool, rule.count)
        chosen += picked
        taken.update(q.pk for q in picked)
    rng.shuffle(chosen)
    items = []
    for question in chosen:
        choice_ids = [str(choice["id"]) for choice in question.choices]
        if question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            rng.shuffle(choice_ids)
        # The kind travels with the paper, so checking a save needs no look-up of its questions.
        items.append({"question": question.pk, "kind": question.kind, "choices": choice_ids})
    return items


@transaction.atomic
def paper_prepare(*, sitting: Sitting, now: datetime | None = None) -> int:
    """Build the paper of every candidate of the sitting who has none yet (per the exam's paper rule, shuffled per
    candidate, deterministic per candidate's seed), so that the start is not a storm of paper generation.
    Returns how many papers were built; a second run builds none. Refused when the bank cannot satisfy the rule."""
    now = now or timezone.now()
    sitting = Sitting.objects.select_for_update().select_related("exam").get(pk=sitting.pk)
    rules = list(sitting.exam.paper_rules.order_by("pk"))
    if not rules:
        raise CorridorError("no_paper_rule", _("The exam has no paper rule yet: say how many questions of each kind."))
    bank = list(sitting.exam.questions.all())
    built = 0
    for candidate in sitting.candidates.filter(paper__isnull=True).order_by("seat_number"):
        seed = paper_seed(candidate=candidate)
        Paper.objects.create(candidate=candidate, seed=seed, items=paper_draw(rules=rules, bank=bank, seed=seed))
        built += 1
    sitting.papers_prepared_at = now
    sitting.save(update_fields=["papers_prepared_at"])
    return built


def paper_prepare_on_commit(*, sitting: Sitting) -> None:
    """Queue the papers' preparation (a Celery task) once the current transaction commits."""
    from exams.tasks import prepare_papers

    sitting_id = sitting.pk
    transaction.on_commit(lambda: prepare_papers.delay(sitting_id))


@transaction.atomic
def sitting_update(
    *,
    sitting: Sitting,
    exam: Exam,
    room: ExamRoom,
    starts_at: datetime,
    seats: int,
    registration_closes_at: datetime,
) -> Sitting:
    """Change a sitting with the same checks as `sitting_schedule` (itself is not a clash); it never offers fewer
    seats than candidates already registered."""
    ExamRoom.objects.select_for_update().filter(pk=room.pk).first()
    registered = Candidate.objects.filter(sitting=sitting).count()
    if seats < registered:
        raise CorridorError(
            "too_few_seats",
            _("%(count)d candidates are registered: offer at least that many seats.") % {"count": registered},
        )
    ends_at = sitting_check(
        exam=exam,
        room=room,
        starts_at=starts_at,
        seats=seats,
        registration_closes_at=registration_closes_at,
        exclude_id=sitting.pk,
    )
    sitting.exam, sitting.room, sitting.starts_at, sitting.ends_at = exam, room, starts_at, ends_at
    sitting.seats, sitting.registration_closes_at = seats, registration_closes_at
    sitting.save()
    return sitting


# Reminders and papers due -------------------------------------------------------------------------------------------


def _candidate_reminder(*, candidate: Candidate) -> EmailMessage:
    """One candidate's reminder, in their language, with the time on the exam room's city clock."""
    user, sitting = candidate.user, candidate.sitting
    site = str(settings.WAGTAILADMIN_BASE_URL).rstrip("/")
    with translation.override(user.preferred_language):
        context = {
            "recipient": user,
            "candidate": candidate,
            "exam": sitting.exam,
            "room": sitting.room,
            "when": city_time(sitting.room.city, sitting.starts_at, sitting.ends_at),
            "slip_url": site + reverse("exams:slip", kwargs={"candidate_id": candidate.pk}),
        }
        subject = " ".join(render_to_string("exams/email/reminder_subject.txt", context).split())
        body = render_to_string("exams/email/reminder.txt", context)
    return EmailMessage(subject=subject, body=body, to=[user.email])


def candidate_reminders_send(*, now: datetime | None = None) -> int:
    """Email every candidate whose sitting starts within EXAM_REMINDER_HOURS and who has not been reminded; each
    candidate is claimed by a conditional UPDATE first, so overlapping runs send one email each. Returns how many."""
    now = now or timezone.now()
    due = Candidate.objects.filter(
        reminder_sent_at__isnull=True,
        sitting__starts_at__gt=now,
        sitting__starts_at__lte=now + timedelta(hours=settings.EXAM_REMINDER_HOURS),
    ).values_list("pk", flat=True)
    sent = 0
    for candidate_id in list(due):
        with transaction.atomic():
            if not Candidate.objects.filter(pk=candidate_id, reminder_sent_at__isnull=True).update(
                reminder_sent_at=now
            ):
                continue
            candidate = Candidate.objects.select_related("user", "sitting__exam", "sitting__room").get(pk=candidate_id)
            # Sent inside the claim's transaction: a mail server that fails rolls the claim back for the next run.
            get_connection().send_messages([_candidate_reminder(candidate=candidate)])
            sent += 1
    return sent


def papers_prepare_due(*, now: datetime | None = None) -> list[int]:
    """Prepare the papers of every sitting whose registration has closed and that has not started yet (nor had its
    papers prepared). A sitting whose bank cannot satisfy its rule is logged and tried again on the next run."""
    now = now or timezone.now()
    due = Sitting.objects.filter(registration_closes_at__lte=now, starts_at__gt=now, papers_prepared_at__isnull=True)
    prepared = []
    for sitting in due:
        try:
            paper_prepare(sitting=sitting, now=now)
        except CorridorError as error:
            logger.warning("papers of sitting %s not prepared: %s", sitting.pk, error.message)
            continue
        prepared.append(sitting.pk)
    return prepared


# Check-in -----------------------------------------------------------------------------------------------------------


# Invigilators check candidates in from this long before the start until the sitting ends.
CHECK_IN_OPENS_BEFORE = timedelta(hours=3)


def check_in_open(*, sitting: Sitting, now: datetime) -> bool:
    return sitting.starts_at - CHECK_IN_OPENS_BEFORE <= now < sitting.ends_at


def candidate_for_check_in(*, sitting: Sitting, token: str, by: Any, now: datetime | None = None) -> Candidate:
    """The candidate a slip's QR payload names, for the invigilator to confirm their identity; refused (nothing is
    changed) when the person is not an invigilator of the room, check-in is not open, the payload is not a slip's,
    or the slip is for another sitting."""
    now = now or timezone.now()
    if not selectors.user_invigilates(user=by, room=sitting.room):
        raise CorridorError("forbidden", _("Only this exam room's invigilators check candidates in."), status=403)
    if not check_in_open(sitting=sitting, now=now):
        raise CorridorError(
            "check_in_closed",
            _("Check-in opens three hours before the sitting starts and closes when it ends."),
            status=409,
        )
    candidate = selectors.candidate_from_slip_token(token=token)
    if candidate is None:
        raise CorridorError("invalid_slip", _("This is not the code of an admission slip: scan the slip's QR code."))
    if candidate.sitting_id != sitting.pk:
        raise CorridorError(
            "other_sitting",
            _("This slip is for another sitting (%(exam)s, %(room)s).")
            % {"exam": candidate.sitting.exam.code, "room": candidate.sitting.room.name},
            status=409,
        )
    return candidate


@transaction.atomic
def candidate_check_in(*, sitting: Sitting, token: str, by: Any, now: datetime | None = None) -> Candidate:
    """Check the candidate in once the invigilator has confirmed their identity: their seat is theirs from now on.
    Refused as `candidate_for_check_in` refuses, and when they are already checked in (saying when, and by whom)."""
    now = now or timezone.now()
    found = candidate_for_check_in(sitting=sitting, token=token, by=by, now=now)
    candidate = (
        Candidate.objects.select_for_update(of=("self",)).select_related("user", "checked_in_by").get(pk=found.pk)
    )
    if candidate.checked_in_at is not None:
        raise CorridorError(
            "already_checked_in",
            _("%(name)s was already checked in at %(time)s by %(by)s (seat %(seat)d).")
            % {
                "name": candidate.user.get_full_name() or candidate.user.email,
                "time": timezone.localtime(candidate.checked_in_at, city_time_zone(sitting.room.city)).strftime(
                    "%H:%M"
                ),
                "by": candidate.checked_in_by or "—",
                "seat": candidate.seat_number,
            },
            status=409,
        )
    candidate.checked_in_at, candidate.checked_in_by = now, by
    candidate.save(update_fields=["checked_in_at", "checked_in_by"])
    # The sitting's consoles show the check-in at once.
    papers_changed_on_commit(sitting_id=sitting.pk, paper_ids=[], reason="checked_in")
    return candidate


def exams_erase_user(*, person: Any) -> dict[str, int]:
    """Erasing a person keeps their registrations (the exam board's record of a sitting: seat, check-in), which
    name them only through their account, now the placeholder; no text of the exam centre holds their name."""
    return {"registrations_kept": Candidate.objects.filter(user=person.user).count()}
