"""The administrators' xAPI page: counts per state, each failing statement with its last error and next attempt, and
"Retry now", which sends at once (the embedded default runs the send before the page comes back)."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lms.xapi import builders, services
from lms.xapi.models import QueuedStatement, StatementState
from tests import factories
from tests.support.ralph import Ralph

pytestmark = pytest.mark.django_db


def failing_statement(user_id: int = 1) -> QueuedStatement:
    course = builders.course_activity(course_key="course-1", title_en="Safety")
    row = services.xapi_statement_queue(
        statement=builders.course_enrolled(user_id=user_id, course=course, at=timezone.now())
    )
    assert row is not None
    services.xapi_statements_send()  # nothing listens: it fails
    row.refresh_from_db()
    assert row.state == StatementState.FAILING
    return row


def admin_client(client: Client) -> Client:
    client.force_login(factories.administrator())
    return client


def test_the_page_shows_counts_and_each_failing_statement(client: Client, lrs_configured: None) -> None:
    row = failing_statement()
    page = admin_client(client).get(reverse("xapi:queue")).content.decode()
    assert 'data-xapi-count="failing">1<' in page and 'data-xapi-count="sent">0<' in page
    assert str(row.id) in page
    assert "LRS unreachable" in page
    assert row.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S") in page
    assert "Retry now (1 statement)" in page


def test_retry_now_sends_a_failing_statement_once_the_lrs_is_back(
    client: Client, ralph: Ralph, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.XAPI_LRS_URL = "http://127.0.0.1:9/xAPI/"  # the LRS is away...
    row = failing_statement()
    ralph.configure(settings)  # ...and back, long before the statement's next attempt
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=30)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client(client).post(reverse("xapi:retry"), {"statement": str(row.id)})
    response = client.get(response["Location"])

    page = response.content.decode()
    assert "1 failing statement is being sent again." in page
    assert 'data-xapi-count="sent">1<' in page and "No statement is failing." in page
    assert [statement["id"] for statement in ralph.statements()] == [str(row.id)]


def test_retry_now_of_a_statement_not_failing_changes_nothing(client: Client, lrs_configured: None) -> None:
    row = failing_statement()
    QueuedStatement.objects.filter(pk=row.pk).update(state=StatementState.SENT)
    response = admin_client(client).post(reverse("xapi:retry"), {"statement": str(row.id)})
    assert response.status_code == 404
    assert QueuedStatement.objects.get().state == StatementState.SENT


def test_only_administrators_see_the_page(client: Client, lrs_configured: None) -> None:
    failing_statement()
    client.force_login(factories.instructor())
    assert client.get(reverse("xapi:queue")).status_code == 403
    assert client.post(reverse("xapi:retry")).status_code == 403
    assert QueuedStatement.objects.get().state == StatementState.FAILING


def test_the_admin_menu_leads_administrators_to_the_page(client: Client) -> None:
    page = admin_client(client).get("/admin/").content.decode()
    assert reverse("xapi:queue") in page and "xAPI statements" in page


def test_without_an_lrs_the_page_says_nothing_is_queued(client: Client) -> None:
    page = admin_client(client).get(reverse("xapi:queue")).content.decode()
    assert "No learning record store is configured (XAPI_LRS_URL): no statements are being queued." in page
