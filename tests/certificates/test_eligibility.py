"""Who qualifies for a certificate, and exactly why not."""

from typing import Any

import pytest

from certificates import selectors, services
from lms.errors import CorridorError
from tests import factories
from tests.support.certificates import course_with_rule

pytestmark = pytest.mark.django_db


def _row(report: Any, user: Any) -> Any:
    return next(row for row in report.rows if row.user.pk == user.pk)


def test_a_trainee_who_met_every_criterion_qualifies() -> None:
    setup = course_with_rule()
    user = setup.qualifying_trainee()
    rule = selectors.rule_in_force(course_key=setup.course.translation_key)
    assert rule is not None
    report = selectors.course_eligibility(course=setup.course, rule=rule)
    row = _row(report, user)
    assert row.qualifies
    assert row.reasons == []
    assert report.counts == {"trainees": 1, "qualifying": 1, "not_qualifying": 0, "certified": 0}
    assert report.live_minutes == 60 and report.live_sessions == 1 and report.modules_total == 2


def test_each_missed_criterion_says_which_and_by_how_much() -> None:
    setup = course_with_rule()
    short_attendance = setup.add_trainee()
    setup.attend(short_attendance, 45)  # 75 % of 60 minutes
    setup.complete(short_attendance)
    setup.score(short_attendance, 2)
    unfinished = setup.add_trainee()
    setup.attend(unfinished, 60)
    setup.complete(unfinished, lessons=1)
    setup.score(unfinished, 2)
    failed = setup.add_trainee()
    setup.attend(failed, 60)
    setup.complete(failed)
    setup.score(failed, 1)  # 50 % against a pass mark of 60 %
    never_tried = setup.add_trainee()
    setup.attend(never_tried, 60)
    setup.complete(never_tried)
    rule = selectors.rule_in_force(course_key=setup.course.translation_key)
    assert rule is not None
    report = selectors.course_eligibility(course=setup.course, rule=rule)

    assert _row(report, short_attendance).reasons == ["Attended 75 % of live minutes; needs 80 % (5 points short)."]
    assert _row(report, unfinished).reasons == ["Completed 1 of 2 modules; 1 to go."]
    assert _row(report, failed).reasons == [
        "Scored 50 % on the final assessment; the pass mark is 60 % (10 points short)."
    ]
    assert _row(report, never_tried).reasons == ["Has not taken the final assessment (pass mark 60 %)."]
    assert report.counts["qualifying"] == 0 and report.counts["not_qualifying"] == 4


def test_overlapping_stays_count_once_and_only_inside_the_session() -> None:
    setup = course_with_rule()
    user = setup.add_trainee()
    setup.attend(user, 50)
    setup.attend(user, 30)  # a second tab: the same minutes again
    rule = selectors.rule_in_force(course_key=setup.course.translation_key)
    assert rule is not None
    row = _row(selectors.course_eligibility(course=setup.course, rule=rule), user)
    assert row.criteria[0].actual == "83.3 %"
    assert row.criteria[0].met


def test_the_report_speaks_chinese() -> None:
    from django.utils import translation

    setup = course_with_rule()
    user = setup.add_trainee()
    rule = selectors.rule_in_force(course_key=setup.course.translation_key)
    assert rule is not None
    with translation.override("zh-hans"):
        row = _row(selectors.course_eligibility(course=setup.course, rule=rule), user)
    assert row.criteria[0].label == "直播出勤"
    assert "直播" in row.reasons[0]


def test_a_new_rule_is_a_new_version_and_old_certificates_keep_theirs() -> None:
    setup = course_with_rule()
    user = setup.qualifying_trainee()
    first = services.certificate_issue(user=user, course=setup.course, by=setup.admin)
    rule = services.certificate_rule_set(
        course=setup.course, by=setup.admin, min_attendance_percent=90, require_all_modules=True, final_pass_mark=80
    )
    assert rule.version == 2
    first.refresh_from_db()
    assert first.rule.version == 1
    report = selectors.course_eligibility(course=setup.course, rule=rule)
    assert _row(report, user).certificate is None  # none yet under version 2


def test_only_administrators_set_rules() -> None:
    setup = course_with_rule()
    with pytest.raises(CorridorError) as refused:
        services.certificate_rule_set(
            course=setup.course,
            by=factories.instructor(),
            min_attendance_percent=10,
            require_all_modules=False,
            final_pass_mark=None,
        )
    assert refused.value.code == "forbidden"
