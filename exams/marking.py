"""Marking and results: what happens to a paper after it is submitted.

- At submission (`paper_submitted`, received by `paper_mark_on_submission`) every choice question is marked at once:
  a single-choice answer earns the question's marks when it is the right choice, a multiple-choice answer when it is
  exactly the set of right choices (no partial credit: a missing or an extra choice earns nothing). An unanswered
  question, or an empty written answer, earns nothing and waits for no one. Every other written answer (short
  answers, essays) waits in the marking queue.
- Markers (Exam.markers) mark a written answer from its anonymised script: they see the candidate number, never the
  name, and never a script of their own. When the exam requires second marking, a second, different marker marks it
  too; the mean of the two is awarded when they are within the exam's tolerance, and a moderator (Exam.moderators)
  settles it otherwise (the moderator's mark stands).
- Once every answer of a paper is settled its result is computed (score, out of, percent, passed against the
  exam's pass mark). An administrator releases a sitting's results when every submitted paper is marked: each
  candidate is emailed in their language, sees the result on "My exams", and `results_released` is sent (LTI grade
  passback); the xAPI "scored" statements are queued in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from exams.models import Answer, Exam, Mark, MarkStage, Paper, Question, QuestionKind, Sitting
from exams.selectors import user_is_exam_admin
from exams.signals import results_released
from lms.errors import CorridorError
from lms.xapi import builders
from lms.xapi.services import xapi_enabled, xapi_statement_queue

logger = logging.getLogger(__name__)

OBJECTIVE_KINDS = (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE)
TWO_PLACES = Decimal("0.01")


def objective_marks(*, question: Question, choices: list[Any]) -> Decimal:
    """A choice question's marks for the chosen choice ids: all of them for exactly the right set, none otherwise."""
    chosen = {str(choice) for choice in choices}
    right = {str(choice) for choice in question.correct_choices}
    return Decimal(question.marks) if chosen and chosen == right else Decimal(0)


def answer_needs_marker(answer: Answer) -> bool:
    return answer.question.kind not in OBJECTIVE_KINDS and bool(answer.text.strip())


# At submission --------------------------------------------------------------------------------------------------------


def paper_mark_on_submission(*, paper: Paper, now: datetime | None = None) -> None:
    """Mark what can be marked at once (choice questions, empty written answers); the rest waits for markers. Runs in
    the submitting transaction, so a submission that rolls back marks nothing."""
    now = now or timezone.now()
    for answer in paper.answers.select_related("question").filter(awarded__isnull=True):
        if answer.question.kind in OBJECTIVE_KINDS:
            answer.awarded = objective_marks(question=answer.question, choices=answer.choices)
        elif not answer.text.strip():
            answer.awarded = Decimal(0)
        else:
            continue
        answer.save(update_fields=["awarded"])
    paper_result_update(paper=paper, now=now)


def on_paper_submitted(sender: Any, *, paper: Paper, **kwargs: Any) -> None:
    """The receiver of exams.signals.paper_submitted (connected in ExamsConfig.ready)."""
    paper_mark_on_submission(paper=paper)


def paper_result_update(*, paper: Paper, now: datetime | None = None) -> Paper:
    """Compute the paper's result once every answer is settled (a question never answered counts 0)."""
    answers = list(paper.answers.all())
    if any(answer.awarded is None for answer in answers):
        return paper
    question_ids = [int(item["question"]) for item in paper.items]
    marks_of = dict(Question.objects.filter(pk__in=question_ids).values_list("pk", "marks"))
    max_score = sum(marks_of.get(question_id, 0) for question_id in question_ids)
    score = sum((answer.awarded or Decimal(0) for answer in answers if answer.question_id in marks_of), Decimal(0))
    percent = (Decimal(100) * score / max_score).quantize(TWO_PLACES, ROUND_HALF_UP) if max_score else Decimal(0)
    exam = Exam.objects.get(sittings__candidates__paper=paper)
    paper.score, paper.max_score, paper.percent = score.quantize(TWO_PLACES), max_score, percent
    paper.passed = percent >= exam.pass_mark
    paper.marked_at = now or timezone.now()
    paper.save(update_fields=["score", "max_score", "percent", "passed", "marked_at"])
    return paper


# Who marks what -------------------------------------------------------------------------------------------------------


def user_marks(*, user: Any, exam: Exam) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and exam.markers.filter(pk=user.pk).exists()


def user_moderates(*, user: Any, exam: Exam) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and exam.moderators.filter(pk=user.pk).exists()


def exams_marked_by(*, user: Any) -> QuerySet[Exam]:
    """The exams a person marks or moderates."""
    if not getattr(user, "is_authenticated", False):
        return Exam.objects.none()
    return (Exam.objects.filter(markers=user) | Exam.objects.filter(moderators=user)).distinct().order_by("code")


def answer_stage(*, answer: Answer, exam: Exam, marks: list[Mark] | None = None) -> MarkStage | None:
    """What a written answer waits for (first, second marking, moderation), or None when it is settled."""
    if answer.awarded is not None or not answer_needs_marker(answer):
        return None
    given = {mark.stage: mark for mark in (marks if marks is not None else answer.marks.all())}
    if MarkStage.FIRST not in given:
        return MarkStage.FIRST
    if not exam.second_marking_required:
        return None
    if MarkStage.SECOND not in given:
        return MarkStage.SECOND
    if abs(given[MarkStage.FIRST].marks - given[MarkStage.SECOND].marks) > exam.moderation_tolerance:
        return None if MarkStage.MODERATION in given else MarkStage.MODERATION
    return None


def _settled(*, exam: Exam, marks: list[Mark]) -> Decimal | None:
    given = {mark.stage: mark for mark in marks}
    if MarkStage.MODERATION in given:
        return Decimal(given[MarkStage.MODERATION].marks)
    if MarkStage.FIRST not in given:
        return None
    if not exam.second_marking_required:
        return Decimal(given[MarkStage.FIRST].marks)
    if MarkStage.SECOND not in given:
        return None
    first, second = given[MarkStage.FIRST].marks, given[MarkStage.SECOND].marks
    if abs(first - second) > exam.moderation_tolerance:
        return None
    return (Decimal(first + second) / 2).quantize(TWO_PLACES)


def _may_mark_stage(*, user: Any, exam: Exam, stage: MarkStage) -> bool:
    if stage == MarkStage.MODERATION:
        return user_moderates(user=user, exam=exam)
    return user_marks(user=user, exam=exam)


@dataclass(frozen=True)
class QueueEntry:
    answer: Answer
    stage: MarkStage
    candidate_number: str


def _written_answers(*, exam: Exam) -> QuerySet[Answer]:
    return (
        Answer.objects.filter(
            paper__candidate__sitting__exam=exam,
            paper__submitted_at__isnull=False,
            awarded__isnull=True,
            question__kind__in=[QuestionKind.SHORT_ANSWER, QuestionKind.ESSAY],
        )
        .select_related("question", "paper__candidate")
        .prefetch_related("marks")
        .order_by("paper__candidate__sitting_id", "paper__candidate__seat_number", "question_id")
    )


def marking_queue(*, exam: Exam, user: Any) -> list[QueueEntry]:
    """The written answers waiting for this person: first and second marking for a marker (never an answer they
    marked first, never their own script), moderation for a moderator."""
    marks, moderates = user_marks(user=user, exam=exam), user_moderates(user=user, exam=exam)
    entries = []
    for answer in _written_answers(exam=exam):
        if answer.paper.candidate.user_id == user.pk:
            continue
        given = list(answer.marks.all())
        stage = answer_stage(answer=answer, exam=exam, marks=given)
        if stage is None:
            continue
        if stage == MarkStage.MODERATION and not moderates:
            continue
        if stage in (MarkStage.FIRST, MarkStage.SECOND) and not marks:
            continue
        if stage == MarkStage.SECOND and any(mark.marker_id == user.pk for mark in given):
            continue
        entries.append(QueueEntry(answer=answer, stage=stage, candidate_number=answer.paper.candidate.number))
    return entries


@dataclass(frozen=True)
class MarkingProgress:
    papers: int
    marked: int
    waiting: dict[str, int]

    @property
    def percent(self) -> int:
        return round(100 * self.marked / self.papers) if self.papers else 100

    @property
    def complete(self) -> bool:
        return self.marked == self.papers


def marking_progress(*, exam: Exam, sitting: Sitting | None = None) -> MarkingProgress:
    """Submitted papers, how many are fully marked, and the written answers waiting at each stage."""
    papers = Paper.objects.filter(candidate__sitting__exam=exam, submitted_at__isnull=False)
    answers = _written_answers(exam=exam)
    if sitting is not None:
        papers = papers.filter(candidate__sitting=sitting)
        answers = answers.filter(paper__candidate__sitting=sitting)
    waiting = {stage.value: 0 for stage in MarkStage}
    for answer in answers:
        stage = answer_stage(answer=answer, exam=exam, marks=list(answer.marks.all()))
        if stage is not None:
            waiting[stage.value] += 1
    return MarkingProgress(
        papers=papers.count(), marked=papers.filter(marked_at__isnull=False).count(), waiting=waiting
    )


# The marking page -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """One written answer as its marker sees it: the candidate number, never the name."""

    answer: Answer
    question: Question
    exam: Exam
    candidate_number: str
    stage: MarkStage
    earlier: list[Mark]


def script_for_marker(*, answer_id: int, user: Any) -> Script:
    """The answer for this person to mark at the stage it waits for. Refused (403) to anyone who may not mark it now:
    not a marker (or moderator, for moderation) of the exam, their own script, their own first mark, or nothing left
    to mark; an unknown id is 404."""
    answer = (
        Answer.objects.select_related("question", "paper__candidate__sitting__exam")
        .filter(pk=answer_id, paper__submitted_at__isnull=False)
        .first()
    )
    if answer is None:
        raise CorridorError("not_found", _("There is no such script."), status=404)
    exam = answer.paper.candidate.sitting.exam
    if not (user_marks(user=user, exam=exam) or user_moderates(user=user, exam=exam)):
        raise CorridorError("forbidden", _("Only this exam's markers and moderators see its scripts."), status=403)
    if answer.paper.candidate.user_id == user.pk:
        raise CorridorError("own_script", _("You cannot mark your own script."), status=403)
    earlier = list(answer.marks.all().order_by("at"))
    stage = answer_stage(answer=answer, exam=exam, marks=earlier)
    if stage is None:
        raise CorridorError("already_marked", _("This answer is marked: nothing is left to do."), status=409)
    if not _may_mark_stage(user=user, exam=exam, stage=stage):
        raise CorridorError(
            "forbidden", _("This answer waits for a moderator: only the exam's moderators settle it."), status=403
        )
    if stage == MarkStage.SECOND and any(mark.marker_id == user.pk for mark in earlier):
        raise CorridorError(
            "same_marker", _("You marked this answer first: a different marker gives the second mark."), status=403
        )
    # A marker sees no earlier marks (an independent second mark); a moderator sees both, with their comments.
    shown = earlier if stage == MarkStage.MODERATION else []
    return Script(
        answer=answer,
        question=answer.question,
        exam=exam,
        candidate_number=answer.paper.candidate.number,
        stage=stage,
        earlier=shown,
    )


@transaction.atomic
def mark_record(
    *, answer_id: int, by: Any, stage: str, marks: int, comment: str = "", now: datetime | None = None
) -> Mark:
    """Record a marker's marks for a written answer at `stage` (the stage the page showed them). Refused, with nothing
    stored, as `script_for_marker` refuses, when the answer has moved on to another stage meanwhile (someone else
    marked it), or when the marks are out of range. Settles the answer, and the paper's result, when it can."""
    now = now or timezone.now()
    paper_id = Answer.objects.filter(pk=answer_id).values_list("paper_id", flat=True).first()
    if paper_id is None:
        raise CorridorError("not_found", _("There is no such script."), status=404)
    # The paper first, then the answer: two markers marking two answers of one paper take turns, so the second sees
    # the first's mark settled and computes the paper's result (neither would, reading the other's as unmarked).
    Paper.objects.select_for_update().filter(pk=paper_id).first()
    Answer.objects.select_for_update().filter(pk=answer_id).first()
    script = script_for_marker(answer_id=answer_id, user=by)
    if script.stage != stage:
        raise CorridorError(
            "stage_changed",
            _("Someone marked this answer meanwhile: it now waits for %(stage)s.")
            % {"stage": script.stage.label.lower()},
            status=409,
        )
    if not 0 <= marks <= script.question.marks:
        raise CorridorError(
            "invalid_marks",
            _("Give between 0 and %(max)d marks.") % {"max": script.question.marks},
        )
    mark = Mark.objects.create(
        answer=script.answer, marker=by, stage=stage, marks=marks, comment=comment.strip(), at=now
    )
    answer = script.answer
    answer.awarded = _settled(exam=script.exam, marks=list(answer.marks.all()))
    if answer.awarded is not None:
        answer.save(update_fields=["awarded"])
        paper_result_update(paper=answer.paper, now=now)
    return mark


# Results ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SittingResults:
    sitting: Sitting
    progress: MarkingProgress
    papers: list[Paper]
    # Candidates who never submitted a paper (absent, or never started): no result.
    absent: int
    # The score distribution, in bands of ten percent: [(label, count), …].
    bands: list[tuple[str, int]]
    passed: int

    @property
    def releasable(self) -> bool:
        return self.sitting.results_released_at is None and self.progress.complete and self.progress.papers > 0


def sitting_results(*, sitting: Sitting) -> SittingResults:
    """The administrator's view of a sitting's results: marking progress, each paper's result (by candidate number),
    the distribution."""
    papers = list(
        Paper.objects.filter(candidate__sitting=sitting, submitted_at__isnull=False)
        .select_related("candidate")
        .order_by("candidate__seat_number")
    )
    counts = [0] * 10
    for paper in papers:
        if paper.percent is not None:
            counts[min(int(paper.percent // 10), 9)] += 1
    bands = [(f"{10 * i}–{10 * i + 10 if i < 9 else 100}", count) for i, count in enumerate(counts)]
    return SittingResults(
        sitting=sitting,
        progress=marking_progress(exam=sitting.exam, sitting=sitting),
        papers=papers,
        absent=sitting.candidates.count() - len(papers),
        bands=bands,
        passed=sum(1 for paper in papers if paper.passed),
    )


def _result_email(*, paper: Paper) -> EmailMessage:
    candidate = paper.candidate
    user, sitting = candidate.user, candidate.sitting
    site = str(settings.WAGTAILADMIN_BASE_URL).rstrip("/")
    with translation.override(user.preferred_language):
        context = {
            "recipient": user,
            "candidate": candidate,
            "exam": sitting.exam,
            "paper": paper,
            "results_url": site + reverse("exams:mine"),
        }
        subject = " ".join(render_to_string("exams/email/results_subject.txt", context).split())
        body = render_to_string("exams/email/results.txt", context)
    return EmailMessage(subject=subject, body=body, to=[user.email])


def _xapi_exam_scored(*, paper: Paper, at: datetime) -> None:
    if not xapi_enabled():
        return
    sitting = paper.candidate.sitting
    exam = sitting.exam
    xapi_statement_queue(
        statement=builders.assessment_scored(
            event_key=f"exam-paper:{paper.pk}",
            user_id=paper.candidate.user_id,
            assessment=builders.activity(
                "exam", exam.code, type=builders.ActivityType.ASSESSMENT, name_en=exam.title, name_zh=exam.title_zh
            ),
            score=int((paper.score or Decimal(0)).to_integral_value(ROUND_HALF_UP)),
            max_score=paper.max_score or 0,
            passed=bool(paper.passed),
            parents=(
                builders.activity("exam-sitting", sitting.pk, name_en=f"{exam.code} {sitting.starts_at:%Y-%m-%d}"),
            ),
            at=at,
        ),
        now=at,
    )


@transaction.atomic
def results_release(*, sitting: Sitting, by: Any, now: datetime | None = None) -> int:
    """Release the sitting's results: refused (nothing changes) to anyone but an administrator, when they are already
    released, or while a paper is not submitted or not fully marked (saying what is left). Emails each candidate with
    a result in their language (inside the transaction: a mail server that fails rolls the release back), queues
    the xAPI statements and sends `results_released`. Returns how many candidates were told."""
    now = now or timezone.now()
    if not user_is_exam_admin(by):
        raise CorridorError("forbidden", _("Only administrators release results."), status=403)
    sitting = Sitting.objects.select_for_update().select_related("exam").get(pk=sitting.pk)
    if sitting.results_released_at is not None:
        raise CorridorError("already_released", _("These results are already released."), status=409)
    running = Paper.objects.filter(candidate__sitting=sitting, started_at__isnull=False, submitted_at__isnull=True)
    if running.exists():
        raise CorridorError(
            "papers_open",
            ngettext(
                "%(count)d paper is not submitted yet.", "%(count)d papers are not submitted yet.", running.count()
            )
            % {"count": running.count()},
            status=409,
        )
    progress = marking_progress(exam=sitting.exam, sitting=sitting)
    if progress.papers == 0:
        raise CorridorError("nothing_to_release", _("No paper of this sitting was submitted."), status=409)
    if not progress.complete:
        left = progress.papers - progress.marked
        waiting = sum(progress.waiting.values())
        raise CorridorError(
            "not_marked",
            ngettext(
                "%(count)d paper is not fully marked yet (%(answers)d written answers wait for a marker).",
                "%(count)d papers are not fully marked yet (%(answers)d written answers wait for a marker).",
                left,
            )
            % {"count": left, "answers": waiting},
            status=409,
        )
    sitting.results_released_at, sitting.results_released_by = now, by
    sitting.save(update_fields=["results_released_at", "results_released_by"])
    papers = list(
        Paper.objects.filter(candidate__sitting=sitting, submitted_at__isnull=False).select_related(
            "candidate__user", "candidate__sitting__exam"
        )
    )
    for paper in papers:
        _xapi_exam_scored(paper=paper, at=now)
    get_connection().send_messages([_result_email(paper=paper) for paper in papers])
    results_released.send(sender=Sitting, sitting=sitting, papers=papers)
    return len(papers)


# The candidate's result -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionResult:
    number: int
    question: Question
    awarded: Decimal
    comments: list[str]
    right: bool | None


@dataclass(frozen=True)
class CandidateResult:
    paper: Paper
    questions: list[QuestionResult]


def candidate_result(*, paper: Paper | None) -> CandidateResult | None:
    """The candidate's result, once the sitting's results are released (None before: nothing of it shows): the
    score, pass or fail, and each question's marks, with the markers' comments on written answers (the settled
    stage's: the moderator's when there was one)."""
    if paper is None or paper.marked_at is None or paper.candidate.sitting.results_released_at is None:
        return None
    answers = {answer.question_id: answer for answer in paper.answers.prefetch_related("marks")}
    questions = {q.pk: q for q in Question.objects.filter(pk__in=[int(item["question"]) for item in paper.items])}
    rows = []
    for number, item in enumerate(paper.items, start=1):
        question = questions.get(int(item["question"]))
        if question is None:
            continue
        answer = answers.get(question.pk)
        comments: list[str] = []
        right = None
        if answer is not None:
            given = list(answer.marks.all())
            moderated = [mark for mark in given if mark.stage == MarkStage.MODERATION]
            comments = [mark.comment for mark in (moderated or given) if mark.comment]
        if question.kind in OBJECTIVE_KINDS:
            right = answer is not None and answer.awarded == question.marks
        rows.append(
            QuestionResult(
                number=number,
                question=question,
                awarded=answer.awarded if answer is not None and answer.awarded is not None else Decimal(0),
                comments=comments,
                right=right,
            )
        )
    return CandidateResult(paper=paper, questions=rows)


def exam_passers(*, exam: Exam, user_ids: list[int]) -> dict[int, Paper]:
    """Of these people, who passed the exam (a released result at or above its pass mark): their latest passed paper,
    by user id. One query: the certificate criterion "exam passed"."""
    papers = (
        Paper.objects.filter(
            candidate__user_id__in=user_ids,
            candidate__sitting__exam=exam,
            candidate__sitting__results_released_at__isnull=False,
            passed=True,
        )
        .select_related("candidate")
        .order_by("candidate__sitting__starts_at")
    )
    return {paper.candidate.user_id: paper for paper in papers}


# Personal data (docs/privacy.md) ------------------------------------------------------------------------------------


def exam_results_of(*, user: Any) -> dict[str, Any]:
    """What marking holds about a person (their data export): their released results (nothing is theirs to read
    before release) and the marks they gave as a marker or moderator (by candidate number, as they marked)."""
    papers = (
        Paper.objects.filter(candidate__user=user, candidate__sitting__results_released_at__isnull=False)
        .select_related("candidate__sitting__exam")
        .order_by("candidate__sitting__starts_at")
    )
    given = Mark.objects.filter(marker=user).select_related("answer__paper__candidate__sitting__exam").order_by("at")
    return {
        "results": [
            {
                "exam": paper.candidate.sitting.exam.code,
                "sitting_starts_at": paper.candidate.sitting.starts_at.isoformat(),
                "candidate_number": paper.candidate.number,
                "score": str(paper.score),
                "out_of": paper.max_score,
                "percent": str(paper.percent),
                "passed": paper.passed,
                "released_at": paper.candidate.sitting.results_released_at.isoformat()
                if paper.candidate.sitting.results_released_at
                else None,
            }
            for paper in papers
        ],
        "marks_given": [
            {
                "exam": mark.answer.paper.candidate.sitting.exam.code,
                "candidate_number": mark.answer.paper.candidate.number,
                "stage": mark.stage,
                "marks": mark.marks,
                "comment": mark.comment,
                "at": mark.at.isoformat(),
            }
            for mark in given
        ],
    }


def exam_results_erase_user(*, person: Any) -> dict[str, int]:
    """Erasing a person keeps their results and the marks they gave (the exam board's record, which names them only
    through their account, now the placeholder); no text of marking holds their name."""
    return {
        "results_kept": Paper.objects.filter(candidate__user=person.user, marked_at__isnull=False).count(),
        "marks_given_kept": Mark.objects.filter(marker=person.user).count(),
    }
