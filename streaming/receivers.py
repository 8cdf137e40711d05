"""What streaming does when something happens in the layers below it (connected in StreamingConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from classrooms.models import LiveSession
from classrooms.signals import session_ended
from streaming import services


@receiver(session_ended, sender=LiveSession)
def _close_recordings_when_session_ends(sender: type[LiveSession], session: LiveSession, **kwargs: Any) -> None:
    # Inside the ending transaction: the service defers its effects to after commit.
    services.session_recordings_close(session=session)
