"""Every course has a kind, shown on its page and in the catalogue and filterable there; a preparatory course names
the exam it prepares for, and the exam's page links back (issue 16, item 1)."""

import re

import pytest
from django.test import Client

from courses.models import CourseKind
from tests import factories

pytestmark = pytest.mark.django_db


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def kinds(catalogue):
    factories.CourseFactory.create(parent=catalogue, title="Welding practice", kind=CourseKind.VOCATIONAL)
    factories.CourseFactory.create(parent=catalogue, title="Mandarin at work", kind=CourseKind.LANGUAGE_CULTURE)
    factories.CourseFactory.create(parent=catalogue, title="Diploma entry preparation", kind=CourseKind.PREPARATORY)
    factories.CourseFactory.create(parent=catalogue, title="Network technician", kind=CourseKind.CERTIFICATION)
    return catalogue


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("vocational", ["Welding practice"]),
        ("language_culture", ["Mandarin at work"]),
        ("preparatory", ["Diploma entry preparation"]),
        ("certification", ["Network technician"]),
        ("", ["Diploma entry preparation", "Mandarin at work", "Network technician", "Welding practice"]),
    ],
)
def test_the_catalogue_filters_by_kind(client: Client, kinds, kind: str, expected: list[str]) -> None:
    assert titles(client.get(f"/en/?kind={kind}").content.decode()) == expected


def test_the_catalogue_offers_the_kinds_and_labels_each_card(client: Client, kinds) -> None:
    html = client.get("/en/").content.decode()
    assert '<option value="preparatory">Preparatory</option>' in html
    assert 'data-kind="language_culture">Language and culture</span>' in html


def test_a_course_page_shows_its_kind_in_both_languages(client: Client, catalogue) -> None:
    course = factories.CourseFactory.create(parent=catalogue, kind=CourseKind.CERTIFICATION)
    html = client.get(course.url).content.decode()
    assert re.search(r'class="course-kind">Certification<', html)
    chinese = course.copy_for_translation(factories.chinese())
    chinese.save_revision().publish()
    zh = client.get(chinese.url, headers={"accept-language": "zh-hans"}).content.decode()
    assert 'class="course-kind">' in zh


def test_a_preparatory_course_names_its_exam_and_the_exam_page_links_back(client: Client, catalogue) -> None:
    course = factories.CourseFactory.create(parent=catalogue, title="Diploma entry preparation", kind="preparatory")
    exam = factories.ExamFactory.create(code="DIP-ENTRY", title="Diploma entry exam")
    exam.preparatory_courses.add(course)

    course_html = client.get(course.url).content.decode()
    assert "Prepares for the exam" in course_html
    assert 'href="/en/exams/DIP-ENTRY/"' in course_html

    exam_html = client.get("/en/exams/DIP-ENTRY/").content.decode()
    assert "Preparatory courses" in exam_html
    assert f'href="{course.url}"' in exam_html


def test_a_course_of_another_kind_names_no_exam(client: Client, catalogue) -> None:
    course = factories.CourseFactory.create(parent=catalogue, kind="vocational")
    factories.ExamFactory.create().preparatory_courses.add(course)
    assert "Prepares for the exam" not in client.get(course.url).content.decode()
