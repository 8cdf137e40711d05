from django.apps import AppConfig


class ClassroomsConfig(AppConfig):
    """Rooms, devices, live sessions, attendance and Q&A (issue 3 builds this)."""

    name = "classrooms"
    verbose_name = "Classrooms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from classrooms import signals  # noqa: F401  (connects the sign-out receiver)
        from classrooms.metrics import LiveSessionsCollector
        from lms.metrics import register_collector

        register_collector("live-sessions", LiveSessionsCollector())
