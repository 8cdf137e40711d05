from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    verbose_name = "Courses"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from courses.selectors import learning_records_of
        from courses.services import learning_erase_user
        from lms.accounts.personal_data import PersonalDataPart, register_personal_data

        register_personal_data(
            PersonalDataPart(
                name="learning",
                describe="enrolments, completed lessons, quiz attempts (answers and scores)",
                export=lambda user: learning_records_of(user=user),
                erase=lambda person: learning_erase_user(person=person),
            )
        )
