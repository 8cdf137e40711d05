"""Issuing certificates: one at a time and in bulk, exactly once, with both files stored and checked."""

import hashlib
import json
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from certificates import credentials, documents, selectors, services, status_list
from certificates.models import Certificate, CertificateState, IssueBatchItem, ItemState
from lms.errors import CorridorError
from lms.regions import storage_for_region
from tests import factories
from tests.support.certificates import course_with_rule

pytestmark = pytest.mark.django_db


def test_issuing_stores_a_pdf_and_a_signed_credential_and_emails_the_trainee(
    django_capture_on_commit_callbacks: Any,
) -> None:
    setup = course_with_rule()
    user = setup.qualifying_trainee(first_name="Wei Ming", last_name="Tan", name_zh="陈伟明")
    with django_capture_on_commit_callbacks(execute=True):
        certificate = services.certificate_issue(user=user, course=setup.course, by=setup.admin)

    assert certificate.state == CertificateState.ISSUED
    assert certificate.name_en == "Wei Ming Tan" and certificate.name_zh == "陈伟明"
    pdf = storage_for_region(certificate.storage_region).open(certificate.pdf_key).read()
    assert pdf.startswith(b"%PDF-") and hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256
    stored = storage_for_region(certificate.storage_region).open(certificate.credential_key).read()
    assert hashlib.sha256(stored).hexdigest() == certificate.credential_sha256
    credential = json.loads(stored)
    assert credential["credentialSubject"]["name"] == "Wei Ming Tan / 陈伟明"
    assert credential["credentialStatus"]["statusListIndex"] == str(certificate.pk)
    assert credentials.credential_verify(credential, public_keys=documents.issuer_public_keys()).valid
    assert [message.to for message in mail.outbox] == [[user.email]]
    assert certificate.code in mail.outbox[0].body


def test_issuing_again_returns_the_same_certificate() -> None:
    setup = course_with_rule()
    user = setup.qualifying_trainee()
    first = services.certificate_issue(user=user, course=setup.course, by=setup.admin)
    second = services.certificate_issue(user=user, course=setup.course, by=setup.admin)
    assert first.pk == second.pk
    assert Certificate.objects.filter(user=user).count() == 1


def test_an_ineligible_trainee_is_refused_with_the_reason_unless_justified() -> None:
    setup = course_with_rule()
    user = setup.add_trainee()
    setup.attend(user, 30)
    setup.complete(user)
    setup.score(user, 2)
    with pytest.raises(CorridorError) as refused:
        services.certificate_issue(user=user, course=setup.course, by=setup.admin)
    assert refused.value.code == "not_eligible"
    assert "Attended 50 % of live minutes; needs 80 % (30 points short)." in str(refused.value.message)
    assert not Certificate.objects.exists()

    certificate = services.certificate_issue(
        user=user,
        course=setup.course,
        by=setup.admin,
        override_justification="Attended the make-up session in Chongqing.",
    )
    assert certificate.override_justification == "Attended the make-up session in Chongqing."
    assert certificate.issued_by == setup.admin


def test_only_administrators_issue() -> None:
    setup = course_with_rule()
    user = setup.qualifying_trainee()
    for someone in (user, factories.instructor(), factories.operator()):
        with pytest.raises(CorridorError) as refused:
            services.certificate_issue(user=user, course=setup.course, by=someone)
        assert refused.value.code == "forbidden"
    assert not Certificate.objects.exists()


def test_bulk_issue_covers_every_qualifying_trainee_once(django_capture_on_commit_callbacks: Any) -> None:
    setup = course_with_rule()
    qualifying = [setup.qualifying_trainee() for _ in range(3)]
    setup.add_trainee()  # attended nothing
    already = setup.qualifying_trainee()
    services.certificate_issue(user=already, course=setup.course, by=setup.admin)

    with django_capture_on_commit_callbacks(execute=True):
        batch = services.certificate_batch_start(course=setup.course, by=setup.admin)

    progress = selectors.batch_progress(batch=batch)
    assert (progress.total, progress.done, progress.failed, progress.remaining) == (3, 3, 0, 0)
    assert progress.finished
    holders = sorted(Certificate.objects.filter(state=CertificateState.ISSUED).values_list("user_id", flat=True))
    assert holders == sorted(user.pk for user in [*qualifying, already])


def test_bulk_issue_for_a_cohort_takes_only_its_members(django_capture_on_commit_callbacks: Any) -> None:
    setup = course_with_rule()
    inside, outside = setup.qualifying_trainee(), setup.qualifying_trainee()
    cohort = factories.CohortFactory.create()
    cohort.members.add(inside)
    with django_capture_on_commit_callbacks(execute=True):
        services.certificate_batch_start(course=setup.course, by=setup.admin, cohort=cohort)
    assert list(Certificate.objects.values_list("user_id", flat=True)) == [inside.pk]
    assert not Certificate.objects.filter(user=outside).exists()


def test_a_failed_item_is_listed_with_its_reason_and_can_be_retried(
    django_capture_on_commit_callbacks: Any, s3_without_bucket: Any
) -> None:
    setup = course_with_rule()
    user = setup.qualifying_trainee()
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.certificate_batch_start(course=setup.course, by=setup.admin)
    progress = selectors.batch_progress(batch=batch)
    assert (progress.done, progress.failed) == (0, 1)
    assert "NoSuchBucket" in progress.failures[0]["error"]
    assert Certificate.objects.get(user=user).state == CertificateState.PENDING  # reserved, not issued

    s3_without_bucket.create_bucket()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.certificate_batch_retry(batch=batch, by=setup.admin) == 1
    progress = selectors.batch_progress(batch=batch)
    assert (progress.done, progress.failed, progress.finished) == (1, 0, True)
    certificate = Certificate.objects.get(user=user)
    assert certificate.state == CertificateState.ISSUED
    assert IssueBatchItem.objects.get(batch=batch).attempts == 2


def test_running_an_item_twice_makes_one_certificate(django_capture_on_commit_callbacks: Any) -> None:
    setup = course_with_rule()
    setup.qualifying_trainee()
    batch = services.certificate_batch_start(course=setup.course, by=setup.admin)  # not run: callbacks dropped
    item = IssueBatchItem.objects.get(batch=batch)
    certificate = services.certificate_reserve(user=item.user, rule=batch.rule, issued_by=setup.admin)
    # As if a worker died after reserving: the row is pending, its code fixed. The redelivered task finishes it.
    services.certificate_batch_item_run(item_id=item.pk)
    services.certificate_batch_item_run(item_id=item.pk)
    assert Certificate.objects.get().pk == certificate.pk
    assert Certificate.objects.get().code == certificate.code
    assert IssueBatchItem.objects.get().state == ItemState.DONE


def test_revoking_sets_the_status_list_bit() -> None:
    setup = course_with_rule()
    certificate = services.certificate_issue(user=setup.qualifying_trainee(), course=setup.course, by=setup.admin)
    other = services.certificate_issue(user=setup.qualifying_trainee(), course=setup.course, by=setup.admin)
    services.certificate_revoke(certificate=certificate, by=setup.admin, reason="Issued to the wrong person.")

    status_credential = documents.status_list_credential(number=0)
    assert credentials.credential_verify(status_credential, public_keys=documents.issuer_public_keys()).valid
    encoded = status_credential["credentialSubject"]["encodedList"]
    assert status_list.status_list_is_set(encoded, certificate.pk)
    assert not status_list.status_list_is_set(encoded, other.pk)
    assert certificate.credential is not None
    check = status_list.credential_status_check(certificate.credential, status_credential)
    assert check.revoked


def test_revoking_needs_a_reason_and_an_administrator() -> None:
    setup = course_with_rule()
    certificate = services.certificate_issue(user=setup.qualifying_trainee(), course=setup.course, by=setup.admin)
    with pytest.raises(CorridorError) as refused:
        services.certificate_revoke(certificate=certificate, by=setup.admin, reason="  ")
    assert refused.value.code == "reason_required"
    with pytest.raises(CorridorError) as refused:
        services.certificate_revoke(certificate=certificate, by=certificate.user, reason="mine")
    assert refused.value.code == "forbidden"


def test_the_public_key_is_published(client: Client) -> None:
    document = client.get(reverse("verify:issuer-key")).json()
    [key] = credentials.public_keys_from_document(document)
    assert key.id == documents.verification_method()
    assert key.public_key == documents.issuer_public_keys()[documents.verification_method()]
    assert document["assertionMethod"] == [documents.verification_method()]


def test_on_s3_both_files_are_stored_with_their_checksum_and_served_by_presigned_url(s3_storage: Any) -> None:
    import base64
    import urllib.request

    from tests.support.s3 import BUCKET

    setup = course_with_rule()
    certificate = services.certificate_issue(user=setup.qualifying_trainee(), course=setup.course, by=setup.admin)
    for key, digest in (
        (certificate.pdf_key, certificate.pdf_sha256),
        (certificate.credential_key, certificate.credential_sha256),
    ):
        head = s3_storage.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        assert base64.b64decode(head["ChecksumSHA256"]).hex() == digest
    url = documents.file_signed_url(certificate=certificate, kind="pdf", user=certificate.user)
    assert "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url) as response:
        body = response.read()
        assert response.headers["Content-Type"] == "application/pdf"
    assert hashlib.sha256(body).hexdigest() == certificate.pdf_sha256
