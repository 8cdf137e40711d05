"""Exam results posted back as scores (AGS, issue 17): when an administrator releases a sitting's results
(exams.signals.results_released), each candidate who came to Corridor through an LTI launch of one of the exam's
preparatory courses, with a course-wide line item (not a lesson's quiz, nor a live session's attendance), gets a
delivery of their exam score to that line item. The deliveries are made in the releasing transaction and sent after
it commits, like quiz scores (lti.tasks.deliver_score, retried; lti.tasks.collect_scores sends again what failed)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction

from exams.models import Paper, Sitting
from lti.models import ScoreDelivery, ScoreLink


def exam_scores_record(*, sitting: Sitting, papers: list[Paper]) -> list[int]:
    """A delivery per released paper and line item of the candidate's launches of a preparatory course; returns their
    ids. A paper already reported to a line item is not reported again."""
    course_keys = list(sitting.exam.preparatory_courses.values_list("translation_key", flat=True))
    if not course_keys:
        return []
    by_user = {paper.candidate.user_id: paper for paper in papers if paper.max_score}
    links = ScoreLink.objects.filter(
        account__user_id__in=list(by_user),
        course_key__in=course_keys,
        lesson_key__isnull=True,
        session_id__isnull=True,
    ).select_related("account")
    created = []
    for link in links:
        paper = by_user[link.account.user_id]
        source = f"exam-paper:{paper.pk}"
        if link.deliveries.filter(source=source).exists():
            continue
        delivery = ScoreDelivery.objects.create(
            link=link, source=source, score_given=float(paper.score or 0), score_maximum=float(paper.max_score or 0)
        )
        created.append(delivery.pk)
    return created


def on_results_released(sender: Any, *, sitting: Sitting, papers: list[Paper], **kwargs: Any) -> None:
    """The receiver of exams.signals.results_released (connected in LtiConfig.ready)."""
    from lti.tasks import _send

    for delivery_id in exam_scores_record(sitting=sitting, papers=papers):
        transaction.on_commit(partial(_send, delivery_id))
