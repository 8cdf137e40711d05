"""The invigilator's console (issue 16, item 6): pause, resume and extra time for one candidate or the room, each
with a cause and an explanation and audited; the incident log; the console's rows; the sitting's record for the exam
board. Refusals say why and change nothing; the clock (exams.clock) agrees with every action."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client
from django.utils import timezone

from exams import clock, invigilation
from exams import invigilation_selectors as console
from exams.models import ActionKind, Incident, InvigilationAction, Paper, SubmittedHow
from lms.errors import CorridorError
from tests import factories
from tests.exams.console_support import paper_saved, paper_start, sitting_in_progress

pytestmark = pytest.mark.django_db

EXPLAINED: dict[str, Any] = {"cause": "health", "explanation": "Felt faint; the nurse is with them."}


@pytest.fixture
def room():
    return sitting_in_progress(candidates=3, duration_minutes=60)


def _paper(candidate) -> Paper:
    return Paper.objects.get(candidate=candidate)


def _left(paper: Paper, now) -> float:
    return clock.seconds_left(paper, duration_minutes=60, now=now)


def _state(sitting) -> list[Any]:
    """Everything an action could change: every paper's clock fields, and the audit and incident rows."""
    papers = list(
        Paper.objects.filter(candidate__sitting=sitting)
        .order_by("pk")
        .values_list("pk", "paused_at", "paused_seconds", "extra_seconds", "submitted_at")
    )
    return [*papers, InvigilationAction.objects.count(), Incident.objects.count()]


def test_a_pause_stops_the_candidates_clock_and_a_resume_starts_it_again(room) -> None:
    sitting, (first, second, _third), invigilator = room
    t0 = timezone.now()
    paper_start(first, now=t0)
    paper_start(second, now=t0)

    action = invigilation.papers_pause(
        sitting=sitting, candidate=first, by=invigilator, now=t0 + timedelta(minutes=10), **EXPLAINED
    )
    paused = _paper(first)
    assert paused.paused_at == t0 + timedelta(minutes=10)
    assert _left(paused, t0 + timedelta(minutes=25)) == 50 * 60, "paused time is not counted"
    assert _left(_paper(second), t0 + timedelta(minutes=25)) == 35 * 60, "the other candidate's clock runs on"
    assert clock.due_at(paused, duration_minutes=60, now=t0 + timedelta(minutes=25)) is None

    invigilation.papers_resume(
        sitting=sitting,
        candidate=first,
        by=invigilator,
        now=t0 + timedelta(minutes=25),
        cause="health",
        explanation="Back at their desk.",
    )
    resumed = _paper(first)
    assert resumed.paused_at is None and resumed.paused_seconds == 15 * 60
    assert _left(resumed, t0 + timedelta(minutes=30)) == 45 * 60

    log = list(InvigilationAction.objects.order_by("pk"))
    assert [(a.kind, a.candidate_id, a.by_id, a.papers_changed) for a in log] == [
        (ActionKind.PAUSE, first.pk, invigilator.pk, 1),
        (ActionKind.RESUME, first.pk, invigilator.pk, 1),
    ]
    assert log[0] == action and action.cause == "health" and action.explanation == EXPLAINED["explanation"]
    assert action.at == t0 + timedelta(minutes=10)


def test_extra_time_for_one_candidate_adds_to_their_clock_alone(room) -> None:
    sitting, (first, second, _third), invigilator = room
    t0 = timezone.now()
    paper_start(first, now=t0)
    paper_start(second, now=t0)
    invigilation.papers_extra_time(
        sitting=sitting,
        candidate=first,
        seconds=600,
        by=invigilator,
        now=t0 + timedelta(minutes=1),
        cause="access",
        explanation="Agreed access arrangement: 10 minutes.",
    )
    later = t0 + timedelta(minutes=30)
    assert _left(_paper(first), later) == 40 * 60
    assert _left(_paper(second), later) == 30 * 60
    action = InvigilationAction.objects.get()
    assert (action.kind, action.seconds, action.cause) == (ActionKind.EXTRA_TIME, 600, "access")


def test_room_extra_time_reaches_every_unsubmitted_paper_started_or_not(room) -> None:
    sitting, (started, submitted, waiting), invigilator = room
    t0 = timezone.now()
    paper_start(started, now=t0)
    paper_start(submitted, now=t0)
    Paper.objects.filter(candidate=submitted).update(submitted_at=t0, submitted_how=SubmittedHow.CANDIDATE)

    action = invigilation.papers_extra_time(
        sitting=sitting, candidate=None, seconds=300, by=invigilator, cause="emergency", explanation="Fire alarm."
    )
    assert action.candidate is None and action.papers_changed == 2
    assert [_paper(c).extra_seconds for c in (started, submitted, waiting)] == [300, 0, 300]
    assert _left(_paper(waiting), t0) == 65 * 60, "a candidate who has not started gets it too"


def test_a_room_pause_pauses_every_running_paper_and_a_room_resume_resumes_them(room) -> None:
    sitting, (first, second, waiting), invigilator = room
    t0 = timezone.now()
    paper_start(first, now=t0)
    paper_start(second, now=t0)
    action = invigilation.papers_pause(
        sitting=sitting, candidate=None, by=invigilator, now=t0 + timedelta(minutes=5), **EXPLAINED
    )
    assert action.papers_changed == 2
    assert _paper(first).paused_at is not None and _paper(second).paused_at is not None
    assert _paper(waiting).paused_at is None, "a paper not started has no clock to pause"

    resumed = invigilation.papers_resume(
        sitting=sitting,
        candidate=None,
        by=invigilator,
        now=t0 + timedelta(minutes=12),
        cause="emergency",
        explanation="All clear.",
    )
    assert resumed.papers_changed == 2
    assert [_paper(c).paused_seconds for c in (first, second)] == [7 * 60, 7 * 60]
    assert _left(_paper(first), t0 + timedelta(minutes=12)) == 55 * 60


def test_administrators_run_every_room(room) -> None:
    sitting, (first, *_), _invigilator = room
    paper_start(first)
    invigilation.papers_pause(sitting=sitting, candidate=first, by=factories.administrator(), **EXPLAINED)
    assert _paper(first).paused_at is not None


@pytest.mark.parametrize(
    ("who", "change", "code"),
    [
        ("other_invigilator", {}, "forbidden"),
        ("trainee", {}, "forbidden"),
        ("invigilator", {"explanation": "   "}, "explanation_missing"),
        ("invigilator", {"cause": "because"}, "cause_missing"),
        ("invigilator", {"explanation": "x" * 2001}, "too_long"),
    ],
)
def test_actions_refused_for_anyone_else_or_without_cause_and_explanation_change_nothing(
    room, who, change, code
) -> None:
    sitting, (first, *_), invigilator = room
    paper_start(first)
    person = {
        "invigilator": invigilator,
        "other_invigilator": factories.invigilator(),  # of another room
        "trainee": first.user,
    }[who]
    before = _state(sitting)
    for act in (
        lambda: invigilation.papers_pause(sitting=sitting, candidate=first, by=person, **{**EXPLAINED, **change}),
        lambda: invigilation.papers_pause(sitting=sitting, candidate=None, by=person, **{**EXPLAINED, **change}),
        lambda: invigilation.papers_extra_time(
            sitting=sitting, candidate=first, seconds=300, by=person, **{**EXPLAINED, **change}
        ),
    ):
        with pytest.raises(CorridorError) as refused:
            act()
        assert refused.value.code == code
    assert _state(sitting) == before


def test_actions_the_papers_state_does_not_allow_are_refused_saying_why(room) -> None:
    sitting, (first, second, waiting), invigilator = room
    paper_start(first)
    paper_start(second)
    Paper.objects.filter(candidate=second).update(submitted_at=timezone.now(), submitted_how=SubmittedHow.TIME_UP)
    other_sitting, (stranger, *_), _ = sitting_in_progress(candidates=1)

    def refused(code: str, act) -> None:
        before = _state(sitting)
        with pytest.raises(CorridorError) as error:
            act()
        assert error.value.code == code, error.value.message
        assert _state(sitting) == before

    refused(
        "not_started",
        lambda: invigilation.papers_pause(sitting=sitting, candidate=waiting, by=invigilator, **EXPLAINED),
    )
    refused(
        "already_submitted",
        lambda: invigilation.papers_pause(sitting=sitting, candidate=second, by=invigilator, **EXPLAINED),
    )
    refused(
        "already_submitted",
        lambda: invigilation.papers_extra_time(
            sitting=sitting, candidate=second, seconds=60, by=invigilator, **EXPLAINED
        ),
    )
    refused(
        "not_paused", lambda: invigilation.papers_resume(sitting=sitting, candidate=first, by=invigilator, **EXPLAINED)
    )
    refused(
        "not_paused", lambda: invigilation.papers_resume(sitting=sitting, candidate=None, by=invigilator, **EXPLAINED)
    )
    refused(
        "invalid_seconds",
        lambda: invigilation.papers_extra_time(
            sitting=sitting, candidate=first, seconds=59, by=invigilator, **EXPLAINED
        ),
    )
    refused(
        "invalid_seconds",
        lambda: invigilation.papers_extra_time(
            sitting=sitting, candidate=None, seconds=3 * 3600 + 1, by=invigilator, **EXPLAINED
        ),
    )
    refused(
        "not_found",
        lambda: invigilation.papers_pause(sitting=sitting, candidate=stranger, by=invigilator, **EXPLAINED),
    )
    late = timezone.now() + timedelta(minutes=61)
    refused(
        "time_up",
        lambda: invigilation.papers_pause(sitting=sitting, candidate=first, by=invigilator, now=late, **EXPLAINED),
    )
    invigilation.papers_pause(sitting=sitting, candidate=first, by=invigilator, **EXPLAINED)
    refused(
        "already_paused",
        lambda: invigilation.papers_pause(sitting=sitting, candidate=first, by=invigilator, **EXPLAINED),
    )
    refused(
        "nothing_to_pause",
        lambda: invigilation.papers_pause(sitting=sitting, candidate=None, by=invigilator, **EXPLAINED),
    )
    assert other_sitting.pk != sitting.pk


def test_incidents_are_logged_per_candidate_or_for_the_room_and_refused_without_category_or_note(room) -> None:
    sitting, (first, *_), invigilator = room
    incident = invigilation.incident_record(
        sitting=sitting, candidate=first, category="identity", note="Photo does not match.", by=invigilator
    )
    assert (incident.candidate, incident.recorded_by, incident.category) == (first, invigilator, "identity")
    invigilation.incident_record(
        sitting=sitting, candidate=None, category="disturbance", note="Drilling next door.", by=invigilator
    )
    for category, note, code in (("gossip", "x", "category_missing"), ("other", " ", "explanation_missing")):
        with pytest.raises(CorridorError) as refused:
            invigilation.incident_record(sitting=sitting, candidate=first, by=invigilator, category=category, note=note)
        assert refused.value.code == code
    with pytest.raises(CorridorError) as refused:
        invigilation.incident_record(sitting=sitting, candidate=first, category="other", note="x", by=first.user)
    assert refused.value.code == "forbidden"
    assert Incident.objects.count() == 2


def test_the_console_rows_show_each_candidates_state_and_the_counts(room) -> None:
    sitting, (first, second, third), invigilator = room
    t0 = timezone.now()
    paper_start(first, now=t0)
    paper_saved(first, now=t0 + timedelta(minutes=2))
    paper_start(second, now=t0)
    Paper.objects.filter(candidate=second).update(online=False)
    invigilation.incident_record(sitting=sitting, candidate=first, category="technical", note="Mouse.", by=invigilator)
    rows = {r.candidate_id: r for r in console.console_rows(sitting=sitting, now=t0 + timedelta(minutes=3))}
    assert rows[first.pk].state == "started" and rows[first.pk].seconds_left == 57 * 60
    assert rows[first.pk].last_saved_at == t0 + timedelta(minutes=2) and rows[first.pk].incidents == 1
    assert rows[second.pk].state == "disconnected"
    assert rows[third.pk].state == "checked_in" and rows[third.pk].seconds_left == 60 * 60
    counts = console.console_counts(list(rows.values()))
    assert counts == {"all": 3, "checked_in": 3, "started": 2, "paused": 0, "disconnected": 1, "submitted": 0}


def test_the_console_page_and_its_forms_for_the_rooms_invigilator(room) -> None:
    sitting, (first, second, _third), invigilator = room
    paper_start(first)
    client = Client()
    client.force_login(invigilator)
    page = client.get(f"/en/exams/sittings/{sitting.pk}/console/").content.decode()
    assert "Invigilator's console" in page and "Cand1 Li" in page and "Working" in page
    assert f"/ws/exams/sittings/{sitting.pk}/console/" in page

    action = f"/en/exams/sittings/{sitting.pk}/console/action/"
    done = client.post(
        action, {"target": first.pk, "action": "pause", "next": "/en/", **EXPLAINED}, follow=True
    ).content.decode()
    assert "Paused seat 1. 1 paper changed." in done
    assert _paper(first).paused_at is not None

    refused = client.post(
        action,
        {"target": "room", "action": "extra_time", "cause": "technical", "explanation": "", "next": "/en/x/"},
    )
    assert refused.status_code == 303 and InvigilationAction.objects.count() == 1

    forged = client.post(action, {"target": 999999, "action": "pause", **EXPLAINED})
    assert forged.status_code == 404 and InvigilationAction.objects.count() == 1

    client.post(
        f"/en/exams/sittings/{sitting.pk}/console/incident/",
        {"target": second.pk, "category": "misconduct", "note": "=Notes under the desk."},
    )
    outsider = Client()
    outsider.force_login(factories.invigilator())
    assert outsider.get(f"/en/exams/sittings/{sitting.pk}/console/").status_code == 403
    assert outsider.post(action, {"target": first.pk, "action": "resume", **EXPLAINED}).status_code == 403
    assert _paper(first).paused_at is not None


def test_the_record_for_the_exam_board_lists_candidates_times_actions_and_incidents(room) -> None:
    sitting, (first, second, _third), invigilator = room
    paper_start(first)
    invigilation.papers_extra_time(
        sitting=sitting, candidate=None, seconds=600, by=invigilator, cause="emergency", explanation="Fire alarm."
    )
    invigilation.incident_record(
        sitting=sitting, candidate=second, category="misconduct", note="=Notes under the desk.", by=invigilator
    )
    client = Client()
    client.force_login(invigilator)
    response = client.get(f"/en/exams/sittings/{sitting.pk}/console/record.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    candidates = {line[0]: line for line in lines if line and line[0] in {"1", "2", "3"}}
    assert candidates["1"][2] == "Cand1 Li" and candidates["1"][4] != "" and candidates["1"][7] == "10.0"
    assert candidates["2"][4] == "" and candidates["2"][10] == "1"
    log = [line for line in lines if len(line) == 9 and line[1] in {"Action", "Incident"}]
    assert [(line[1], line[2], line[5], line[7]) for line in log] == [
        ("Action", "Extra time", "Whole room", "Fire alarm."),
        ("Incident", "Suspected misconduct", "2", "'=Notes under the desk."),
    ]
    assert log[0][3] == "Emergency (evacuation, alarm)" and log[0][4] == "10.0"
    assert log[0][8] == invigilator.email
    stranger = Client()
    stranger.force_login(first.user)
    assert stranger.get(f"/en/exams/sittings/{sitting.pk}/console/record.csv").status_code == 403


def test_a_persons_export_holds_incidents_about_them_and_erasing_them_scrubs_their_name(room) -> None:
    from lms.accounts.personal_data import personal_data_parts
    from lms.accounts.services import user_erase

    sitting, (first, second, _third), invigilator = room
    paper_start(first)
    invigilation.incident_record(
        sitting=sitting, candidate=first, category="identity", note="Cand1 Li's photo is old.", by=invigilator
    )
    invigilation.papers_pause(
        sitting=sitting, candidate=first, cause="health", explanation="Cand1 Li felt faint.", by=invigilator
    )
    invigilation.incident_record(sitting=sitting, candidate=second, category="other", note="Late.", by=invigilator)
    [part] = [part for part in personal_data_parts() if part.name == "exam_invigilation"]
    exported = part.export(first.user)
    assert [i["note"] for i in exported["incidents_about_them"]] == ["Cand1 Li's photo is old."]
    assert [a["explanation"] for a in exported["actions_about_them"]] == ["Cand1 Li felt faint."]
    assert len(part.export(invigilator)["incidents_recorded"]) == 2

    user_erase(user=first.user, by=factories.administrator(), reason="Asked to be forgotten.")
    notes = sorted(Incident.objects.values_list("note", flat=True))
    assert all("Cand1" not in note for note in notes) and "Late." in notes
    assert "Cand1" not in InvigilationAction.objects.get().explanation
    assert Incident.objects.filter(candidate=first).count() == 1, "the exam board's record stays"


@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="concurrent writers need PostgreSQL (SQLite serialises the whole database)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_invigilators_at_once_neither_lose_extra_time_nor_pause_twice() -> None:
    sitting, (first, second, _third), invigilator = sitting_in_progress(candidates=3)
    colleague = factories.invigilator()
    sitting.room.invigilators.add(colleague)
    paper_start(first)
    paper_start(second)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def act(work: Callable[[], object]) -> None:
        try:
            barrier.wait()
            work()
            outcomes.append("done")
        except CorridorError as refused:
            outcomes.append(refused.code)
        finally:
            connections.close_all()

    works: list[Callable[[], object]] = [
        lambda: invigilation.papers_pause(sitting=sitting, candidate=first, by=invigilator, **EXPLAINED),
        lambda: invigilation.papers_pause(sitting=sitting, candidate=first, by=colleague, **EXPLAINED),
        lambda: invigilation.papers_extra_time(
            sitting=sitting, candidate=None, seconds=300, by=invigilator, **EXPLAINED
        ),
        lambda: invigilation.papers_extra_time(sitting=sitting, candidate=None, seconds=300, by=colleague, **EXPLAINED),
    ]
    threads = [threading.Thread(target=act, args=(work,)) for work in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_paused", "done", "done", "done"]
    assert sorted(Paper.objects.filter(candidate__sitting=sitting).values_list("extra_seconds", flat=True)) == [600] * 3
    assert InvigilationAction.objects.filter(sitting=sitting).count() == 3


def test_the_record_as_pdf_holds_the_same_as_the_csv_chinese_names_included(room) -> None:
    from tests.support.pdf import pdf_text

    sitting, (first, *_), invigilator = room
    first.user.name_zh = "李一"
    first.user.save()
    paper_start(first)
    invigilation.papers_pause(sitting=sitting, candidate=first, by=invigilator, **EXPLAINED)
    for n in range(60):  # enough to need a second page
        invigilation.incident_record(
            sitting=sitting, candidate=None, category="disturbance", note=f"Noise number {n}.", by=invigilator
        )
    client = Client()
    client.force_login(invigilator)
    response = client.get(f"/en/exams/sittings/{sitting.pk}/console/record.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Sitting record for the exam board" in text and "Cand1 Li · 李一" in text
    assert "Felt faint; the nurse is with them." in text and "Noise number 59." in text
    assert "Page 1 of 2" in text and "Page 2 of 2" in text
    other = Client()
    other.force_login(factories.invigilator())
    assert other.get(f"/en/exams/sittings/{sitting.pk}/console/record.pdf").status_code == 403
