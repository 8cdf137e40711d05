"""Grade passback: collect quiz results for the platforms' line items, then send each, retried with backoff; what is
still not delivered is sent again by the next collection (every minute), so nothing is lost while a platform is
down. The admin's "Grade passbacks" list shows what is waiting, and why."""

import logging
from functools import partial
from typing import Any

from celery import shared_task
from celery.exceptions import Retry
from django.db import transaction

from lti import services

logger = logging.getLogger(__name__)

RETRY_BACKOFF_MAX_SECONDS = 600
MAX_RETRIES = 5


@shared_task(
    bind=True,
    autoretry_for=(services.ScoreNotDelivered,),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
    max_retries=MAX_RETRIES,
)
def deliver_score(self: Any, delivery_id: int) -> None:
    services.score_deliver(delivery_id=delivery_id)


@shared_task
def collect_scores() -> int:
    """New results become deliveries; those and the ones still failing are (re)sent after commit."""
    to_send = services.scores_collect()
    for delivery_id in to_send:
        transaction.on_commit(partial(_send, delivery_id))
    return len(to_send)


def _send(delivery_id: int) -> None:
    try:
        deliver_score.delay(delivery_id)
    except (Retry, services.ScoreNotDelivered):
        # Only without a broker (tasks run in-process): the delivery stays failed, and the next collection sends it.
        logger.warning("LTI score %s not delivered yet; sent again by the next collection", delivery_id)


@shared_task
def pull_roster(pull_id: int) -> str:
    """Read a platform course's roster (NRPS) and put its learners in the course's cohort; returns the pull's state."""
    return str(services.roster_pull_run(pull_id=pull_id).state)
