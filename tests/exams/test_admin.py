"""Administrators author the exam centre in the admin (exams, question bank, paper rules, exam rooms, sittings);
no one else reaches those pages."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from exams.models import Exam, Sitting
from lms.timezones import SCHEDULING_TIME_ZONE
from tests import factories

pytestmark = pytest.mark.django_db

MODELS = ("exam", "question", "paperrule", "examroom", "sitting")


@pytest.mark.parametrize("model", MODELS)
def test_administrators_open_each_listing_and_form(client: Client, model: str) -> None:
    factories.sitting()
    client.force_login(factories.administrator())
    assert client.get(f"/admin/snippets/exams/{model}/").status_code == 200
    assert client.get(f"/admin/snippets/exams/{model}/add/").status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_instructors_and_invigilators_do_not(client: Client, model: str) -> None:
    for person in (factories.instructor(), factories.invigilator()):
        client.force_login(person)
        response = client.get(f"/admin/snippets/exams/{model}/add/")
        # Sent away: instructors to the admin's home ("no permission"), invigilators (no admin access) to sign in.
        assert response.status_code == 302 and not response["Location"].startswith("/admin/snippets/")


def test_the_exam_form_offers_only_preparatory_courses(client: Client, catalogue) -> None:
    preparatory = factories.CourseFactory.create(parent=catalogue, title="Entry preparation", kind="preparatory")
    factories.CourseFactory.create(parent=catalogue, title="Welding practice", kind="vocational")
    client.force_login(factories.administrator())
    html = client.get("/admin/snippets/exams/exam/add/").content.decode()
    assert "Entry preparation" in html and "Welding practice" not in html
    response = client.post(
        "/admin/snippets/exams/exam/add/",
        {
            "code": "DIP-NEW",
            "title": "New exam",
            "title_zh": "",
            "instructions": "",
            "instructions_zh": "",
            "duration_minutes": "90",
            "pass_mark": "60",
            "moderation_tolerance": "1",
            "preparatory_courses": [str(preparatory.pk)],
        },
    )
    assert response.status_code == 302
    assert list(Exam.objects.get(code="DIP-NEW").preparatory_courses.all()) == [preparatory]


def test_a_sitting_saved_in_the_admin_goes_through_the_checks(client: Client) -> None:
    exam = factories.ExamFactory.create(duration_minutes=45)
    room = factories.ExamRoomFactory.create(seats=10)
    client.force_login(factories.administrator())
    starts = timezone.localtime(timezone.now() + timedelta(days=5), SCHEDULING_TIME_ZONE)
    form = {
        "exam": str(exam.pk),
        "room": str(room.pk),
        "starts_at": f"{starts:%Y-%m-%d %H:%M}",
        "registration_closes_at": f"{starts - timedelta(days=1):%Y-%m-%d %H:%M}",
        "seats": "11",
    }
    refused = client.post("/admin/snippets/exams/sitting/add/", form)
    assert refused.status_code == 200 and "has 10 seats: offer at most that many." in refused.content.decode()
    assert not Sitting.objects.exists()
    assert client.post("/admin/snippets/exams/sitting/add/", {**form, "seats": "10"}).status_code == 302
    sitting = Sitting.objects.get()
    assert sitting.ends_at - sitting.starts_at == timedelta(minutes=45)
