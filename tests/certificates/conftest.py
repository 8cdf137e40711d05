"""Fixtures for certificate tests: files in a temporary folder, or on S3 over HTTP (moto's server)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.s3 import s3_client, use_s3_storage

MISSING_BUCKET = "corridor-test-certificates"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Each test starts in English: a request in Chinese leaves its language active in the test thread."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _tasks_here(request: pytest.FixtureRequest) -> None:
    """Issuing tasks run where they are sent (as under `make run`), except in tests of real workers."""
    if "real_worker" not in request.keywords:
        request.getfixturevalue("tasks_in_process")


class BucketLater:
    """S3 storage whose bucket does not exist yet: every upload fails until `create_bucket()`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def create_bucket(self) -> None:
        self.client.create_bucket(
            Bucket=MISSING_BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
        )


@pytest.fixture
def s3_without_bucket(s3_endpoint: str, settings: Any) -> Iterator[BucketLater]:
    client = s3_client(s3_endpoint)
    use_s3_storage(settings, endpoint=s3_endpoint, bucket=MISSING_BUCKET)
    yield BucketLater(client)
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if MISSING_BUCKET in existing:
        for item in client.list_objects_v2(Bucket=MISSING_BUCKET).get("Contents", []):
            client.delete_object(Bucket=MISSING_BUCKET, Key=item["Key"])
        client.delete_bucket(Bucket=MISSING_BUCKET)
