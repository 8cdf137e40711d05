"""Trainees register for a sitting: seats limited, registration closes, a preparatory course may be required; each
refusal says why and stores nothing (issue 16, items 3 and 14)."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client
from django.utils import timezone

from courses.models import LessonCompletion, LessonPage
from exams import services
from exams.models import Candidate
from lms.errors import CorridorError
from tests import factories

pytestmark = pytest.mark.django_db


def _sign_in(client: Client, user) -> None:
    client.force_login(user)


def test_a_trainee_registers_from_the_exam_page_and_gets_the_lowest_free_seat(client: Client) -> None:
    sitting = factories.sitting(seats=3)
    services.candidate_register(sitting=sitting, user=factories.trainee())
    trainee = factories.trainee()
    _sign_in(client, trainee)
    page = client.get(f"/en/exams/{sitting.exam.code}/").content.decode()
    assert "Register for this sitting" in page and "2 seats left" in page
    response = client.post(f"/en/exams/sittings/{sitting.pk}/register/", follow=True)
    assert "You are registered for" in response.content.decode()
    candidate = Candidate.objects.get(user=trainee)
    assert candidate.seat_number == 2
    mine = client.get("/en/exams/mine/").content.decode()
    assert f"/en/exams/candidates/{candidate.pk}/slip.pdf" in mine


def test_a_full_sitting_is_refused_with_a_clear_message_and_nothing_changes(client: Client) -> None:
    sitting = factories.sitting(seats=1)
    services.candidate_register(sitting=sitting, user=factories.trainee())
    trainee = factories.trainee()
    _sign_in(client, trainee)
    assert "This sitting is full." in client.get(f"/en/exams/{sitting.exam.code}/").content.decode()
    response = client.post(f"/en/exams/sittings/{sitting.pk}/register/")
    assert response.status_code == 409
    assert "This sitting is full: every seat is taken." in response.content.decode()
    assert Candidate.objects.count() == 1


def test_registration_closes_at_its_time() -> None:
    sitting = factories.sitting()
    with pytest.raises(CorridorError) as refused:
        services.candidate_register(
            sitting=sitting, user=factories.trainee(), now=sitting.registration_closes_at + timedelta(seconds=1)
        )
    assert refused.value.code == "registration_closed"
    assert not Candidate.objects.exists()


def test_registering_twice_is_refused() -> None:
    sitting, trainee = factories.sitting(), factories.trainee()
    services.candidate_register(sitting=sitting, user=trainee)
    with pytest.raises(CorridorError) as refused:
        services.candidate_register(sitting=sitting, user=trainee)
    assert refused.value.code == "already_registered"


def test_only_trainees_register(client: Client) -> None:
    sitting = factories.sitting()
    _sign_in(client, factories.instructor())
    assert client.post(f"/en/exams/sittings/{sitting.pk}/register/").status_code == 403
    assert not Candidate.objects.exists()


def test_a_required_preparatory_course_must_be_completed_first(catalogue) -> None:
    course = factories.course_with_lessons(catalogue, modules=1, lessons=2, kind="preparatory")
    exam = factories.ExamFactory.create(requires_preparatory_course=True)
    exam.preparatory_courses.add(course)
    sitting = factories.sitting(exam=exam)
    trainee = factories.trainee()
    with pytest.raises(CorridorError) as refused:
        services.candidate_register(sitting=sitting, user=trainee)
    assert refused.value.code == "prerequisite_missing"
    assert exam.code in str(refused.value.message)
    for lesson in LessonPage.objects.descendant_of(course):
        LessonCompletion.objects.create(
            user=trainee, course_key=course.translation_key, lesson_key=lesson.translation_key
        )
    assert services.candidate_register(sitting=sitting, user=trainee).seat_number == 1


def test_a_forged_sitting_is_not_found(client: Client) -> None:
    _sign_in(client, factories.trainee())
    assert client.post("/en/exams/sittings/987654321/register/").status_code == 404


def test_past_sittings_are_not_offered(client: Client) -> None:
    exam = factories.ExamFactory.create()
    sitting = factories.sitting(exam=exam)
    Candidate.objects.all().delete()
    sitting.starts_at = timezone.now() - timedelta(hours=3)
    sitting.ends_at = timezone.now() - timedelta(hours=2)
    sitting.registration_closes_at = sitting.starts_at - timedelta(days=1)
    sitting.save()
    assert "No sittings are scheduled." in client.get(f"/en/exams/{exam.code}/").content.decode()


def test_a_persons_data_export_holds_their_registrations() -> None:
    from lms.accounts.personal_data import personal_data_parts

    sitting = factories.sitting()
    trainee = factories.trainee()
    candidate = services.candidate_register(sitting=sitting, user=trainee)
    [part] = [part for part in personal_data_parts() if part.name == "exams"]
    [record] = part.export(trainee)["registrations"]
    assert record["exam"] == sitting.exam.code and record["seat"] == candidate.seat_number
    assert record["candidate_number"] == candidate.number and record["checked_in_at"] is None


@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="concurrent writers need PostgreSQL (SQLite serialises the whole database)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_trainees_at_once_for_the_last_three_seats_get_three_seats() -> None:
    sitting = factories.sitting(seats=5)
    for _ in range(2):
        services.candidate_register(sitting=sitting, user=factories.trainee())
    trainees = [factories.trainee() for _ in range(8)]
    barrier = threading.Barrier(len(trainees))
    outcomes: list[str] = []

    def register(user) -> None:
        try:
            barrier.wait()
            services.candidate_register(sitting=sitting, user=user)
            outcomes.append("seat")
        except CorridorError as refused:
            outcomes.append(refused.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=register, args=(user,)) for user in trainees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["seat"] * 3 + ["sitting_full"] * 5
    assert sorted(Candidate.objects.filter(sitting=sitting).values_list("seat_number", flat=True)) == [1, 2, 3, 4, 5]


def test_the_exam_page_reads_in_chinese_on_the_chinese_site(client: Client) -> None:
    exam = factories.ExamFactory.create(
        code="DIP-ZH", title="Entry exam", title_zh="入学考试", instructions="Bring a pen.", instructions_zh="请带笔。"
    )
    factories.sitting(exam=exam)
    html = client.get("/zh-hans/exams/DIP-ZH/").content.decode()
    assert "入学考试" in html and "请带笔。" in html and "Entry exam" not in html
    english = client.get("/en/exams/DIP-ZH/").content.decode()
    assert "Entry exam" in english and "Bring a pen." in english
