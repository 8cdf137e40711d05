"""Recording consent: before a trainee joins a recorded session (or when recording is switched on while they are in
it), they agree to be recorded or say "not now". The answer is kept on their attendance record for that session.

A trainee who has not agreed follows the class (video, questions, polls, raised hands) but is never published while
the session is recorded: the media socket refuses their `media.publish` and a moderator's `media.invite` of them
(`classrooms.selectors.attendance.recording_consent_given`), and a speaker who has not agreed is stopped when
recording is switched on. Staff read the answers in the attendance report and its CSV. docs/live-protocol.md.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from classrooms.models import AttendanceRecord, LiveSession, RecordingConsent, SessionState
from classrooms.selectors.participants import Participant, session_participant
from lms.accounts.models import User
from lms.errors import CorridorError


@transaction.atomic
def recording_consent_record(
    *, session: LiveSession, user: User, agreed: bool, now: datetime | None = None
) -> AttendanceRecord:
    """Keep `user`'s answer (agreed, or declined: "not now") on their attendance record for `session`.

    Trainees only, until the session ends. The answer can change: a later answer replaces the earlier one (a trainee
    who said "not now" may agree when invited to speak). The row is locked as attendance's services lock it.
    """
    locked = LiveSession.objects.select_related("course").filter(pk=session.pk).first()
    if locked is None:
        raise CorridorError("session_not_found", _("That session does not exist."), status=404)
    if session_participant(session=locked, user=user) != Participant.TRAINEE:
        raise CorridorError(
            "forbidden", _("Only trainees of this session are asked to agree to be recorded."), status=403
        )
    if locked.state == SessionState.ENDED:
        raise CorridorError("session_ended", _("This session has ended."))
    record, _created = AttendanceRecord.objects.select_for_update().get_or_create(session=locked, user=user)
    record.recording_consent = RecordingConsent.AGREED if agreed else RecordingConsent.DECLINED
    record.recording_consent_at = now or timezone.now()
    record.recording_consent_while_recorded = locked.recorded
    record.save(update_fields=["recording_consent", "recording_consent_at", "recording_consent_while_recorded"])
    return record
