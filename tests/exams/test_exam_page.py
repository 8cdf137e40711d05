"""The candidate's exam page and its endpoints over HTTP, and its socket through the real ASGI stack: only the
candidate gets in; a save is answered with the time left; pushes reach the page at once; presence is kept."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from exams import attempts
from exams.live import papers_changed_on_commit
from exams.models import Answer, Paper, SubmittedHow
from lms.asgi import application
from lms.close_codes import CloseCode
from tests import factories
from tests.support.live import LiveClient, session_cookie


def _open_world() -> dict[str, Any]:
    """A sitting that started a minute ago (scheduled earlier, as an administrator would), candidate checked in."""
    world = factories.exam_taking_world(starts_in=timedelta(seconds=5))
    world["sitting"].__class__.objects.filter(pk=world["sitting"].pk).update(
        starts_at=timezone.now() - timedelta(minutes=1), ends_at=timezone.now() + timedelta(minutes=59)
    )
    world["sitting"].refresh_from_db()
    return world


def _post_json(client: Client, url: str, data: Any) -> Any:
    return client.post(url, json.dumps(data), content_type="application/json", HTTP_ACCEPT="application/json")


@pytest.mark.django_db
def test_the_candidate_starts_answers_and_submits_from_the_page(client: Client) -> None:
    world = _open_world()
    candidate, paper = world["candidate"], world["paper"]
    client.force_login(world["trainee"])
    page = f"/en/exams/candidates/{candidate.pk}/exam/"
    html = client.get(page).content.decode()
    assert "Start the exam" in html and "Instructions" in html
    # My exams links to it.
    assert page in client.get("/en/exams/mine/").content.decode()

    assert client.post(f"{page}start/").status_code == 302
    html = client.get(page).content.decode()
    assert 'id="exam-form"' in html and "Submit my paper" in html and html.count('class="panel exam-question"') == 3

    item = next(i for i in paper.items if i["choices"])
    saved = _post_json(
        client,
        f"/en/exams/papers/{paper.pk}/answers/",
        {"answers": [{"question": item["question"], "seq": 1, "choices": [item["choices"][0]]}]},
    )
    assert saved.status_code == 200
    body = saved.json()
    assert body["acknowledged"] == 1 and body["last_seq"] == 1 and 3590 < body["seconds_left"] <= 3600
    state = client.get(f"/en/exams/papers/{paper.pk}/state/").json()
    assert state["answers"][str(item["question"])]["choices"] == [item["choices"][0]]

    # Bad input: a malformed save, a question not on the paper: refused with a clear message, nothing stored.
    bad = _post_json(client, f"/en/exams/papers/{paper.pk}/answers/", {"answers": [{"question": "x", "seq": 2}]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_save"
    off = _post_json(
        client, f"/en/exams/papers/{paper.pk}/answers/", {"answers": [{"question": 10**6, "seq": 2, "text": "x"}]}
    )
    assert off.status_code == 400 and off.json()["error"]["message"] == "That question is not on your paper."
    assert Answer.objects.filter(paper=paper).count() == 1

    done = client.post(f"/en/exams/papers/{paper.pk}/submit/", follow=True).content.decode()
    assert "Your paper has been submitted" in done and "Submitted at" in done and 'id="exam-form"' not in done
    paper.refresh_from_db()
    assert paper.submitted_how == SubmittedHow.CANDIDATE


@pytest.mark.django_db
def test_another_person_cannot_see_start_or_answer_a_candidates_paper(client: Client) -> None:
    world = _open_world()
    candidate, paper = world["candidate"], world["paper"]
    client.force_login(factories.trainee())
    assert client.get(f"/en/exams/candidates/{candidate.pk}/exam/").status_code == 404
    assert client.post(f"/en/exams/candidates/{candidate.pk}/exam/start/").status_code == 404
    assert client.get(f"/en/exams/papers/{paper.pk}/state/").status_code == 404
    item = paper.items[0]
    answer = {"question": item["question"], "seq": 1, "choices": item["choices"][:1], "text": ""}
    assert _post_json(client, f"/en/exams/papers/{paper.pk}/answers/", {"answers": [answer]}).status_code == 404
    assert client.post(f"/en/exams/papers/{paper.pk}/submit/").status_code == 404
    paper.refresh_from_db()
    assert paper.started_at is None and paper.submitted_at is None and not paper.answers.exists()


@pytest.mark.django_db
def test_reading_the_state_after_time_up_submits_the_paper(client: Client) -> None:
    world = _open_world()
    paper = attempts.attempt_start(candidate_id=world["candidate"].pk, by=world["trainee"])
    Paper.objects.filter(pk=paper.pk).update(started_at=timezone.now() - timedelta(minutes=61))
    client.force_login(world["trainee"])
    state = client.get(f"/en/exams/papers/{paper.pk}/state/").json()
    assert state["submitted_how"] == "time_up" and state["seconds_left"] == 0
    html = client.get(f"/en/exams/candidates/{world['candidate'].pk}/exam/").content.decode()
    assert "Submitted at time-up" in html


async def _socket(user: Any, paper_id: int) -> tuple[bool, WebsocketCommunicator]:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/exams/papers/{paper_id}/", headers=headers)
    connected, _ = await communicator.connect()
    return connected, communicator


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_socket_lets_only_the_candidate_in_pushes_changes_and_keeps_presence() -> None:
    world = await sync_to_async(_open_world)()
    paper = world["paper"]

    stranger = await sync_to_async(factories.trainee)()
    for user, code in ((None, CloseCode.UNAUTHENTICATED), (stranger, CloseCode.NOT_FOUND)):
        accepted, outsider = await _socket(user, paper.pk)
        assert accepted  # accepted first, then told why and closed with a code the page understands
        refusal = json.loads(await outsider.receive_from(timeout=3))
        assert refusal["type"] == "error" and refusal["message"]
        closed = await outsider.receive_output(timeout=3)
        assert closed["type"] == "websocket.close" and closed["code"] == code

    connected, communicator = await _socket(world["trainee"], paper.pk)
    assert connected
    client = LiveClient(communicator)
    assert (await client.receive())["type"] == "welcome"
    await sync_to_async(paper.refresh_from_db)()
    assert paper.online and paper.last_seen_at is not None

    assert (await client.request({"type": "heartbeat"}))["type"] == "pong"
    unknown = await client.request({"type": "answer"})
    assert unknown["type"] == "error" and unknown["code"] == "unknown_type"

    # An invigilator pauses the paper (another part's service): the page hears it at once.
    def pause() -> None:
        from django.db import transaction

        with transaction.atomic():
            Paper.objects.filter(pk=paper.pk).update(paused_at=timezone.now())
            papers_changed_on_commit(sitting_id=world["sitting"].pk, paper_ids=[paper.pk], reason="paused")

    await sync_to_async(pause)()
    assert await client.receive() == {"type": "changed", "reason": "paused"}

    # A second tab on the same paper, closed again: the first is still there, so the candidate is still online.
    connected, second_tab = await _socket(world["trainee"], paper.pk)
    assert connected and json.loads(await second_tab.receive_from(timeout=3))["type"] == "welcome"
    await second_tab.disconnect()
    await sync_to_async(paper.refresh_from_db)()
    assert paper.online

    await client.close()
    await sync_to_async(paper.refresh_from_db)()
    assert not paper.online
