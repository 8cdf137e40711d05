"""The demo has a sitting in progress for the invigilator's console: the demo invigilator opens it and finds a
candidate in every state, an audited pause and incidents; loading twice duplicates nothing."""

import pytest
from django.core.management import call_command
from django.test import Client

from exams import invigilation_selectors as console
from exams.console_demo import EXAM_CODE, INVIGILATOR, ROOM_NAME
from exams.models import Incident, InvigilationAction, Sitting
from lms.accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_demo_invigilator_opens_a_console_with_candidates_in_every_state(settings) -> None:
    settings.DEBUG = True
    call_command("load_demo")
    call_command("load_demo")
    [sitting] = Sitting.objects.filter(room__name=ROOM_NAME, exam__code=EXAM_CODE)
    assert InvigilationAction.objects.filter(sitting=sitting).count() == 1
    assert Incident.objects.filter(sitting=sitting).count() == 2

    rows = console.console_rows(sitting=sitting)
    assert [row.state for row in rows] == [
        "started",
        "paused",
        "disconnected",
        "submitted",
        "checked_in",
        "registered",
    ]
    assert rows[0].last_saved_at is not None and rows[0].seconds_left > 0

    client = Client()
    client.force_login(User.objects.get(email=INVIGILATOR))
    page = client.get(f"/en/exams/sittings/{sitting.pk}/console/").content.decode()
    assert "Lei Zhang · 张磊" in page and "Paused while the first-aider checks on her." in page
