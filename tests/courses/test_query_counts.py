"""Catalogue and course pages run a fixed number of queries, however much they list."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from courses.models import Enrolment
from tests import factories

pytestmark = pytest.mark.django_db


def queries_for(client: Client, url: str) -> int:
    client.get(url)  # warm caches (site root paths) the way a running server has them
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("signed_in", [False, True])
def test_catalogue_queries_do_not_grow_with_courses_listed(client: Client, catalogue, signed_in: bool) -> None:
    if signed_in:
        client.force_login(factories.trainee())
    for _ in range(2):
        factories.CourseFactory.create(parent=catalogue)
    few = queries_for(client, "/en/")
    search_few = queries_for(client, "/en/?q=course&level=beginner")
    for _ in range(10):
        course = factories.CourseFactory.create(parent=catalogue)
        Enrolment.objects.create(user=factories.trainee(), course=course, course_key=course.translation_key)
    assert queries_for(client, "/en/") == few
    assert queries_for(client, "/en/?q=course&level=beginner") == search_few


@pytest.mark.parametrize("enrolled", [False, True])
def test_course_page_queries_do_not_grow_with_modules_and_lessons(client: Client, catalogue, enrolled: bool) -> None:
    small = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    large = factories.course_with_lessons(catalogue, modules=6, lessons=5)
    trainee = factories.trainee()
    client.force_login(trainee)
    if enrolled:
        for course in (small, large):
            Enrolment.objects.create(user=trainee, course=course, course_key=course.translation_key)
    assert queries_for(client, large.url) == queries_for(client, small.url)


def test_my_learning_queries_do_not_grow_with_enrolments(client: Client, catalogue) -> None:
    trainee = factories.trainee()
    client.force_login(trainee)
    course = factories.course_with_lessons(catalogue)
    Enrolment.objects.create(user=trainee, course=course, course_key=course.translation_key)
    one = queries_for(client, "/en/learning/")
    for _ in range(4):
        course = factories.course_with_lessons(catalogue)
        Enrolment.objects.create(user=trainee, course=course, course_key=course.translation_key)
    assert queries_for(client, "/en/learning/") == one
