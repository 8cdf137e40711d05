"""Recording a live session: moderators switch it on and off from the live page, at any time before the end.

`LiveSession.recorded` is the one truth: streaming records a publisher when they publish in a recorded session, and
hears of a switch mid-session through `classrooms.signals.session_recording_changed` (streaming/receivers.py), so
the publishers already publishing start or stop being recorded at once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from classrooms.models import LiveSession, SessionState
from classrooms.realtime import broadcast_on_commit
from classrooms.selectors.participants import MODERATORS, session_participant
from classrooms.signals import session_recording_changed
from lms.errors import CorridorError


@transaction.atomic
def session_recording_switch(*, session: LiveSession, by: Any, recorded: bool) -> LiveSession:
    """Record `session` from now on (`recorded`), or stop recording it. Moderators only; not once it has ended.

    The row is read again under its lock: a page opened before the session ended cannot switch it afterwards.
    Switching to what it already is changes nothing and tells nobody.
    """
    locked = LiveSession.objects.select_for_update().select_related("course").filter(pk=session.pk).first()
    if locked is None:
        raise CorridorError("session_not_found", _("That session does not exist."), status=404)
    if session_participant(session=locked, user=by) not in MODERATORS:
        raise CorridorError(
            "forbidden", _("Only the instructor or a moderator can switch recording on or off."), status=403
        )
    if locked.state == SessionState.ENDED:
        raise CorridorError("session_ended", _("This session has ended: its recording can no longer change."))
    if locked.recorded == recorded:
        return locked
    locked.recorded = recorded
    locked.save(update_fields=["recorded"])
    recording_changed(session=locked)
    return locked


def recording_changed(*, session: LiveSession) -> None:
    """`session.recorded` has just changed (inside the transaction): tell every open page and, after commit,
    streaming, which starts or stops recording the publishers already publishing. The scheduling form's edit
    (services.sessions.session_update) comes through here too."""
    broadcast_on_commit(session, "session.recording", {"recorded": session.recorded})
    session_recording_changed.send(sender=LiveSession, session=session, recorded=session.recorded)
