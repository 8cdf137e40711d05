import os
from typing import Any

import pytest

from tests import factories


@pytest.fixture
def catalogue(db: Any) -> Any:
    return factories.site_catalogue()


@pytest.fixture
def course(catalogue: Any) -> Any:
    return factories.course_with_lessons(catalogue)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: this test needs a real Redis")
    return url


@pytest.fixture(scope="session", autouse=True)
def _close_connection_pool(django_db_setup: Any) -> Any:
    """On PostgreSQL the app uses a connection pool (shared by every thread's connection): close it
    before the test database is dropped, or the drop finds the pool's idle connections."""
    yield
    from django.db import connections

    for connection in connections.all():
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()
