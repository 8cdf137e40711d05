"""Files go through the storage backend to S3, here a local S3 endpoint over HTTP (moto's server mode)."""

import urllib.request
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from courses.models import Enrolment, LessonPage
from tests import factories
from tests.support.s3 import BUCKET


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
