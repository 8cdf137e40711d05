"""The bilingual demo that `make run` loads: users of each role, a catalogue in English and Chinese.

Idempotent: everything is looked up by a natural key (email, course code and
locale) before it is created, so loading twice duplicates nothing.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from wagtail.models import Locale, Page, Site
from wagtail.rich_text import RichText

from courses.models import CatalogueIndexPage, CoursePage, LessonPage, ModulePage
from lms.accounts.models import Cohort, Region, User
from lms.accounts.roles import Role

DEMO_PASSWORD = "corridor-demo"


@dataclass(frozen=True)
class DemoUser:
    email: str
    first_name: str
    last_name: str
    role: Role
    region: str
    language: str
    superuser: bool = False


DEMO_USERS = [
    DemoUser("admin@corridor.example", "Ada", "Tan", Role.ADMINISTRATOR, Region.SINGAPORE, "en", superuser=True),
    DemoUser("instructor@corridor.example", "Wei", "Chen", Role.INSTRUCTOR, Region.CHONGQING, "en"),
    DemoUser("operator.sg@corridor.example", "Ravi", "Kumar", Role.OPERATOR, Region.SINGAPORE, "en"),
    DemoUser("operator.cq@corridor.example", "Li", "Na", Role.OPERATOR, Region.CHONGQING, "zh-hans"),
    DemoUser("trainee.sg@corridor.example", "Mei", "Lim", Role.TRAINEE, Region.SINGAPORE, "en"),
    DemoUser("trainee.cq@corridor.example", "Jun", "Wang", Role.TRAINEE, Region.CHONGQING, "zh-hans"),
    DemoUser("invigilator.cq@corridor.example", "Hong", "Zhao", Role.INVIGILATOR, Region.CHONGQING, "zh-hans"),
]
DEMO_COHORT = "Singapore pilot 2026"


@dataclass
class Text:
    en: str
    zh: str


@dataclass
class DemoLesson:
    title: Text
    body: Text
    quiz: list[tuple[Text, list[tuple[Text, bool]]]] = field(default_factory=list)


@dataclass
class DemoModule:
    title: Text
    lessons: list[DemoLesson]


@dataclass
class DemoCourse:
    code: str
    slug: str
    title: Text
    summary: Text
    category: str
    level: str
    modules: list[DemoModule]
    capacity: int = 30
    hours: int = 8
    chinese: bool = True
    prerequisite: str | None = None
    cohort_only: bool = False
    kind: str = "vocational"


# The internship programme's course: its certificate rule requires a completed internship (certificates.demo).
INTERNSHIP_COURSE_CODE = "INT-201"


def _lesson(title_en: str, title_zh: str, quiz: bool = False) -> DemoLesson:
    questions = []
    if quiz:
        questions = [
            (
                Text("Where do the two classrooms of a Corridor class sit?", "Corridor 课程的两间教室位于哪里？"),
                [
                    (Text("Singapore and Chongqing", "新加坡和重庆"), True),
                    (Text("Two rooms in one building", "同一栋楼的两个房间"), False),
                    (Text("Only online", "只在线上"), False),
                ],
            ),
            (
                Text("What should you do before a live session starts?", "直播课开始前应该做什么？"),
                [
                    (Text("Check your camera and microphone", "检查摄像头和麦克风"), True),
                    (Text("Nothing", "什么都不做"), False),
                ],
            ),
        ]
    return DemoLesson(
        Text(title_en, title_zh),
        Text(
            f"<p>{title_en}: what it is, why it matters in a class that spans two cities, "
            "and how to put it into practice.</p>",
            f"<p>{title_zh}：它是什么，为什么在跨越两座城市的课堂中很重要，以及如何付诸实践。</p>",
        ),
        questions,
    )


DEMO_COURSES = [
    DemoCourse(
        "CX-101",
        "hybrid-classroom-fundamentals",
        Text("Hybrid classroom fundamentals", "混合式课堂基础"),
        Text(
            "How a class runs across the Singapore and Chongqing rooms and online: "
            "joining, speaking, asking questions.",
            "课程如何在新加坡、重庆两间教室和线上同时进行：加入、发言与提问。",
        ),
        "digital",
        "beginner",
        [
            DemoModule(
                Text("Joining a hybrid class", "加入混合式课堂"),
                [
                    _lesson("Your first live session", "你的第一次直播课"),
                    _lesson("Room or remote?", "教室还是远程？", quiz=True),
                ],
            ),
            DemoModule(
                Text("Taking part", "参与课堂"),
                [
                    _lesson("Asking good questions", "如何提出好问题"),
                    _lesson("Working with the other room", "与另一间教室协作"),
                ],
            ),
        ],
        hours=6,
    ),
    DemoCourse(
        "CX-201",
        "facilitating-cross-border-sessions",
        Text("Facilitating cross-border sessions", "跨境课堂引导"),
        Text(
            "For instructors and team leads: keep both rooms and remote trainees engaged in one conversation.",
            "面向讲师和团队负责人：让两间教室和远程学员参与同一场讨论。",
        ),
        "leadership",
        "intermediate",
        [
            DemoModule(
                Text("Planning the session", "课程规划"),
                [
                    _lesson("Designing for two rooms", "为两间教室设计课程"),
                    _lesson("Timing and breaks", "时间与休息安排"),
                ],
            ),
            DemoModule(
                Text("Running the room", "掌控课堂"),
                [_lesson("Moderating questions", "主持问答", quiz=True), _lesson("Quick polls", "快速投票")],
            ),
        ],
        hours=12,
        prerequisite="CX-101",
    ),
    DemoCourse(
        "CX-110",
        "smart-room-safety",
        Text("Safety in the smart classroom", "智慧教室安全规范"),
        Text("Equipment, cabling and emergency procedures in both rooms.", "两间教室的设备、布线与应急流程。"),
        "safety",
        "beginner",
        [
            DemoModule(
                Text("Equipment", "设备"),
                [
                    _lesson("Cameras and microphones", "摄像头与麦克风"),
                    _lesson("Displays and encoders", "显示屏与编码器"),
                ],
            ),
        ],
        capacity=2,
        hours=3,
    ),
    DemoCourse(
        "CX-150",
        "business-mandarin-for-engineers",
        Text("Business Mandarin for engineers", "工程师商务汉语"),
        Text(
            "Meetings, emails and site visits in Mandarin, taught in both languages.",
            "会议、邮件与现场考察中的汉语，双语授课。",
        ),
        "language",
        "beginner",
        [
            DemoModule(
                Text("Meetings", "会议"),
                [_lesson("Introductions", "自我介绍", quiz=True), _lesson("Agreeing next steps", "确定下一步")],
            ),
        ],
        hours=20,
        kind="language_culture",
    ),
    DemoCourse(
        "PREP-101",
        "diploma-entry-preparation",
        Text("Diploma entry preparation", "文凭国际班入学预备课程"),
        Text(
            "Prepares for the entry exam of the diploma's international stream, held at the Chongqing exam centre.",
            "为文凭国际班入学考试做准备，考试在重庆考试中心举行。",
        ),
        "digital",
        "intermediate",
        [
            DemoModule(
                Text("Safety and networks", "安全与网络"),
                [_lesson("Workshop safety", "车间安全", quiz=True), _lesson("Networks in practice", "网络实务")],
            ),
        ],
        hours=24,
        kind="preparatory",
    ),
    DemoCourse(
        "CX-301",
        "pilot-cohort-operations",
        Text("Pilot cohort: classroom operations deep dive", "试点班：课堂运营深入"),
        Text(
            "Only for the Singapore pilot cohort: running the room hardware day to day.",
            "仅限新加坡试点班：日常管理教室硬件。",
        ),
        "operations",
        "advanced",
        [
            DemoModule(
                Text("Daily checks", "日常检查"),
                [
                    _lesson("Morning checklist", "早间检查清单"),
                    _lesson("Link quality between cities", "城市间链路质量"),
                ],
            ),
        ],
        hours=16,
        cohort_only=True,
    ),
    DemoCourse(
        INTERNSHIP_COURSE_CODE,
        "industrial-attachment-automation",
        Text("Industrial attachment: automation engineering", "工业实习：自动化工程"),
        Text(
            "The internship programme with host companies in Singapore and Chongqing; its certificate requires a "
            "completed internship.",
            "与新加坡和重庆的企业合作的实习项目；结业证书要求完成实习。",
        ),
        "operations",
        "intermediate",
        [
            DemoModule(
                Text("Before the placement", "实习之前"),
                [
                    _lesson("Working with your supervisor", "与企业导师合作"),
                    _lesson("Keeping the logbook", "填写实习日志"),
                ],
            ),
        ],
        hours=4,
    ),
]


def _quiz_value(lesson: DemoLesson, zh: bool) -> dict[str, Any]:
    def pick(text: Text) -> str:
        return text.zh if zh else text.en

    return {
        "title": "检查你的理解" if zh else "Check your understanding",
        "pass_mark": 50,
        "questions": [
            {
                "prompt": pick(prompt),
                "choices": [{"text": pick(text), "is_correct": correct} for text, correct in choices],
                "explanation": "",
            }
            for prompt, choices in lesson.quiz
        ],
    }


def _lesson_body(lesson: DemoLesson, zh: bool) -> list[tuple[str, Any]]:
    body: list[tuple[str, Any]] = [("rich_text", RichText(lesson.body.zh if zh else lesson.body.en))]
    body.append(
        (
            "callout",
            {
                "kind": "tip",
                "text": RichText("<p>课前五分钟进入课堂。</p>" if zh else "<p>Join five minutes before the start.</p>"),
            },
        )
    )
    if lesson.quiz:
        body.append(("quiz", _quiz_value(lesson, zh)))
    return body


def _publish(page: Page) -> None:
    page.save_revision().publish()


def ensure_locales() -> tuple[Locale, Locale]:
    english, _ = Locale.objects.get_or_create(language_code="en")
    chinese, _ = Locale.objects.get_or_create(language_code="zh-hans")
    return english, chinese


def ensure_catalogue(english: Locale, chinese: Locale) -> tuple[CatalogueIndexPage, CatalogueIndexPage]:
    catalogue = CatalogueIndexPage.objects.filter(locale=english).first()
    if catalogue is None:
        root = Page.get_first_root_node()
        catalogue = root.add_child(
            instance=CatalogueIndexPage(
                title="Course catalogue",
                slug="catalogue",
                intro="Courses taught across our Singapore and Chongqing classrooms, and online.",
                locale=english,
            )
        )
        _publish(catalogue)
        site = Site.objects.filter(is_default_site=True).first()
        welcome = site.root_page if site is not None else None
        if site is None:
            Site.objects.create(hostname="localhost", port=80, root_page=catalogue, is_default_site=True)
        else:
            site.root_page = catalogue
            site.save()
        if welcome is not None and welcome.pk != catalogue.pk and not welcome.get_children().exists():
            welcome.delete()
    chinese_catalogue = catalogue.get_translation_or_none(chinese)
    if chinese_catalogue is None:
        chinese_catalogue = catalogue.copy_for_translation(chinese)
        chinese_catalogue.title = "课程目录"
        chinese_catalogue.intro = "在新加坡、重庆两地教室及线上开设的课程。"
        _publish(chinese_catalogue)
    return catalogue, chinese_catalogue.specific


def ensure_users() -> dict[str, User]:
    users = {}
    for spec in DEMO_USERS:
        user = User.objects.filter(email=spec.email).first()
        if user is None:
            user = User.objects.create_user(
                spec.email,
                DEMO_PASSWORD,
                first_name=spec.first_name,
                last_name=spec.last_name,
                home_region=spec.region,
                preferred_language=spec.language,
                is_staff=spec.superuser,
                is_superuser=spec.superuser,
            )
        user.groups.add(Group.objects.get(name=spec.role.value))
        users[spec.email] = user
    return users


def _create_course(spec: DemoCourse, catalogue: CatalogueIndexPage, cohort: Cohort | None) -> CoursePage:
    course = catalogue.add_child(
        instance=CoursePage(
            title=spec.title.en,
            slug=spec.slug,
            code=spec.code,
            kind=spec.kind,
            summary=spec.summary.en,
            category=spec.category,
            level=spec.level,
            duration_hours=spec.hours,
            capacity=spec.capacity,
            taught_in_english=True,
            taught_in_chinese=spec.chinese,
            cohort=cohort if spec.cohort_only else None,
        )
    )
    if spec.prerequisite:
        course.prerequisites.set(CoursePage.objects.filter(code=spec.prerequisite, locale=catalogue.locale))
    _publish(course)
    for module_index, module_spec in enumerate(spec.modules, start=1):
        module = course.add_child(instance=ModulePage(title=module_spec.title.en, slug=f"module-{module_index}"))
        _publish(module)
        for lesson_index, lesson_spec in enumerate(module_spec.lessons, start=1):
            lesson = module.add_child(
                instance=LessonPage(
                    title=lesson_spec.title.en, slug=f"lesson-{lesson_index}", body=_lesson_body(lesson_spec, zh=False)
                )
            )
            _publish(lesson)
    return course


def _translate_course(spec: DemoCourse, course: CoursePage, chinese: Locale) -> None:
    zh_course = course.copy_for_translation(chinese).specific
    zh_course.title, zh_course.summary = spec.title.zh, spec.summary.zh
    _publish(zh_course)
    modules = ModulePage.objects.child_of(course).order_by("path")
    for module, module_spec in zip(modules, spec.modules, strict=True):
        zh_module = module.copy_for_translation(chinese).specific
        zh_module.title = module_spec.title.zh
        _publish(zh_module)
        lessons = LessonPage.objects.child_of(module).order_by("path")
        for lesson, lesson_spec in zip(lessons, module_spec.lessons, strict=True):
            zh_lesson = lesson.copy_for_translation(chinese).specific
            zh_lesson.title = lesson_spec.title.zh
            zh_lesson.body = _lesson_body(lesson_spec, zh=True)
            _publish(zh_lesson)


@transaction.atomic
def load_demo() -> dict[str, User]:
    english, chinese = ensure_locales()
    catalogue, _ = ensure_catalogue(english, chinese)
    users = ensure_users()
    cohort, _ = Cohort.objects.get_or_create(name=DEMO_COHORT)
    cohort.members.add(users["trainee.sg@corridor.example"])
    for spec in DEMO_COURSES:
        course = CoursePage.objects.filter(code=spec.code, locale=english).first()
        if course is None:
            course = _create_course(spec, catalogue, cohort)
        if course.get_translation_or_none(chinese) is None:
            _translate_course(spec, course, chinese)
        # A demo loaded before courses had kinds gets them (every language version).
        CoursePage.objects.filter(translation_key=course.translation_key).exclude(kind=spec.kind).update(kind=spec.kind)
    _enrol_demo_trainees(users)
    _ensure_live_session(users)
    return users


DEMO_ROOMS = [
    ("Marina Bay Studio", Region.SINGAPORE, 24, "operator.sg@corridor.example"),
    ("Jiefangbei Studio", Region.CHONGQING, 30, "operator.cq@corridor.example"),
]
# Each demo room's agent draws its test picture in its own tint and sounds its own tone, so the two rooms look and
# sound different on the live page and in the recording (python -m classrooms.agent reads them from the token file).
DEMO_ROOM_SIGNATURES = {
    "Marina Bay Studio": {"tint": "red", "tone_hz": 440},
    "Jiefangbei Studio": {"tint": "blue", "tone_hz": 660},
}
DEMO_SESSION_TITLE = "Live: cross-border fundamentals Q&A"
# Each demo room has one camera answering VISCA over IP: `make run` starts a simulated one per room on these UDP
# ports (python -m classrooms.agent.camera_sim), registered under the name the synthetic agent reports it by.
DEMO_CAMERA_PORTS = {"Marina Bay Studio": 52381, "Jiefangbei Studio": 52382}
DEMO_CAMERA_PRESETS = {"1": "Lectern", "2": "Whiteboard", "3": "Class", "4": "Wide"}


def _ensure_live_session(users: dict[str, User]) -> None:
    """Two rooms and a session for the instructor to start: scheduled a few minutes ahead whenever the demo is loaded
    (moved again once it has ended or its time has passed; a session still live or yet to start is left alone)."""
    from datetime import timedelta

    from django.utils import timezone

    from classrooms.models import LiveSession, Room, SessionState
    from courses import services

    rooms = []
    for name, city, capacity, operator_email in DEMO_ROOMS:
        room, _ = Room.objects.get_or_create(name=name, defaults={"city": city, "capacity": capacity})
        room.operators.add(users[operator_email])
        rooms.append(room)
    english = Locale.objects.get(language_code="en")
    fundamentals = CoursePage.objects.get(code="CX-101", locale=english)
    services.enrolment_create(user=users["trainee.cq@corridor.example"], course=fundamentals)
    now = timezone.now()
    session = LiveSession.objects.filter(title=DEMO_SESSION_TITLE).first()
    if session is None:
        session = LiveSession(
            title=DEMO_SESSION_TITLE, course=fundamentals, instructor=users["instructor@corridor.example"]
        )
    if session.pk is None or session.state == SessionState.ENDED or session.ends_at < now + timedelta(minutes=30):
        # Its instructor may press Start on the live page at once (from 15 minutes before the start).
        session.starts_at, session.ends_at = now + timedelta(minutes=5), now + timedelta(hours=2)
        session.state = SessionState.SCHEDULED
        session.live_since = session.live_until = None
        session.save()
    session.rooms.set(rooms)
    _ensure_room_agents(rooms)


def _ensure_room_agents(rooms: list[Any]) -> None:
    """Each demo room has an agent that streams its sessions: started by `make run`, it waits, and publishes as soon
    as the demo session is started."""
    from classrooms.services import devices

    for room in rooms:
        devices.agent_stream_request(room=room, requested=True)
    _ensure_demo_cameras(rooms)


def _ensure_demo_cameras(rooms: list[Any]) -> None:
    """Register each demo room's (simulated) camera with its address, VISCA port and preset names."""
    from classrooms.models import Device, DeviceKind
    from classrooms.services import devices

    for room in rooms:
        port = DEMO_CAMERA_PORTS.get(room.name)
        if port is None:
            continue
        name, model, address = "Synthetic camera", "Simulated VISCA camera", "127.0.0.1"
        camera = Device.objects.filter(room=room, kind=DeviceKind.CAMERA, name=name).first()
        if camera is None:
            devices.device_register(
                room=room,
                kind=DeviceKind.CAMERA,
                name=name,
                model=model,
                address=address,
                visca_port=port,
                presets=DEMO_CAMERA_PRESETS,
            )
        else:
            devices.device_update(
                device=camera, name=name, model=model, address=address, visca_port=port, presets=DEMO_CAMERA_PRESETS
            )


def write_room_tokens(path: Path) -> list[dict[str, Any]]:
    """Give each demo room's agent a token and write them to `path` (var/room-tokens.json, for `make run`'s agents).

    Tokens already in the file that are still valid are kept, so running the demo again does not disconnect
    running agents. The file is readable by its owner only; tokens are stored nowhere else in clear.
    """
    from django.utils.text import slugify

    from classrooms.models import Room
    from classrooms.selectors import devices as device_selectors
    from classrooms.services import devices

    known: dict[str, str] = {}
    if path.exists():
        try:
            known = {str(entry["room"]): str(entry["token"]) for entry in json.loads(path.read_text())["rooms"]}
        except (ValueError, KeyError, TypeError):
            known = {}
    entries = []
    for name, *_ in DEMO_ROOMS:
        room = Room.objects.get(name=name)
        token = known.get(str(room.pk), "")
        found = device_selectors.active_token(token=token) if token else None
        if found is None or found.device.room_id != room.pk:
            token = devices.device_token_issue(room=room).secret
        entries.append(
            {"room": room.pk, "slug": slugify(room.name), "name": room.name, "token": token}
            | DEMO_ROOM_SIGNATURES.get(name, {})
            | ({"visca_port": DEMO_CAMERA_PORTS[name]} if name in DEMO_CAMERA_PORTS else {})
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps({"rooms": entries}, indent=2) + "\n")
    return entries


def _enrol_demo_trainees(users: dict[str, User]) -> None:
    """Mei (Singapore) has finished CX-101, so CX-201's prerequisite is met for her; CX-110 has one seat left."""
    from courses import services
    from courses.models import LessonCompletion

    english = Locale.objects.get(language_code="en")
    mei = users["trainee.sg@corridor.example"]
    fundamentals = CoursePage.objects.get(code="CX-101", locale=english)
    services.enrolment_create(user=mei, course=fundamentals)
    for lesson in LessonPage.objects.live().descendant_of(fundamentals):
        LessonCompletion.objects.get_or_create(
            user=mei, lesson_key=lesson.translation_key, defaults={"course_key": fundamentals.translation_key}
        )
    services.enrolment_create(
        user=users["trainee.cq@corridor.example"], course=CoursePage.objects.get(code="CX-110", locale=english)
    )
