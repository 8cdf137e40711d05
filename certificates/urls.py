"""Every HTTP route of certificates: the pages under the language prefix (`urlpatterns`, mounted at
/<lang>/certificates/) and the public ones without it (`public_urlpatterns`, mounted at /certificates/)."""

from django.urls import path, register_converter

from certificates import views


class CertificateCodeConverter:
    """Letters, digits and dashes: never swallows a `.json` suffix, so the JSON and page routes stay apart."""

    regex = "[A-Za-z0-9-]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CertificateCodeConverter, "code")

app_name = "certificates"

urlpatterns = [
    path("", views.course_list, name="courses"),
    path("mine/", views.mine, name="mine"),
    path("courses/<int:course_id>/", views.course_eligibility, name="eligibility"),
    path("courses/<int:course_id>/rule/", views.rule_save, name="rule-save"),
    path("courses/<int:course_id>/issue/", views.issue_one, name="issue-one"),
    path("courses/<int:course_id>/batches/", views.batch_start, name="batch-start"),
    path("batches/<int:batch_id>/", views.batch_detail, name="batch"),
    path("batches/<int:batch_id>/progress.json", views.batch_progress, name="batch-progress"),
    path("batches/<int:batch_id>/retry/", views.batch_retry, name="batch-retry"),
    path("<code:code>/revoke/", views.revoke, name="revoke"),
    path("<code:code>/files/<str:kind>/", views.certificate_file, name="file"),
    path("files/<str:token>/", views.signed_file, name="signed-file"),
    path("verify/", views.verify_form, name="verify-form"),
    path("verify/<code:code>/", views.verify_page, name="verify"),
]

# Outside the language prefix: the QR code's URL must never change (it redirects to the visitor's language),
# and machines read JSON in no language.
public_urlpatterns = [
    path("verify/<code:code>/", views.verify_redirect, name="page"),
    path("verify/<code:code>.json", views.verify_json, name="json"),
    path("verify.json", views.verify_credential, name="credential"),
    path("issuer/key.json", views.issuer_key, name="issuer-key"),
    path("status/<int:number>.json", views.status_list, name="status-list"),
]
