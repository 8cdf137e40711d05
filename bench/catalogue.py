"""Catalogue benchmark: 1,000 courses × 10 modules × 5 lessons, measured through the real URL stack.

    .venv/bin/python bench/catalogue.py                       # SQLite (or whatever DATABASE_URL names)
    BENCH_REQUESTS=100 .venv/bin/python bench/catalogue.py    # more samples per scenario
    BENCH_INDEX=courses .venv/bin/python bench/catalogue.py   # quicker: index courses only, not their 60,000 pages

It builds a throwaway database of its own (never the app's or the test suite's), seeds the page tree with
bulk inserts (materialised paths computed here: add_child + publish would take tens of minutes), indexes it
for search, then
times the catalogue listing, search, filters and a course page with django.test.Client against /healthz.
Human-readable lines first; the last line of stdout is one JSON object.
"""

import json
import math
import os
import random
import secrets
import sqlite3
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
# `frontend` is an app but not an installed package: the repository root must be importable.
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "lms.settings"
# Measure what production serves, whatever DEBUG a developer's .env sets.
os.environ["DEBUG"] = "false"
# Plain HTTP in process, as behind the TLS-terminating proxy: no redirect to HTTPS to measure.
os.environ["SECURE_SSL_REDIRECT"] = "false"
# Outside DEBUG there is no default SECRET_KEY: one for this run, unless the environment has its own.
os.environ["SECRET_KEY"] = os.environ.get("SECRET_KEY") or secrets.token_urlsafe(64)
# WhiteNoise warns once about the uncollected var/static/; the tests ignore it too.
warnings.filterwarnings("ignore", "No directory at", UserWarning)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

if TYPE_CHECKING:
    from django.db.models import Model

    from courses.models import CatalogueIndexPage, CoursePage

COURSES = 1000
MODULES_PER_COURSE = 10
LESSONS_PER_MODULE = 5
TRAINEES = 400
REQUESTS = int(os.environ.get("BENCH_REQUESTS") or "50")
# Publishing indexes every page, and the size of the index changes PostgreSQL's search plan, so the default
# indexes modules and lessons too (most of the run's time); "courses" is for a quick look.
INDEX_ALL = (os.environ.get("BENCH_INDEX") or "all") != "courses"
WARMUP = 5
SEED = 2026

# Treebeard's materialised path as Wagtail configures it (Page.steplen, Page.alphabet).
STEPLEN = 4
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

ADJECTIVES = [
    "Applied", "Practical", "Advanced", "Foundations of", "Introduction to", "Modern", "Effective", "Strategic",
    "Hands-on", "Essential", "Professional", "Collaborative", "Remote", "Hybrid", "Cross-border", "Data-driven",
    "Sustainable", "Inclusive", "Agile", "Lean", "Secure", "Creative", "Critical", "Everyday", "Integrated",
]  # fmt: skip
TOPICS = [
    ("Safety", "safety"), ("Fire Safety", "safety"), ("Electrical Safety", "safety"), ("First Aid", "safety"),
    ("Risk Management", "safety"), ("Compliance", "safety"), ("Negotiation", "leadership"),
    ("Project Management", "leadership"), ("Team Leadership", "leadership"), ("Coaching", "leadership"),
    ("Change Management", "leadership"), ("Conflict Resolution", "leadership"), ("Time Management", "leadership"),
    ("Facilitation", "leadership"), ("Public Speaking", "leadership"), ("Mandarin", "language"),
    ("English Writing", "language"), ("Business Etiquette", "language"), ("Technical Writing", "language"),
    ("Translation", "language"), ("Interpreting", "language"), ("Spreadsheets", "digital"),
    ("Cloud Computing", "digital"), ("Cybersecurity", "digital"), ("Data Analysis", "digital"),
    ("Machine Learning", "digital"), ("Python Programming", "digital"), ("Presentation Design", "digital"),
    ("Video Production", "digital"), ("Networking", "digital"), ("Classroom Technology", "digital"),
    ("Customer Service", "operations"), ("Logistics", "operations"), ("Procurement", "operations"),
    ("Quality Control", "operations"), ("Budgeting", "operations"), ("Accounting", "operations"),
    ("Supply Chain", "operations"), ("Warehouse Operations", "operations"), ("Audio Visual Systems", "operations"),
]  # fmt: skip
CODE_PREFIX = {"digital": "DG", "leadership": "LD", "language": "LG", "operations": "OP", "safety": "SF"}
AUDIENCES = ["new staff", "team leads", "engineers", "instructors", "operators", "managers", "trainees"]
PHRASES = [
    "case studies from the Singapore and Chongqing rooms",
    "hands-on exercises you can repeat at work",
    "short lectures, group work and a final project",
    "practice sessions with feedback from both cities",
    "real examples from cross-border teams",
]
MODULE_THEMES = ["Getting started", "Core ideas", "Tools", "Practice", "Working together", "Common mistakes",
                 "Case study", "Going further", "Review", "Project"]  # fmt: skip

# Three topics contain it: a few dozen hits over several result pages, like a real query.
SEARCH_TERM = "safety"


@dataclass(frozen=True)
class Seeded:
    catalogue: "CatalogueIndexPage"
    course: "CoursePage"
    lesson_url: str
    pages: int
    visible_courses: int
    trainee_email: str


@dataclass(frozen=True)
class Measurement:
    name: str
    url: str
    p50_ms: float
    p95_ms: float
    mean_ms: float
    cpu_p50_ms: float
    queries: int
    results: int | None
    size_kb: float


def step(n: int) -> str:
    """One treebeard path step: `n` in base 36, zero-padded to STEPLEN."""
    digits = ""
    while n:
        n, rest = divmod(n, len(ALPHABET))
        digits = ALPHABET[rest] + digits
    if len(digits) > STEPLEN:
        raise ValueError(f"{n} does not fit in a path step")
    return digits.rjust(STEPLEN, "0")


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: with 50 samples p95 is the third-slowest, not an interpolation."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def insert_batch_rows(field_count: int) -> int:
    """Rows per INSERT: SQLite caps bound parameters (Django assumes 999; modern builds allow 32766)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return max(1, min(500, limit // field_count))
    return 500


def bulk_insert_pages(pages: list[Any]) -> None:
    """Insert specific pages without Page.save(): the two INSERTs Django's multi-table save does, in batches.

    wagtailcore_page rows go in the order given (tree order: a course, its modules and lessons, the next
    course), so ids interleave the way authoring creates them; PostgreSQL's plans depend on that
    correlation. Then each model's own table, keyed by the ids just returned."""
    from wagtail.models import Page

    page_fields = [f for f in Page._meta.local_concrete_fields if f is not Page._meta.auto_field]
    size = insert_batch_rows(len(page_fields))
    for start in range(0, len(pages), size):
        batch = pages[start : start + size]
        rows = Page._base_manager._insert(batch, fields=page_fields, returning_fields=Page._meta.db_returning_fields)
        for page, (pk, *_) in zip(batch, rows, strict=True):
            page.id = page.page_ptr_id = pk
    by_model: dict[type[Any], list[Any]] = {}
    for page in pages:
        by_model.setdefault(type(page), []).append(page)
    for model, objs in by_model.items():
        own_fields = model._meta.local_concrete_fields
        size = insert_batch_rows(len(own_fields))
        for start in range(0, len(objs), size):
            model._base_manager._insert(objs[start : start + size], fields=own_fields)


def lesson_body(title: str, rng: random.Random) -> list[dict[str, Any]]:
    # Raw stream data (what the database holds), so no block is rendered or validated while seeding.
    body: list[dict[str, Any]] = [
        {
            "type": "rich_text",
            "value": f"<p>{title}: what it is, why it matters in a class that spans two cities, "
            "and how to put it into practice.</p><p>Work through the example, then try it yourself.</p>",
            "id": str(uuid.uuid4()),
        }
    ]
    if rng.random() < 0.3:
        body.append(
            {
                "type": "callout",
                "value": {"kind": "tip", "text": "<p>Join five minutes before the start.</p>"},
                "id": str(uuid.uuid4()),
            }
        )
    return body


def seed(rng: random.Random) -> Seeded:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import F
    from django.utils import timezone
    from django.utils.text import slugify
    from wagtail.models import Page

    from courses.models import CoursePage, Enrolment, LessonCompletion, LessonPage, ModulePage
    from lms.accounts.models import Cohort, User
    from lms.accounts.roles import Role
    from lms.demo import ensure_catalogue, ensure_locales

    # The site, both locales and both catalogues exactly as the demo (and the tests) build them.
    english, chinese = ensure_locales()
    catalogue, _ = ensure_catalogue(english, chinese)
    catalogue.refresh_from_db()
    content_types = ContentType.objects.get_for_models(CoursePage, ModulePage, LessonPage)
    now = timezone.now()
    cohort = Cohort.objects.create(name="Bench cohort")

    first_step = 1
    if (last := catalogue.get_last_child()) is not None:
        first_step = int(last.path[-STEPLEN:], len(ALPHABET)) + 1

    def page_fields(
        model: "type[Model]", *, path: str, numchild: int, title: str, slug: str, url_path: str, published: datetime
    ) -> dict[str, Any]:
        return {
            "path": path,
            "depth": len(path) // STEPLEN,
            "numchild": numchild,
            "translation_key": uuid.uuid4(),
            "locale_id": english.pk,
            "live": True,
            "has_unpublished_changes": False,
            "first_published_at": published,
            "last_published_at": published,
            "latest_revision_created_at": published,
            "title": title,
            "draft_title": title,
            "slug": slug,
            "content_type_id": content_types[model].pk,
            "url_path": url_path,
            "show_in_menus": False,
            "seo_title": "",
            "search_description": "",
        }

    titles = [(f"{adjective} {topic}", category) for adjective in ADJECTIVES for topic, category in TOPICS]
    rng.shuffle(titles)
    bench_index = COURSES // 2  # the course page measured: mid-catalogue, open to all, with prerequisites
    courses: list[CoursePage] = []
    modules: list[ModulePage] = []
    lessons: list[LessonPage] = []
    tree: list[Page] = []  # depth-first, the order an author creates them in
    for i in range(COURSES):
        title, category = titles[i % len(titles)]
        slug = f"{slugify(title)}-{i + 1:04d}"
        path = catalogue.path + step(first_step + i)
        url_path = f"{catalogue.url_path}{slug}/"
        published = now - timedelta(days=rng.randint(1, 730), minutes=rng.randint(0, 1440))
        english_taught, chinese_taught = rng.choices([(True, False), (True, True), (False, True)], [50, 35, 15])[0]
        rooms = [rng.random() < 0.6, rng.random() < 0.45, rng.random() < 0.7]
        if not any(rooms):
            rooms[2] = True
        courses.append(
            CoursePage(
                **page_fields(
                    CoursePage,
                    path=path,
                    numchild=MODULES_PER_COURSE,
                    title=title,
                    slug=slug,
                    url_path=url_path,
                    published=published,
                ),
                code=f"{CODE_PREFIX[category]}-{i + 1:04d}",
                summary=f"{title} for {rng.choice(AUDIENCES)}: {rng.choice(PHRASES)}.",
                category=category,
                level=rng.choices(["beginner", "intermediate", "advanced"], [45, 35, 20])[0],
                duration_hours=rng.choice([2, 4, 6, 8, 12, 16, 24, 40]),
                delivered_in_singapore_room=rooms[0],
                delivered_in_chongqing_room=rooms[1],
                delivered_online=rooms[2],
                taught_in_english=english_taught or i == bench_index,
                taught_in_chinese=chinese_taught,
                # A few courses are full or nearly so, a few restricted to a cohort.
                capacity=rng.choice([2, 3]) if rng.random() < 0.03 else rng.randint(10, 60),
                cohort_id=cohort.pk if rng.random() < 0.03 and i != bench_index else None,
            )
        )
        tree.append(courses[-1])
        for m in range(1, MODULES_PER_COURSE + 1):
            module_title = f"Module {m}: {MODULE_THEMES[(m - 1) % len(MODULE_THEMES)]}"
            module_path = path + step(m)
            module_url = f"{url_path}module-{m}/"
            modules.append(
                ModulePage(
                    **page_fields(
                        ModulePage,
                        path=module_path,
                        numchild=LESSONS_PER_MODULE,
                        title=module_title,
                        slug=f"module-{m}",
                        url_path=module_url,
                        published=published,
                    ),
                    summary=f"{module_title} of {title}.",
                )
            )
            tree.append(modules[-1])
            for n in range(1, LESSONS_PER_MODULE + 1):
                lesson_title = f"Lesson {m}.{n}: {title}"
                lessons.append(
                    LessonPage(
                        **page_fields(
                            LessonPage,
                            path=module_path + step(n),
                            numchild=0,
                            title=lesson_title,
                            slug=f"lesson-{n}",
                            url_path=f"{module_url}lesson-{n}/",
                            published=published,
                        ),
                        duration_minutes=rng.choice([10, 15, 20, 25, 30, 45]),
                        body=lesson_body(lesson_title, rng),
                    )
                )
                tree.append(lessons[-1])

    with transaction.atomic():
        bulk_insert_pages(tree)
        Page.objects.filter(pk=catalogue.pk).update(numchild=F("numchild") + COURSES)

        # Prerequisites on about a quarter of the courses, always earlier ones (no cycles).
        field = CoursePage._meta.get_field("prerequisites")
        through = field.remote_field.through
        from_name, to_name = field.m2m_field_name(), field.m2m_reverse_field_name()
        links = []
        for i, course in enumerate(courses):
            if i > 10 and (i % 4 == 0 or i == bench_index):
                for prerequisite in rng.sample(courses[:i], 2 if i == bench_index else rng.randint(1, 2)):
                    links.append(through(**{f"{from_name}_id": course.pk, f"{to_name}_id": prerequisite.pk}))
        through.objects.bulk_create(links, batch_size=500)

        # Trainees, enrolments (seats taken) and lesson completions (progress).
        password = make_password("corridor-bench")
        users = User.objects.bulk_create(
            [
                User(email=f"trainee{n}@bench.example", password=password, first_name="Bench", last_name=f"T{n}")
                for n in range(TRAINEES)
            ],
            batch_size=500,
        )
        trainees = Group.objects.get(name=Role.TRAINEE.value)
        User.groups.through.objects.bulk_create(
            [User.groups.through(user_id=u.pk, group_id=trainees.pk) for u in users], batch_size=500
        )
        cohort.members.add(*users[:40])
        lessons_by_course = [
            lessons[c * MODULES_PER_COURSE * LESSONS_PER_MODULE : (c + 1) * MODULES_PER_COURSE * LESSONS_PER_MODULE]
            for c in range(COURSES)
        ]
        enrolments: list[Enrolment] = []
        completions: list[LessonCompletion] = []
        bench_trainee = users[0]
        for user in users:
            picks = set(rng.sample(range(COURSES), rng.randint(2, 14)))
            if user is bench_trainee:
                picks.add(bench_index)
            for c in picks:
                course = courses[c]
                enrolments.append(Enrolment(user=user, course=course, course_key=course.translation_key))
                done = len(lessons_by_course[c]) // 2 if user is bench_trainee else rng.randint(0, 12)
                completions.extend(
                    LessonCompletion(user=user, course_key=course.translation_key, lesson_key=lesson.translation_key)
                    for lesson in lessons_by_course[c][:done]
                )
        Enrolment.objects.bulk_create(enrolments, batch_size=500)
        LessonCompletion.objects.bulk_create(completions, batch_size=500)

    catalogue.refresh_from_db()
    bench_course = CoursePage.objects.get(pk=courses[bench_index].pk)
    bench_lesson = lessons_by_course[bench_index][2]
    visible = CoursePage.objects.live().child_of(catalogue).filter(cohort__isnull=True).count()
    return Seeded(
        catalogue=catalogue,
        course=bench_course,
        lesson_url=LessonPage.objects.get(pk=bench_lesson.pk).url,
        pages=len(courses) + len(modules) + len(lessons),
        visible_courses=visible,
        trainee_email=bench_trainee.email,
    )


def index_for_search(catalogue: "CatalogueIndexPage") -> dict[str, int]:
    """What publishing would have indexed, page by page: every course (and module and lesson)."""
    from wagtail.search.backends import get_search_backend

    from courses.models import CoursePage, LessonPage, ModulePage

    backend = get_search_backend()
    indexed: dict[str, int] = {}
    for model in (CoursePage, ModulePage, LessonPage) if INDEX_ALL else (CoursePage,):
        queryset = model.get_indexed_objects().descendant_of(catalogue).order_by("pk")
        count, last_pk = 0, 0
        # Chunks, as rebuild_modelsearch_index does: PostgreSQL's add_items is one INSERT per call.
        while chunk := list(queryset.filter(pk__gt=last_pk)[:1000]):
            backend.add_bulk(model, chunk)
            count += len(chunk)
            last_pk = chunk[-1].pk
        indexed[model.__name__] = count
    return indexed


def check_tree(seeded: Seeded) -> None:
    """Cheap proof that the hand-made tree is one Wagtail recognises."""
    from courses.models import CoursePage, LessonPage, ModulePage

    catalogue, course = seeded.catalogue, seeded.course
    assert catalogue.numchild == catalogue.get_children().count() == COURSES, "catalogue numchild"
    assert course.get_parent().pk == catalogue.pk, "course parent"
    assert ModulePage.objects.child_of(course).count() == MODULES_PER_COURSE == course.numchild, "modules"
    assert LessonPage.objects.descendant_of(course).count() == MODULES_PER_COURSE * LESSONS_PER_MODULE, "lessons"
    assert CoursePage.objects.descendant_of(catalogue).count() == COURSES, "courses"
    assert course.url == f"/en/{course.slug}/", course.url


@dataclass(frozen=True)
class Scenario:
    name: str
    client: Any  # django.test.Client, anonymous or signed in
    url: str
    count: Callable[[str], int | None] = lambda _html: None


def fetch(scenario: Scenario) -> Any:
    try:
        response = scenario.client.get(scenario.url)
    except Exception as error:  # the test client re-raises a view's exception: name the scenario
        raise RuntimeError(f"{scenario.name}: GET {scenario.url} raised {error!r}") from error
    if response.status_code != 200:
        raise RuntimeError(f"{scenario.name}: GET {scenario.url} answered {response.status_code}")
    return response


def measure(scenarios: list[Scenario]) -> dict[str, Measurement]:
    from django.test.utils import CaptureQueriesContext

    for scenario in scenarios:
        for _ in range(WARMUP):  # templates, translations, site root paths: what a running server has cached
            fetch(scenario)
    samples: dict[str, list[float]] = {scenario.name: [] for scenario in scenarios}
    # This process's CPU time too: on a busy machine wall time includes waiting for a core
    # (on SQLite the database's work is in-process, so there CPU time is most of the request).
    cpu: dict[str, list[float]] = {scenario.name: [] for scenario in scenarios}
    # Round-robin, not one scenario after another: a burst of load elsewhere on the machine then
    # spreads over every scenario (and the baseline) instead of skewing whichever ran during it.
    for _ in range(REQUESTS):
        for scenario in scenarios:
            started, cpu_started = time.perf_counter(), time.process_time()
            fetch(scenario)
            samples[scenario.name].append((time.perf_counter() - started) * 1000)
            cpu[scenario.name].append((time.process_time() - cpu_started) * 1000)
    results: dict[str, Measurement] = {}
    for scenario in scenarios:
        # Queries counted on a separate request: recording SQL would slow the timed ones.
        with CaptureQueriesContext(connection) as captured:
            response = fetch(scenario)
        timings = samples[scenario.name]
        results[scenario.name] = Measurement(
            name=scenario.name,
            url=scenario.url,
            p50_ms=percentile(timings, 0.50),
            p95_ms=percentile(timings, 0.95),
            mean_ms=sum(timings) / len(timings),
            cpu_p50_ms=percentile(cpu[scenario.name], 0.50),
            queries=len(captured.captured_queries),
            results=scenario.count(response.content.decode()),
            size_kb=len(response.content) / 1024,
        )
    return results


def result_count(html: str) -> int | None:
    # The catalogue says "N courses" in its result-count paragraph (English: the scenarios use /en/).
    marker = 'class="result-count"'
    if marker not in html:
        return None
    text = html.split(marker, 1)[1].split(">", 1)[1].split("<", 1)[0]
    digits = text.strip().split(" ", 1)[0].replace(",", "")
    return int(digits) if digits.isdigit() else None


def run() -> dict[str, Any]:
    from django.test import Client
    from wagtail.search.backends import get_search_backend

    from lms.accounts.models import User

    def say(line: str) -> None:
        print(line, flush=True)

    rng = random.Random(SEED)
    started = time.perf_counter()
    seeded = seed(rng)
    seed_s = time.perf_counter() - started
    shape = f"{COURSES} courses × {MODULES_PER_COURSE} modules × {LESSONS_PER_MODULE} lessons"
    say(f"seeded {seeded.pages:,} pages ({shape}) and {TRAINEES} trainees in {seed_s:.1f} s")
    check_tree(seeded)

    started = time.perf_counter()
    indexed = index_for_search(seeded.catalogue)
    index_s = time.perf_counter() - started
    backend = type(get_search_backend())
    say(f"indexed {indexed} with {backend.__module__}.{backend.__name__} in {index_s:.1f} s")
    if connection.vendor == "postgresql":
        # Autovacuum would have cleaned up and gathered statistics on a live database; without them the
        # planner guesses. (SQLite gets none: Django never runs ANALYZE there, so neither does a deployment.)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")

    anonymous = Client()
    trainee = Client()
    trainee.force_login(User.objects.get(email=seeded.trainee_email))
    course_url = seeded.course.url
    deep_page = max(1, seeded.visible_courses // 12 - 2)
    scenarios = [
        Scenario("baseline /healthz", anonymous, "/healthz"),
        Scenario("catalogue page 1", anonymous, "/en/", result_count),
        Scenario(f"catalogue page {deep_page}", anonymous, f"/en/?page={deep_page}", result_count),
        Scenario(f"search q={SEARCH_TERM}", anonymous, f"/en/?q={SEARCH_TERM}", result_count),
        Scenario("search two words", anonymous, "/en/?q=project+management", result_count),
        Scenario("search + level filter", anonymous, f"/en/?q={SEARCH_TERM}&level=beginner", result_count),
        Scenario("search in Chinese (substring)", anonymous, "/en/?q=%E5%AE%89%E5%85%A8", result_count),
        Scenario("filter category", anonymous, "/en/?category=safety", result_count),
        Scenario("filter level", anonymous, "/en/?level=advanced", result_count),
        Scenario("filter language", anonymous, "/en/?language=zh-hans", result_count),
        Scenario("filter delivery", anonymous, "/en/?delivery=chongqing", result_count),
        Scenario(
            "filters combined",
            anonymous,
            "/en/?category=digital&level=beginner&language=en&delivery=online",
            result_count,
        ),
        Scenario("filters combined, page 2", anonymous, "/en/?category=digital&language=en&page=2", result_count),
        Scenario("catalogue signed in", trainee, "/en/", result_count),
        Scenario("course page", anonymous, course_url),
        Scenario("course page enrolled", trainee, course_url),
        Scenario("lesson page enrolled", trainee, seeded.lesson_url),
    ]
    load_before = os.getloadavg()[0]
    say(f"{len(scenarios)} scenarios × {REQUESTS} requests, round-robin after {WARMUP} warm-up each")
    results = measure(scenarios)
    baseline = results["baseline /healthz"]
    # Timings from a busy machine are not comparable with a quiet one's: say how busy it was.
    load_after = os.getloadavg()[0]
    say(f"load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs")
    header = f"{'p50 ms':>8} {'p95 ms':>8} {'×base':>6} {'cpu p50':>7}"
    say(f"{'scenario':32} {header} {'queries':>7} {'results':>7} {'KiB':>6}  url")
    for m in results.values():
        ratio = m.p50_ms / baseline.p50_ms if baseline.p50_ms else 0.0
        shown = "" if m.results is None else str(m.results)
        timing = f"{m.p50_ms:8.2f} {m.p95_ms:8.2f} {ratio:6.1f} {m.cpu_p50_ms:7.2f}"
        say(f"{m.name:32} {timing} {m.queries:7} {shown:>7} {m.size_kb:6.1f}  {m.url}")

    catalogue = results["catalogue page 1"]
    search = results[f"search q={SEARCH_TERM}"]
    course = results["course page"]
    enrolled = results["course page enrolled"]
    filters = [m for name, m in results.items() if name.startswith("filter")]

    def ms(value: float) -> float:
        return round(value, 2)

    summary: dict[str, Any] = {
        "catalogue_p50_ms": ms(catalogue.p50_ms),
        "catalogue_p95_ms": ms(catalogue.p95_ms),
        "search_p95_ms": ms(search.p95_ms),
        "course_page_p50_ms": ms(course.p50_ms),
        "course_page_p95_ms": ms(course.p95_ms),
        "catalogue_queries": catalogue.queries,
        "course_page_queries": course.queries,
        "search_p50_ms": ms(search.p50_ms),
        "search_queries": search.queries,
        "catalogue_deep_p95_ms": ms(results[f"catalogue page {deep_page}"].p95_ms),
        "filters_p95_ms": ms(max(m.p95_ms for m in filters)),
        "filters_max_queries": max(m.queries for m in filters),
        "course_page_enrolled_p95_ms": ms(enrolled.p95_ms),
        "course_page_enrolled_queries": enrolled.queries,
        "baseline_p50_ms": ms(baseline.p50_ms),
        "baseline_p95_ms": ms(baseline.p95_ms),
        "catalogue_p50_ratio": round(catalogue.p50_ms / baseline.p50_ms, 1),
        "search_p50_ratio": round(search.p50_ms / baseline.p50_ms, 1),
        "course_page_p50_ratio": round(course.p50_ms / baseline.p50_ms, 1),
        "pages": seeded.pages,
        "seed_s": round(seed_s, 1),
        "index_s": round(index_s, 1),
        "indexed_pages": sum(indexed.values()),
        "requests": REQUESTS,
        "database": connection.vendor,
        "search_backend": backend.__name__,
        "load_avg_1m": round(max(load_before, load_after), 1),
    }
    return summary


def main() -> None:
    # Only seeding hashes a password (once, before any hasher is cached); no reason to wait for PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        # A file, like the app's, but in the temp dir: never var/corridor.sqlite3 nor a test suite's database.
        test_name = str(Path(tempfile.gettempdir()) / f"corridor_bench_catalogue_{os.getpid()}.sqlite3")
    else:
        # Never the app's database nor test_corridor; the pid keeps two benchmark runs apart.
        test_name = f"{database['NAME']}_catalogue_{os.getpid()}"
    database.setdefault("TEST", {})["NAME"] = test_name
    old_name = database["NAME"]
    started = time.perf_counter()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    print(f"created {connection.vendor} database {test_name} (migrations) in {time.perf_counter() - started:.1f} s")
    try:
        summary = run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
    print(json.dumps(summary, sort_keys=False))


if __name__ == "__main__":
    main()
