"""Stored files reach only those allowed: a lesson's document is served (Wagtail's document view) to course staff
and trainees enrolled in its course; strangers get a clear refusal, visitors the login page; the raw upload paths
under /media/ give nothing, whatever is guessed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from wagtail.documents.models import Document

from courses.models import LessonPage
from tests import factories
from tests.classrooms.factories import enrol

pytestmark = pytest.mark.django_db

HANDOUT = b"%PDF-1.4 the safety handout"


@pytest.fixture
def handout(db: Any) -> Any:
    """A course whose first lesson (published) links a handout, and a second document no lesson uses."""
    catalogue = factories.site_catalogue()
    course = factories.course_with_lessons(catalogue, modules=1, lessons=1)
    document = Document.objects.create(title="Safety handout", file=ContentFile(HANDOUT, name="safety.pdf"))
    unused = Document.objects.create(title="Draft notes", file=ContentFile(b"draft", name="draft-notes.pdf"))
    lesson = LessonPage.objects.descendant_of(course).get()
    lesson.body = [("document", {"document": document, "description": "Read before class"})]
    lesson.save_revision().publish()
    return course, lesson, document, unused


def client_for(user: Any) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def download(client: Client, document: Any) -> Any:
    return client.get(document.url)


def test_an_enrolled_trainee_and_course_staff_download_the_lessons_document(handout: Any) -> None:
    course, lesson, document, _unused = handout
    trainee = factories.trainee()
    enrol(trainee, course)
    for reader in (trainee, factories.instructor(), factories.administrator()):
        response = download(client_for(reader), document)
        assert response.status_code == 200, reader
        assert b"".join(response.streaming_content) == HANDOUT
    # The lesson page links it for the trainee.
    page = client_for(trainee).get(lesson.url)
    assert document.url in page.content.decode()


def test_a_trainee_of_another_course_is_refused_with_a_reason_and_a_visitor_is_sent_to_sign_in(handout: Any) -> None:
    _course, _lesson, document, _unused = handout
    stranger = factories.trainee()
    refused = download(client_for(stranger), document)
    assert refused.status_code == 403
    assert "This file belongs to a course you are not enrolled in." in refused.content.decode()
    assert HANDOUT not in refused.content
    visitor = download(client_for(None), document)
    assert visitor.status_code == 302 and "/accounts/login/" in visitor["Location"]


def test_a_document_no_published_lesson_uses_is_for_staff_only(handout: Any) -> None:
    course, _lesson, _document, unused = handout
    trainee = factories.trainee()
    enrol(trainee, course)
    assert download(client_for(trainee), unused).status_code == 403
    assert download(client_for(factories.instructor()), unused).status_code == 200


def test_guessed_upload_paths_under_media_give_nothing(handout: Any) -> None:
    _course, _lesson, document, _unused = handout
    trainee = factories.trainee()
    client = client_for(trainee)
    assert download(client, document).status_code == 403
    for path in (
        f"/media/{document.file.name}",
        "/media/documents/safety.pdf",
        "/media/recordings/",
        "/media/certificates/",
        "/media/original_images/",
        "/media/images/../documents/safety.pdf",
    ):
        response = client.get(path, follow=True)
        assert response.status_code == 404, path
        assert HANDOUT not in response.content
