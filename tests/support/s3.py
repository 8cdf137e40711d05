"""A local S3 endpoint over HTTP (moto's server mode), its client, and the default storage pointed at a bucket there.

The fixtures `s3_endpoint` and `s3_storage` (tests/conftest.py) are built from these.
"""

import socket
from typing import Any

import boto3

BUCKET = "corridor-test-media"
# One bucket per region, for the tests of where personal files go (the `region_buckets` fixture).
REGION_BUCKETS = {"singapore": "corridor-test-sg", "chongqing": "corridor-test-cq"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="ap-southeast-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


REGIONS = ("singapore", "chongqing")


def s3_storage_settings(*, endpoint: str, bucket: str) -> dict[str, Any]:
    """One S3 storage on `bucket` at the local endpoint, configured as lms/settings/storage.py does."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": "ap-southeast-1",
            "access_key": "testing",
            "secret_key": "testing",
            "signature_version": "s3v4",
            "addressing_style": "path",
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": 60,
        },
    }


def use_s3_storage(settings: Any, *, endpoint: str, bucket: str, regions: dict[str, str] | None = None) -> None:
    """The default storage on `bucket` at the local endpoint, and each region's storage on its bucket in
    `regions` (by default `bucket` too: a one-bucket deployment), as lms/settings/storage.py does."""
    regions = regions or {}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage_settings(endpoint=endpoint, bucket=bucket),
        **{region: s3_storage_settings(endpoint=endpoint, bucket=regions.get(region, bucket)) for region in REGIONS},
    }


def storages_on_bucket(storages: dict[str, Any], bucket: str) -> dict[str, Any]:
    """`storages` (settings.STORAGES) with every S3 storage (the default and each region's) moved to `bucket`:
    a missing one breaks uploads wherever they go."""
    moved = {}
    for alias, config in storages.items():
        options = config.get("OPTIONS", {})
        moved[alias] = {**config, "OPTIONS": {**options, "bucket_name": bucket}} if "bucket_name" in options else config
    return moved


def bucket_keys(client: Any, bucket: str) -> set[str]:
    """Every object's key in `bucket`."""
    return {item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def empty_and_delete(client: Any, bucket: str) -> None:
    for key in bucket_keys(client, bucket):
        client.delete_object(Bucket=bucket, Key=key)
    client.delete_bucket(Bucket=bucket)
