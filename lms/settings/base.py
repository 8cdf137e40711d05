from pathlib import Path

from django.utils.translation import gettext_lazy as _

from .env import BASE_DIR, REDIS_URL, VAR_DIR, env
from .keys import secret_key as _secret_key

DEBUG = env.bool("DEBUG", default=False)
# No default secret: outside DEBUG a missing or short SECRET_KEY stops start-up (lms/settings/keys.py); under
# DEBUG (`make run`) an unset key is made once per machine and kept in var/secret-key.
SECRET_KEY = _secret_key(env.str("SECRET_KEY", default=""), debug=DEBUG, key_file=VAR_DIR / "secret-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Which of the consortium's cities this deployment serves: "singapore" or "chongqing".
CORRIDOR_REGION = env.str("CORRIDOR_REGION", default="singapore")

INSTALLED_APPS = [
    "daphne",
    "lms.accounts",
    "lms",
    "lms.xapi",
    "certificates",
    "exams",
    "internships",
    "lti",
    "courses",
    "classrooms",
    "streaming",
    "frontend",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.simple_translation",
    "wagtail.locales",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "channels",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "lms.metrics.HttpMetricsMiddleware",
    "lms.log_context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every response (settings in security.py).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Wagtail's inline widget initialisers as data for a static script: no inline script in the admin either.
    "lms.admin_scripts.AdminInlineScriptsMiddleware",
    # The live page may time each city's SFU node (their probe URLs join its connect-src).
    "streaming.csp.MediaProbeSourcesMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "lms.errors.CorridorErrorMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # Last: turns a sign-in refused for too many failures into the locked-out page (lms/settings/signin.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lms.urls"
ASGI_APPLICATION = "lms.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lms.context_processors.corridor",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'corridor.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Daphne serves each request on a thread; wait for the writer lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Transactions take the write lock when they begin: a deferred one that reads and then
    # writes while another writer is active fails at once with "database is locked" instead
    # of waiting for the timeout.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # A fresh clone has no var/ yet, and SQLite cannot create the folder itself.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", default=True):
    # A connection pool, not CONN_MAX_AGE: under ASGI each request runs on a thread of its own, so
    # persistent connections would pile up, while opening one per query costs the live sockets
    # more than the query itself (measured with bench/live_load.py).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": 10,
    }
    # Each connection is checked as it leaves the pool (with a pool, Django's health checks are the pool's `check`):
    # after the database restarted, or its connections were cut, the pool's idle connections are dead, and without
    # a check each would fail one request with an error first (tests/faults/test_database_outage.py).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Threads on which sockets' joins reach PostgreSQL in parallel (lms/db_async.py); 1 queues them on one thread, as
# Channels does. Keep it below DATABASE_POOL_MAX, which HTTP requests share.
DATABASE_ASYNC_THREADS = env.int("DATABASE_ASYNC_THREADS", default=8)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:after-login"
LOGOUT_REDIRECT_URL = "/"

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "frontend" / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
# Pages show the reader's home-city clock and name the city: each city's zone is in lms/timezones.py.

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Serve static files from the finders, so neither `make run` nor the tests need collectstatic.
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if env.str("EMAIL_URL", default=""):
    # e.g. smtp+tls://user:password@smtp.example:587 sets the SMTP backend, host, port and credentials at once.
    globals().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Corridor <no-reply@corridor.example>")
# Quizzes and exams: attempts allowed and minutes between attempts, unless a quiz block sets its own.
QUIZ_MAX_ATTEMPTS = env.int("QUIZ_MAX_ATTEMPTS", default=3)
QUIZ_COOLDOWN_MINUTES = env.int("QUIZ_COOLDOWN_MINUTES", default=10)
# Reminder emails go out this many minutes before a live session starts.
CORRIDOR_REMINDER_MINUTES = env.int("CORRIDOR_REMINDER_MINUTES", default=30)
# How long before an exam sitting its candidates are reminded by email (exams.tasks.send_exam_reminders).
EXAM_REMINDER_HOURS = env.int("EXAM_REMINDER_HOURS", default=24)
# Operator alerts (classrooms.services.alerts): a room agent or device silent this many seconds, or a link losing
# more than this share of its packets for this many seconds, raises an alert (banner, email, record).
ALERT_SILENT_SECONDS = env.float("ALERT_SILENT_SECONDS", default=15.0)
ALERT_LOSS_PCT = env.float("ALERT_LOSS_PCT", default=3.0)
ALERT_LOSS_SECONDS = env.float("ALERT_LOSS_SECONDS", default=10.0)
# Link-quality samples (rooms' links, the Singapore–Chongqing link) are kept this many days for session history.
LINK_SAMPLES_KEEP_DAYS = env.int("LINK_SAMPLES_KEEP_DAYS", default=90)
# Retention (classrooms.services.retention, streaming.services.recordings_expire; beat runs them hourly): what a live
# session leaves is deleted this many days after it ended; 0 keeps it forever. Attendance detail is each trainee's
# stays and check-ins (their attendance record stays, with the minutes certificates read, and their recording consent).
RETENTION_LIVE_EVENTS_DAYS = env.int("RETENTION_LIVE_EVENTS_DAYS", default=90)
RETENTION_ATTENDANCE_DETAIL_DAYS = env.int("RETENTION_ATTENDANCE_DETAIL_DAYS", default=0)
RETENTION_RECORDINGS_DAYS = env.int("RETENTION_RECORDINGS_DAYS", default=0)
# A room's device registry: at most this many devices per room (registered and reported together). A room agent's
# report naming a device beyond the cap is not stored, so a faulty agent cannot fill the table.
ROOM_DEVICE_CAP = env.int("ROOM_DEVICE_CAP", default=16)
# A person's data export (lms.accounts: data.json and their files, one ZIP) is kept this many days, then deleted;
# its download link lives DATA_EXPORT_URL_MAX_AGE seconds; archives go under DATA_EXPORT_STORAGE_PREFIX.
DATA_EXPORT_KEEP_DAYS = env.int("DATA_EXPORT_KEEP_DAYS", default=7)
DATA_EXPORT_URL_MAX_AGE = env.int("DATA_EXPORT_URL_MAX_AGE", default=300)
DATA_EXPORT_STORAGE_PREFIX = env.str("DATA_EXPORT_STORAGE_PREFIX", default="exports")

# LOGGING: lms/settings/observability.py.
