"""The admission slip: a PDF in both languages with the seat number and a QR code whose signed payload names the
candidate; only the candidate (and administrators) may download it (issue 16, item 3)."""

import pytest
import zxingcpp
from django.test import Client

from exams import selectors, services
from tests import factories
from tests.support.pdf import pdf_page_image, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidate():
    exam = factories.ExamFactory.create(code="DIP-ENTRY", title="Diploma entry exam", title_zh="文凭入学考试")
    sitting = factories.sitting(exam=exam, room=factories.ExamRoomFactory.create(name="Chongqing Exam Hall 1"))
    services.candidate_register(sitting=sitting, user=factories.trainee())
    trainee = factories.trainee(first_name="Jun", last_name="Wang", name_zh="王军")
    return services.candidate_register(sitting=sitting, user=trainee)


def test_the_candidate_downloads_a_slip_in_both_languages_with_seat_and_qr(client: Client, candidate) -> None:
    client.force_login(candidate.user)
    response = client.get(f"/en/exams/candidates/{candidate.pk}/slip.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    text = pdf_text(response.content)
    for expected in ("Admission slip", "准考证", "文凭入学考试", "Seat · 座位号", "Jun Wang · 王军", candidate.number):
        assert expected in text
    assert "\n2\n" in text, "seat 2 (the first registration took seat 1)"
    # Drawn from the slip's own font: it reads the same on a machine with no Chinese font.
    image = pdf_page_image(response.content, system_fonts=False)
    [barcode] = zxingcpp.read_barcodes(image)
    assert selectors.candidate_from_slip_token(token=barcode.text) == candidate


def test_no_one_else_downloads_a_candidates_slip(client: Client, candidate) -> None:
    client.force_login(factories.trainee())
    assert client.get(f"/en/exams/candidates/{candidate.pk}/slip.pdf").status_code == 403
    client.force_login(factories.administrator())
    assert client.get(f"/en/exams/candidates/{candidate.pk}/slip.pdf").status_code == 200


def test_a_forged_or_altered_slip_payload_names_no_one(candidate) -> None:
    token = selectors.slip_token(candidate=candidate)
    assert selectors.candidate_from_slip_token(token=token) == candidate
    assert selectors.candidate_from_slip_token(token=token[:-2] + "xx") is None
    assert selectors.candidate_from_slip_token(token="not-a-token") is None
