"""Corridor settings: one module, read from the environment.

The embedded default (no environment at all) is SQLite, the in-memory channel
layer, local files and Celery tasks run in-process. Setting DATABASE_URL,
REDIS_URL and AWS_STORAGE_BUCKET_NAME switches each part to the real service.
"""

from .base import *  # noqa: F403
from .celery import *  # noqa: F403
from .certificates import *  # noqa: F403
from .channels import *  # noqa: F403
from .internships import *  # noqa: F403
from .observability import *  # noqa: F403
from .security import *  # noqa: F403
from .signin import *  # noqa: F403
from .storage import *  # noqa: F403
from .streaming import *  # noqa: F403
from .wagtail import *  # noqa: F403
from .xapi import *  # noqa: F403
