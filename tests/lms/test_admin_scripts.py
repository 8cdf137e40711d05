"""lms/admin_scripts.py: Wagtail's inline widget initialisers become data for a static script; nothing else does."""

import json
from typing import Any

import pytest
from django.test import Client

from lms.admin_scripts import rewrite_inline_initialisers
from tests import factories
from tests.classrooms.factories import LiveSessionFactory


def data_of(html: str) -> tuple[str, list[Any]]:
    prefix = '<script type="application/json" data-admin-init="'
    assert html.startswith(prefix), html
    name, _, rest = html[len(prefix) :].partition('">')
    return name, json.loads(rest.removesuffix("</script>"))


@pytest.mark.parametrize(
    ("script", "name", "args"),
    [
        (
            'initDateTimeChooser("id_starts_at", {"dayOfWeekStart": 0, "format": "Y-m-d H:i"});',
            "initDateTimeChooser",
            ["id_starts_at", {"dayOfWeekStart": 0, "format": "Y-m-d H:i"}],
        ),
        ('initDateChooser("id_d", {"format": "Y-m-d"});', "initDateChooser", ["id_d", {"format": "Y-m-d"}]),
        (
            'new PageChooser("id_course", {"modelNames": ["courses.coursepage"], "modalUrl": "/admin/choose-page/"});',
            "new PageChooser",
            ["id_course", {"modelNames": ["courses.coursepage"], "modalUrl": "/admin/choose-page/"}],
        ),
        (
            '\n        (function() {\n            var panel = new InlinePanel(JSON.parse("{\\u0022formsetPrefix\\u0022:'
            ' \\u0022id_rooms\\u0022}"));\n        })();\n    ',
            "new InlinePanel",
            [{"formsetPrefix": "id_rooms"}],
        ),
    ],
)
def test_wagtails_initialisers_become_data(script: str, name: str, args: list[Any]) -> None:
    html = rewrite_inline_initialisers(f"<input id='x'><script>{script}</script>")
    assert html.startswith("<input id='x'>")
    assert data_of(html.removeprefix("<input id='x'>")) == (name, args)


@pytest.mark.parametrize(
    "script",
    [
        "alert(1);",
        'initDateChooser("id_d", {"format": "Y-m-d"}); alert(1);',
        'initDateChooser("id_d", alert(1));',
        'new Function("alert(1)");',
        'fetch("/admin/", {"method": "POST"});',
        'new PageChooser("id_course", {"a": 1}) || alert(1);',
    ],
)
def test_anything_else_stays_an_inline_script_which_the_policy_blocks(script: str) -> None:
    html = f"<script>{script}</script>"
    assert rewrite_inline_initialisers(html) == html


def test_data_cannot_close_its_script_element() -> None:
    html = rewrite_inline_initialisers(
        '<script>initDateChooser("id_d", {"format": "\\u003c/script\\u003e\\u003cscript\\u003ex"});</script>'
    )
    assert html.count("</script>") == 1
    assert data_of(html) == ("initDateChooser", ["id_d", {"format": "</script><script>x"}])


@pytest.mark.django_db
def test_the_live_session_form_has_no_inline_script(client: Client, catalogue: Any) -> None:
    client.force_login(factories.administrator())
    course = factories.course_with_lessons(catalogue)
    session = LiveSessionFactory.create(course=course, instructor=factories.instructor())
    page = client.get(f"/admin/snippets/classrooms/livesession/edit/{session.pk}/").content.decode()
    assert "<script>" not in page
    assert '<script type="application/json" data-admin-init="initDateTimeChooser">["id_starts_at", {' in page
    assert '<script type="application/json" data-admin-init="new PageChooser">["id_course", {' in page
    assert "corridor/admin-init.js" in page
