from celery import shared_task
from django.core.management import call_command


@shared_task(name="courses.tasks.publish_scheduled_pages")
def publish_scheduled_pages() -> None:
    """Publish pages whose scheduled time has come (and unpublish expired ones).

    Celery beat runs this every minute; under `make run` the embedded scheduler does.
    """
    call_command("publish_scheduled")
