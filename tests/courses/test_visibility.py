import pytest
from django.test import Client

from courses.models import Enrolment
from tests import factories

pytestmark = pytest.mark.django_db


def test_unpublished_course_is_not_reachable(client: Client, catalogue) -> None:
    draft = factories.CourseFactory.create(parent=catalogue, live=False, title="Secret draft")
    client.force_login(factories.trainee())
    assert client.get(f"/en/{draft.slug}/").status_code == 404
    assert "Secret draft" not in client.get("/en/").content.decode()


def test_cohort_restricted_course_is_hidden_from_outsiders(client: Client, catalogue) -> None:
    cohort = factories.CohortFactory.create()
    course = factories.course_with_lessons(catalogue, cohort=cohort, title="Pilot only")
    lesson = course.get_descendants().live().last()
    module = course.get_children().first()
    for user in (None, factories.trainee()):
        client.logout()
        if user:
            client.force_login(user)
        assert client.get(course.url).status_code == 404
        assert client.get(module.url).status_code == 404
        assert client.get(lesson.url).status_code == 404
        assert "Pilot only" not in client.get("/en/").content.decode()
        assert "Pilot only" not in client.get("/en/?q=Pilot").content.decode()


def test_cohort_member_sees_the_restricted_course(client: Client, catalogue) -> None:
    cohort = factories.CohortFactory.create()
    course = factories.course_with_lessons(catalogue, cohort=cohort, title="Pilot only")
    member = factories.trainee()
    cohort.members.add(member)
    client.force_login(member)
    assert client.get(course.url).status_code == 200
    assert "Pilot only" in client.get("/en/").content.decode()


def test_lessons_open_only_to_enrolled_trainees(client: Client, course) -> None:
    lesson = course.get_descendants().live().last()
    trainee = factories.trainee()
    client.force_login(trainee)
    response = client.get(lesson.url)
    assert response.status_code == 302 and response["Location"] == course.url
    Enrolment.objects.create(user=trainee, course=course, course_key=course.translation_key)
    assert client.get(lesson.url).status_code == 200


def test_a_trainee_cannot_reach_the_wagtail_admin(client: Client, course) -> None:
    client.force_login(factories.trainee())
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    edit = client.get(f"/admin/pages/{course.pk}/edit/")
    assert edit.status_code in (302, 403)


def test_an_operator_cannot_reach_the_wagtail_admin(client: Client) -> None:
    client.force_login(factories.operator())
    assert client.get("/admin/").status_code == 302


def test_instructor_can_write_but_not_publish(catalogue) -> None:
    author = factories.instructor()
    permissions = catalogue.permissions_for_user(author)
    assert permissions.can_add_subpage()
    assert not permissions.can_publish_subpage()
    course = factories.CourseFactory.create(parent=catalogue, live=False)
    assert course.permissions_for_user(author).can_edit()
    assert not course.permissions_for_user(author).can_publish()
    assert course.permissions_for_user(factories.administrator()).can_publish()
