from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificatesConfig(AppConfig):
    name = "certificates"
    label = "certificates"
    verbose_name = _("Certificates")

    def ready(self) -> None:
        from certificates.selectors import certificate_files_of, certificate_records_of
        from certificates.services import certificates_erase_user
        from lms.accounts.personal_data import PersonalDataPart, register_personal_data

        register_personal_data(
            PersonalDataPart(
                name="certificates",
                describe="certificates issued to them: what each states, its state, its PDF and signed credential",
                export=lambda user: certificate_records_of(user=user),
                files=lambda user: certificate_files_of(user=user),
                erase=lambda person: certificates_erase_user(person=person),
            )
        )
