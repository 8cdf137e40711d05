from typing import Any

from celery import shared_task
from celery.signals import worker_init

from certificates import documents, services


# acks_late (the project default) with reject_on_worker_lost: a task whose worker is killed goes back
# to the queue and runs again; certificate_batch_item_run is idempotent (an item done is skipped), so
# that is safe. A task takes a few items: per certificate, Celery's own work would otherwise cost as much
# as the certificate (measured with bench/certificates.py).
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def issue_batch_items(item_ids: list[int]) -> None:
    for item_id in item_ids:
        services.certificate_batch_item_run(item_id=item_id)


@worker_init.connect
def _load_certificate_fonts(**kwargs: Any) -> None:
    documents.warm_up()
