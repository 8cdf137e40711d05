"""A local S3 endpoint over HTTP (moto's server mode), its client, and the default storage pointed at a bucket there.

The fixtures `s3_endpoint` and `s3_storage` (tests/conftest.py) are built from these.
"""

import socket
from typing import Any

import boto3

BUCKET = "corridor-test-media"


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


def use_s3_storage(settings: Any, *, endpoint: str, bucket: str) -> None:
    """The default storage on `bucket` at the local endpoint, configured as lms/settings/storage.py does."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
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
        },
    }
