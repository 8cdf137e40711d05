"""Each region has its own storage (lms/regions.py): a bucket per region on S3, a folder per region locally; rows from
before regions read the default storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from lms.regions import UnknownRegion, storage_for_region
from tests import factories
from tests.support.s3 import BUCKET, REGION_BUCKETS, bucket_keys, use_s3_storage


def test_locally_each_region_is_a_folder_under_media_root(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    storage_for_region("singapore").save("a/file.txt", ContentFile(b"sg"))
    storage_for_region("chongqing").save("a/file.txt", ContentFile(b"cq"))
    assert (tmp_path / "media" / "singapore" / "a" / "file.txt").read_bytes() == b"sg"
    assert (tmp_path / "media" / "chongqing" / "a" / "file.txt").read_bytes() == b"cq"
    assert not default_storage.exists("a/file.txt")
    assert storage_for_region("") is default_storage  # a row stored before regions


def test_an_unknown_region_is_refused() -> None:
    with pytest.raises(UnknownRegion):
        storage_for_region("mars")


def test_on_s3_each_region_writes_to_its_own_bucket(region_buckets: Any) -> None:
    storage_for_region("chongqing").save("x.txt", ContentFile(b"cq"))
    assert bucket_keys(region_buckets, REGION_BUCKETS["chongqing"]) == {"x.txt"}
    assert bucket_keys(region_buckets, REGION_BUCKETS["singapore"]) == set()
    assert bucket_keys(region_buckets, BUCKET) == set()


def test_readyz_names_storage_when_a_regions_bucket_is_missing(
    client: Client, db: Any, region_buckets: Any, s3_endpoint: str, settings: Any
) -> None:
    assert client.get("/readyz").json()["checks"]["storage"] == "ok"
    use_s3_storage(settings, endpoint=s3_endpoint, bucket=BUCKET, regions={"chongqing": "corridor-no-such-region"})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]


def test_a_person_sees_in_their_settings_which_region_keeps_their_files(client: Client, db: Any) -> None:
    client.force_login(factories.trainee(home_region="chongqing"))
    html = client.get(reverse("accounts:settings")).content.decode()
    assert "Your personal files (certificates) are stored in your home region: Chongqing." in html
