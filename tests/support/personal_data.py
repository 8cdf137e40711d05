"""A person who has left a trace in every app (tests of export and erasure, and the browser test): enrolled with
progress and a quiz attempt, in a live class (attendance, a check-in, a question naming them, a vote, a poll vote,
a raised hand, all broadcast as live events), in the audit log, publishing as an invited speaker with a stored
recording, with a certificate (PDF and signed credential), failed sign-ins and an authenticator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt
from django.apps import apps
from django.db import models
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from wagtail.log_actions import log as log_action

from certificates import services as certificates
from certificates.models import Certificate
from classrooms.models import AttendanceCheckin
from classrooms.services import attendance, hands, polls, qa
from classrooms.services.audit import audit_record
from lms.accounts.models import User
from lms.files import checksummed_writer
from streaming import services as streaming
from streaming.models import PublicationKind, Recording, RecordingState
from tests.classrooms.factories import LiveSessionFactory, RoomFactory
from tests.support.certificates import course_with_rule

FIRST, LAST, NAME_ZH = "Meilin", "Quenneville", "陈美玲"
EMAIL = "meilin.quenneville@example.test"
RECORDING_BYTES = b"\x1a\x45\xdf\xa3 a recording of Meilin"


@dataclass
class Trace:
    user: User
    other: User  # a classmate, whose own records must survive the erasure unchanged
    certificate: Certificate
    recording: Recording
    session: Any
    question: Any
    admin: User

    @property
    def words(self) -> tuple[str, ...]:
        """What identifies the person: their email and each of their names."""
        return (EMAIL, f"{FIRST} {LAST}", FIRST, LAST, NAME_ZH)


def person_with_everything(*, email: str = EMAIL, sign_in_records: bool = True) -> Trace:
    """`sign_in_records`: failed sign-ins and an authenticator too (a browser test that signs them in goes without,
    or the sign-in would ask for a code)."""
    setup = course_with_rule(final_pass_mark=None)
    user = setup.qualifying_trainee(first_name=FIRST, last_name=LAST, name_zh=NAME_ZH, email=email)
    other = setup.qualifying_trainee(first_name="Arjun", last_name="Raghunathan")
    certificate = certificates.certificate_issue(user=user, course=setup.course, by=setup.admin)

    room = RoomFactory.create(name="Harbour Room")
    session = LiveSessionFactory.create(course=setup.course, instructor=setup.session.instructor, rooms=[room])
    attendance.remote_presence_start(session=session, user=user)
    attendance.remote_presence_start(session=session, user=other)
    AttendanceCheckin.objects.create(session=session, room=room, user=user, window=1, checked_in_at=timezone.now())
    question = qa.question_ask(session=session, user=user, text=f"{FIRST} here: is the exam open book?")
    qa.question_ask(session=session, user=other, text=f"Same question as {FIRST} {LAST}, and when is it?")
    qa.question_vote(session=session, user=user, question_id=question.pk, up=True)
    poll = polls.poll_open(session=session, user=setup.session.instructor, prompt="Ready?", choices=["Yes", "No"])
    polls.poll_vote(session=session, user=user, poll_id=poll.pk, choice_id=poll.choices.get(position=0).pk)
    hands.hand_raise(session=session, user=user)
    audit_record(actor=user, action="question.ask", target=f"question {question.pk} by {email}")

    streaming.publication_start(
        session_id=session.pk,
        peer_id=f"{user.pk}-4f2a9c1e",  # as the media socket names it
        kind=PublicationKind.SPEAKER,
        label=f"{FIRST} {LAST}",
        user_id=user.pk,
    )
    now = timezone.now()
    recording = Recording.objects.create(
        session=session, publisher=f"{FIRST} {LAST}", started_at=now - timedelta(minutes=3), ended_at=now
    )
    recording.storage_key = streaming.recording_storage_key(recording=recording)
    checksummed_writer().write(key=recording.storage_key, content=RECORDING_BYTES, content_type="video/webm")
    recording.state, recording.size = RecordingState.STORED, len(RECORDING_BYTES)
    recording.save()

    log_action(instance=user, action="wagtail.edit", user=setup.admin)  # an administrator edited the account
    if not sign_in_records:
        return Trace(user, other, certificate, recording, session, question, setup.admin)
    AccessAttempt.objects.create(
        username=email,
        ip_address="203.0.113.7",
        user_agent="Firefox",
        http_accept="*/*",
        path_info="/accounts/login/",
        get_data="",
        post_data=f"username={email}",
        failures_since_start=2,
        attempt_time=now,
    )
    TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    return Trace(
        user=user,
        other=other,
        certificate=certificate,
        recording=recording,
        session=session,
        question=question,
        admin=setup.admin,
    )


TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def mentions_anywhere(words: tuple[str, ...], *, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Every (model.field, row) of every model whose text or JSON holds one of `words` (case-insensitive), but the
    fields named in `ignore` ("app_label.Model.field")."""
    lowered = [word.lower() for word in words]
    found = []
    for model in apps.get_models():
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(field, TEXT_FIELDS) and f"{model._meta.label}.{field.name}" not in ignore
        ]
        if not fields or model._meta.proxy:
            continue
        names = [field.attname for field in fields]
        for row in model._base_manager.values_list("pk", *names).iterator():
            for name, value in zip(names, row[1:], strict=True):
                if value is None:
                    continue
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                if any(word in text.lower() for word in lowered):
                    found.append(f"{model._meta.label}.{name} #{row[0]}: {text[:120]}")
    return found
