"""The demo lets a person try internships: a host company, its supervisor, three interns at different stages."""

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from internships.models import Placement, WeekLog
from internships.selectors import dashboard_rows
from lms.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings: Any) -> None:
    settings.DEBUG = True


def test_the_demo_supervisor_follows_three_interns_at_different_stages() -> None:
    call_command("load_demo")
    call_command("load_demo")  # idempotent
    supervisor = User.objects.get(email="supervisor@corridor.example")
    assert Placement.objects.filter(supervisor=supervisor).count() == 3
    rows = {row.placement.intern.email: row for row in dashboard_rows(user=supervisor, today=timezone.localdate())}
    well = rows["trainee.sg@corridor.example"]
    assert well.awaiting_approval is not None and not well.behind and not well.overdue_tasks
    assert well.last_check_in is not None
    # A check-in on the live page tomorrow, with her alone.
    assert well.next_check_in is not None
    session = well.next_check_in.session
    assert session.one_to_one_with == well.placement.intern and session.instructor == supervisor
    assert session.starts_at.date() >= timezone.localdate() and not session.rooms.exists()
    behind = rows["aisha.rahman@corridor.example"]
    assert behind.behind and behind.overdue_tasks == 1
    starting = rows["trainee.cq@corridor.example"]
    assert starting.last_log is None and starting.placement.internship.start > timezone.localdate()
    assert WeekLog.objects.filter(approved_at__isnull=False).count() >= 4

    client = Client()
    assert client.login(username="supervisor@corridor.example", password="corridor-demo")
    page = client.get("/en/internships/supervise/").content.decode()
    assert "Mei Lim" in page and "Aisha Rahman" in page and "Jun Wang" in page
