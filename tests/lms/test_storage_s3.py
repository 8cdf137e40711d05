"""Files go through the storage backend to S3, here a local S3 endpoint over HTTP (moto's server mode)."""

import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from moto.server import ThreadedMotoServer

from courses.models import Enrolment, LessonPage
from tests import factories

BUCKET = "corridor-test-media"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


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


@pytest.fixture
def s3_storage(s3_endpoint: str, settings: Any) -> Iterator[Any]:
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
    use_s3_storage(settings, endpoint=s3_endpoint, bucket=BUCKET)
    settings.WAGTAILDOCS_SERVE_METHOD = "redirect"
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_saved_file_lands_in_the_bucket_and_signed_url_serves_it(s3_storage: Any) -> None:
    name = default_storage.save("handouts/welcome.txt", ContentFile("欢迎 welcome".encode()))
    stored = s3_storage.get_object(Bucket=BUCKET, Key=name)["Body"].read()
    assert stored == "欢迎 welcome".encode()
    url = default_storage.url(name)
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url  # SigV4, not SigV2
    with urllib.request.urlopen(url) as response:
        assert response.read() == "欢迎 welcome".encode()


@pytest.mark.django_db
def test_lesson_video_upload_is_stored_in_s3_and_served_by_signed_redirect(
    s3_storage: Any, client: Client, catalogue: Any
) -> None:
    from wagtail.documents.models import Document

    video = Document(title="Intro video")
    video.file.save("intro.webm", ContentFile(b"\x1a\x45\xdf\xa3 fake webm bytes"), save=True)
    keys = [item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert video.file.name in keys

    course = factories.CourseFactory.create(parent=catalogue)
    module = factories.ModuleFactory.create(parent=course)
    lesson = factories.LessonFactory.create(
        parent=module, body=[("video", {"video_file": video, "embed": None, "caption": "Welcome"})]
    )
    trainee = factories.trainee()
    Enrolment.objects.create(user=trainee, course=course, course_key=course.translation_key)
    client.force_login(trainee)
    html = client.get(LessonPage.objects.get(pk=lesson.pk).url).content.decode()
    assert f'src="{video.url}"' in html
    redirect = client.get(video.url)
    assert redirect.status_code == 302
    assert "X-Amz-Signature=" in redirect["Location"]
    with urllib.request.urlopen(redirect["Location"]) as response:
        assert response.read() == b"\x1a\x45\xdf\xa3 fake webm bytes"
