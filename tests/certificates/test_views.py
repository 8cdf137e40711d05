"""Certificate pages: who may see and do what, downloads by short-lived links, public verification."""

import json
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import translation

from certificates import services
from certificates.models import Certificate, CertificateRule, CertificateState, IssueBatch
from lms.regions import storage_for_region
from tests import factories
from tests.factories import PASSWORD
from tests.support.certificates import course_with_rule

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def _issued(setup: Any, **kwargs: Any) -> Certificate:
    return services.certificate_issue(user=setup.qualifying_trainee(**kwargs), course=setup.course, by=setup.admin)


def test_the_eligibility_report_shows_who_qualifies_and_why_not() -> None:
    setup = course_with_rule()
    ready = setup.qualifying_trainee(first_name="Ready")
    short = setup.add_trainee(first_name="Short")
    setup.attend(short, 30)
    page = _client(setup.admin).get(reverse("certificates:eligibility", args=[setup.course.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-user="{ready.email}"' in html
    assert "Attended 50 % of live minutes; needs 80 % (30 points short)." in html
    assert 'data-count="qualifying">1<' in html


@pytest.mark.parametrize("role", ["trainee", "instructor", "operator"])
def test_only_administrators_reach_the_issuing_pages(role: str) -> None:
    setup = course_with_rule()
    user = setup.qualifying_trainee()
    client = _client(getattr(factories, role)())
    assert client.get(reverse("certificates:courses")).status_code == 403
    assert client.get(reverse("certificates:eligibility", args=[setup.course.pk])).status_code == 403
    response = client.post(reverse("certificates:issue-one", args=[setup.course.pk]), {"user": user.pk})
    assert response.status_code == 403
    assert client.post(reverse("certificates:batch-start", args=[setup.course.pk])).status_code == 403
    assert not Certificate.objects.exists()


def test_an_administrator_issues_in_bulk_and_the_progress_survives_a_reload(
    django_capture_on_commit_callbacks: Any,
) -> None:
    setup = course_with_rule()
    for _ in range(2):
        setup.qualifying_trainee()
    client = _client(setup.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("certificates:batch-start", args=[setup.course.pk]))
    assert response.status_code == 302
    batch_url = response["Location"]
    progress = client.get(batch_url.rstrip("/") + "/progress.json").json()
    assert progress | {"failures": []} == {
        "batch": progress["batch"],
        "total": 2,
        "done": 2,
        "failed": 0,
        "remaining": 0,
        "percent": 100,
        "finished": True,
        "failures": [],
    }
    assert "progressbar" in client.get(batch_url).content.decode()


def test_a_trainee_downloads_their_own_files_by_a_short_lived_link_and_nobody_elses() -> None:
    setup = course_with_rule()
    mine, theirs = _issued(setup), _issued(setup)
    client = _client(mine.user)
    page = client.get(reverse("certificates:mine")).content.decode()
    assert mine.code in page and theirs.code not in page

    redirect = client.get(reverse("certificates:file", args=[mine.code, "pdf"]))
    assert redirect.status_code == 302
    download = client.get(redirect["Location"])
    assert download.status_code == 200
    assert isinstance(download, StreamingHttpResponse)
    assert download.getvalue().startswith(b"%PDF-")
    assert client.get(reverse("certificates:file", args=[theirs.code, "pdf"])).status_code == 404
    assert client.get(reverse("certificates:file", args=[theirs.code, "credential"])).status_code == 404
    # A link made for one trainee does not work for another.
    assert _client(theirs.user).get(redirect["Location"]).status_code == 404


def test_an_expired_link_no_longer_serves(settings: Any) -> None:
    setup = course_with_rule()
    certificate = _issued(setup)
    client = _client(certificate.user)
    location = client.get(reverse("certificates:file", args=[certificate.code, "credential"]))["Location"]
    settings.CERTIFICATE_URL_MAX_AGE = -1
    assert client.get(location).status_code == 404


def test_verification_by_code_says_who_what_and_when() -> None:
    setup = course_with_rule()
    certificate = _issued(setup, first_name="Wei Ming", last_name="Tan", name_zh="陈伟明")
    page = Client().get(reverse("certificates:verify", args=[certificate.code]))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-status="valid"' in html and "Wei Ming Tan" in html and "陈伟明" in html
    assert "Cross-border Safety" in html
    body = Client().get(reverse("verify:json", args=[certificate.code])).json()
    assert body["status"] == "valid" and body["signature_valid"] is True
    assert body["certificate"]["name"] == "Wei Ming Tan"


def test_the_qr_codes_url_opens_the_page_in_the_visitors_language() -> None:
    setup = course_with_rule()
    certificate = _issued(setup)
    qr_url = reverse("verify:page", args=[certificate.code])
    assert qr_url == f"/certificates/verify/{certificate.code}/"
    response = Client().get(qr_url, headers={"accept-language": "zh-hans"})
    assert response.status_code == 302
    assert response["Location"] == f"/zh-hans/certificates/verify/{certificate.code}/"
    assert "有效证书" in Client().get(response["Location"]).content.decode()


def test_an_unknown_code_says_so_and_nothing_more() -> None:
    response = Client().get(reverse("certificates:verify", args=["CRD-0000-0000"]))
    assert response.status_code == 404
    assert "No certificate has this code" in response.content.decode()
    body = Client().get(reverse("verify:json", args=["CRD-0000-0000"])).json()
    assert body == {"status": "unknown", "error": {"code": "not_found", "message": "No certificate has that code."}}


def test_a_credential_altered_after_signing_verifies_as_invalid() -> None:
    setup = course_with_rule()
    certificate = _issued(setup)
    credential = certificate.credential
    assert credential is not None
    url = reverse("verify:credential")
    assert Client().post(url, json.dumps(credential), content_type="application/json").json()["status"] == "valid"
    credential["credentialSubject"]["name"] = "Somebody Else"
    result = Client().post(url, json.dumps(credential), content_type="application/json").json()
    assert result["status"] == "invalid" and result["reason"] == "bad_signature"
    assert "altered" in result["message"]
    bad = Client().post(url, "{not json", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["reason"] == "malformed"


def test_a_stored_credential_changed_in_storage_verifies_as_invalid() -> None:
    setup = course_with_rule()
    certificate = _issued(setup)
    storage = storage_for_region(certificate.storage_region)
    storage.delete(certificate.credential_key)
    storage.save(certificate.credential_key, __import__("io").BytesIO(b'{"tampered": true}'))
    body = Client().get(reverse("verify:json", args=[certificate.code])).json()
    assert body["status"] == "invalid" and body["reason"] == "altered"


def test_a_revoked_certificate_verifies_as_revoked_with_date_and_reason() -> None:
    setup = course_with_rule()
    certificate = _issued(setup)
    client = _client(setup.admin)
    response = client.post(reverse("certificates:revoke", args=[certificate.code]), {"reason": "Exam misconduct."})
    assert response.status_code == 302
    certificate.refresh_from_db()
    assert certificate.state == CertificateState.REVOKED
    html = Client().get(reverse("certificates:verify", args=[certificate.code])).content.decode()
    assert 'data-status="revoked"' in html and "Exam misconduct." in html
    body = (
        Client()
        .post(reverse("verify:credential"), json.dumps(certificate.credential), content_type="application/json")
        .json()
    )
    assert body["status"] == "revoked"
    assert body["certificate"]["revoked_reason"] == "Exam misconduct."


def test_a_trainee_cannot_revoke() -> None:
    setup = course_with_rule()
    certificate = _issued(setup)
    response = _client(certificate.user).post(reverse("certificates:revoke", args=[certificate.code]), {"reason": "x"})
    assert response.status_code == 403
    certificate.refresh_from_db()
    assert certificate.state == CertificateState.ISSUED


def test_the_readmes_offline_check_works_with_what_the_site_publishes(tmp_path: Any) -> None:
    """As the README shows: the published key and status list, and the holder's credential, checked offline."""
    import subprocess
    import sys
    from pathlib import Path

    setup = course_with_rule()
    certificate = _issued(setup)
    client = _client(certificate.user)
    download = client.get(client.get(reverse("certificates:file", args=[certificate.code, "credential"]))["Location"])
    credential_file = tmp_path / f"{certificate.code}.credential.json"
    assert isinstance(download, StreamingHttpResponse)
    credential_file.write_bytes(download.getvalue())
    (tmp_path / "key.json").write_bytes(Client().get(reverse("verify:issuer-key")).content)

    def offline_check() -> subprocess.CompletedProcess[str]:
        status = Client().get(reverse("verify:status-list", args=[0]))
        (tmp_path / "status.json").write_bytes(status.content)
        script = Path(__file__).resolve().parents[2] / "certificates" / "offline.py"
        arguments = [str(credential_file), "--key-file", str(tmp_path / "key.json")]
        arguments += ["--status-list", str(tmp_path / "status.json")]
        return subprocess.run([sys.executable, str(script), *arguments], capture_output=True, text=True, check=False)

    assert offline_check().returncode == 0
    services.certificate_revoke(certificate=certificate, by=setup.admin, reason="Exam misconduct.")
    assert offline_check().returncode == 2
    altered = json.loads(credential_file.read_text())
    altered["validFrom"] = "2020-01-01T00:00:00Z"
    credential_file.write_text(json.dumps(altered))
    result = offline_check()
    assert result.returncode == 1, result.stdout


# What the pages post is checked before anything is written ---------------------------------------------------


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"min_attendance_percent": "eighty"}, "Percentages go from 0 to 100."),
        ({"min_attendance_percent": "150"}, "Percentages go from 0 to 100."),
        ({"min_attendance_percent": "80", "final_pass_mark": "-1"}, "Percentages go from 0 to 100."),
        ({"min_attendance_percent": "80", "signatory_en": "x" * 121}, "at most 120 characters"),
    ],
)
def test_a_malformed_rule_is_refused_with_the_reason_and_saves_no_version(posted: dict[str, str], message: str) -> None:
    setup = course_with_rule()
    versions = CertificateRule.objects.count()
    response = _client(setup.admin).post(reverse("certificates:rule-save", args=[setup.course.pk]), posted)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert CertificateRule.objects.count() == versions


def test_a_rule_saves_with_the_fields_as_the_page_posts_them() -> None:
    setup = course_with_rule()
    posted = {"min_attendance_percent": "", "final_pass_mark": "", "signatory_en": " Ada Lovelace "}
    response = _client(setup.admin).post(reverse("certificates:rule-save", args=[setup.course.pk]), posted)
    assert response.status_code == 302
    rule = CertificateRule.objects.latest("version")
    assert (rule.min_attendance_percent, rule.require_all_modules, rule.final_pass_mark) == (0, False, None)
    assert rule.signatory_en == "Ada Lovelace"


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({}, "Choose a trainee."),
        ({"user": "x"}, "Choose a trainee of this course."),
        ({"user": "outsider"}, "Choose a trainee of this course."),
        ({"user": "short", "justification": "x" * 2001}, "at most 2000 characters"),
    ],
)
def test_a_forged_issue_is_refused_with_the_reason_and_issues_nothing(posted: dict[str, str], message: str) -> None:
    setup = course_with_rule()
    people = {"outsider": str(factories.trainee().pk), "short": str(setup.add_trainee().pk)}
    data = {key: people.get(value, value) for key, value in posted.items()}
    response = _client(setup.admin).post(reverse("certificates:issue-one", args=[setup.course.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Certificate.objects.exists()


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"cohort": "x"}, "Choose one of the cohorts."),
        ({"cohort": "99999999"}, "Choose one of the cohorts."),
        ({"users": ["ready", "x"]}, "Choose trainees of this course."),
        ({"users": ["ready", "outsider"]}, "Choose trainees of this course."),
    ],
)
def test_a_forged_batch_is_refused_with_the_reason_and_queues_nothing(
    posted: dict[str, Any], message: str, django_capture_on_commit_callbacks: Any
) -> None:
    setup = course_with_rule()
    people = {"outsider": str(factories.trainee().pk), "ready": str(setup.qualifying_trainee().pk)}
    data = {
        key: [people.get(v, v) for v in value] if isinstance(value, list) else value for key, value in posted.items()
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(setup.admin).post(reverse("certificates:batch-start", args=[setup.course.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not IssueBatch.objects.exists() and not Certificate.objects.exists()


def test_a_batch_of_the_ticked_trainees_issues_to_those_only(django_capture_on_commit_callbacks: Any) -> None:
    setup = course_with_rule()
    ticked, _other = setup.qualifying_trainee(), setup.qualifying_trainee()
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(setup.admin).post(
            reverse("certificates:batch-start", args=[setup.course.pk]), {"users": [ticked.pk]}
        )
    assert response.status_code == 302
    assert list(Certificate.objects.values_list("user", flat=True)) == [ticked.pk]


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "Say why the certificate is revoked"), ("   ", "Say why"), ("x" * 1001, "at most 1000 characters")],
)
def test_a_revocation_without_a_fit_reason_is_refused_and_the_certificate_stands(reason: str, message: str) -> None:
    setup = course_with_rule()
    certificate = _issued(setup)
    response = _client(setup.admin).post(reverse("certificates:revoke", args=[certificate.code]), {"reason": reason})
    assert response.status_code == 400
    assert message in response.content.decode()
    certificate.refresh_from_db()
    assert certificate.state == CertificateState.ISSUED


def test_the_eligibility_filter_refuses_a_cohort_that_is_not_one() -> None:
    setup = course_with_rule()
    client = _client(setup.admin)
    url = reverse("certificates:eligibility", args=[setup.course.pk])
    for cohort in ["x", "99999999"]:
        response = client.get(url, {"cohort": cohort})
        assert response.status_code == 400
        assert "Choose one of the cohorts." in response.content.decode()
    assert client.get(url, {"cohort": ""}).status_code == 200


def test_the_verification_form_takes_a_code_and_refuses_one_too_long() -> None:
    url = reverse("certificates:verify-form")
    response = Client().get(url, {"code": " crd-abcd-efgh "})
    assert response.status_code == 302
    assert response["Location"] == reverse("certificates:verify", args=["CRD-ABCD-EFGH"])
    too_long = Client().get(url, {"code": "C" * 41})
    assert too_long.status_code == 400
    assert "at most 40 characters" in too_long.content.decode()
    spaced = Client().get(url, {"code": "CRD ABCD/EFGH"})
    assert spaced.status_code == 400
    assert "A certificate code has only letters, digits and hyphens." in spaced.content.decode()
    assert Client().get(url).status_code == 200


def test_a_credential_that_is_not_a_json_object_is_refused() -> None:
    for body in ["[1, 2]", '"CRD-ABCD-EFGH"', "null"]:
        response = Client().post(reverse("verify:credential"), body, content_type="application/json")
        assert response.status_code == 400
        assert response.json() == {
            "status": "invalid",
            "reason": "not_object",
            "message": "A credential is a JSON object.",
        }


def test_a_refusal_is_in_the_pages_language() -> None:
    setup = course_with_rule()
    with translation.override("zh-hans"):
        url = reverse("certificates:issue-one", args=[setup.course.pk])
    response = _client(setup.admin).post(url, {"user": "x"})
    assert response.status_code == 400
    assert "学员：请选择本课程的一名学员。" in response.content.decode()
