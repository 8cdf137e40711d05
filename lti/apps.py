from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LtiConfig(AppConfig):
    """LTI 1.3: Corridor as a tool that partners' platforms (Moodle, Canvas, Open edX) launch."""

    name = "lti"
    label = "lti"
    verbose_name = _("LTI platforms")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exams.signals import results_released
        from lti.exam_scores import on_results_released

        results_released.connect(on_results_released, dispatch_uid="lti.exam_scores.on_results_released")

        from lms.accounts.personal_data import PersonalDataPart, register_personal_data
        from lti.selectors import lti_records_of
        from lti.services import lti_erase_user

        register_personal_data(
            PersonalDataPart(
                name="lti",
                describe="partner platforms' user ids linked to the account, and the scores sent back to them",
                export=lambda user: lti_records_of(user=user),
                erase=lambda person: lti_erase_user(person=person),
            )
        )
