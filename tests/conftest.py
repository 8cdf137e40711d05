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
