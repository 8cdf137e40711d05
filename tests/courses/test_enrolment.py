from typing import TYPE_CHECKING

import pytest
from django.test import Client

from courses.models import Enrolment
from tests import factories

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse  # what the test client returns, in django-stubs

pytestmark = pytest.mark.django_db


def enrol(client: Client, course) -> "_MonkeyPatchedWSGIResponse":
    return client.post(f"/en/learning/courses/{course.pk}/enrol/", {"next": course.url}, follow=True)


def test_trainee_enrols_and_sees_it_on_the_course_page(client: Client, course) -> None:
    trainee = factories.trainee()
    client.force_login(trainee)
    response = enrol(client, course)
    assert response.status_code == 200
    assert "You are enrolled" in response.content.decode()
    assert Enrolment.objects.filter(user=trainee).count() == 1


def test_enrolling_twice_creates_one_enrolment(client: Client, course) -> None:
    trainee = factories.trainee()
    client.force_login(trainee)
    enrol(client, course)
    enrol(client, course)
    assert Enrolment.objects.filter(user=trainee).count() == 1


def test_enrolling_through_the_chinese_page_is_the_same_enrolment(client: Client, course) -> None:
    chinese_course = course.copy_for_translation(factories.chinese(), copy_parents=True)
    chinese_course.save_revision().publish()
    trainee = factories.trainee()
    client.force_login(trainee)
    enrol(client, course)
    client.post(f"/zh-hans/learning/courses/{chinese_course.pk}/enrol/", {"next": "/zh-hans/"})
    assert Enrolment.objects.filter(user=trainee).count() == 1


def test_a_full_course_says_so_and_enrols_no_one(client: Client, catalogue) -> None:
    course = factories.course_with_lessons(catalogue, capacity=1)
    client.force_login(factories.trainee())
    enrol(client, course)
    late = factories.trainee()
    client.force_login(late)
    response = enrol(client, course)
    assert "This course is full" in response.content.decode()
    assert not Enrolment.objects.filter(user=late).exists()
    assert Enrolment.objects.count() == 1


def test_missing_prerequisite_is_named_and_refused(client: Client, catalogue) -> None:
    basics = factories.course_with_lessons(catalogue, title="Basics")
    advanced = factories.course_with_lessons(catalogue, title="Advanced")
    advanced.prerequisites.set([basics])
    advanced.save_revision().publish()
    trainee = factories.trainee()
    client.force_login(trainee)
    response = enrol(client, advanced)
    assert "Complete these courses first: Basics" in response.content.decode()
    assert not Enrolment.objects.filter(user=trainee, course_key=advanced.translation_key).exists()


def test_completing_the_prerequisite_opens_enrolment(client: Client, catalogue) -> None:
    basics = factories.course_with_lessons(catalogue, title="Basics", modules=1, lessons=1)
    advanced = factories.course_with_lessons(catalogue, title="Advanced")
    advanced.prerequisites.set([basics])
    advanced.save_revision().publish()
    trainee = factories.trainee()
    client.force_login(trainee)
    enrol(client, basics)
    lesson = basics.get_descendants().type(factories.LessonPage).get()
    client.post(f"/en/learning/lessons/{lesson.pk}/complete/")
    enrol(client, advanced)
    assert Enrolment.objects.filter(user=trainee, course_key=advanced.translation_key).exists()


def test_cohort_restricted_course_refuses_an_outsider(client: Client, catalogue) -> None:
    cohort = factories.CohortFactory.create()
    course = factories.course_with_lessons(catalogue, cohort=cohort)
    outsider = factories.trainee()
    client.force_login(outsider)
    response = client.post(f"/en/learning/courses/{course.pk}/enrol/")
    assert response.status_code == 404
    assert not Enrolment.objects.exists()
    member = factories.trainee()
    cohort.members.add(member)
    client.force_login(member)
    enrol(client, course)
    assert Enrolment.objects.filter(user=member).exists()


def test_anonymous_visitor_is_sent_to_sign_in(client: Client, course) -> None:
    response = client.post(f"/en/learning/courses/{course.pk}/enrol/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert not Enrolment.objects.exists()


def test_forged_course_id_is_not_found(client: Client, course) -> None:
    client.force_login(factories.trainee())
    assert client.post("/en/learning/courses/999999/enrol/").status_code == 404


def test_unpublished_course_cannot_be_enrolled(client: Client, catalogue) -> None:
    draft = factories.CourseFactory.create(parent=catalogue, live=False)
    client.force_login(factories.trainee())
    assert client.post(f"/en/learning/courses/{draft.pk}/enrol/").status_code == 404
    assert not Enrolment.objects.exists()
