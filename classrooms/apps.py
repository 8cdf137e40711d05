from django.apps import AppConfig


class ClassroomsConfig(AppConfig):
    """Rooms, devices, live sessions, attendance and Q&A (issue 3 builds this)."""

    name = "classrooms"
    verbose_name = "Classrooms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from classrooms import signals  # noqa: F401  (connects the sign-out receiver)
        from classrooms.metrics import LiveSessionsCollector
        from lms.metrics import register_collector

        register_collector("live-sessions", LiveSessionsCollector())

        from classrooms.selectors.personal_data import classroom_records_of
        from classrooms.services.personal_data import classrooms_erase_user
        from lms.accounts.personal_data import PersonalDataPart, register_personal_data

        register_personal_data(
            PersonalDataPart(
                name="classrooms",
                describe="live classes: attendance and check-ins, questions, votes, raised hands, sessions taught, "
                "rooms operated, the audit log's entries of their actions",
                export=lambda user: classroom_records_of(user=user),
                erase=lambda person: classrooms_erase_user(person=person),
            )
        )
