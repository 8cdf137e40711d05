"""Marking and results (issue 16, item 7): choice questions marked at submission, written answers marked from
anonymised scripts (second marking and moderation when the exam asks), results released by an administrator,
emailed, and read by the candidate on "My exams"."""

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from exams import marking
from exams.models import Answer, Mark, MarkStage, Paper
from lms.errors import CorridorError
from tests import factories

pytestmark = pytest.mark.django_db

RIGHT = {"First single?": ["a"], "Second single?": ["b"], "Pick two?": ["c", "a"]}  # 2 + 0 + 2


def _setup(*, second_marking: bool = False, people: int = 1, essay: str | None = "Two rooms, one plan.", **exam_kwargs):
    exam = factories.marked_exam(second_marking=second_marking, **exam_kwargs)
    trainees = [factories.trainee(first_name=f"Ada{i}", last_name="Lovelace") for i in range(people)]
    sitting = factories.past_sitting(exam=exam, candidates=trainees)
    papers = [
        factories.submit_paper_as_candidate(
            candidate=candidate, answers={**RIGHT, "Plan a hybrid class.": essay} if essay is not None else RIGHT
        )
        for candidate in sitting.candidates.order_by("seat_number")
    ]
    return exam, sitting, papers


def _essay(paper: Paper) -> Answer:
    return paper.answers.get(question__kind="essay")


def test_choice_questions_are_marked_at_submission_and_the_essay_waits() -> None:
    exam, _sitting, (paper,) = _setup()
    awarded = {a.question.text: a.awarded for a in paper.answers.select_related("question")}
    assert awarded == {"First single?": 2, "Second single?": 0, "Pick two?": 2, "Plan a hybrid class.": None}
    paper.refresh_from_db()
    assert paper.marked_at is None and paper.score is None
    marker = factories.exam_marker(exam)
    queue = marking.marking_queue(exam=exam, user=marker)
    assert [(e.answer.question.text, e.stage) for e in queue] == [("Plan a hybrid class.", MarkStage.FIRST)]


def test_multiple_choice_needs_exactly_the_right_set() -> None:
    exam = factories.marked_exam()
    question = exam.questions.get(kind="multiple")
    assert marking.objective_marks(question=question, choices=["a", "c"]) == 2
    assert marking.objective_marks(question=question, choices=["a"]) == 0
    assert marking.objective_marks(question=question, choices=["a", "b", "c"]) == 0
    assert marking.objective_marks(question=question, choices=[]) == 0


def test_a_paper_without_written_answers_has_its_result_at_submission() -> None:
    _exam, _sitting, (paper,) = _setup(essay="   ")
    paper.refresh_from_db()
    assert (paper.score, paper.max_score, paper.percent, paper.passed) == (4, 16, Decimal("25.00"), False)


def test_marking_an_essay_computes_the_result_against_the_pass_mark() -> None:
    exam, _sitting, (paper,) = _setup(pass_mark=60)
    marker = factories.exam_marker(exam)
    mark = marking.mark_record(answer_id=_essay(paper).pk, by=marker, stage="first", marks=7, comment="Clear plan.")
    assert mark.stage == MarkStage.FIRST
    paper.refresh_from_db()
    assert (paper.score, paper.max_score, paper.percent, paper.passed) == (11, 16, Decimal("68.75"), True)
    assert marking.marking_queue(exam=exam, user=marker) == []


def test_the_script_is_anonymised() -> None:
    exam, _sitting, (paper,) = _setup()
    marker = factories.exam_marker(exam)
    script = marking.script_for_marker(answer_id=_essay(paper).pk, user=marker)
    assert script.candidate_number == paper.candidate.number
    client = _client(marker)
    page = client.get(reverse("exams:mark-answer", kwargs={"answer_id": _essay(paper).pk})).content.decode()
    assert paper.candidate.number in page and "Two rooms, one plan." in page
    assert "Ada0" not in page and "Lovelace" not in page and paper.candidate.user.email not in page
    queue_page = client.get(reverse("exams:marking-queue", kwargs={"code": exam.code})).content.decode()
    assert paper.candidate.number in queue_page and "Lovelace" not in queue_page


def _client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_refusals_change_nothing() -> None:
    exam, _sitting, (paper,) = _setup()
    essay = _essay(paper)
    stranger, moderator = factories.instructor(), factories.exam_moderator(exam)
    candidate_marker = paper.candidate.user
    exam.markers.add(candidate_marker)
    marker = factories.exam_marker(exam)
    refusals = [
        ({"by": stranger, "stage": "first", "marks": 5}, "forbidden"),
        ({"by": moderator, "stage": "first", "marks": 5}, "forbidden"),
        ({"by": candidate_marker, "stage": "first", "marks": 10}, "own_script"),
        ({"by": marker, "stage": "first", "marks": 11}, "invalid_marks"),
        ({"by": marker, "stage": "second", "marks": 5}, "stage_changed"),
    ]
    for kwargs, code in refusals:
        with pytest.raises(CorridorError) as refused:
            marking.mark_record(answer_id=essay.pk, **kwargs)
        assert refused.value.code == code
    with pytest.raises(CorridorError) as refused:
        marking.mark_record(answer_id=999_999, by=marker, stage="first", marks=1)
    assert refused.value.status == 404
    assert not Mark.objects.exists()
    essay.refresh_from_db()
    assert essay.awarded is None
    assert marking.marking_queue(exam=exam, user=candidate_marker) == []
    # Over HTTP: a stranger's post and a forged id change nothing either.
    url = reverse("exams:mark-answer", kwargs={"answer_id": essay.pk})
    assert _client(stranger).post(url, {"stage": "first", "marks": 5}).status_code == 403
    forged = reverse("exams:mark-answer", kwargs={"answer_id": 999_999})
    assert _client(marker).post(forged, {"stage": "first", "marks": 5}).status_code == 404
    assert not Mark.objects.exists()


def test_second_marking_within_tolerance_awards_the_mean() -> None:
    exam, _sitting, (paper,) = _setup(second_marking=True, tolerance=2)
    first, second = factories.exam_marker(exam), factories.exam_marker(exam)
    essay = _essay(paper)
    marking.mark_record(answer_id=essay.pk, by=first, stage="first", marks=6)
    paper.refresh_from_db()
    assert paper.marked_at is None
    # The first marker does not see it again; the second one does, without the first mark.
    assert marking.marking_queue(exam=exam, user=first) == []
    with pytest.raises(CorridorError) as refused:
        marking.mark_record(answer_id=essay.pk, by=first, stage="second", marks=6)
    assert refused.value.code == "same_marker"
    script = marking.script_for_marker(answer_id=essay.pk, user=second)
    assert script.stage == MarkStage.SECOND and script.earlier == []
    marking.mark_record(answer_id=essay.pk, by=second, stage="second", marks=7)
    essay.refresh_from_db()
    paper.refresh_from_db()
    assert essay.awarded == Decimal("6.5")
    assert paper.score == Decimal("10.5")


def test_a_disagreement_beyond_tolerance_goes_to_the_moderator_whose_mark_stands() -> None:
    exam, sitting, (paper,) = _setup(second_marking=True, tolerance=1)
    first, second = factories.exam_marker(exam), factories.exam_marker(exam)
    moderator = factories.exam_moderator(exam)
    essay = _essay(paper)
    marking.mark_record(answer_id=essay.pk, by=first, stage="first", marks=3, comment="Thin.")
    marking.mark_record(answer_id=essay.pk, by=second, stage="second", marks=9, comment="Thorough.")
    assert marking.marking_progress(exam=exam).waiting == {"first": 0, "second": 0, "moderation": 1}
    assert marking.marking_queue(exam=exam, user=first) == []
    (entry,) = marking.marking_queue(exam=exam, user=moderator)
    assert entry.stage == MarkStage.MODERATION
    script = marking.script_for_marker(answer_id=essay.pk, user=moderator)
    assert [m.marks for m in script.earlier] == [3, 9]
    marking.mark_record(answer_id=essay.pk, by=moderator, stage="moderation", marks=6, comment="Sound, brief.")
    paper.refresh_from_db()
    assert paper.score == 10 and marking.marking_progress(exam=exam, sitting=sitting).complete


def test_release_is_refused_until_every_paper_is_marked_then_emails_each_candidate_in_their_language() -> None:
    exam, sitting, papers = _setup(people=2)
    papers[1].candidate.user.preferred_language = "zh-hans"
    papers[1].candidate.user.save()
    admin, marker = factories.administrator(), factories.exam_marker(exam)
    with pytest.raises(CorridorError) as refused:
        marking.results_release(sitting=sitting, by=marker)
    assert refused.value.code == "forbidden"
    marking.mark_record(answer_id=_essay(papers[0]).pk, by=marker, stage="first", marks=8)
    with pytest.raises(CorridorError) as refused:
        marking.results_release(sitting=sitting, by=admin)
    assert refused.value.code == "not_marked" and "1 paper is not fully marked" in str(refused.value.message)
    sitting.refresh_from_db()
    assert sitting.results_released_at is None and not mail.outbox
    marking.mark_record(answer_id=_essay(papers[1]).pk, by=marker, stage="first", marks=2, comment="Too short.")
    assert marking.results_release(sitting=sitting, by=admin) == 2
    sitting.refresh_from_db()
    assert sitting.results_released_at is not None and sitting.results_released_by == admin
    by_address = {message.to[0]: message for message in mail.outbox}
    english = by_address[papers[0].candidate.user.email]
    assert exam.code in english.subject and "12 out of 16 (75 %)" in english.body and "You passed" in english.body
    chinese = by_address[papers[1].candidate.user.email]
    assert "你好" in chinese.body  # written in the candidate's language
    assert "37.50" in chinese.body and "16" in chinese.body
    with pytest.raises(CorridorError) as refused:
        marking.results_release(sitting=sitting, by=admin)
    assert refused.value.code == "already_released"
    assert len(mail.outbox) == 2


def test_the_candidate_sees_nothing_of_the_result_before_release() -> None:
    exam, sitting, (paper,) = _setup()
    marker, admin = factories.exam_marker(exam), factories.administrator()
    marking.mark_record(answer_id=_essay(paper).pk, by=marker, stage="first", marks=9, comment="Well argued.")
    client = _client(paper.candidate.user)
    before = client.get(reverse("exams:mine")).content.decode()
    assert "Well argued." not in before and "13" not in before.split("<main", 1)[-1].split("candidate number")[-1]
    assert "Results not released yet" in before
    _client(admin).post(reverse("exams:results-release", kwargs={"sitting_id": sitting.pk}), {"confirm": "on"})
    after = client.get(reverse("exams:mine")).content.decode()
    assert "13 / 16" in after and "Passed" in after and "Well argued." in after


def test_the_release_page_needs_confirmation_and_an_administrator() -> None:
    exam, sitting, (_paper,) = _setup(essay=None)
    admin = factories.administrator()
    url = reverse("exams:results-release", kwargs={"sitting_id": sitting.pk})
    assert _client(factories.exam_marker(exam)).post(url, {"confirm": "on"}).status_code == 403
    _client(admin).post(url, {})
    sitting.refresh_from_db()
    assert sitting.results_released_at is None
    page = _client(admin).get(reverse("exams:results", kwargs={"sitting_id": sitting.pk})).content.decode()
    assert "1 of 1 papers fully marked" in page and "<svg" in page


def test_a_persons_data_export_holds_their_released_result_and_the_marks_they_gave() -> None:
    from lms.accounts.personal_data import personal_data_parts

    exam, sitting, (paper,) = _setup()
    marker = factories.exam_marker(exam)
    marking.mark_record(answer_id=_essay(paper).pk, by=marker, stage="first", marks=6, comment="Fair.")
    part = next(part for part in personal_data_parts() if part.name == "exam_results")
    assert part.export(paper.candidate.user)["results"] == []  # nothing before release
    marking.results_release(sitting=sitting, by=factories.administrator())
    [result] = part.export(paper.candidate.user)["results"]
    assert (result["candidate_number"], result["score"], result["out_of"], result["passed"]) == (
        paper.candidate.number,
        "10.00",
        16,
        True,
    )
    [given] = part.export(marker)["marks_given"]
    assert (given["candidate_number"], given["marks"], given["comment"]) == (paper.candidate.number, 6, "Fair.")
