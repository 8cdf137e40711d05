from django.apps import AppConfig


class StreamingConfig(AppConfig):
    """Signaling, the SFU, recording and TURN (issue 4 builds this)."""

    name = "streaming"
    verbose_name = "Streaming"
