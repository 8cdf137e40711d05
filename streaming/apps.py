from django.apps import AppConfig


class StreamingConfig(AppConfig):
    """Signaling, the SFU, recording and TURN."""

    name = "streaming"
    verbose_name = "Streaming"

    def ready(self) -> None:
        from lms.metrics import register_collector
        from streaming import receivers  # noqa: F401  (closes a session's recordings when it ends)
        from streaming.metrics import SfuCollector

        register_collector("sfu", SfuCollector())
