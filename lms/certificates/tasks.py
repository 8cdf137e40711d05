from typing import Any

from celery import shared_task
from celery.signals import worker_init

from lms.certificates import documents, services


# acks_late (the project default) with reject_on_worker_lost: a task whose worker is killed goes back
# to the queue and runs again; certificate_batch_item_run is idempotent, so that is safe.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def issue_batch_item(item_id: int) -> None:
    services.certificate_batch_item_run(item_id=item_id)


@worker_init.connect
def _load_certificate_fonts(**kwargs: Any) -> None:
    documents.warm_up()
