import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from wagtail.models import Page, WorkflowState

from courses.models import CoursePage
from courses.tasks import publish_scheduled_pages
from tests import factories

pytestmark = pytest.mark.django_db


def test_instructor_submits_for_review_and_administrator_approves(client: Client, catalogue) -> None:
    author, reviewer = factories.instructor(), factories.administrator()
    course = factories.CourseFactory.create(parent=catalogue, live=False, title="Reviewed course")
    course.save_revision(user=author)
    workflow = course.get_workflow()
    assert workflow is not None and workflow.name == "Course review"
    state = workflow.start(course, author)
    task_state = state.current_task_state
    task = task_state.task.specific
    assert [name for name, _label, _modal in task.get_actions(course, author)] == []
    assert "approve" in [name for name, _label, _modal in task.get_actions(course, reviewer)]
    task.on_action(task_state, reviewer, "approve", comment="Looks good")
    course.refresh_from_db()
    assert course.live
    assert client.get("/en/").content.decode().count("Reviewed course") == 1


def test_administrator_rejects_with_a_comment_and_nothing_is_published(catalogue) -> None:
    author, reviewer = factories.instructor(), factories.administrator()
    course = factories.CourseFactory.create(parent=catalogue, live=False)
    course.save_revision(user=author)
    state = course.get_workflow().start(course, author)
    task_state = state.current_task_state
    task_state.task.specific.on_action(task_state, reviewer, "reject", comment="Add a summary")
    course.refresh_from_db()
    assert not course.live
    state.refresh_from_db()
    assert state.status == WorkflowState.STATUS_NEEDS_CHANGES
    task_state.refresh_from_db()
    assert task_state.get_comment() == "Add a summary"


def test_instructor_publish_attempt_in_the_admin_is_refused(client: Client, catalogue) -> None:
    author = factories.instructor()
    course = factories.CourseFactory.create(parent=catalogue, live=False, title="Draft")
    client.force_login(author)
    client.post(
        f"/admin/pages/{course.pk}/edit/",
        {"action-publish": "1", "title": "Draft", "slug": course.slug},
    )
    assert not Page.objects.get(pk=course.pk).live


def _schedule(course: CoursePage, when) -> None:
    course.go_live_at = when
    revision = course.save_revision(approved_go_live_at=when)
    revision.publish()


def test_scheduled_course_is_published_by_the_periodic_task(client: Client, catalogue) -> None:
    course = factories.CourseFactory.create(parent=catalogue, live=False, title="Scheduled course")
    go_live_at = timezone.now() + timedelta(seconds=2)
    _schedule(course, go_live_at)
    publish_scheduled_pages.apply()
    assert not CoursePage.objects.get(pk=course.pk).live  # not yet time
    time.sleep(max(0.0, (go_live_at - timezone.now()).total_seconds()) + 0.2)
    publish_scheduled_pages.apply()
    assert CoursePage.objects.get(pk=course.pk).live
    assert "Scheduled course" in client.get("/en/").content.decode()


def test_embedded_scheduler_runs_the_beat_schedule(catalogue) -> None:
    course = factories.CourseFactory.create(parent=catalogue, live=False)
    _schedule(course, timezone.now() - timedelta(seconds=1))
    call_command("run_scheduler", "--once")
    assert CoursePage.objects.get(pk=course.pk).live


def test_instructor_translates_a_course_and_the_chinese_draft_awaits_review(client: Client, catalogue) -> None:
    from django.urls import reverse

    course = factories.course_with_lessons(catalogue, modules=1, lessons=1, title="To translate")
    client.force_login(factories.instructor())
    response = client.post(
        reverse("simple_translation:submit_page_translation", args=[course.pk]),
        {"locales": [factories.chinese().pk], "include_subtree": "on"},
    )
    assert response.status_code == 302
    chinese_course = course.get_translation(factories.chinese())
    assert not chinese_course.live  # a draft: publishing it goes through review
    assert chinese_course.get_descendants().count() == 2
    assert not chinese_course.permissions_for_user(factories.instructor()).can_publish()
    assert chinese_course.get_workflow().name == "Course review"
