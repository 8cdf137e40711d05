"""Writes for taking an exam: starting a paper, saving answers, submitting (by the candidate, or by the server at
time-up, exactly once), and the exam page's presence (connected, last heard from).

The clock is the server's (exams.clock). Every write locks the paper's row first (SELECT … FOR UPDATE), so a save,
a submission, an invigilator's pause and the time-up task never interleave; refusals raise before anything is
written. Saves carry the page's sequence numbers: a save that arrives again, or late, changes nothing but is
acknowledged, so the page can send its queue again until it hears back."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from exams import clock, services
from exams.live import papers_changed_on_commit
from exams.models import Answer, Candidate, Paper, Question, QuestionKind, SubmittedHow
from exams.signals import paper_submitted
from lms.errors import CorridorError
from lms.timezones import city_time_zone

logger = logging.getLogger(__name__)

# The invigilators' console hears of saves at most this often per paper (every save is stored at once regardless).
SAVED_PUSH_EVERY = timedelta(seconds=5)
# A save carries at most this many answers, and an answer's text at most this many characters.
MAX_ANSWERS_PER_SAVE = 200
MAX_TEXT_CHARS = 20_000


def _locked_paper(*, paper_id: int) -> Paper:
    """The paper with its row locked until the transaction ends, and its candidate, sitting and exam."""
    paper = (
        Paper.objects.select_for_update(of=("self",))
        .select_related("candidate__sitting__exam", "candidate__sitting__room")
        .filter(pk=paper_id)
        .first()
    )
    if paper is None:
        raise CorridorError("not_found", _("There is no such paper."), status=404)
    return paper


def _owned(paper: Paper, by: Any) -> None:
    """Another person's paper does not exist for them (nothing about it is revealed)."""
    if paper.candidate.user_id != getattr(by, "pk", None):
        raise CorridorError("not_found", _("There is no such paper."), status=404)


def _duration(paper: Paper) -> int:
    return paper.candidate.sitting.exam.duration_minutes


def _submit_locked(paper: Paper, *, how: str, now: datetime) -> bool:
    """Submit a locked paper unless it already is: a conditional UPDATE, so two submitters cannot both succeed even
    without the lock. Sends `paper_submitted` inside the transaction and tells the pages once it commits."""
    submitted = Paper.objects.filter(pk=paper.pk, submitted_at__isnull=True).update(submitted_at=now, submitted_how=how)
    if not submitted:
        return False
    paper.submitted_at, paper.submitted_how = now, how
    paper_submitted.send(sender=Paper, paper=paper)
    papers_changed_on_commit(sitting_id=paper.candidate.sitting_id, paper_ids=[paper.pk], reason="submitted")
    return True


def _submit_time_up_locked(paper: Paper, *, now: datetime) -> bool:
    if clock.time_is_up(paper, duration_minutes=_duration(paper), now=now):
        return _submit_locked(paper, how=SubmittedHow.TIME_UP, now=now)
    return False


@transaction.atomic
def paper_submit_if_time_up(*, paper_id: int, now: datetime | None = None) -> bool:
    """Submit the paper if its time is up (and it is not submitted, nor paused). True when this call submitted it."""
    now = now or timezone.now()
    paper = _locked_paper(paper_id=paper_id)
    return _submit_time_up_locked(paper, now=now)


def papers_submit_time_up(*, now: datetime | None = None) -> list[int]:
    """Submit every running paper whose time is up (the periodic task). Each in its own transaction, under its lock;
    a paper submitted meanwhile by anyone else is skipped. Returns the ids this run submitted."""
    now = now or timezone.now()
    running = Paper.objects.filter(started_at__isnull=False, submitted_at__isnull=True, paused_at__isnull=True)
    # Extra time and pauses only lengthen a paper, so none can be out of time before its exam's duration has passed
    # since its start: only those are read and checked (a sitting's papers are not all loaded every second).
    durations = (
        running.order_by()
        .values_list("candidate__sitting__exam_id", "candidate__sitting__exam__duration_minutes")
        .distinct()
    )
    past_duration = Q(pk__in=[])
    for exam_id, minutes in durations:
        past_duration |= Q(candidate__sitting__exam_id=exam_id, started_at__lte=now - timedelta(minutes=minutes))
    submitted = []
    for paper in running.filter(past_duration).select_related("candidate__sitting__exam"):
        if clock.time_is_up(paper, duration_minutes=_duration(paper), now=now) and paper_submit_if_time_up(
            paper_id=paper.pk, now=now
        ):
            submitted.append(paper.pk)
    return submitted


def _time_up_on_commit(paper: Paper, *, now: datetime) -> None:
    """Ask a worker to submit the paper when its time will be up (the periodic task catches any that is missed)."""
    due = clock.due_at(paper, duration_minutes=_duration(paper), now=now)
    if due is None:
        return
    from exams.tasks import submit_paper_if_time_up

    paper_id = paper.pk

    def queue() -> None:
        try:
            submit_paper_if_time_up.apply_async((paper_id,), eta=due + timedelta(seconds=1))
        except Exception:
            logger.warning("time-up task of paper %s not queued", paper_id, exc_info=True)

    transaction.on_commit(queue)


def _sitting_time(candidate: Candidate, moment: datetime) -> str:
    return timezone.localtime(moment, city_time_zone(candidate.sitting.room.city)).strftime("%H:%M")


@transaction.atomic
def attempt_start(*, candidate_id: int, by: Any, now: datetime | None = None) -> Paper:
    """Start the candidate's paper (or resume it: starting again changes nothing). Refused, with nothing changed,
    for another person's registration, a candidate not checked in, before the sitting starts or once it is over,
    and once the paper is submitted. A paper not prepared before the sitting is built now."""
    now = now or timezone.now()
    candidate = (
        Candidate.objects.select_for_update(of=("self",))
        .select_related("sitting__exam", "sitting__room")
        .filter(pk=candidate_id)
        .first()
    )
    if candidate is None or candidate.user_id != getattr(by, "pk", None):
        raise CorridorError("not_found", _("There is no such registration."), status=404)
    paper = Paper.objects.select_for_update().filter(candidate=candidate).first()
    if paper is not None and paper.submitted_at is not None:
        raise CorridorError("already_submitted", _("Your paper has already been submitted."), status=409)
    if paper is not None and paper.started_at is not None:
        return _locked_paper(paper_id=paper.pk)
    sitting = candidate.sitting
    if candidate.checked_in_at is None:
        raise CorridorError(
            "not_checked_in",
            _("An invigilator must check you in (scan your admission slip) before you can start."),
            status=409,
        )
    if now < sitting.starts_at:
        raise CorridorError(
            "not_started",
            _("The sitting starts at %(time)s: you can start then.")
            % {"time": _sitting_time(candidate, sitting.starts_at)},
            status=409,
        )
    if now >= sitting.ends_at:
        raise CorridorError("sitting_over", _("This sitting is over: it can no longer be started."), status=409)
    if paper is None:
        # Not prepared in advance (registered late, or the preparation task has not run): built now, for this one.
        rules = list(sitting.exam.paper_rules.order_by("pk"))
        if not rules:
            raise CorridorError("no_paper_rule", _("The exam has no paper rule yet: tell an invigilator."), status=409)
        seed = services.paper_seed(candidate=candidate)
        items = services.paper_draw(rules=rules, bank=list(sitting.exam.questions.all()), seed=seed)
        paper = Paper.objects.create(candidate=candidate, seed=seed, items=items)
    paper.started_at = now
    paper.last_seen_at = now
    paper.save(update_fields=["started_at", "last_seen_at"])
    paper = _locked_paper(paper_id=paper.pk)
    papers_changed_on_commit(sitting_id=sitting.pk, paper_ids=[paper.pk], reason="started")
    _time_up_on_commit(paper, now=now)
    return paper


@dataclass(frozen=True)
class AnswerIn:
    """One answer as the page sends it: the question, the choice ids or the text, and the page's sequence number."""

    question: int
    seq: int
    choices: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class SaveResult:
    applied: int  # answers written by this save (the others were already newer on the server)
    acknowledged: int  # answers acknowledged (all of them: applied or already there)
    last_seq: int
    last_saved_at: datetime | None
    seconds_left: float = 0.0


def _refuse_if_not_running(paper: Paper, *, now: datetime) -> None:
    if paper.submitted_at is not None and paper.submitted_how == SubmittedHow.TIME_UP:
        raise CorridorError(
            "time_up", _("Time is up: your paper was submitted and answers can no longer be changed."), status=409
        )
    if paper.submitted_at is not None:
        raise CorridorError(
            "submitted", _("Your paper has been submitted: answers can no longer be changed."), status=409
        )
    if paper.started_at is None:
        raise CorridorError("not_started", _("Start the exam before answering."), status=409)
    if paper.paused_at is not None:
        raise CorridorError(
            "paused", _("An invigilator has paused your exam: answers are locked until it resumes."), status=409
        )
    if clock.seconds_left(paper, duration_minutes=_duration(paper), now=now) <= 0:
        raise CorridorError("time_up", _("Time is up: answers can no longer be changed."), status=409)


def _checked(paper: Paper, answers: list[AnswerIn]) -> None:
    """Refuse the whole save when any answer is not for a question of the paper or does not fit its question."""
    if not answers:
        raise CorridorError("no_answers", _("The save carried no answers."))
    if len(answers) > MAX_ANSWERS_PER_SAVE:
        raise CorridorError("too_many_answers", _("Too many answers in one save."))
    items = {int(item["question"]): [str(c) for c in item.get("choices", [])] for item in paper.items}
    kinds = {int(item["question"]): str(item["kind"]) for item in paper.items if "kind" in item}
    if len(kinds) < len(items):  # a paper built before papers carried their questions' kinds
        kinds = dict(Question.objects.filter(pk__in=items).values_list("pk", "kind"))
    for answer in answers:
        if answer.question not in items:
            raise CorridorError("not_on_paper", _("That question is not on your paper."), status=400)
        if answer.seq < 1:
            raise CorridorError("invalid_seq", _("Each answer carries a sequence number from 1 up."))
        kind = kinds.get(answer.question)
        if kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            if answer.text or not set(answer.choices) <= set(items[answer.question]):
                raise CorridorError("invalid_choice", _("That is not one of the question's choices."))
            if kind == QuestionKind.SINGLE_CHOICE and len(answer.choices) > 1:
                raise CorridorError("invalid_choice", _("Choose one answer only for this question."))
            if len(set(answer.choices)) != len(answer.choices):
                raise CorridorError("invalid_choice", _("A choice was given twice."))
        else:
            if answer.choices:
                raise CorridorError("invalid_choice", _("This question is answered in words, not by choosing."))
            if len(answer.text) > MAX_TEXT_CHARS:
                raise CorridorError(
                    "too_long", _("An answer is limited to %(count)d characters.") % {"count": MAX_TEXT_CHARS}
                )


def answers_save(*, paper_id: int, by: Any, answers: list[AnswerIn], now: datetime | None = None) -> SaveResult:
    """Store the candidate's answers, each unless the server already holds that answer at a sequence number as
    high (then it is acknowledged and nothing changes). Refused with nothing changed for another person's paper, a
    question not on the paper, a paper not started, paused, out of time (then submitted, if not already) or
    submitted."""
    now = now or timezone.now()
    refusal: CorridorError | None = None
    with transaction.atomic():
        paper = _locked_paper(paper_id=paper_id)
        _owned(paper, by)
        if _submit_time_up_locked(paper, now=now):
            # Out of time: the submission commits, and the save is refused (after the commit, below).
            refusal = CorridorError(
                "time_up", _("Time is up: your paper was submitted and answers can no longer be changed."), status=409
            )
            result = SaveResult(applied=0, acknowledged=0, last_seq=paper.last_seq, last_saved_at=paper.last_saved_at)
        else:
            result = _save_locked(paper, answers, now=now)
    if refusal is not None:
        raise refusal
    return result


def _save_locked(paper: Paper, answers: list[AnswerIn], *, now: datetime) -> SaveResult:
    """The save itself, on a locked paper whose time is not up (refusals raise before anything is written)."""
    _refuse_if_not_running(paper, now=now)
    _checked(paper, answers)
    latest: dict[int, AnswerIn] = {}
    for answer in answers:  # in the page's order: the highest sequence of each question wins
        if answer.question not in latest or answer.seq > latest[answer.question].seq:
            latest[answer.question] = answer
    held = {a.question_id: a for a in Answer.objects.filter(paper=paper, question_id__in=latest)}
    applied = 0
    for question_id, answer in latest.items():
        stored = held.get(question_id)
        if stored is not None and stored.seq >= answer.seq:
            continue
        if stored is None:
            Answer.objects.create(
                paper=paper,
                question_id=question_id,
                choices=list(answer.choices),
                text=answer.text,
                seq=answer.seq,
                saved_at=now,
            )
        else:
            stored.choices, stored.text, stored.seq, stored.saved_at = (
                list(answer.choices),
                answer.text,
                answer.seq,
                now,
            )
            stored.save(update_fields=["choices", "text", "seq", "saved_at"])
        applied += 1
    if applied:
        previous = paper.last_saved_at
        paper.last_saved_at = now
        paper.last_seq = max(paper.last_seq, *(a.seq for a in latest.values()))
        paper.last_seen_at = now
        paper.save(update_fields=["last_saved_at", "last_seq", "last_seen_at"])
        if previous is None or now - previous >= SAVED_PUSH_EVERY:
            papers_changed_on_commit(sitting_id=paper.candidate.sitting_id, paper_ids=[paper.pk], reason="saved")
    return SaveResult(
        applied=applied,
        acknowledged=len(answers),
        last_seq=paper.last_seq,
        last_saved_at=paper.last_saved_at,
        seconds_left=clock.seconds_left(paper, duration_minutes=_duration(paper), now=now),
    )


@transaction.atomic
def paper_submit(*, paper_id: int, by: Any, now: datetime | None = None) -> Paper:
    """The candidate submits their paper. Refused for another person's paper, a paper not started, paused or
    already submitted; a paper whose time is up is submitted as at time-up."""
    now = now or timezone.now()
    paper = _locked_paper(paper_id=paper_id)
    _owned(paper, by)
    if paper.submitted_at is not None:
        raise CorridorError("already_submitted", _("Your paper has already been submitted."), status=409)
    if paper.started_at is None:
        raise CorridorError("not_started", _("Start the exam before submitting."), status=409)
    if _submit_time_up_locked(paper, now=now):
        return paper
    if paper.paused_at is not None:
        raise CorridorError(
            "paused", _("An invigilator has paused your exam: you can submit once it resumes."), status=409
        )
    _submit_locked(paper, how=SubmittedHow.CANDIDATE, now=now)
    return paper


class PageEvent(StrEnum):
    """What the candidate's exam page socket reports (exams.consumers)."""

    OPENED = "opened"
    HEARTBEAT = "heartbeat"
    CLOSED = "closed"


# A count of open pages not refreshed by a heartbeat for this long was left by sockets that never said goodbye (a
# server process killed): the next page to open starts the count again.
STALE_PRESENCE = timedelta(seconds=45)


@transaction.atomic
def paper_presence(*, paper_id: int, event: PageEvent, now: datetime | None = None) -> None:
    """An exam page connected, is still there (a heartbeat), or went away: the console shows who is connected. The
    candidate is online while any of their pages is (two tabs, or a second machine: closing one keeps them online)."""
    now = now or timezone.now()
    paper = Paper.objects.select_for_update().select_related("candidate").filter(pk=paper_id).first()
    if paper is None:
        return
    stale = paper.last_seen_at is None or now - paper.last_seen_at > STALE_PRESENCE
    if event == PageEvent.OPENED:
        paper.open_pages = 1 if stale else paper.open_pages + 1
    elif event == PageEvent.HEARTBEAT:
        paper.open_pages = max(paper.open_pages, 1)  # a heartbeat proves one page, whatever was lost
    else:
        paper.open_pages = max(paper.open_pages - 1, 0)
    online = paper.open_pages > 0
    changed = paper.online != online
    paper.online, paper.last_seen_at = online, now
    paper.save(update_fields=["online", "last_seen_at", "open_pages"])
    if changed:
        papers_changed_on_commit(
            sitting_id=paper.candidate.sitting_id,
            paper_ids=[paper.pk],
            reason="connected" if online else "disconnected",
        )
