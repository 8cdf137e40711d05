"""What the exam centre tells its other parts, so that taking an exam does not import marking.

`paper_submitted` is sent inside the submitting transaction, once per paper (the candidate's submission, time-up or
an invigilator's); receivers that do slow work defer it with transaction.on_commit."""

from django.dispatch import Signal

# Sent with paper=<exams.models.Paper>, its submitted_at and submitted_how set.
paper_submitted = Signal()

# Sent inside the releasing transaction (exams.marking.results_release) with sitting=<exams.models.Sitting> and
# papers=[<exams.models.Paper>, …] (each submitted paper, with its result): the LTI grade passback listens.
results_released = Signal()
