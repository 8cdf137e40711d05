import re

import pytest
from django.test import Client

from courses.models import LessonPage
from tests import factories

pytestmark = pytest.mark.django_db


def bar_values(html: str) -> list[int]:
    return [int(v) for v in re.findall(r'role="progressbar"[^>]*aria-valuenow="(\d+)"', html)]


def test_my_learning_shows_progress_as_a_bar_that_moves(client: Client, catalogue) -> None:
    course = factories.course_with_lessons(catalogue, modules=2, lessons=2, title="Four lessons")
    trainee = factories.trainee()
    client.force_login(trainee)
    client.post(f"/en/learning/courses/{course.pk}/enrol/")
    assert bar_values(client.get("/en/learning/").content.decode()) == [0]
    lessons = list(LessonPage.objects.descendant_of(course).order_by("path"))
    client.post(f"/en/learning/lessons/{lessons[0].pk}/complete/")
    html = client.get("/en/learning/").content.decode()
    assert bar_values(html) == [25]
    assert "1 of 4 lessons" in html
    for lesson in lessons:
        client.post(f"/en/learning/lessons/{lesson.pk}/complete/")
        client.post(f"/en/learning/lessons/{lesson.pk}/complete/")  # twice counts once
    html = client.get("/en/learning/").content.decode()
    assert bar_values(html) == [100]
    assert "Completed" in html
    assert bar_values(client.get(course.url).content.decode()) == [100]


def test_progress_carries_across_languages(client: Client, catalogue) -> None:
    course = factories.course_with_lessons(catalogue, modules=1, lessons=2)
    chinese_course = course.copy_for_translation(factories.chinese(), copy_parents=True)
    chinese_course.title = "中文课程"
    chinese_course.save_revision().publish()
    for module in course.get_children():
        chinese_module = module.specific.copy_for_translation(factories.chinese())
        chinese_module.save_revision().publish()
        for lesson in module.get_children():
            lesson.specific.copy_for_translation(factories.chinese()).save_revision().publish()
    trainee = factories.trainee()
    client.force_login(trainee)
    client.post(f"/en/learning/courses/{course.pk}/enrol/")
    english_lesson = LessonPage.objects.descendant_of(course).first()
    client.post(f"/en/learning/lessons/{english_lesson.pk}/complete/")
    html = client.get("/zh-hans/learning/").content.decode()
    assert "中文课程" in html
    assert bar_values(html) == [50]


def test_my_learning_empty_state(client: Client, catalogue) -> None:
    client.force_login(factories.trainee())
    html = client.get("/en/learning/").content.decode()
    assert "You have not enrolled in a course yet" in html
    assert "Browse the catalogue" in html


def test_my_learning_needs_sign_in(client: Client) -> None:
    response = client.get("/en/learning/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
