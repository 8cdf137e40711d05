"""The exam centre in Chromium, as its people use it: a trainee finds a preparatory course by its kind in the
catalogue, follows it to the exam it prepares for, registers for a sitting (its last seat, then another trainee is
told it is full), downloads the admission slip and reads it; an administrator schedules a sitting in the admin and
a clash with another sitting in the same exam room is refused, naming it."""

from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from django.utils import timezone
from playwright.sync_api import expect

from exams import selectors, services
from exams.models import Candidate, Sitting
from lms.timezones import SCHEDULING_TIME_ZONE
from tests import factories
from tests.support.browser import SignIn
from tests.support.pdf import pdf_page_image, pdf_text

pytestmark = pytest.mark.e2e


def test_a_trainee_finds_the_exam_through_its_preparatory_course_registers_and_downloads_the_slip(
    sign_in: SignIn, live_server: Any, site_catalogue: Any
) -> None:
    course = factories.course_with_lessons(
        site_catalogue, title="Diploma entry preparation", code="PREP-101", kind="preparatory"
    )
    factories.course_with_lessons(site_catalogue, title="Welding practice", kind="vocational")
    exam = factories.ExamFactory.create(code="DIP-ENTRY", title="Diploma entry exam", title_zh="文凭入学考试")
    exam.preparatory_courses.add(course)
    room = factories.ExamRoomFactory.create(name="Chongqing Exam Hall 1", seats=30)
    sitting = factories.sitting(exam=exam, room=room, seats=2)
    services.candidate_register(sitting=sitting, user=factories.trainee())  # one of two seats taken
    trainee = factories.trainee(first_name="Jun", last_name="Wang", name_zh="王军")

    page = sign_in(trainee)
    page.goto(f"{live_server.url}/en/")
    page.get_by_label("Kind of course").select_option("preparatory")
    page.get_by_role("search").get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Welding practice")).to_have_count(0)
    page.get_by_role("link", name="Diploma entry preparation").click()
    expect(page.locator(".course-kind")).to_have_text("Preparatory")
    page.get_by_role("link", name="DIP-ENTRY · Diploma entry exam").click()

    expect(page.get_by_role("heading", name="Diploma entry exam")).to_be_visible()
    expect(page.get_by_role("link", name="PREP-101 · Diploma entry preparation")).to_be_visible()
    expect(page.locator(f'[data-sitting="{sitting.pk}"]')).to_contain_text("1 seat left")
    page.get_by_role("button", name="Register for this sitting").click()
    expect(page.get_by_text("You are registered for DIP-ENTRY, seat 2.")).to_be_visible()
    candidate = Candidate.objects.get(user=trainee)
    expect(page.locator(f'[data-candidate="{candidate.pk}"]')).to_contain_text(f"candidate number {candidate.number}")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download admission slip (PDF)").click()
    with open(download_info.value.path(), "rb") as downloaded:
        document = downloaded.read()
    text = pdf_text(document)
    for expected in ("Admission slip", "准考证", "DIP-ENTRY 文凭入学考试", "Jun Wang · 王军", "Chongqing Exam Hall 1"):
        assert expected in text
    [barcode] = zxingcpp.read_barcodes(pdf_page_image(document, system_fonts=False))
    assert selectors.candidate_from_slip_token(token=barcode.text) == candidate

    # The sitting is now full: the next trainee is told so, and has no button to press.
    latecomer = sign_in(factories.trainee())
    latecomer.goto(f"{live_server.url}/en/exams/DIP-ENTRY/")
    expect(latecomer.locator(f'[data-sitting="{sitting.pk}"]')).to_contain_text("This sitting is full.")
    expect(latecomer.get_by_role("button", name="Register for this sitting")).to_have_count(0)


def test_an_administrator_schedules_a_sitting_and_a_clash_is_refused(
    sign_in: SignIn, live_server: Any, e2e_db: None
) -> None:
    exam = factories.ExamFactory.create(code="NET-CERT", duration_minutes=120)
    room = factories.ExamRoomFactory.create(name="Chongqing Exam Hall 2", seats=25)
    booked = factories.sitting(exam=factories.ExamFactory.create(code="EX-BOOKED"), room=room)
    admin = sign_in(factories.administrator())

    def schedule(starts_at: Any) -> None:
        admin.goto(f"{live_server.url}/admin/snippets/exams/sitting/add/")
        admin.get_by_role("combobox", name="Exam*", exact=True).select_option(label=str(exam))
        admin.get_by_role("combobox", name="Exam room*", exact=True).select_option(label=str(room))
        local = timezone.localtime(starts_at, SCHEDULING_TIME_ZONE)
        admin.locator("#id_starts_at").fill(f"{local:%Y-%m-%d %H:%M}")
        admin.locator("#id_registration_closes_at").fill(f"{local - timedelta(days=1):%Y-%m-%d %H:%M}")
        admin.get_by_role("spinbutton", name="Seats offered*").fill("20")
        admin.get_by_role("button", name="Save").first.click()

    schedule(booked.starts_at + timedelta(minutes=30))
    expect(admin.get_by_text("Chongqing Exam Hall 2 is already booked for the sitting of EX-BOOKED")).to_be_visible()
    assert not Sitting.objects.filter(exam=exam).exists()

    schedule(booked.ends_at + timedelta(hours=1))
    expect(admin.get_by_text("created")).to_be_visible()
    sitting = Sitting.objects.get(exam=exam)
    assert sitting.ends_at - sitting.starts_at == timedelta(minutes=120)


def test_an_invigilator_checks_a_candidate_in_by_scanning_the_slip(
    sign_in: SignIn, live_server: Any, e2e_db: None
) -> None:
    exam = factories.ExamFactory.create(code="DIP-TODAY", title="Diploma entry exam")
    room = factories.ExamRoomFactory.create(name="Chongqing Exam Hall 1")
    invigilator = factories.invigilator(first_name="Hong", last_name="Zhao")
    room.invigilators.add(invigilator)
    sitting = factories.sitting(exam=exam, room=room, starts_in=timedelta(minutes=40), closes_before=timedelta(0))
    trainee = factories.trainee(first_name="Jun", last_name="Wang", name_zh="王军")
    candidate = services.candidate_register(sitting=sitting, user=trainee)

    # The candidate downloads the slip; the invigilator's scanner reads its QR code (here: the test decodes it and
    # types what the scanner would).
    page = sign_in(trainee)
    page.goto(f"{live_server.url}/en/exams/mine/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download admission slip (PDF)").click()
    with open(download_info.value.path(), "rb") as downloaded:
        [barcode] = zxingcpp.read_barcodes(pdf_page_image(downloaded.read(), system_fonts=False))

    desk = sign_in(invigilator)
    desk.goto(f"{live_server.url}/en/exams/")
    desk.get_by_role("navigation", name="Main").get_by_role("link", name="Sittings").click()
    desk.get_by_role("link", name="DIP-TODAY · Diploma entry exam").click()
    desk.get_by_role("link", name="Check candidates in").click()
    expect(desk.locator(".check-in-count")).to_have_text("0 of 1 candidates checked in")
    desk.get_by_label("Slip code").fill(barcode.text)
    desk.get_by_role("button", name="Find the candidate").click()
    expect(desk.locator(".candidate-name")).to_have_text("Jun Wang · 王军")
    expect(desk.locator(".candidate-seat")).to_have_text(str(candidate.seat_number))
    desk.get_by_role("button", name="Identity confirmed: check in").click()
    expect(desk.get_by_text(f"Jun Wang is checked in: seat {candidate.seat_number}.")).to_be_visible()
    expect(desk.locator(".check-in-count")).to_have_text("1 of 1 candidates checked in")

    # Scanned again, the slip is refused, saying when and by whom it was used.
    desk.get_by_label("Slip code").fill(barcode.text)
    desk.get_by_role("button", name="Find the candidate").click()
    desk.get_by_role("button", name="Identity confirmed: check in").click()
    expect(desk.get_by_text("Jun Wang was already checked in at")).to_contain_text("by Hong Zhao")

    page.reload()
    expect(page.locator(f'[data-candidate="{candidate.pk}"]')).to_contain_text("Checked in")
