"""Reads for certificates: the rule in force, who qualifies and exactly why not, progress of an issuing run."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from certificates.models import (
    Certificate,
    CertificateRule,
    CertificateState,
    IssueBatch,
    ItemState,
)
from classrooms.selectors.attendance import course_live_minutes
from courses.models import CoursePage, Enrolment
from courses.selectors import course_achievement
from exams.marking import exam_passers
from exams.models import Exam, Paper
from internships.models import Placement
from internships.selectors import InternshipStanding, internship_standings
from lms.accounts.models import Cohort, User
from lms.accounts.personal_data import ExportFile
from lms.accounts.roles import Role, user_has_role


def may_issue(user: Any) -> bool:
    """Administrators issue and revoke; nobody else."""
    return user_has_role(user, Role.ADMINISTRATOR)


def rule_in_force(*, course_key: UUID) -> CertificateRule | None:
    return CertificateRule.objects.filter(course_key=course_key).order_by("-version").first()


@dataclass(frozen=True)
class CourseTitles:
    en: str
    zh: str


def course_titles(*, course_key: UUID) -> CourseTitles:
    """The course's title in English and Simplified Chinese (either may be missing: then the other).

    Kept for a minute per process: a bulk run asks once per certificate.
    """
    cached = _titles_cache.get(course_key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    titles = dict(CoursePage.objects.filter(translation_key=course_key).values_list("locale__language_code", "title"))
    english = titles.get("en") or next(iter(titles.values()), "")
    found = CourseTitles(en=english, zh=titles.get("zh-hans", ""))
    _titles_cache[course_key] = (time.monotonic() + TITLES_CACHE_SECONDS, found)
    return found


TITLES_CACHE_SECONDS = 60.0
_titles_cache: dict[UUID, tuple[float, CourseTitles]] = {}


@dataclass(frozen=True)
class Criterion:
    """One requirement of a rule, for one trainee: met or not, and by how much."""

    code: str
    label: str
    met: bool
    actual: str
    required: str
    shortfall: str = ""


@dataclass(frozen=True)
class EligibilityRow:
    user: User
    criteria: tuple[Criterion, ...]
    certificate: Certificate | None

    @property
    def qualifies(self) -> bool:
        return all(criterion.met for criterion in self.criteria)

    @property
    def reasons(self) -> list[str]:
        return [criterion.shortfall for criterion in self.criteria if not criterion.met]


@dataclass(frozen=True)
class EligibilityReport:
    rule: CertificateRule
    rows: tuple[EligibilityRow, ...]
    live_sessions: int
    live_minutes: int
    modules_total: int
    final_assessment_title: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def criteria_summary(self) -> list[dict[str, Any]]:
        """For each criterion, how many trainees meet it: the report's bar chart."""
        if not self.rows:
            return []
        summary = []
        for index, criterion in enumerate(self.rows[0].criteria):
            met = sum(1 for row in self.rows if row.criteria[index].met)
            summary.append(
                {
                    "label": criterion.label,
                    "met": met,
                    "total": len(self.rows),
                    "percent": round(100 * met / len(self.rows)),
                }
            )
        return summary


def _percent(value: float) -> str:
    return f"{value:g} %"


def _criteria(
    *,
    rule: CertificateRule,
    attended_percent: float,
    modules_completed: int,
    modules_total: int,
    final_percent: float | None,
    has_final: bool,
    internship: InternshipStanding | None = None,
    exam_paper: Paper | None = None,
) -> tuple[Criterion, ...]:
    criteria = []
    if rule.min_attendance_percent:
        met = attended_percent >= rule.min_attendance_percent
        criteria.append(
            Criterion(
                code="attendance",
                label=_("Live attendance"),
                met=met,
                actual=_percent(attended_percent),
                required=_percent(rule.min_attendance_percent),
                shortfall=""
                if met
                else _("Attended %(actual)s of live minutes; needs %(required)s (%(gap)s points short).")
                % {
                    "actual": _percent(attended_percent),
                    "required": _percent(rule.min_attendance_percent),
                    "gap": f"{round(rule.min_attendance_percent - attended_percent, 1):g}",
                },
            )
        )
    if rule.require_all_modules:
        met = modules_completed >= modules_total
        criteria.append(
            Criterion(
                code="modules",
                label=_("Modules completed"),
                met=met,
                actual=f"{modules_completed}/{modules_total}",
                required=f"{modules_total}/{modules_total}",
                shortfall=""
                if met
                else _("Completed %(done)s of %(total)s modules; %(missing)s to go.")
                % {"done": modules_completed, "total": modules_total, "missing": modules_total - modules_completed},
            )
        )
    if rule.final_pass_mark is not None:
        if not has_final:
            met, actual, shortfall = True, _("no final assessment"), ""
        elif final_percent is None:
            met, actual = False, _("not attempted")
            shortfall = _("Has not taken the final assessment (pass mark %(required)s).") % {
                "required": _percent(rule.final_pass_mark)
            }
        else:
            met, actual = final_percent >= rule.final_pass_mark, _percent(final_percent)
            shortfall = (
                ""
                if met
                else _(
                    "Scored %(actual)s on the final assessment; the pass mark is %(required)s (%(gap)s points short)."
                )
                % {
                    "actual": _percent(final_percent),
                    "required": _percent(rule.final_pass_mark),
                    "gap": f"{round(rule.final_pass_mark - final_percent, 1):g}",
                }
            )
        criteria.append(
            Criterion(
                code="final",
                label=_("Final assessment"),
                met=met,
                actual=actual,
                required=_percent(rule.final_pass_mark),
                shortfall=shortfall,
            )
        )
    if rule.require_internship:
        criteria.append(_internship_criterion(internship))
    if rule.require_exam is not None:
        criteria.append(_exam_criterion(rule.require_exam, exam_paper))
    return tuple(criteria)


def _exam_criterion(exam: Exam, paper: Paper | None) -> Criterion:
    label, required = _("Exam %(code)s passed") % {"code": exam.code}, _("passed")
    if paper is None:
        return Criterion(
            code="exam",
            label=label,
            met=False,
            actual=_("not passed"),
            required=required,
            shortfall=_("Has no released pass in the exam %(code)s.") % {"code": exam.code},
        )
    return Criterion(code="exam", label=label, met=True, actual=_percent(float(paper.percent or 0)), required=required)


def internship_named(placement: Placement) -> str:
    """The internship and its company, in the reader's language: "Automation engineering intern at ACME"."""
    return _("%(internship)s at %(company)s") % {
        "internship": placement.internship.title,
        "company": placement.internship.company.name,
    }


def _internship_criterion(standing: InternshipStanding | None) -> Criterion:
    label, required = _("Completed internship"), _("completed")
    if standing is None:
        return Criterion(
            code="internship",
            label=label,
            met=False,
            actual=_("no placement"),
            required=required,
            shortfall=_("Has no internship placement."),
        )
    completion, named = standing.completion, internship_named(standing.placement)
    if completion.completed:
        return Criterion(code="internship", label=label, met=True, actual=named, required=required)
    missing = []
    if completion.final_passed is None:
        missing.append(_("the supervisor's final evaluation is not written yet"))
    elif not completion.final_passed:
        missing.append(_("the final evaluation did not pass the internship"))
    if completion.weeks_awaiting_approval:
        missing.append(
            ngettext(
                "%(count)s logged week awaits the supervisor's approval",
                "%(count)s logged weeks await the supervisor's approval",
                completion.weeks_awaiting_approval,
            )
            % {"count": completion.weeks_awaiting_approval}
        )
    return Criterion(
        code="internship",
        label=label,
        met=False,
        actual=_("not completed"),
        required=required,
        shortfall=_("Has not completed the internship %(internship)s: %(missing)s.")
        % {"internship": named, "missing": "; ".join(missing)},
    )


def completed_internship(*, user: User) -> Placement | None:
    """The completed placement an internship certificate names (the latest to end), if the person has one."""
    standing = internship_standings(user_ids=[user.pk]).get(user.pk)
    return standing.placement if standing is not None and standing.completion.completed else None


def course_trainees(*, course_key: UUID, cohort: Cohort | None = None) -> QuerySet[User]:
    """Everyone enrolled in the course (any language), optionally only a cohort's members, by name."""
    users = User.objects.filter(pk__in=Enrolment.objects.filter(course_key=course_key).values("user_id"))
    if cohort is not None:
        users = users.filter(cohorts=cohort)
    return users.order_by("first_name", "last_name", "email")


def course_eligibility(
    *,
    course: CoursePage,
    rule: CertificateRule,
    users: Iterable[User] | None = None,
    cohort: Cohort | None = None,
    now: datetime | None = None,
) -> EligibilityReport:
    """Each trainee against the rule: qualifies or not, and the criteria they miss, with the numbers.

    A fixed number of queries, whatever the number of trainees.
    """
    people = list(users) if users is not None else list(course_trainees(course_key=rule.course_key, cohort=cohort))
    user_ids = [person.pk for person in people]
    minutes = course_live_minutes(course_key=rule.course_key, user_ids=user_ids, now=now)
    achievement = course_achievement(course=course, user_ids=user_ids)
    internships = internship_standings(user_ids=user_ids) if rule.require_internship else {}
    exam_papers = exam_passers(exam=rule.require_exam, user_ids=user_ids) if rule.require_exam is not None else {}
    certificates = {
        certificate.user_id: certificate
        for certificate in Certificate.objects.filter(rule=rule, user_id__in=user_ids).exclude(
            state=CertificateState.PENDING
        )
    }
    rows = tuple(
        EligibilityRow(
            user=person,
            criteria=_criteria(
                rule=rule,
                attended_percent=minutes.percent(person.pk),
                modules_completed=achievement.modules_completed.get(person.pk, 0),
                modules_total=achievement.modules_total,
                final_percent=achievement.final_percent.get(person.pk),
                has_final=achievement.final_assessment is not None,
                internship=internships.get(person.pk),
                exam_paper=exam_papers.get(person.pk),
            ),
            certificate=certificates.get(person.pk),
        )
        for person in people
    )
    qualifying = sum(1 for row in rows if row.qualifies)
    return EligibilityReport(
        rule=rule,
        rows=rows,
        live_sessions=minutes.sessions,
        live_minutes=(minutes.scheduled_seconds + 30) // 60,
        modules_total=achievement.modules_total,
        final_assessment_title=achievement.final_assessment.lesson_title if achievement.final_assessment else "",
        counts={
            "trainees": len(rows),
            "qualifying": qualifying,
            "not_qualifying": len(rows) - qualifying,
            "certified": sum(1 for row in rows if row.certificate is not None),
        },
    )


@dataclass(frozen=True)
class BatchProgress:
    batch_id: int
    total: int
    done: int
    failed: int
    remaining: int
    finished: bool
    failures: tuple[dict[str, Any], ...]

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.failed) / self.total) if self.total else 100

    def as_json(self) -> dict[str, Any]:
        return {
            "batch": self.batch_id,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "remaining": self.remaining,
            "percent": self.percent,
            "finished": self.finished,
            "failures": list(self.failures),
        }


def batch_progress(*, batch: IssueBatch) -> BatchProgress:
    """Done, failed and remaining, read from the items (so it survives a reload or a restarted worker)."""
    counts = batch.items.aggregate(
        total=Count("pk"),
        done=Count("pk", filter=Q(state=ItemState.DONE)),
        failed=Count("pk", filter=Q(state=ItemState.FAILED)),
    )
    failures = tuple(
        {"item": item_id, "user": str(user), "email": user.email, "error": error}
        for item_id, user, error in (
            (item.pk, item.user, item.error)
            for item in batch.items.filter(state=ItemState.FAILED).select_related("user").order_by("pk")[:200]
        )
    )
    remaining = counts["total"] - counts["done"] - counts["failed"]
    return BatchProgress(
        batch_id=batch.pk,
        total=counts["total"],
        done=counts["done"],
        failed=counts["failed"],
        remaining=remaining,
        finished=remaining == 0,
        failures=failures,
    )


def normalize_code(code: str) -> str:
    """A certificate code as stored: upper case, without spaces."""
    return code.strip().upper().replace(" ", "")


def certificate_by_code(*, code: str) -> Certificate | None:
    """A certificate by its human-readable code (case and dashes forgiven); pending ones do not exist yet."""
    normalized = normalize_code(code)
    return (
        Certificate.objects.exclude(state=CertificateState.PENDING)
        .filter(code=normalized)
        .select_related("rule")
        .first()
    )


def certificates_of(*, user: Any) -> QuerySet[Certificate]:
    return Certificate.objects.filter(user_id=user.pk).exclude(state=CertificateState.PENDING).order_by("-issued_at")


def revoked_indexes(*, list_number: int, list_length: int) -> list[int]:
    """Status-list indexes (a certificate's id within its list) of the revoked certificates in one list."""
    first = list_number * list_length
    ids = Certificate.objects.filter(
        state=CertificateState.REVOKED, pk__gte=first, pk__lt=first + list_length
    ).values_list("pk", flat=True)
    return [pk - first for pk in ids]


def certificate_for_download(*, code: str, user: Any) -> Certificate | None:
    """The certificate, if `user` may download its files: its holder, or an administrator."""
    certificate = Certificate.objects.exclude(state=CertificateState.PENDING).filter(code=code).first()
    if certificate is None:
        return None
    if certificate.user_id == user.pk or may_issue(user):
        return certificate
    return None


@dataclass(frozen=True)
class IssuerCourse:
    course: CoursePage
    rule: CertificateRule | None
    trainees: int
    certified: int


def courses_for_issuers(*, request: Any) -> list[IssuerCourse]:
    """Every course in the visitor's language (or English), with its rule and how many hold a certificate."""
    from django.utils import translation
    from wagtail.models import Locale

    language = translation.get_language() or "en"
    locale = Locale.objects.filter(language_code=language).first() or Locale.get_default()
    courses = list(CoursePage.objects.filter(locale=locale).order_by("title"))
    keys = [course.translation_key for course in courses]
    rules: dict[UUID, CertificateRule] = {}
    for rule in CertificateRule.objects.filter(course_key__in=keys).order_by("version"):
        rules[rule.course_key] = rule
    trainees = dict(
        Enrolment.objects.filter(course_key__in=keys)
        .values("course_key")
        .annotate(n=Count("user", distinct=True))
        .values_list("course_key", "n")
    )
    certified = dict(
        Certificate.objects.filter(course_key__in=keys, state=CertificateState.ISSUED)
        .values("course_key")
        .annotate(n=Count("pk"))
        .values_list("course_key", "n")
    )
    return [
        IssuerCourse(
            course=course,
            rule=rules.get(course.translation_key),
            trainees=trainees.get(course.translation_key, 0),
            certified=certified.get(course.translation_key, 0),
        )
        for course in courses
    ]


def default_pass_mark(*, course: CoursePage) -> int | None:
    """The final quiz's own pass mark, offered as the rule's default."""
    from courses.selectors import course_final_assessment

    assessment = course_final_assessment(course=course)
    return assessment.pass_mark if assessment else None


def certificate_records_of(*, user: Any) -> dict[str, Any]:
    """A person's certificates, for their data export: what each states, its state, where its files are."""
    return {
        "certificates": [
            {
                "code": certificate.code,
                "state": certificate.state,
                "name": certificate.name_en,
                "name_zh": certificate.name_zh,
                "course": certificate.course_title_en,
                "course_zh": certificate.course_title_zh,
                "internship": certificate.internship_title,
                "internship_company": certificate.internship_company,
                "issued_at": certificate.issued_at.isoformat(),
                "revoked_at": certificate.revoked_at.isoformat() if certificate.revoked_at else None,
                "revoked_reason": certificate.revoked_reason,
                "emailed_at": certificate.emailed_at.isoformat() if certificate.emailed_at else None,
                "pdf": f"files/certificates/{certificate.code}.pdf" if certificate.pdf_key else None,
                "credential": f"files/certificates/{certificate.code}.json" if certificate.credential_key else None,
            }
            for certificate in Certificate.objects.filter(user=user).order_by("issued_at", "pk")
        ],
    }


def certificate_files_of(*, user: Any) -> list[ExportFile]:
    """A person's certificate PDFs and signed credentials, for their data export."""
    files: list[ExportFile] = []
    for certificate in Certificate.objects.filter(user=user).order_by("issued_at", "pk"):
        if certificate.pdf_key:
            files.append(
                ExportFile(
                    key=certificate.pdf_key,
                    path=f"certificates/{certificate.code}.pdf",
                    region=certificate.storage_region,
                )
            )
        if certificate.credential_key:
            files.append(
                ExportFile(
                    key=certificate.credential_key,
                    path=f"certificates/{certificate.code}.json",
                    region=certificate.storage_region,
                )
            )
    return files
