import pytest
from django.test import Client

from courses.models import Enrolment, LessonPage, QuizAttempt
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiz_lesson(catalogue):
    course = factories.CourseFactory.create(parent=catalogue)
    module = factories.ModuleFactory.create(parent=course)
    lesson = factories.LessonFactory.create(parent=module, body=[factories.quiz_block()])
    return LessonPage.objects.get(pk=lesson.pk)


def quiz_ids(lesson: LessonPage) -> tuple[str, list[tuple[str, str, str]]]:
    """(block id, [(question id, correct choice id, wrong choice id)])."""
    block = next(b for b in lesson.body if b.block_type == "quiz")
    questions = []
    for question in block.value["questions"].bound_blocks:
        choices = question.value["choices"].bound_blocks
        right = next(c.id for c in choices if c.value["is_correct"])
        wrong = next(c.id for c in choices if not c.value["is_correct"])
        questions.append((question.id, right, wrong))
    return block.id, questions


def enrolled_client(client: Client, lesson: LessonPage):
    trainee = factories.trainee()
    course = lesson.get_parent().get_parent().specific
    Enrolment.objects.create(user=trainee, course=course, course_key=course.translation_key)
    client.force_login(trainee)
    return trainee


def submit(client: Client, lesson: LessonPage, block_id: str, answers: dict[str, str]):
    data = {f"question-{q}": c for q, c in answers.items()}
    data["next"] = lesson.url
    return client.post(f"/en/learning/lessons/{lesson.pk}/quizzes/{block_id}/", data, follow=True)


def test_quiz_is_graded_on_the_server_and_the_last_attempt_counts_not_the_best(
    client: Client, quiz_lesson, settings
) -> None:
    settings.QUIZ_MAX_ATTEMPTS, settings.QUIZ_COOLDOWN_MINUTES = 3, 0
    trainee = enrolled_client(client, quiz_lesson)
    block_id, questions = quiz_ids(quiz_lesson)
    (q1, right1, wrong1), (q2, right2, wrong2) = questions
    response = submit(client, quiz_lesson, block_id, {q1: wrong1, q2: wrong2})
    assert "Not passed yet: 0 of 2 correct" in response.content.decode()
    assert "Corridor joins the Singapore" not in response.content.decode()  # explanations wait for the end
    response = submit(client, quiz_lesson, block_id, {q1: right1, q2: right2})
    page = response.content.decode()
    assert "Passed: 2 of 2 correct" in page
    # Attempts are left, so the explanations (which give the answers away) are not shown yet.
    assert "Corridor joins the Singapore and Chongqing rooms." not in page
    assert "1 attempt left" in page
    response = submit(client, quiz_lesson, block_id, {q1: wrong1, q2: right2})
    assert QuizAttempt.objects.filter(user=trainee).count() == 3
    page = client.get(quiz_lesson.url).content.decode()
    assert "Score that counts (your latest attempt): 1 of 2" in page
    assert "No attempts left" in page and "Submit answers" not in page
    assert "Corridor joins the Singapore and Chongqing rooms." in page  # finished: now they may be read


def test_the_answer_key_never_reaches_the_browser(client: Client, quiz_lesson) -> None:
    enrolled_client(client, quiz_lesson)
    html = client.get(quiz_lesson.url).content.decode()
    _block_id, questions = quiz_ids(quiz_lesson)
    assert "Which cities?" in html
    assert "is_correct" not in html
    assert "correct" not in html.lower().replace("correct.", "")  # no flag, class or attribute names it
    for question_id, right, wrong in questions:
        # Both choices are offered the same way: nothing distinguishes the right one.
        assert f'name="question-{question_id}" value="{right}" required' in html
        assert f'name="question-{question_id}" value="{wrong}" required' in html


def test_forged_choice_id_is_refused_and_nothing_recorded(client: Client, quiz_lesson) -> None:
    trainee = enrolled_client(client, quiz_lesson)
    block_id, questions = quiz_ids(quiz_lesson)
    q1, _right, _wrong = questions[0]
    response = submit(client, quiz_lesson, block_id, {q1: "00000000-forged"})
    assert "not one of its question" in response.content.decode()
    assert not QuizAttempt.objects.filter(user=trainee).exists()


def test_another_questions_choice_is_refused(client: Client, quiz_lesson) -> None:
    enrolled_client(client, quiz_lesson)
    block_id, ((q1, _r1, _w1), (_q2, right2, _w2)) = quiz_ids(quiz_lesson)
    submit(client, quiz_lesson, block_id, {q1: right2})
    assert not QuizAttempt.objects.exists()


def test_forged_question_and_quiz_ids_are_refused(client: Client, quiz_lesson) -> None:
    enrolled_client(client, quiz_lesson)
    block_id, ((_q1, right1, _w1), _second) = quiz_ids(quiz_lesson)
    response = submit(client, quiz_lesson, block_id, {"forged-question": right1})
    assert "not in this quiz" in response.content.decode()
    response = client.post(f"/en/learning/lessons/{quiz_lesson.pk}/quizzes/forged-block/", {})
    assert response.status_code == 404
    assert not QuizAttempt.objects.exists()


def test_quiz_of_a_course_one_is_not_enrolled_in_is_refused(client: Client, quiz_lesson) -> None:
    client.force_login(factories.trainee())
    block_id, ((q1, right1, _w1), _second) = quiz_ids(quiz_lesson)
    response = client.post(f"/en/learning/lessons/{quiz_lesson.pk}/quizzes/{block_id}/", {f"question-{q1}": right1})
    assert response.status_code == 403
    assert not QuizAttempt.objects.exists()


def test_lesson_completion_needs_enrolment(client: Client, quiz_lesson) -> None:
    client.force_login(factories.trainee())
    response = client.post(f"/en/learning/lessons/{quiz_lesson.pk}/complete/")
    assert response.status_code == 403


def test_unanswered_questions_are_refused_and_nothing_recorded(client: Client, quiz_lesson) -> None:
    enrolled_client(client, quiz_lesson)
    block_id, ((q1, right1, _w1), _second) = quiz_ids(quiz_lesson)
    response = submit(client, quiz_lesson, block_id, {q1: right1})
    assert "Answer every question" in response.content.decode()
    assert not QuizAttempt.objects.exists()


def test_two_answers_to_one_question_are_refused_and_nothing_recorded(client: Client, quiz_lesson) -> None:
    enrolled_client(client, quiz_lesson)
    block_id, ((q1, right1, wrong1), (q2, right2, _w2)) = quiz_ids(quiz_lesson)
    url = f"/en/learning/lessons/{quiz_lesson.pk}/quizzes/{block_id}/"
    response = client.post(url, {f"question-{q1}": [wrong1, right1], f"question-{q2}": right2})
    assert response.status_code == 400
    assert "Give one answer to each question." in response.content.decode()
    assert not QuizAttempt.objects.exists()


def test_an_oversized_answer_is_refused_before_grading(client: Client, quiz_lesson) -> None:
    enrolled_client(client, quiz_lesson)
    block_id, ((q1, _right1, _w1), (q2, right2, _w2)) = quiz_ids(quiz_lesson)
    url = f"/en/learning/lessons/{quiz_lesson.pk}/quizzes/{block_id}/"
    for data in [{f"question-{q1}": "x" * 10_000, f"question-{q2}": right2}, {"question-" + "q" * 65: right2}]:
        response = client.post(url, data)
        assert response.status_code == 400
        assert "An answer is not one of its question" in response.content.decode()
    assert not QuizAttempt.objects.exists()
