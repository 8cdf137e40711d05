"""Health checks, Prometheus metrics and logs (README "Observability").

Logs are human-readable lines by default (`make run`, DEBUG) and one JSON object per line with LOG_FORMAT=json,
each naming its request id (X-Request-ID) and, on socket lines, its live session (lms/log_context.py).
"""

from django.core.exceptions import ImproperlyConfigured

from .celery import CELERY_BROKER_URL
from .env import env

LOG_LEVEL: str = env.str("LOG_LEVEL", default="WARNING").upper()
LOG_FORMAT: str = env.str("LOG_FORMAT", default="text").lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT is {LOG_FORMAT!r}: it must be text or json.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "lms.log_context.LogContextFilter"}},
    "formatters": {
        "text": {"()": "lms.log_context.TextFormatter"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(session_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # uvicorn configures its own loggers before it loads the app: these take them over, so that its lines are JSON
    # too under LOG_FORMAT=json (its access lines at INFO: LOG_LEVEL=INFO shows them).
    "loggers": {
        name: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    },
}
# Celery's worker would otherwise replace the root logger's handlers with its own plain ones.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# /metrics (Prometheus text format). Open under DEBUG; otherwise only to a request carrying
# "Authorization: Bearer <METRICS_TOKEN>" or coming from one of METRICS_ALLOWED_NETWORKS (addresses or CIDR
# ranges, as the app sees REMOTE_ADDR: the scraper's own address, not through the public proxy). With neither set,
# /metrics answers 403 outside DEBUG.
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS: list[str] = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# /readyz: seconds each dependency (database, Redis, storage) may take to answer before it counts as down.
READYZ_TIMEOUT: float = env.float("READYZ_TIMEOUT", default=2.0)
# The broker /metrics reads queue depth from (Redis), or none (the embedded default runs tasks in-process).
METRICS_BROKER_URL: str = CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
