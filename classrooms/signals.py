"""The signals classrooms sends to the apps above it, and its own receivers: signing out closes that user's open
live-session sockets (Channels does not do this by itself)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete
from django.dispatch import Signal, receiver

from classrooms.models import Room
from classrooms.realtime import close_user_sockets
from courses.models import Enrolment
from lms.accounts.models import User
from lms.accounts.personal_data import user_erased

# Sent inside the transaction that ends a live session (argument: `session`). Receivers in higher layers
# (streaming closes the session's recorders) must defer their effects with `transaction.on_commit`.
# A signal, because classrooms must not import the apps built on it (docs/architecture.md).
session_ended = Signal()
# Sent inside the transaction that mutes or unmutes a room's microphone (arguments: `room`, `muted`, `by`):
# streaming tells the media sockets of the room's live session, after commit.
room_microphone_changed = Signal()
# Sent inside the transaction in which an operator stops or starts a room's stream for a live session (arguments:
# `room`, `session`, `paused`): streaming tells the session's media sockets after commit, so trainees' pages show the
# room as paused rather than just gone.
room_stream_changed = Signal()

# Sent inside the transaction that switches a session's recording on or off mid-session (arguments: `session`,
# `recorded`: whether it is recorded from now on; services.recording.session_recording_switch). Streaming starts
# or stops recording the publishers already publishing, after commit.
session_recording_changed = Signal()


@receiver(user_logged_out)
def _close_sockets_on_logout(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        close_user_sockets(user.pk, message="You signed out.")


@receiver(post_delete, sender=Enrolment)
def _recheck_on_unenrol(sender: Any, instance: Enrolment, **kwargs: Any) -> None:
    close_user_sockets(instance.user_id, code="role_changed", message="Your enrolment ended.")


@receiver(m2m_changed, sender=User.groups.through)
def _recheck_on_group_change(sender: Any, instance: Any, action: str, pk_set: Any, **kwargs: Any) -> None:
    if action in {"post_remove", "post_clear"} and isinstance(instance, User):
        close_user_sockets(instance.pk, code="role_changed", message="Your role changed.")


@receiver(m2m_changed, sender=Room.operators.through)
def _recheck_on_operator_change(sender: Any, instance: Any, action: str, pk_set: Any, **kwargs: Any) -> None:
    if not isinstance(instance, Room):
        return
    if action == "pre_clear":  # post_clear no longer knows who the operators were
        setattr(instance, "_operators_before_clear", set(instance.operators.values_list("pk", flat=True)))  # noqa: B010
        return
    if action == "post_clear":
        pk_set = getattr(instance, "_operators_before_clear", set())
    if action in {"post_remove", "post_clear"}:
        for user_id in pk_set or []:
            close_user_sockets(user_id, code="role_changed", message="You no longer operate this room.")


@receiver(user_erased)
def _audit_user_erased(
    sender: Any, user: User, by: User, reason: str, counts: dict[str, dict[str, int]], **kwargs: Any
) -> None:
    """An erasure goes into the audit log: who erased which account (by its number only), why, and what changed."""
    from classrooms.services.audit import audit_record

    audit_record(actor=by, action="user.erase", target=f"user {user.pk}", details={"reason": reason, "counts": counts})
