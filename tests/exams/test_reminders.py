"""Candidates get one reminder email before their sitting, in their own language (issue 16, item 3)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from exams import services
from tests import factories

pytestmark = pytest.mark.django_db


def test_each_candidate_is_reminded_once_in_their_language(settings) -> None:
    settings.EXAM_REMINDER_HOURS = 24
    sitting = factories.sitting(starts_in=timedelta(hours=20), closes_before=timedelta(hours=2))
    english = factories.trainee(email="en@corridor.test", preferred_language="en")
    chinese = factories.trainee(email="zh@corridor.test", preferred_language="zh-hans")
    for user in (english, chinese):
        services.candidate_register(sitting=sitting, user=user)
    later = factories.sitting(starts_in=timedelta(days=5))
    services.candidate_register(sitting=later, user=factories.trainee())

    assert services.candidate_reminders_send() == 2
    assert services.candidate_reminders_send() == 0, "a second run sends nothing"
    by_recipient = {message.to[0]: message for message in mail.outbox}
    assert set(by_recipient) == {"en@corridor.test", "zh@corridor.test"}
    body = by_recipient["en@corridor.test"].body
    assert sitting.exam.code in by_recipient["en@corridor.test"].subject
    assert "Seat 1" in body or "Seat 2" in body
    assert "/exams/candidates/" in body and "slip.pdf" in body
    assert sitting.exam.title in body
    assert sitting.exam.title_zh in by_recipient["zh@corridor.test"].body


def test_a_sitting_already_started_sends_no_reminder() -> None:
    sitting = factories.sitting(starts_in=timedelta(hours=3), closes_before=timedelta(hours=1))
    services.candidate_register(sitting=sitting, user=factories.trainee())
    assert services.candidate_reminders_send(now=timezone.now() + timedelta(hours=4)) == 0
    assert not mail.outbox


def test_beat_sends_reminders_and_prepares_papers_every_minute() -> None:
    from django.conf import settings

    from exams.tasks import prepare_due_papers, send_exam_reminders

    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule[send_exam_reminders.name] == timedelta(seconds=60)
    assert schedule[prepare_due_papers.name] == timedelta(seconds=60)


def test_the_embedded_scheduler_finds_the_exam_tasks() -> None:
    """`manage.py run_scheduler` is not a Celery worker: Celery's autodiscovery must find exams.tasks."""
    from celery import current_app

    current_app.loader.import_default_modules()
    assert {"exams.tasks.send_exam_reminders", "exams.tasks.prepare_due_papers"} <= set(current_app.tasks)
