from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExamsConfig(AppConfig):
    """The Chongqing exam centre: exams, question banks, sittings, candidates, invigilation, marking."""

    name = "exams"
    label = "exams"
    verbose_name = _("Exam centre")

    def ready(self) -> None:
        from exams.marking import exam_results_erase_user, exam_results_of, on_paper_submitted
        from exams.signals import paper_submitted

        paper_submitted.connect(on_paper_submitted, dispatch_uid="exams.marking.on_paper_submitted")

        from exams.selectors import exam_records_of
        from exams.services import exams_erase_user
        from lms.accounts.personal_data import PersonalDataPart, register_personal_data

        register_personal_data(
            PersonalDataPart(
                name="exams",
                describe=(
                    "exam registrations (sitting, seat, candidate number, check-in) and the papers taken, with every "
                    "answer"
                ),
                export=lambda user: exam_records_of(user=user),
                erase=lambda person: exams_erase_user(person=person),
            )
        )
        # The invigilator's console: incidents and audited actions (exams.invigilation).
        from exams.invigilation import invigilation_erase_user
        from exams.invigilation_selectors import invigilation_records_of

        register_personal_data(
            PersonalDataPart(
                name="exam_invigilation",
                describe="incidents logged and invigilators' actions (pause, extra time) about them, or by them",
                export=lambda user: invigilation_records_of(user=user),
                erase=lambda person: invigilation_erase_user(person=person),
            )
        )
        register_personal_data(
            PersonalDataPart(
                name="exam_results",
                describe="exam results once released (score, pass or fail), and marks given as a marker or moderator",
                export=lambda user: exam_results_of(user=user),
                erase=lambda person: exam_results_erase_user(person=person),
            )
        )
