"""A certificate's files stay in its trainee's home region (PDPA, PIPL): in that region's bucket only, downloadable
and verifiable from there, even after the trainee moves region."""

from __future__ import annotations

import hashlib
import io
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from certificates import services
from lms.regions import storage_for_region
from tests.support.certificates import course_with_rule
from tests.support.s3 import BUCKET, REGION_BUCKETS, bucket_keys

pytestmark = pytest.mark.django_db


def downloaded_pdf(client: Client, user: Any, code: str) -> bytes:
    """The trainee's PDF as their browser gets it: the page's link, then wherever it redirects."""
    client.force_login(user)
    location = client.get(reverse("certificates:file", args=[code, "pdf"]))["Location"]
    if location.startswith("http"):  # S3: a presigned GET on the bucket
        with urllib.request.urlopen(location) as response:
            return bytes(response.read())
    return b"".join(client.get(location).streaming_content)  # type: ignore[attr-defined]


def test_a_chongqing_trainees_certificate_lands_in_the_chongqing_bucket_only_and_downloads(
    region_buckets: Any, client: Client
) -> None:
    setup = course_with_rule()
    trainee = setup.qualifying_trainee(home_region="chongqing")
    certificate = services.certificate_issue(user=trainee, course=setup.course, by=setup.admin)

    assert certificate.storage_region == "chongqing"
    assert bucket_keys(region_buckets, REGION_BUCKETS["chongqing"]) == {certificate.pdf_key, certificate.credential_key}
    assert bucket_keys(region_buckets, REGION_BUCKETS["singapore"]) == set()
    assert bucket_keys(region_buckets, BUCKET) == set()

    pdf = downloaded_pdf(client, trainee, certificate.code)
    assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256
    assert Client().get(reverse("verify:json", args=[certificate.code])).json()["status"] == "valid"


def test_a_singapore_trainees_certificate_lands_in_the_singapore_bucket(region_buckets: Any) -> None:
    setup = course_with_rule()
    certificate = services.certificate_issue(
        user=setup.qualifying_trainee(home_region="singapore"), course=setup.course, by=setup.admin
    )
    assert bucket_keys(region_buckets, REGION_BUCKETS["singapore"]) == {certificate.pdf_key, certificate.credential_key}
    assert bucket_keys(region_buckets, REGION_BUCKETS["chongqing"]) == set()


def test_a_certificate_stored_before_its_trainee_moved_region_still_downloads_and_verifies(
    region_buckets: Any, client: Client
) -> None:
    setup = course_with_rule()
    trainee = setup.qualifying_trainee(home_region="chongqing")
    certificate = services.certificate_issue(user=trainee, course=setup.course, by=setup.admin)
    trainee.home_region = "singapore"
    trainee.save(update_fields=["home_region"])

    pdf = downloaded_pdf(client, trainee, certificate.code)
    assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256
    assert Client().get(reverse("verify:json", args=[certificate.code])).json()["status"] == "valid"
    # Nothing was copied or moved: the files are where they were issued.
    assert bucket_keys(region_buckets, REGION_BUCKETS["singapore"]) == set()


def test_a_certificate_from_before_regions_is_read_from_the_default_bucket(region_buckets: Any, client: Client) -> None:
    setup = course_with_rule()
    trainee = setup.qualifying_trainee(home_region="chongqing")
    certificate = services.certificate_issue(user=trainee, course=setup.course, by=setup.admin)
    # As a row written before regions: no storage_region, its files in the default bucket.
    for key in (certificate.pdf_key, certificate.credential_key):
        body = region_buckets.get_object(Bucket=REGION_BUCKETS["chongqing"], Key=key)["Body"].read()
        region_buckets.put_object(Bucket=BUCKET, Key=key, Body=body)
        region_buckets.delete_object(Bucket=REGION_BUCKETS["chongqing"], Key=key)
    certificate.storage_region = ""
    certificate.save(update_fields=["storage_region"])

    pdf = downloaded_pdf(client, trainee, certificate.code)
    assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256
    assert Client().get(reverse("verify:json", args=[certificate.code])).json()["status"] == "valid"


# The embedded default: one folder per region under MEDIA_ROOT.


@pytest.fixture
def media_root(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def test_locally_a_chongqing_trainees_certificate_is_in_the_chongqing_folder(media_root: Path, client: Client) -> None:
    setup = course_with_rule()
    trainee = setup.qualifying_trainee(home_region="chongqing")
    certificate = services.certificate_issue(user=trainee, course=setup.course, by=setup.admin)

    stored = {str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file()}
    assert stored == {f"chongqing/{certificate.pdf_key}", f"chongqing/{certificate.credential_key}"}
    trainee.home_region = "singapore"
    trainee.save(update_fields=["home_region"])
    pdf = downloaded_pdf(client, trainee, certificate.code)
    assert hashlib.sha256(pdf).hexdigest() == certificate.pdf_sha256


def test_locally_a_changed_credential_in_the_region_folder_is_caught(media_root: Path) -> None:
    setup = course_with_rule()
    certificate = services.certificate_issue(
        user=setup.qualifying_trainee(home_region="chongqing"), course=setup.course, by=setup.admin
    )
    storage = storage_for_region("chongqing")
    storage.delete(certificate.credential_key)
    storage.save(certificate.credential_key, io.BytesIO(b'{"tampered": true}'))
    body = Client().get(reverse("verify:json", args=[certificate.code])).json()
    assert body["status"] == "invalid" and body["reason"] == "altered"
