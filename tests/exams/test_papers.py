"""Papers are prepared before the sitting, by the exam's rule, shuffled per candidate and the same every time for the
same candidate (issue 16, items 2 and 5)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from exams import services
from exams.models import Paper, PaperRule, Question
from lms.errors import CorridorError
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam():
    exam = factories.ExamFactory.create()
    for _ in range(8):
        factories.QuestionFactory.create(exam=exam, kind="single", topic="safety")
    for _ in range(4):
        factories.QuestionFactory.create(exam=exam, kind="single", topic="networks")
    for _ in range(3):
        factories.QuestionFactory.create(exam=exam, kind="essay", topic="", choices=[], correct_choices=[])
    PaperRule.objects.create(exam=exam, kind="single", topic="safety", count=5)
    PaperRule.objects.create(exam=exam, kind="single", topic="networks", count=2)
    PaperRule.objects.create(exam=exam, kind="essay", topic="", count=1)
    return exam


def _candidates(sitting, count: int):
    return [services.candidate_register(sitting=sitting, user=factories.trainee()) for _ in range(count)]


def test_each_paper_follows_the_rule(exam) -> None:
    sitting = factories.sitting(exam=exam)
    _candidates(sitting, 3)
    assert services.paper_prepare(sitting=sitting) == 3
    for paper in Paper.objects.filter(candidate__sitting=sitting):
        questions = Question.objects.in_bulk([item["question"] for item in paper.items])
        assert len(paper.items) == len(questions) == 8
        kinds = sorted((q.kind, q.topic) for q in questions.values())
        assert kinds.count(("single", "safety")) == 5
        assert kinds.count(("single", "networks")) == 2
        assert kinds.count(("essay", "")) == 1
        for item in paper.items:
            question = questions[item["question"]]
            assert sorted(item["choices"]) == sorted(choice["id"] for choice in question.choices)


def test_papers_are_shuffled_per_candidate_and_deterministic_per_candidate(exam) -> None:
    sitting = factories.sitting(exam=exam, seats=20)
    _candidates(sitting, 10)
    services.paper_prepare(sitting=sitting)
    papers = list(Paper.objects.filter(candidate__sitting=sitting).select_related("candidate"))
    orders = {tuple(item["question"] for item in paper.items) for paper in papers}
    assert len(orders) > 1, "ten candidates with the same question order: not shuffled per candidate"
    rules = list(exam.paper_rules.order_by("pk"))
    bank = list(exam.questions.all())
    for paper in papers:
        assert paper.seed == services.paper_seed(candidate=paper.candidate)
        assert services.paper_draw(rules=rules, bank=bank, seed=paper.seed) == paper.items


def test_preparing_again_builds_only_the_missing_papers(exam) -> None:
    sitting = factories.sitting(exam=exam)
    _candidates(sitting, 2)
    services.paper_prepare(sitting=sitting)
    before = {p.pk: p.items for p in Paper.objects.all()}
    _candidates(sitting, 1)
    assert services.paper_prepare(sitting=sitting) == 1
    assert {p.pk: p.items for p in Paper.objects.filter(pk__in=before)} == before
    sitting.refresh_from_db()
    assert sitting.papers_prepared_at is not None


def test_a_bank_too_small_for_the_rule_is_refused_and_builds_nothing(exam) -> None:
    PaperRule.objects.filter(exam=exam, kind="essay").update(count=4)
    sitting = factories.sitting(exam=exam)
    _candidates(sitting, 2)
    with pytest.raises(CorridorError) as refused:
        services.paper_prepare(sitting=sitting)
    assert refused.value.code == "bank_too_small"
    assert not Paper.objects.exists()


def test_the_scheduled_task_prepares_papers_once_registration_closes(exam, tasks_in_process) -> None:
    from exams.tasks import prepare_due_papers

    sitting = factories.sitting(exam=exam, starts_in=timedelta(days=2), closes_before=timedelta(days=1))
    _candidates(sitting, 2)
    prepare_due_papers.delay()
    assert not Paper.objects.exists(), "registration is still open"
    sitting.registration_closes_at = timezone.now() - timedelta(minutes=1)
    sitting.save()
    prepare_due_papers.delay()
    assert Paper.objects.filter(candidate__sitting=sitting).count() == 2
