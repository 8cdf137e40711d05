from celery import shared_task

from exams import attempts, services
from exams.models import Sitting


# Idempotent (a candidate with a paper is skipped), so a task whose worker died may safely run again.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def prepare_papers(sitting_id: int) -> None:
    sitting = Sitting.objects.filter(pk=sitting_id).first()
    if sitting is not None:
        services.paper_prepare(sitting=sitting)


@shared_task(ignore_result=True)
def send_exam_reminders() -> None:
    services.candidate_reminders_send()


@shared_task(ignore_result=True)
def prepare_due_papers() -> None:
    services.papers_prepare_due()


# Queued at a paper's start for when its time will be up; the periodic task below catches what it misses (a paper
# paused meanwhile, a lost task). Submitting twice is impossible: the submission is a conditional update under lock.
@shared_task(ignore_result=True)
def submit_paper_if_time_up(paper_id: int) -> None:
    attempts.paper_submit_if_time_up(paper_id=paper_id)


@shared_task(ignore_result=True)
def submit_time_up_papers() -> None:
    attempts.papers_submit_time_up()
