"""Taking an exam (issue 16, items 5 and 14): the server's clock, saves that are idempotent and in order, refusals
that change nothing, and a submission at time-up that happens exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections

from exams import attempt_selectors, attempts, selectors, services
from exams.attempts import AnswerIn
from exams.models import Answer, Paper, PaperRule, SubmittedHow
from exams.signals import paper_submitted
from lms.errors import CorridorError
from tests import factories

pytestmark = pytest.mark.django_db


def _world() -> dict[str, Any]:
    """An exam of two single-choice questions and a short answer; a sitting starting in 5 minutes with a candidate
    checked in and papers prepared."""
    return factories.exam_taking_world()


def _fingerprint(paper: Paper) -> tuple[Any, ...]:
    paper.refresh_from_db()
    answers = sorted(Answer.objects.filter(paper=paper).values_list("question_id", "choices", "text", "seq"))
    return (paper.started_at, paper.submitted_at, paper.submitted_how, paper.last_seq, paper.last_saved_at, answers)


@pytest.fixture
def world() -> dict[str, Any]:
    return _world()


@pytest.fixture
def submissions() -> Iterator[list[Paper]]:
    seen: list[Paper] = []

    def receiver(sender: Any, paper: Paper, **kwargs: Any) -> None:
        seen.append(paper)

    paper_submitted.connect(receiver, weak=False)
    yield seen
    paper_submitted.disconnect(receiver)


def _started(world: dict[str, Any], *, after: timedelta = timedelta(seconds=1)) -> Paper:
    return attempts.attempt_start(
        candidate_id=world["candidate"].pk, by=world["trainee"], now=world["sitting"].starts_at + after
    )


def _t0(paper: Paper) -> datetime:
    """When the paper was started."""
    assert paper.started_at is not None
    return paper.started_at


def _choice_item(paper: Paper) -> dict[str, Any]:
    return next(item for item in paper.items if item["choices"])


def _choice(paper: Paper) -> tuple[int, str]:
    """A single-choice question of the paper and its first choice."""
    item = _choice_item(paper)
    return int(item["question"]), str(item["choices"][0])


def test_the_start_uses_the_prepared_paper_and_the_clock_runs_from_it(world) -> None:
    prepared = world["paper"]
    sitting = world["sitting"]
    paper = _started(world, after=timedelta(minutes=2))
    assert paper.pk == prepared.pk and paper.items == prepared.items
    assert paper.started_at == sitting.starts_at + timedelta(minutes=2)
    state = attempt_selectors.paper_state(paper=paper, now=_t0(paper) + timedelta(minutes=10))
    assert state["seconds_left"] == 50 * 60 and state["started"] and not state["submitted_at"]
    # Starting again (a reload, another machine) resumes: the clock does not restart.
    again = _started(world, after=timedelta(minutes=20))
    assert again.started_at == paper.started_at


def test_a_paper_not_prepared_is_built_at_the_start(world) -> None:
    late = factories.trainee()
    candidate = services.candidate_register(sitting=world["sitting"], user=late)
    services.candidate_check_in(
        sitting=world["sitting"], token=selectors.slip_token(candidate=candidate), by=world["invigilator"]
    )
    assert not Paper.objects.filter(candidate=candidate).exists()
    paper = attempts.attempt_start(candidate_id=candidate.pk, by=late, now=world["sitting"].starts_at)
    assert len(paper.items) == 3 and paper.started_at is not None


def test_the_start_is_refused_before_check_in_outside_the_window_and_for_another_person(world) -> None:
    sitting, trainee = world["sitting"], world["trainee"]
    unchecked = services.candidate_register(sitting=sitting, user=factories.trainee())
    cases = [
        (unchecked.pk, unchecked.user, sitting.starts_at, "not_checked_in"),
        (world["candidate"].pk, trainee, sitting.starts_at - timedelta(seconds=1), "not_started"),
        (world["candidate"].pk, trainee, sitting.ends_at, "sitting_over"),
        (world["candidate"].pk, factories.trainee(), sitting.starts_at, "not_found"),
    ]
    before = _fingerprint(world["paper"])
    for candidate_id, by, now, code in cases:
        with pytest.raises(CorridorError) as refused:
            attempts.attempt_start(candidate_id=candidate_id, by=by, now=now)
        assert refused.value.code == code
        assert str(refused.value.message)
    assert _fingerprint(world["paper"]) == before
    assert not Paper.objects.filter(candidate=unchecked).exists()


def test_saves_are_idempotent_and_a_late_save_changes_nothing(world) -> None:
    paper = _started(world)
    question, choice = _choice(paper)
    other_choice = _choice_item(paper)["choices"][1]
    now = _t0(paper) + timedelta(minutes=1)
    first = attempts.answers_save(
        paper_id=paper.pk, by=world["trainee"], answers=[AnswerIn(question=question, seq=1, choices=(choice,))], now=now
    )
    assert (first.applied, first.acknowledged, first.last_seq) == (1, 1, 1)
    second = attempts.answers_save(
        paper_id=paper.pk,
        by=world["trainee"],
        answers=[AnswerIn(question=question, seq=3, choices=(other_choice,))],
        now=now + timedelta(seconds=5),
    )
    assert second.applied == 1
    before = _fingerprint(paper)
    # The first save's retry and an older save overtaken by a newer one: acknowledged, nothing changed.
    for seq, chosen in ((1, choice), (2, choice), (3, other_choice)):
        late = attempts.answers_save(
            paper_id=paper.pk,
            by=world["trainee"],
            answers=[AnswerIn(question=question, seq=seq, choices=(chosen,))],
            now=now + timedelta(seconds=9),
        )
        assert (late.applied, late.acknowledged, late.last_seq) == (0, 1, 3)
    assert _fingerprint(paper) == before
    assert Answer.objects.get(paper=paper, question_id=question).choices == [other_choice]


def test_a_queue_sent_at_once_keeps_the_last_answer_of_each_question(world) -> None:
    paper = _started(world)
    short = next(int(i["question"]) for i in paper.items if not i["choices"])
    queue = [AnswerIn(question=short, seq=seq, text=text) for seq, text in ((4, "Ohm"), (5, "Ohm's"), (6, "Ohm's law"))]
    result = attempts.answers_save(
        paper_id=paper.pk, by=world["trainee"], answers=queue, now=_t0(paper) + timedelta(seconds=30)
    )
    assert (result.applied, result.acknowledged, result.last_seq) == (1, 3, 6)
    paper.refresh_from_db()
    state = attempt_selectors.paper_state(paper=paper, now=_t0(paper) + timedelta(seconds=31))
    assert state["answers"][str(short)] == {"choices": [], "text": "Ohm's law", "seq": 6}
    assert state["last_seq"] == 6 and state["last_saved_at"]


def test_bad_answers_are_refused_and_nothing_changes(world) -> None:
    paper = _started(world)
    question, choice = _choice(paper)
    off_paper = factories.QuestionFactory.create(exam=world["sitting"].exam)
    now = _t0(paper) + timedelta(minutes=1)
    attempts.answers_save(
        paper_id=paper.pk, by=world["trainee"], answers=[AnswerIn(question=question, seq=1, choices=(choice,))], now=now
    )
    before = _fingerprint(paper)
    cases = [
        ([AnswerIn(question=off_paper.pk, seq=2, choices=("a",))], world["trainee"], "not_on_paper"),
        # One good answer with one bad: the whole save is refused.
        (
            [AnswerIn(question=question, seq=2, choices=(choice,)), AnswerIn(question=off_paper.pk, seq=3)],
            world["trainee"],
            "not_on_paper",
        ),
        ([AnswerIn(question=question, seq=2, choices=("zz",))], world["trainee"], "invalid_choice"),
        (
            [AnswerIn(question=question, seq=2, choices=tuple(_choice_item(paper)["choices"][:2]))],
            world["trainee"],
            "invalid_choice",
        ),
        ([AnswerIn(question=question, seq=2, choices=(choice,))], factories.trainee(), "not_found"),
    ]
    for answers, by, code in cases:
        with pytest.raises(CorridorError) as refused:
            attempts.answers_save(paper_id=paper.pk, by=by, answers=answers, now=now + timedelta(seconds=5))
        assert refused.value.code == code and str(refused.value.message)
    assert _fingerprint(paper) == before


def test_answers_are_refused_while_paused_and_after_submission(world) -> None:
    paper = _started(world)
    question, choice = _choice(paper)
    now = _t0(paper) + timedelta(minutes=1)
    Paper.objects.filter(pk=paper.pk).update(paused_at=now)  # an invigilator's pause (another helper's service)
    before = _fingerprint(paper)
    with pytest.raises(CorridorError) as refused:
        attempts.answers_save(
            paper_id=paper.pk,
            by=world["trainee"],
            answers=[AnswerIn(question=question, seq=1, choices=(choice,))],
            now=now,
        )
    assert refused.value.code == "paused"
    assert _fingerprint(paper) == before
    Paper.objects.filter(pk=paper.pk).update(paused_at=None, paused_seconds=30)
    attempts.paper_submit(paper_id=paper.pk, by=world["trainee"], now=now + timedelta(minutes=1))
    before = _fingerprint(paper)
    assert before[2] == SubmittedHow.CANDIDATE
    with pytest.raises(CorridorError) as refused:
        attempts.answers_save(
            paper_id=paper.pk,
            by=world["trainee"],
            answers=[AnswerIn(question=question, seq=2, choices=(choice,))],
            now=now + timedelta(minutes=2),
        )
    assert refused.value.code == "submitted"
    with pytest.raises(CorridorError) as refused:
        attempts.paper_submit(paper_id=paper.pk, by=world["trainee"], now=now + timedelta(minutes=3))
    assert refused.value.code == "already_submitted"
    assert _fingerprint(paper) == before


def test_an_answer_after_time_up_is_refused_and_the_paper_is_submitted_once(world, submissions) -> None:
    paper = _started(world)
    question, choice = _choice(paper)
    due = _t0(paper) + timedelta(minutes=60)
    attempts.answers_save(
        paper_id=paper.pk,
        by=world["trainee"],
        answers=[AnswerIn(question=question, seq=1, choices=(choice,))],
        now=due - timedelta(seconds=1),
    )
    with pytest.raises(CorridorError) as refused:
        attempts.answers_save(
            paper_id=paper.pk,
            by=world["trainee"],
            answers=[AnswerIn(question=question, seq=2, choices=(_choice_item(paper)["choices"][1],))],
            now=due + timedelta(seconds=1),
        )
    assert refused.value.code == "time_up" and "Time is up" in str(refused.value.message)
    paper.refresh_from_db()
    assert paper.submitted_how == SubmittedHow.TIME_UP and paper.submitted_at == due + timedelta(seconds=1)
    assert Answer.objects.get(paper=paper).seq == 1
    # The periodic task and the queued task find nothing left to do.
    assert attempts.papers_submit_time_up(now=due + timedelta(minutes=1)) == []
    assert not attempts.paper_submit_if_time_up(paper_id=paper.pk, now=due + timedelta(minutes=2))
    assert [p.pk for p in submissions] == [paper.pk]


def test_the_periodic_task_submits_only_papers_whose_time_is_up(world, submissions) -> None:
    paper = _started(world)
    due = _t0(paper) + timedelta(minutes=60)
    assert attempts.papers_submit_time_up(now=due - timedelta(seconds=1)) == []
    # Extra time moves time-up on; a pause stops the clock.
    Paper.objects.filter(pk=paper.pk).update(extra_seconds=120)
    assert attempts.papers_submit_time_up(now=due + timedelta(seconds=60)) == []
    Paper.objects.filter(pk=paper.pk).update(paused_at=due + timedelta(seconds=60))
    assert attempts.papers_submit_time_up(now=due + timedelta(minutes=30)) == []
    # Resumed after 29 minutes: 2 minutes of extra time and 29 paused put time-up 31 minutes later.
    Paper.objects.filter(pk=paper.pk).update(paused_at=None, paused_seconds=29 * 60)
    assert attempts.papers_submit_time_up(now=due + timedelta(minutes=30, seconds=59)) == []
    assert attempts.papers_submit_time_up(now=due + timedelta(minutes=31)) == [paper.pk]
    paper.refresh_from_db()
    assert paper.submitted_how == SubmittedHow.TIME_UP
    assert len(submissions) == 1


@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="concurrent writers need PostgreSQL (SQLite serialises the whole database)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_time_up_is_submitted_exactly_once_when_everyone_tries_at_once(submissions) -> None:
    world = _world()
    paper = _started(world)
    question, choice = _choice(paper)
    due = _t0(paper) + timedelta(minutes=60)
    after = due + timedelta(seconds=2)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def run(what: str) -> None:
        try:
            barrier.wait()
            if what == "task":
                outcomes.append(str(attempts.paper_submit_if_time_up(paper_id=paper.pk, now=after)))
            elif what == "beat":
                outcomes.append(str(attempts.papers_submit_time_up(now=after) == [paper.pk]))
            elif what == "submit":
                attempts.paper_submit(paper_id=paper.pk, by=world["trainee"], now=after)
                outcomes.append("True")
            else:
                attempts.answers_save(
                    paper_id=paper.pk,
                    by=world["trainee"],
                    answers=[AnswerIn(question=question, seq=1, choices=(choice,))],
                    now=after,
                )
                outcomes.append("saved")
        except CorridorError as refused:
            outcomes.append(refused.code)
        finally:
            connections.close_all()

    kinds = ["task", "task", "beat", "beat", "submit", "submit", "save", "save"]
    threads = [threading.Thread(target=run, args=(kind,)) for kind in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(submissions) == 1, outcomes
    assert "saved" not in outcomes and not Answer.objects.filter(paper=paper).exists()
    paper.refresh_from_db()
    assert paper.submitted_at == after and paper.submitted_how == SubmittedHow.TIME_UP
    # The one submission is the task's, the beat's or the Submit's ("True"), or a save's: a save that finds the time
    # up submits the paper and is itself refused ("time_up"), like every save after it.
    assert outcomes.count("True") + outcomes.count("time_up") >= 1, outcomes
    assert outcomes.count("True") <= 1, outcomes


def test_presence_is_recorded_for_the_console(world) -> None:
    paper = _started(world)
    now = _t0(paper) + timedelta(seconds=5)
    attempts.paper_presence(paper_id=paper.pk, event=attempts.PageEvent.OPENED, now=now)
    paper.refresh_from_db()
    assert paper.online and paper.last_seen_at == now
    attempts.paper_presence(paper_id=paper.pk, event=attempts.PageEvent.CLOSED, now=now + timedelta(seconds=9))
    paper.refresh_from_db()
    assert not paper.online and paper.last_seen_at == now + timedelta(seconds=9)


def test_closing_one_of_two_exam_pages_keeps_the_candidate_online(world) -> None:
    paper = _started(world)
    now = _t0(paper) + timedelta(seconds=5)
    for event in (attempts.PageEvent.OPENED, attempts.PageEvent.OPENED, attempts.PageEvent.CLOSED):
        attempts.paper_presence(paper_id=paper.pk, event=event, now=now)
    paper.refresh_from_db()
    assert paper.online and paper.open_pages == 1
    attempts.paper_presence(paper_id=paper.pk, event=attempts.PageEvent.CLOSED, now=now)
    paper.refresh_from_db()
    assert not paper.online and paper.open_pages == 0


def test_pages_lost_with_a_killed_server_do_not_keep_the_candidate_online(world) -> None:
    """Two pages whose server process died never said goodbye; long after, a new page opens and then closes."""
    paper = _started(world)
    now = _t0(paper) + timedelta(seconds=5)
    attempts.paper_presence(paper_id=paper.pk, event=attempts.PageEvent.OPENED, now=now)
    attempts.paper_presence(paper_id=paper.pk, event=attempts.PageEvent.OPENED, now=now)
    later = now + attempts.STALE_PRESENCE + timedelta(seconds=1)
    attempts.paper_presence(paper_id=paper.pk, event=attempts.PageEvent.OPENED, now=later)
    attempts.paper_presence(paper_id=paper.pk, event=attempts.PageEvent.CLOSED, now=later + timedelta(seconds=3))
    paper.refresh_from_db()
    assert not paper.online and paper.open_pages == 0


def test_a_paper_cannot_be_built_at_the_start_without_a_paper_rule(world) -> None:
    PaperRule.objects.all().delete()
    late = factories.trainee()
    candidate = services.candidate_register(sitting=world["sitting"], user=late)
    services.candidate_check_in(
        sitting=world["sitting"], token=selectors.slip_token(candidate=candidate), by=world["invigilator"]
    )
    with pytest.raises(CorridorError) as refused:
        attempts.attempt_start(candidate_id=candidate.pk, by=late, now=world["sitting"].starts_at)
    assert refused.value.code == "no_paper_rule"
    assert not Paper.objects.filter(candidate=candidate).exists()


def test_a_persons_data_export_holds_their_paper_and_every_answer(world) -> None:
    from lms.accounts.personal_data import personal_data_parts

    paper = _started(world)
    question, choice = _choice(paper)
    short = next(int(item["question"]) for item in paper.items if not item["choices"])
    attempts.answers_save(
        paper_id=paper.pk,
        by=world["trainee"],
        answers=[AnswerIn(question=question, seq=1, choices=(choice,)), AnswerIn(question=short, seq=2, text="Ohm")],
        now=_t0(paper) + timedelta(minutes=1),
    )
    [part] = [part for part in personal_data_parts() if part.name == "exams"]
    [record] = part.export(world["trainee"])["registrations"]
    assert record["paper"]["started_at"] == _t0(paper).isoformat() and record["paper"]["submitted_at"] is None
    assert sorted((a["choices"], a["text"]) for a in record["paper"]["answers"]) == [([], "Ohm"), ([choice], "")]
    assert "Name the law of V = IR." in {a["question"] for a in record["paper"]["answers"]}
    # Someone else's export holds none of it.
    assert part.export(factories.trainee())["registrations"] == []


def test_the_periodic_task_judges_each_exam_by_its_own_duration(world, submissions) -> None:
    short = factories.exam_taking_world()
    type(short["sitting"].exam).objects.filter(pk=short["sitting"].exam_id).update(duration_minutes=30)
    long_paper, short_paper = _started(world), _started(short)
    start = max(_t0(long_paper), _t0(short_paper))
    assert attempts.papers_submit_time_up(now=start + timedelta(minutes=29)) == []
    assert attempts.papers_submit_time_up(now=start + timedelta(minutes=45)) == [short_paper.pk]
    assert attempts.papers_submit_time_up(now=start + timedelta(minutes=61)) == [long_paper.pk]
    assert [p.pk for p in submissions] == [short_paper.pk, long_paper.pk]
