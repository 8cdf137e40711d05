"""The demo has marking to try: a sitting of the entry exam held two days ago, both demo trainees' papers submitted
with their choice questions marked, their written answers in the demo instructor's queue (the exam's marker); once
the instructor has marked them, the administrator can release and the trainees read their results."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exams import marking
from exams.models import Exam, Paper, Sitting
from lms.accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_has_scripts_waiting_for_the_instructor_who_marks_them_then_the_admin_releases(settings) -> None:
    settings.DEBUG = True
    call_command("load_demo")
    call_command("load_demo")  # loading twice duplicates nothing
    exam = Exam.objects.get(code="DIP-ENTRY")
    [past] = Sitting.objects.filter(exam=exam, ends_at__lt=timezone.now())
    papers = Paper.objects.filter(candidate__sitting=past)
    assert papers.count() == 2 and all(paper.submitted_at for paper in papers)
    instructor = User.objects.get(email="instructor@corridor.example")
    queue = marking.marking_queue(exam=exam, user=instructor)
    assert len(queue) == 4  # a short answer and an essay on each paper
    client = Client()
    client.force_login(instructor)
    assert client.get(reverse("exams:marking-queue", kwargs={"code": exam.code})).status_code == 200
    for entry in queue:
        marking.mark_record(answer_id=entry.answer.pk, by=instructor, stage="first", marks=3)
    assert marking.results_release(sitting=past, by=User.objects.get(email="admin@corridor.example")) == 2
    scores = sorted(float(paper.score or 0) for paper in Paper.objects.filter(candidate__sitting=past))
    assert scores == [8.0, 10.0]  # 2 or 4 choice questions right (1 mark each), 3 + 3 for the written answers
