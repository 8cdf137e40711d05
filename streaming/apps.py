from django.apps import AppConfig


class StreamingConfig(AppConfig):
    """Signaling, the SFU, recording and TURN."""

    name = "streaming"
    verbose_name = "Streaming"

    def ready(self) -> None:
        from lms.metrics import register_collector
        from streaming import receivers  # noqa: F401  (closes a session's recordings when it ends)
        from streaming.metrics import SfuCollector

        register_collector("sfu", SfuCollector())

        from lms.accounts.personal_data import PersonalDataPart, register_personal_data
        from streaming.selectors import media_files_of, media_records_of
        from streaming.services import media_erase_user

        register_personal_data(
            PersonalDataPart(
                name="media",
                describe="when they published live video (as instructor or invited speaker), and those recordings",
                export=lambda user: media_records_of(user=user),
                files=lambda user: media_files_of(user=user),
                erase=lambda person: media_erase_user(person=person),
            )
        )
