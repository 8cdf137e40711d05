"""Placements (issue 16, item 9): a coordinator adds a host company, an internship and places a trainee with a
company supervisor, who is invited by email and signs in with a one-use link (and their authenticator's code, if
they turned two-step sign-in on)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from internships.models import HostCompany, Internship, Placement
from lms.accounts.models import User
from lms.accounts.roles import Role, user_has_role
from tests import factories

pytestmark = pytest.mark.django_db

COORDINATE = "/en/internships/coordinate/"


def link_in(message: Any) -> str:
    match = re.search(r"https?://\S+(/en/internships/sign-in/\S+/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def place(client: Client, *, intern: User, email: str = "tan.wei@lioncity.example") -> Any:
    client.post(
        "/en/internships/coordinate/companies/",
        {"name": "Lion City Robotics", "city": "singapore", "address": "1 Fusionopolis Way"},
    )
    company = HostCompany.objects.filter(name="Lion City Robotics").first()
    assert company is not None
    client.post(
        "/en/internships/coordinate/internships/",
        {
            "company": company.pk,
            "title": "Automation intern",
            "start": "2026-09-01",
            "end": "2027-02-28",
            "target_hours_per_week": 25,
        },
    )
    internship = Internship.objects.filter(title="Automation intern").first()
    assert internship is not None
    return client.post(
        "/en/internships/coordinate/placements/",
        {
            "internship": internship.pk,
            "intern": intern.pk,
            "supervisor_email": email,
            "supervisor_first_name": "Wei",
            "supervisor_last_name": "Tan",
        },
    )


def test_a_coordinator_places_a_trainee_and_the_supervisor_is_invited_with_a_link_that_signs_in_once(
    django_capture_on_commit_callbacks: Any,
) -> None:
    coordinator, intern = factories.administrator(), factories.trainee(first_name="Mei", last_name="Lin")
    client = Client()
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = place(client, intern=intern)
    assert response.status_code == 302

    placement = Placement.objects.get()
    assert placement.intern == intern and placement.coordinator == coordinator
    assert placement.internship.target_hours_per_week == 25 and placement.internship.start == date(2026, 9, 1)
    supervisor = placement.supervisor
    assert supervisor.email == "tan.wei@lioncity.example" and user_has_role(supervisor, Role.SUPERVISOR)
    assert not supervisor.has_usable_password()
    page = client.get(COORDINATE).content.decode()
    assert "Mei Lin" in page and "tan.wei@lioncity.example" in page

    [invitation] = mail.outbox
    assert invitation.to == ["tan.wei@lioncity.example"] and "Lion City Robotics" in invitation.subject
    link = link_in(invitation)

    visitor = Client()
    shown = visitor.get(link)  # opening the link (or a mail scanner doing so) does not sign in
    assert shown.status_code == 200 and "Welcome, Wei Tan" in shown.content.decode()
    assert "_auth_user_id" not in visitor.session
    signed_in = visitor.post(link)
    assert signed_in.status_code == 302 and signed_in["Location"] == "/en/internships/supervise/"
    dashboard = visitor.get("/en/internships/supervise/").content.decode()
    assert "Mei Lin" in dashboard

    # Used once, the link no longer works.
    again = Client().post(link)
    assert again.status_code == 404 and "This link no longer works" in again.content.decode()


def test_a_supervisor_asks_for_a_new_link_and_a_stranger_gets_the_same_answer_and_no_email(
    django_capture_on_commit_callbacks: Any,
) -> None:
    supervisor = factories.supervisor(email="ops@harbour.example", first_name="Ana", last_name="Cruz")
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post("/en/internships/sign-in/", {"email": "OPS@harbour.example"})
        stranger = client.post("/en/internships/sign-in/", {"email": "nobody@harbour.example"})
        trainee = factories.trainee(email="t@harbour.example")
        not_a_supervisor = client.post("/en/internships/sign-in/", {"email": trainee.email})
    for response in (asked, stranger, not_a_supervisor):
        assert response.status_code == 200 and "a sign-in link is on its way" in response.content.decode()
    [message] = mail.outbox
    assert message.to == [supervisor.email]
    assert Client().post(link_in(message)).status_code == 302


def test_a_supervisor_with_two_step_sign_in_gives_the_code_after_the_link(
    django_capture_on_commit_callbacks: Any,
) -> None:
    supervisor = factories.supervisor(email="ops@harbour.example")
    TOTPDevice.objects.create(user=supervisor, name="authenticator", confirmed=True)
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/en/internships/sign-in/", {"email": supervisor.email})
    client = Client()
    response = client.post(link_in(mail.outbox[0]))
    assert response.status_code == 302 and response["Location"] == "/en/accounts/login/code/"
    assert "_auth_user_id" not in client.session
    assert client.get("/en/internships/supervise/").status_code == 302  # still signed out


def test_supervisors_may_turn_on_two_step_sign_in() -> None:
    client = Client()
    client.force_login(factories.supervisor())
    assert client.post("/en/accounts/settings/two-step/").status_code in (200, 302)
    assert TOTPDevice.objects.filter(confirmed=False).count() == 1


def test_a_forged_or_tampered_link_signs_nobody_in() -> None:
    supervisor = factories.supervisor()
    client = Client()
    for link in ("/en/internships/sign-in/MQ/forged-token/", f"/en/internships/sign-in/{supervisor.pk}/x-y/"):
        response = client.post(link)
        assert response.status_code == 404 and "_auth_user_id" not in client.session


def test_only_a_coordinator_adds_companies_and_places_interns() -> None:
    intern = factories.trainee()
    internship = factories.placement().internship
    before = (HostCompany.objects.count(), Internship.objects.count(), Placement.objects.count())
    for person in (intern, factories.instructor(), factories.supervisor()):
        client = Client()
        client.force_login(person)
        assert client.get(COORDINATE).status_code == 403
        posts = {
            "companies/": {"name": "Sneaky Pte Ltd", "city": "singapore"},
            "internships/": {
                "company": internship.company_id,
                "title": "Sneaky",
                "start": "2026-09-01",
                "end": "2026-12-01",
                "target_hours_per_week": 20,
            },
            "placements/": {
                "internship": internship.pk,
                "intern": intern.pk,
                "supervisor_email": "x@y.example",
                "supervisor_first_name": "X",
            },
        }
        for route, data in posts.items():
            assert client.post(COORDINATE + route, data).status_code == 403
    assert (HostCompany.objects.count(), Internship.objects.count(), Placement.objects.count()) == before
    assert not User.objects.filter(email="x@y.example").exists()


def test_only_a_trainee_can_be_placed_and_only_once(django_capture_on_commit_callbacks: Any) -> None:
    client = Client()
    client.force_login(factories.administrator())
    instructor = factories.instructor()
    refused = place(client, intern=instructor)
    assert refused.status_code == 400 and "Intern (a trainee): Select a valid choice" in refused.content.decode()
    assert not Placement.objects.exists() and not User.objects.filter(email="tan.wei@lioncity.example").exists()

    intern = factories.trainee()
    with django_capture_on_commit_callbacks(execute=True):
        place(client, intern=intern)
    twice = place(client, intern=intern, email="someone.else@lioncity.example")
    assert twice.status_code == 400 and "already placed on this internship" in twice.content.decode()
    assert Placement.objects.count() == 1


def test_an_internship_must_end_after_it_starts() -> None:
    client = Client()
    client.force_login(factories.administrator())
    company = HostCompany.objects.create(name="Harbour Labs", city="chongqing")
    response = client.post(
        "/en/internships/coordinate/internships/",
        {
            "company": company.pk,
            "title": "Backwards",
            "start": "2026-09-01",
            "end": "2026-08-01",
            "target_hours_per_week": 20,
        },
    )
    assert response.status_code == 400 and "must end after it starts" in response.content.decode()
    assert not Internship.objects.exists()


def test_the_service_refuses_to_place_anyone_but_a_trainee() -> None:
    from internships.services import placement_create
    from lms.errors import CorridorError

    internship = factories.placement().internship
    with pytest.raises(CorridorError, match="Only a trainee"):
        placement_create(
            internship=internship,
            intern=factories.instructor(),
            supervisor_email="a@b.example",
            supervisor_first_name="A",
            supervisor_last_name="B",
            by=factories.administrator(),
        )


def test_asking_for_links_too_often_from_one_address_is_refused(settings: Any) -> None:
    settings.INTERNSHIP_SIGN_IN_RATE = 2
    client = Client(REMOTE_ADDR="198.51.100.77")
    statuses = [client.post("/en/internships/sign-in/", {"email": "a@b.example"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
