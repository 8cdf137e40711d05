"""The exam centre in the demo: the diploma's entry exam (prepared for by PREP-101) with its question bank and paper
rule, a Chongqing exam room with its invigilator, a sitting today with two registered candidates, and one in ten
days open for registration; and a practice exam with a sitting open now, its demo candidate checked in, to take.

Idempotent, like the rest of `load_demo`: everything is looked up by a natural key before it is created."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from courses.models import CoursePage
from exams import selectors, services
from exams.models import Candidate, Exam, ExamRoom, PaperRule, Question, QuestionKind, Sitting
from lms.accounts.models import Region, User
from lms.timezones import city_time_zone

EXAM_CODE = "DIP-ENTRY"
ROOM_NAME = "Chongqing Exam Hall 1"
INVIGILATOR = "invigilator.cq@corridor.example"
CANDIDATES = ("trainee.cq@corridor.example", "trainee.sg@corridor.example")

# (topic, English, Chinese, [(choice, choice in Chinese)], index of the right one)
_CHOICE_QUESTIONS = [
    (
        "safety",
        "What do you do first when a cable sparks?",
        "电缆冒火花时首先应做什么？",
        [("Switch off the power", "切断电源"), ("Pour water on it", "用水浇"), ("Unplug it by hand", "用手拔掉")],
        0,
    ),
    (
        "safety",
        "Where is the assembly point shown?",
        "集合点标示在哪里？",
        [("On the evacuation plan", "疏散图上"), ("On the whiteboard", "白板上"), ("Nowhere", "没有标示")],
        0,
    ),
    (
        "safety",
        "Who may open the equipment rack?",
        "谁可以打开设备机柜？",
        [("The room's operator", "教室运维人员"), ("Any trainee", "任何学员"), ("Visitors", "访客")],
        0,
    ),
    (
        "safety",
        "How often are extinguishers checked?",
        "灭火器多久检查一次？",
        [("Monthly", "每月"), ("Every five years", "每五年"), ("Never", "从不")],
        0,
    ),
    (
        "networks",
        "Which address is private?",
        "哪个地址是私有地址？",
        [("192.168.1.10", "192.168.1.10"), ("8.8.8.8", "8.8.8.8"), ("1.1.1.1", "1.1.1.1")],
        0,
    ),
    (
        "networks",
        "What does a switch forward by?",
        "交换机根据什么转发？",
        [("MAC address", "MAC 地址"), ("Room number", "房间号"), ("Cable colour", "线缆颜色")],
        0,
    ),
    (
        "networks",
        "Which port does HTTPS use by default?",
        "HTTPS 默认使用哪个端口？",
        [("443", "443"), ("80", "80"), ("21", "21")],
        0,
    ),
]
_WRITTEN_QUESTIONS = [
    (QuestionKind.SHORT_ANSWER, "Name two causes of packet loss.", "列举两个丢包的原因。"),
    (QuestionKind.SHORT_ANSWER, "What is a residual-current device for?", "漏电保护器的作用是什么？"),
    (QuestionKind.ESSAY, "Plan a safe hybrid class for 30 trainees.", "为 30 名学员规划一堂安全的混合式课程。"),
    (QuestionKind.ESSAY, "Compare two ways to link the two rooms.", "比较连接两间教室的两种方式。"),
]
_PAPER_RULE = [(QuestionKind.SINGLE_CHOICE, "safety", 3), (QuestionKind.SINGLE_CHOICE, "networks", 2),
               (QuestionKind.SHORT_ANSWER, "", 1), (QuestionKind.ESSAY, "", 1)]  # fmt: skip


def _ensure_exam() -> Exam:
    exam, created = Exam.objects.get_or_create(
        code=EXAM_CODE,
        defaults={
            "title": "Diploma international stream: entry exam",
            "title_zh": "文凭国际班入学考试",
            "instructions": "Answer every question. Calculators are not allowed. Your answers are saved as you go.",
            "instructions_zh": "请回答所有题目。不得使用计算器。作答会随时自动保存。",
            "duration_minutes": 90,
            "pass_mark": 60,
        },
    )
    exam.preparatory_courses.add(*CoursePage.objects.filter(code="PREP-101", locale__language_code="en"))
    if created:
        for topic, text, text_zh, choices, right in _CHOICE_QUESTIONS:
            ids = "abcdef"
            Question.objects.create(
                exam=exam,
                kind=QuestionKind.SINGLE_CHOICE,
                topic=topic,
                text=text,
                text_zh=text_zh,
                choices=[{"id": ids[i], "text": en, "text_zh": zh} for i, (en, zh) in enumerate(choices)],
                correct_choices=[ids[right]],
            )
        for kind, text, text_zh in _WRITTEN_QUESTIONS:
            Question.objects.create(exam=exam, kind=kind, text=text, text_zh=text_zh, marks=5)
        for kind, topic, count in _PAPER_RULE:
            PaperRule.objects.create(exam=exam, kind=kind, topic=topic, count=count)
    return exam


def _nine_in_chongqing(days_ahead: int) -> datetime:
    zone = city_time_zone(Region.CHONGQING)
    day = timezone.localtime(timezone.now(), zone).date() + timedelta(days=days_ahead)
    return datetime.combine(day, time(9, 0), tzinfo=zone)


@transaction.atomic
def load_exam_demo() -> None:
    """Two sittings of the exam in the Chongqing hall: one two hours after the demo is loaded, with two candidates
    for the invigilator to check in (check-in opens three hours ahead), and one in ten days, open for registration."""
    exam = _ensure_exam()
    room, _ = ExamRoom.objects.get_or_create(name=ROOM_NAME, defaults={"city": Region.CHONGQING, "seats": 40})
    room.invigilators.add(*User.objects.filter(email=INVIGILATOR))
    now = timezone.now()
    today = Sitting.objects.filter(
        exam=exam, room=room, ends_at__gt=now, starts_at__lte=now + timedelta(days=1)
    ).first()
    if today is None:
        starts_at = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
        starts_at -= timedelta(minutes=starts_at.minute % 15)
        today = services.sitting_schedule(
            exam=exam,
            room=room,
            starts_at=starts_at,
            seats=30,
            registration_closes_at=starts_at - timedelta(minutes=30),
        )
    if not Sitting.objects.filter(exam=exam, room=room, starts_at__gt=now + timedelta(days=1)).exists():
        starts_at = _nine_in_chongqing(10)
        services.sitting_schedule(
            exam=exam, room=room, starts_at=starts_at, seats=30, registration_closes_at=starts_at - timedelta(days=2)
        )
    if now < today.registration_closes_at:  # loaded again after registration closed: they registered the first time
        for email in CANDIDATES:
            user = User.objects.filter(email=email).first()
            if user is not None and not Candidate.objects.filter(sitting=today, user=user).exists():
                services.candidate_register(sitting=today, user=user)
    load_practice_sitting(now=now)


# A practice exam to take at once: a sitting open now, its demo candidate checked in and their paper prepared. -----

PRACTICE_CODE = "DIP-PRACTICE"
PRACTICE_ROOM = "Chongqing Practice Room"
PRACTICE_CANDIDATE = "trainee.cq@corridor.example"


def load_practice_sitting(*, now: datetime) -> Sitting | None:
    """A 45-minute practice exam (a few of the entry exam's questions) with a sitting open now, whenever the demo is
    loaded: Chongqing's demo trainee is registered, checked in by the hall's invigilator, and has a prepared paper,
    so a person signs in as them and takes the exam from "My exams"."""
    user = User.objects.filter(email=PRACTICE_CANDIDATE).first()
    invigilator = User.objects.filter(email=INVIGILATOR).first()
    if user is None or invigilator is None:
        return None
    exam, created = Exam.objects.get_or_create(
        code=PRACTICE_CODE,
        defaults={
            "title": "Diploma entry exam: practice paper",
            "title_zh": "文凭入学考试：模拟卷",
            "instructions": "A practice paper: the clock runs for 45 minutes. Try reloading, or going offline.",
            "instructions_zh": "模拟卷：时长 45 分钟。可以试试刷新页面或断网。",
            "duration_minutes": 45,
        },
    )
    if created:
        for topic, text, text_zh, choices, right in _CHOICE_QUESTIONS[:3]:
            ids = "abcdef"
            Question.objects.create(
                exam=exam,
                kind=QuestionKind.SINGLE_CHOICE,
                topic=topic,
                text=text,
                text_zh=text_zh,
                choices=[{"id": ids[i], "text": en, "text_zh": zh} for i, (en, zh) in enumerate(choices)],
                correct_choices=[ids[right]],
            )
        kind, text, text_zh = _WRITTEN_QUESTIONS[0]
        Question.objects.create(exam=exam, kind=kind, text=text, text_zh=text_zh, marks=5)
        PaperRule.objects.create(exam=exam, kind=QuestionKind.SINGLE_CHOICE, topic="safety", count=3)
        PaperRule.objects.create(exam=exam, kind=QuestionKind.SHORT_ANSWER, topic="", count=1)
    room, _ = ExamRoom.objects.get_or_create(name=PRACTICE_ROOM, defaults={"city": Region.CHONGQING, "seats": 30})
    room.invigilators.add(invigilator)
    sitting = Sitting.objects.filter(exam=exam, starts_at__lte=now, ends_at__gt=now + timedelta(minutes=10)).first()
    if sitting is not None:
        return sitting
    if Sitting.objects.filter(room=room, ends_at__gt=now).exists():
        return None  # the last practice sitting is ending; the next load schedules a new one
    starts_at = now.replace(microsecond=0)
    sitting = services.sitting_schedule(
        exam=exam, room=room, starts_at=starts_at, seats=30, registration_closes_at=starts_at
    )
    candidate = services.candidate_register(sitting=sitting, user=user, now=starts_at - timedelta(seconds=1))
    services.candidate_check_in(
        sitting=sitting, token=selectors.slip_token(candidate=candidate), by=invigilator, now=starts_at
    )
    services.paper_prepare(sitting=sitting, now=starts_at)
    return sitting


# Marking (exams.marking) --------------------------------------------------------------------------------------------

MARKER = "instructor@corridor.example"
# What each demo candidate wrote: (right choices out of the paper's choice questions, their written answer).
_DEMO_SCRIPTS = {
    "trainee.cq@corridor.example": (4, "Switch off first, then check the cabling and the switch's port counters."),
    "trainee.sg@corridor.example": (2, "Congestion on the uplink, and a faulty cable."),
}


def _submit_demo_paper(*, candidate: Candidate, right: int, written: str) -> None:
    """The candidate's exam as the exam page takes it (exams.attempts): started at the sitting's start, the choice
    questions answered (the first `right` rightly, the others wrongly) and the written ones, then submitted 80
    minutes in (which marks the choice questions at once)."""
    from exams import attempts

    started_at = candidate.sitting.starts_at
    paper = attempts.attempt_start(candidate_id=candidate.pk, by=candidate.user, now=started_at)
    questions = Question.objects.in_bulk([item["question"] for item in paper.items])
    answers = []
    choice_number = 0
    for seq, item in enumerate(paper.items, start=1):
        question = questions[item["question"]]
        if question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
            wrong = [choice for choice in item["choices"] if choice not in question.correct_choices]
            choices = tuple(question.correct_choices) if choice_number < right else tuple(wrong[:1])
            choice_number += 1
            answers.append(attempts.AnswerIn(question=question.pk, seq=seq, choices=choices))
        else:
            answers.append(attempts.AnswerIn(question=question.pk, seq=seq, text=written))
    attempts.answers_save(paper_id=paper.pk, by=candidate.user, answers=answers, now=started_at + timedelta(minutes=75))
    attempts.paper_submit(paper_id=paper.pk, by=candidate.user, now=started_at + timedelta(minutes=80))


@transaction.atomic
def load_marking_demo() -> None:
    """A sitting of the exam held two days ago in the Chongqing hall: both demo trainees submitted their papers, the
    choice questions are marked, and their short answers and essays wait for the demo instructor, the exam's marker
    (Marking, in the menu). Once they are marked, the administrator releases the results from the sitting's page and
    the trainees read them on "My exams"."""
    exam = _ensure_exam()
    exam.markers.add(*User.objects.filter(email=MARKER))
    room = ExamRoom.objects.get(name=ROOM_NAME)
    starts_at = _nine_in_chongqing(-2)
    if Sitting.objects.filter(exam=exam, room=room, starts_at__lt=timezone.now() - timedelta(days=1)).exists():
        return
    sitting = services.sitting_schedule(
        exam=exam, room=room, starts_at=starts_at, seats=30, registration_closes_at=starts_at - timedelta(days=1)
    )
    people = User.objects.filter(email__in=list(_DEMO_SCRIPTS)).order_by("email")
    for person in people:
        services.candidate_register(
            sitting=sitting, user=person, now=sitting.registration_closes_at - timedelta(hours=1)
        )
    services.paper_prepare(sitting=sitting, now=sitting.registration_closes_at)
    door = User.objects.filter(email=INVIGILATOR).first()
    for candidate in sitting.candidates.select_related("user"):
        right, written = _DEMO_SCRIPTS[candidate.user.email]
        if door is not None:
            services.candidate_check_in(
                sitting=sitting, token=selectors.slip_token(candidate=candidate), by=door, now=starts_at
            )
        else:
            candidate.checked_in_at = starts_at - timedelta(minutes=15)
            candidate.save(update_fields=["checked_in_at"])
        _submit_demo_paper(candidate=candidate, right=right, written=written)
