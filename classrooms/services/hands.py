from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from classrooms.models import LiveSession, RaisedHand
from classrooms.realtime import broadcast_on_commit
from classrooms.selectors.hands import hands_queue
from classrooms.services.qa import require_open
from lms.accounts.models import User


@transaction.atomic
def hand_raise(*, session: LiveSession, user: User) -> None:
    require_open(session)
    try:
        with transaction.atomic():
            RaisedHand.objects.create(session=session, user=user)
    except IntegrityError:
        return  # already raised: raising twice is one raised hand
    broadcast_on_commit(session, "hands.updated", {"queue": hands_queue(session=session)}, moderators_only=True)


@transaction.atomic
def hand_lower(*, session: LiveSession, user: User, user_id: int) -> None:
    """Lower a hand: a trainee their own, a moderator anyone's (`user_id`)."""
    lowered = RaisedHand.objects.filter(session=session, user_id=user_id, lowered_at__isnull=True).update(
        lowered_at=timezone.now()
    )
    if lowered:
        broadcast_on_commit(
            session,
            "hands.updated",
            {"queue": hands_queue(session=session), "lowered_user_id": user_id},
            moderators_only=True,
            private=(user_id, "hand.lowered", {}),
        )
