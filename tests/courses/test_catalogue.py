import re

import pytest
from django.test import Client

from courses.models import CoursePage
from tests import factories

pytestmark = pytest.mark.django_db


def titles(html: str) -> list[str]:
    return re.findall(r'<h2><a href="[^"]+">([^<]+)</a>', html)


@pytest.fixture
def courses(catalogue):
    factories.CourseFactory.create(
        parent=catalogue,
        title="Firewall basics",
        summary="Networks and firewalls",
        category="digital",
        level="beginner",
    )
    factories.CourseFactory.create(
        parent=catalogue,
        title="Leading hybrid teams",
        summary="Leadership across two cities",
        category="leadership",
        level="advanced",
        delivered_online=False,
        taught_in_chinese=True,
    )
    factories.CourseFactory.create(
        parent=catalogue,
        title="Fire safety drills",
        summary="Evacuation in the smart room",
        category="safety",
        level="beginner",
        delivered_in_chongqing_room=False,
    )
    return catalogue


def test_catalogue_lists_published_courses_alphabetically(client: Client, courses) -> None:
    assert titles(client.get("/en/").content.decode()) == [
        "Fire safety drills",
        "Firewall basics",
        "Leading hybrid teams",
    ]


def test_search_finds_by_word_in_title_and_summary(client: Client, courses) -> None:
    assert titles(client.get("/en/?q=firewall").content.decode()) == ["Firewall basics"]
    assert titles(client.get("/en/?q=evacuation").content.decode()) == ["Fire safety drills"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("category=leadership", ["Leading hybrid teams"]),
        ("level=beginner", ["Fire safety drills", "Firewall basics"]),
        ("language=zh-hans", ["Leading hybrid teams"]),
        ("delivery=online", ["Fire safety drills", "Firewall basics"]),
        ("delivery=chongqing", ["Firewall basics", "Leading hybrid teams"]),
        ("level=beginner&delivery=chongqing", ["Firewall basics"]),
        ("q=fire&category=safety", ["Fire safety drills"]),
    ],
)
def test_filters(client: Client, courses, query: str, expected: list[str]) -> None:
    assert sorted(titles(client.get(f"/en/?{query}").content.decode())) == expected


def test_no_match_shows_a_clear_empty_state(client: Client, courses) -> None:
    html = client.get("/en/?q=astrophysics").content.decode()
    assert titles(html) == []
    assert "No courses match" in html
    assert "Show all courses" in html


def test_an_empty_catalogue_says_so(client: Client, catalogue) -> None:
    assert "No courses yet" in client.get("/en/").content.decode()


def test_an_invalid_filter_value_is_ignored_not_an_error(client: Client, courses) -> None:
    response = client.get("/en/?level=impossible&page=abc")
    assert response.status_code == 200


def test_pagination(client: Client, catalogue) -> None:
    for index in range(15):
        factories.CourseFactory.create(parent=catalogue, title=f"Course {index:02d}")
    first = client.get("/en/").content.decode()
    second = client.get("/en/?page=2").content.decode()
    assert len(titles(first)) == 12
    assert len(titles(second)) == 3
    assert "Page 1 of 2" in first
    assert set(titles(first)).isdisjoint(titles(second))


def test_pagination_keeps_the_search_and_filters(client: Client, catalogue) -> None:
    for index in range(14):
        factories.CourseFactory.create(parent=catalogue, title=f"Welding {index:02d}", category="safety")
    html = client.get("/en/?category=safety").content.decode()
    assert 'href="?category=safety&amp;page=2"' in html


def test_chinese_catalogue_shows_chinese_courses_and_finds_them(client: Client, catalogue) -> None:
    course = factories.course_with_lessons(catalogue, title="Hybrid classroom fundamentals")
    chinese_course = course.copy_for_translation(factories.chinese(), copy_parents=True)
    chinese_course.title = "混合式课堂基础"
    chinese_course.save_revision().publish()
    html = client.get("/zh-hans/").content.decode()
    assert titles(html) == ["混合式课堂基础"]
    assert titles(client.get("/zh-hans/?q=课堂").content.decode()) == ["混合式课堂基础"]
    assert titles(client.get("/en/?q=hybrid").content.decode()) == ["Hybrid classroom fundamentals"]


def test_course_page_shows_outline_seats_and_prerequisites(client: Client, catalogue) -> None:
    basics = factories.CourseFactory.create(parent=catalogue, title="Basics")
    course = factories.course_with_lessons(catalogue, title="Advanced", capacity=5)
    course.prerequisites.set([basics])
    course.save_revision().publish()
    html = client.get(course.url).content.decode()
    for module in course.get_children().specific():
        assert module.title in html
    for lesson in course.get_descendants().filter(depth=course.depth + 2):
        assert lesson.title in html
    assert "5 / 5" in html
    assert "Basics" in html
    assert "Sign in to enrol" in html


def test_language_switcher_links_to_the_page_translation(client: Client, catalogue) -> None:
    course = factories.CourseFactory.create(parent=catalogue, slug="fundamentals")
    chinese_course = course.copy_for_translation(factories.chinese(), copy_parents=True)
    chinese_course.save_revision().publish()
    html = client.get("/en/fundamentals/").content.decode()
    assert 'hreflang="zh-hans"' in html
    assert f'href="{CoursePage.objects.get(pk=chinese_course.pk).url}"' in html


def test_interface_strings_are_translated(client: Client, catalogue) -> None:
    factories.CourseFactory.create(parent=catalogue)
    english = client.get("/en/").content.decode()
    chinese = client.get("/zh-hans/").content.decode()
    assert "Catalogue" in english and "Sign in" in english
    assert "登录" in chinese and "课程目录" in chinese
    assert 'lang="zh-hans"' in chinese
