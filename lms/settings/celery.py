from datetime import timedelta

from .env import REDIS_URL, env

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
# Without a broker (the embedded default) tasks run in-process, the same code either way.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Without a broker, long tasks (lms.celery.delay_long) run in a thread of their own rather than in the caller's.
CELERY_LONG_TASKS_IN_THREAD = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose worker died (acks_late: never acknowledged) goes back to the queue after this long.
# Tasks are idempotent (certificates: one per trainee, course and rule version), so a redelivery is safe.
CELERY_VISIBILITY_TIMEOUT: int = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Kombu looks for such tasks every `unacked_restore_interval` s but scans only on every
    # `unacked_restore_throttle`-th look (10 x 10 s by default): a dead worker's task could wait 100 s past its
    # timeout (seen in tests/certificates/test_worker_crash.py). One cheap scan every few seconds instead.
    "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT // 2)),
    "unacked_restore_throttle": 1,
}
CELERY_TIMEZONE = "UTC"
# Deployments (and test runs) sharing one Redis keep their tasks apart by queue name.
CELERY_TASK_DEFAULT_QUEUE: str = env.str("CELERY_QUEUE", default="celery")
CELERY_BEAT_SCHEDULE = {
    # LTI grade passback: quiz results to the platforms' line items; what failed is sent again.
    "collect-lti-scores": {
        "task": "lti.tasks.collect_scores",
        "schedule": timedelta(seconds=60),
    },
    # Wagtail publishes scheduled pages only when `publish_scheduled` runs; beat runs it.
    "publish-scheduled-pages": {
        "task": "courses.tasks.publish_scheduled_pages",
        "schedule": timedelta(seconds=60),
    },
    # A recorded session's one file: composed again if a trigger was lost or its worker died.
    "resume-compositions": {
        "task": "streaming.tasks.resume_compositions",
        "schedule": timedelta(minutes=5),
    },
    # Reminder emails before live sessions (each session's reminder goes out once).
    "send-session-reminders": {
        "task": "classrooms.tasks.send_session_reminders",
        "schedule": timedelta(seconds=60),
    },
    # Exam candidates' reminder emails (each candidate's goes out once), and papers prepared once registration closes.
    "send-exam-reminders": {
        "task": "exams.tasks.send_exam_reminders",
        "schedule": timedelta(seconds=60),
    },
    "prepare-due-papers": {
        "task": "exams.tasks.prepare_due_papers",
        "schedule": timedelta(seconds=60),
    },
    # Exam papers whose time is up are submitted by the server (each once); a task queued at each start for its
    # due time does it sooner, and every save and every state read checks too.
    "submit-time-up-papers": {
        "task": "exams.tasks.submit_time_up_papers",
        "schedule": timedelta(seconds=5),
    },
    # Remote attendance: a socket that stopped sending heartbeats for 30 s is gone.
    "close-stale-presence": {
        "task": "classrooms.tasks.close_stale_presence",
        "schedule": timedelta(seconds=10),
    },
    # A live session left running 30 minutes past its end with nobody publishing is ended.
    "end-forgotten-sessions": {
        "task": "streaming.tasks.end_forgotten_sessions",
        "schedule": timedelta(seconds=60),
    },
    # Operator alerts: silent agents and devices, lossy links (raised, emailed once, cleared on recovery).
    "check-alerts": {
        "task": "classrooms.tasks.check_alerts",
        "schedule": timedelta(seconds=3),
    },
    # The Singapore–Chongqing link's figures from the SFU nodes' records (SFU_MODE=nodes), kept for the charts.
    "sample-node-links": {
        "task": "streaming.tasks.sample_node_links",
        "schedule": timedelta(seconds=5),
    },
    # Link-quality samples older than LINK_SAMPLES_KEEP_DAYS are deleted.
    "prune-link-samples": {
        "task": "classrooms.tasks.prune_link_samples",
        "schedule": timedelta(hours=1),
    },
    # People's data exports older than DATA_EXPORT_KEEP_DAYS are deleted from storage.
    "expire-data-exports": {
        "task": "lms.accounts.tasks.expire_data_exports",
        "schedule": timedelta(hours=1),
    },
    # Retention: live events, attendance detail and recordings past their configured age are deleted.
    "expire-live-data": {
        "task": "classrooms.tasks.expire_live_data",
        "schedule": timedelta(hours=1),
    },
    "expire-recordings": {
        "task": "streaming.tasks.expire_recordings",
        "schedule": timedelta(hours=1),
    },
    # Interns whose last week has no log are reminded by email (once per week).
    "send-log-reminders": {
        "task": "internships.tasks.send_log_reminders",
        "schedule": timedelta(hours=1),
    },
    # xAPI statements due (new, or failing and past their backoff) go to the learning record store in batches.
    "send-xapi-statements": {
        "task": "lms.xapi.tasks.send_xapi_statements",
        "schedule": timedelta(seconds=30),
    },
}
