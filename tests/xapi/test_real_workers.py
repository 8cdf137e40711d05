"""Two real Celery workers on Redis send the same queue to Ralph at once: each statement is claimed by one of them
(rows locked with SKIP LOCKED), so every statement reaches the LRS and none is sent twice."""

import os
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection

from lms.celery import app
from lms.xapi import builders, services
from lms.xapi.models import QueuedStatement, StatementState
from lms.xapi.tasks import send_xapi_statements
from tests.support.ralph import PASSWORD, USERNAME, Ralph
from tests.support.waiting import wait_until
from tests.support.workers import kill_worker, start_worker

STATEMENTS = 240


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database: needs DATABASE_URL (PostgreSQL)")


@pytest.mark.real_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_send_every_statement_once(redis_url: str, postgres: None, ralph: Ralph, settings: Any) -> None:
    course = builders.course_activity(course_key="course-1", title_en="Safety")
    at = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for user_id in range(1, STATEMENTS + 1):
        services.xapi_statement_queue(statement=builders.course_enrolled(user_id=user_id, course=course, at=at))
    queue = str(app.conf.task_default_queue)
    env = {
        "XAPI_LRS_URL": ralph.endpoint,
        "XAPI_LRS_USERNAME": USERNAME,
        "XAPI_LRS_PASSWORD": PASSWORD,
        "XAPI_BATCH_SIZE": "10",
    }
    workers = [start_worker(queue=queue, name=f"xapi-{n}-{os.getpid()}@%h", env=env) for n in range(2)]
    try:
        # Each run sends up to 20 batches of 10; eight runs at once, shared by the two workers.
        results = [send_xapi_statements.delay() for _ in range(8)]
        sent = [result.get(timeout=120) for result in results]
        wait_until(
            lambda: not QueuedStatement.objects.exclude(state=StatementState.SENT).exists(),
            timeout=60,
            message="every statement sent",
        )
    finally:
        for worker in workers:
            kill_worker(worker)

    assert sum(sent) == STATEMENTS, f"marked sent {sum(sent)} times for {STATEMENTS} statements: {sent}"
    assert len({statement["id"] for statement in ralph.statements()}) == STATEMENTS
