"""The invigilator's console in the demo: a sitting of the workplace safety certificate that started a quarter of an
hour ago in Chongqing Exam Hall 2, run by the demo invigilator, with six candidates in every state the console shows:
working (answers saved a minute ago), paused (with its audited cause), disconnected, submitted, checked in but not
started, and not checked in; an incident about one candidate and one about the room.

The candidates sign in with the demo password. Their starts and saves are written here as the candidate's exam page
writes them (its services are built on another branch); the pause and the incidents go through the console's own
services. Idempotent: a sitting of the room that has not ended is left as it is."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from exams import invigilation, selectors, services
from exams.models import Candidate, Exam, ExamRoom, Paper, PaperRule, Question, QuestionKind, Sitting, SubmittedHow
from lms.accounts.models import Region, User
from lms.accounts.roles import Role
from lms.demo import DEMO_PASSWORD

EXAM_CODE = "SAFE-CERT"
ROOM_NAME = "Chongqing Exam Hall 2"
INVIGILATOR = "invigilator.cq@corridor.example"
# (email, first name, last name, Chinese name)
CANDIDATES = [
    ("candidate1@corridor.example", "Lei", "Zhang", "张磊"),
    ("candidate2@corridor.example", "Fang", "Liu", "刘芳"),
    ("candidate3@corridor.example", "Jie", "Chen", "陈杰"),
    ("candidate4@corridor.example", "Yan", "Yang", "杨燕"),
    ("candidate5@corridor.example", "Tao", "Huang", "黄涛"),
    ("candidate6@corridor.example", "Min", "Zhou", "周敏"),
]
_QUESTIONS = [
    (
        "Where is the nearest fire exit shown?",
        "最近的消防出口标示在哪里？",
        ["On the evacuation plan", "On the door", "Nowhere"],
    ),
    (
        "What do you do when the alarm sounds?",
        "警报响起时应做什么？",
        ["Leave by the nearest exit", "Finish the task", "Hide"],
    ),
    (
        "Who may reset a tripped breaker?",
        "谁可以复位跳闸的断路器？",
        ["A qualified electrician", "Anyone", "A visitor"],
    ),
    ("What does a yellow triangle sign warn of?", "黄色三角标志警示什么？", ["A hazard", "A fire exit", "First aid"]),
]


def _ensure_exam() -> Exam:
    exam, created = Exam.objects.get_or_create(
        code=EXAM_CODE,
        defaults={
            "title": "Workplace safety certificate",
            "title_zh": "工作场所安全证书",
            "duration_minutes": 120,
            "pass_mark": 75,
        },
    )
    if created:
        for text, text_zh, choices in _QUESTIONS:
            Question.objects.create(
                exam=exam,
                kind=QuestionKind.SINGLE_CHOICE,
                topic="safety",
                text=text,
                text_zh=text_zh,
                choices=[{"id": "abc"[i], "text": choice} for i, choice in enumerate(choices)],
                correct_choices=["a"],
            )
        PaperRule.objects.create(exam=exam, kind=QuestionKind.SINGLE_CHOICE, topic="safety", count=3)
    return exam


def _candidate_user(email: str, first: str, last: str, name_zh: str) -> User:
    from django.contrib.auth.models import Group

    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email,
            DEMO_PASSWORD,
            first_name=first,
            last_name=last,
            name_zh=name_zh,
            home_region=Region.CHONGQING,
            preferred_language="zh-hans",
        )
    user.groups.add(Group.objects.get(name=Role.TRAINEE.value))
    return user


@transaction.atomic
def load_console_demo() -> None:
    invigilator = User.objects.filter(email=INVIGILATOR).first()
    if invigilator is None:
        return
    exam = _ensure_exam()
    room, _ = ExamRoom.objects.get_or_create(name=ROOM_NAME, defaults={"city": Region.CHONGQING, "seats": 30})
    room.invigilators.add(invigilator)
    now = timezone.now()
    if Sitting.objects.filter(room=room, ends_at__gt=now).exists():
        return
    starts_at = (now - timedelta(minutes=15)).replace(microsecond=0)
    sitting = services.sitting_schedule(
        exam=exam, room=room, starts_at=starts_at, seats=20, registration_closes_at=starts_at - timedelta(days=1)
    )
    # Registration closed yesterday: these candidates registered before (seats in order).
    candidates = [
        Candidate.objects.create(sitting=sitting, user=_candidate_user(*person), seat_number=seat)
        for seat, person in enumerate(CANDIDATES, 1)
    ]
    services.paper_prepare(sitting=sitting, now=starts_at - timedelta(hours=1))
    for candidate in candidates[:5]:
        token = selectors.slip_token(candidate=candidate)
        services.candidate_check_in(sitting=sitting, token=token, by=invigilator, now=starts_at - timedelta(minutes=10))
    started = starts_at + timedelta(minutes=1)
    papers = {c.seat_number: Paper.objects.get(candidate=c) for c in candidates}
    for seat in (1, 2, 3, 4):
        paper = papers[seat]
        paper.started_at, paper.online, paper.open_pages, paper.last_seen_at = started, True, 1, now
        paper.last_saved_at, paper.last_seq = now - timedelta(minutes=1), 12
        paper.save()
    papers[3].online, papers[3].open_pages = False, 0
    papers[3].last_seen_at, papers[3].last_saved_at = now - timedelta(minutes=3), None
    papers[3].save()
    papers[4].submitted_at, papers[4].submitted_how = now - timedelta(minutes=2), SubmittedHow.CANDIDATE
    papers[4].online, papers[4].open_pages = False, 0
    papers[4].save()
    invigilation.incident_record(
        sitting=sitting,
        candidate=candidates[1],
        category="health",
        note="Felt unwell; the first-aider is with her at her seat.",
        by=invigilator,
        now=now - timedelta(minutes=5),
    )
    invigilation.papers_pause(
        sitting=sitting,
        candidate=candidates[1],
        cause="health",
        explanation="Paused while the first-aider checks on her.",
        by=invigilator,
        now=now - timedelta(minutes=4),
    )
    invigilation.incident_record(
        sitting=sitting,
        candidate=None,
        category="disturbance",
        note="Drilling in the next room for two minutes.",
        by=invigilator,
        now=now - timedelta(minutes=8),
    )
