from django.apps import AppConfig


class StreamingConfig(AppConfig):
    """Signaling, the SFU, recording and TURN."""

    name = "streaming"
    verbose_name = "Streaming"

    def ready(self) -> None:
        from streaming import receivers  # noqa: F401  (closes a session's recordings when it ends)
