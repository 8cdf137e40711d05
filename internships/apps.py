from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InternshipsConfig(AppConfig):
    """Remote internships: host companies, placements, supervisors, logbooks, evaluations."""

    name = "internships"
    label = "internships"
    verbose_name = _("Internships")

    def ready(self) -> None:
        from internships.selectors import internship_files_of, internship_records_of
        from internships.services import internships_erase_user
        from lms.accounts.personal_data import PersonalDataPart, register_personal_data

        register_personal_data(
            PersonalDataPart(
                name="internships",
                describe="internships: placements as an intern, weekly logbooks, their files and tasks; the "
                "interns they supervise",
                export=lambda user: internship_records_of(user=user),
                files=lambda user: internship_files_of(user=user),
                erase=lambda person: internships_erase_user(person=person),
            )
        )
