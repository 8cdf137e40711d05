"""Invigilators of the exam room check candidates in by the slip's QR payload, after confirming their identity
(issue 16, item 4). Every refusal says why and changes nothing."""

from datetime import timedelta

import pytest
from django.test import Client

from exams import selectors, services
from exams.models import Candidate
from lms.errors import CorridorError
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def sitting():
    return factories.sitting(starts_in=timedelta(minutes=45), closes_before=timedelta(minutes=30))


@pytest.fixture
def invigilator(sitting):
    person = factories.invigilator(first_name="Hong", last_name="Zhao")
    sitting.room.invigilators.add(person)
    return person


def _register(sitting, **user_fields) -> Candidate:
    return services.candidate_register(sitting=sitting, user=factories.trainee(**user_fields))


def test_the_invigilator_scans_confirms_and_the_candidate_is_checked_in(client: Client, sitting, invigilator) -> None:
    _register(sitting)
    candidate = _register(sitting, first_name="Jun", last_name="Wang", name_zh="王军")
    token = selectors.slip_token(candidate=candidate)
    client.force_login(invigilator)
    page = f"/en/exams/sittings/{sitting.pk}/check-in/"
    assert "0 of 2 candidates checked in" in client.get(page).content.decode()

    found = client.post(page, {"token": token}).content.decode()
    assert "Confirm the candidate" in found and "Jun Wang · 王军" in found
    assert 'class="candidate-seat">2<' in found
    candidate.refresh_from_db()
    assert candidate.checked_in_at is None, "finding the candidate checks no one in"

    done = client.post(page, {"token": token, "confirm": "on"}, follow=True).content.decode()
    assert "Jun Wang is checked in: seat 2." in done and "1 of 2 candidates checked in" in done
    candidate.refresh_from_db()
    assert candidate.checked_in_at is not None and candidate.checked_in_by == invigilator


def test_checking_in_twice_is_refused_saying_when_and_by_whom(sitting, invigilator) -> None:
    candidate = _register(sitting)
    token = selectors.slip_token(candidate=candidate)
    services.candidate_check_in(sitting=sitting, token=token, by=invigilator)
    with pytest.raises(CorridorError) as refused:
        services.candidate_check_in(sitting=sitting, token=token, by=invigilator)
    assert refused.value.code == "already_checked_in" and "Hong Zhao" in str(refused.value.message)


def test_a_slip_for_another_sitting_is_refused_naming_it(sitting, invigilator) -> None:
    other = factories.sitting(starts_in=timedelta(days=3))
    elsewhere = _register(other)
    with pytest.raises(CorridorError) as refused:
        services.candidate_check_in(sitting=sitting, token=selectors.slip_token(candidate=elsewhere), by=invigilator)
    assert refused.value.code == "other_sitting" and other.exam.code in str(refused.value.message)
    elsewhere.refresh_from_db()
    assert elsewhere.checked_in_at is None


def test_a_forged_code_is_refused_on_the_page_with_the_reason(client: Client, sitting, invigilator) -> None:
    candidate = _register(sitting)
    client.force_login(invigilator)
    page = f"/en/exams/sittings/{sitting.pk}/check-in/"
    forged = selectors.slip_token(candidate=candidate)[:-3] + "abc"
    response = client.post(page, {"token": forged, "confirm": "on", "next": page}, follow=True)
    assert "This is not the code of an admission slip" in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.checked_in_at is None


def test_only_the_rooms_invigilators_and_administrators_check_in(client: Client, sitting, invigilator) -> None:
    candidate = _register(sitting)
    token = selectors.slip_token(candidate=candidate)
    page = f"/en/exams/sittings/{sitting.pk}/check-in/"
    for outsider in (factories.invigilator(), factories.trainee(), candidate.user):
        client.force_login(outsider)
        assert client.post(page, {"token": token, "confirm": "on"}).status_code == 403
    candidate.refresh_from_db()
    assert candidate.checked_in_at is None
    client.force_login(factories.administrator())
    client.post(page, {"token": token, "confirm": "on"})
    candidate.refresh_from_db()
    assert candidate.checked_in_at is not None


def test_check_in_opens_three_hours_before_the_start_and_closes_at_the_end(invigilator) -> None:
    sitting = factories.sitting(starts_in=timedelta(days=2))
    sitting.room.invigilators.add(invigilator)
    token = selectors.slip_token(candidate=_register(sitting))
    for moment in (sitting.starts_at - timedelta(hours=3, minutes=1), sitting.ends_at):
        with pytest.raises(CorridorError) as refused:
            services.candidate_check_in(sitting=sitting, token=token, by=invigilator, now=moment)
        assert refused.value.code == "check_in_closed"
    checked = services.candidate_check_in(
        sitting=sitting, token=token, by=invigilator, now=sitting.starts_at - timedelta(hours=2)
    )
    assert checked.checked_in_at == sitting.starts_at - timedelta(hours=2)


def test_the_invigilator_sees_only_their_rooms_sittings(client: Client, sitting, invigilator) -> None:
    elsewhere = factories.sitting(starts_in=timedelta(days=3))
    client.force_login(invigilator)
    listing = client.get("/en/exams/sittings/").content.decode()
    assert f"/en/exams/sittings/{sitting.pk}/" in listing
    assert f"/en/exams/sittings/{elsewhere.pk}/" not in listing
    assert client.get(f"/en/exams/sittings/{elsewhere.pk}/").status_code == 403
