from .base import LANGUAGES
from .env import env

WAGTAIL_SITE_NAME = "Corridor"
# No avatars from Gravatar: it would learn who uses the admin (a hash of their email), and it is not reachable
# from Chongqing. The admin shows its default avatar instead.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAILADMIN_BASE_URL = env.str("WAGTAILADMIN_BASE_URL", default="http://127.0.0.1:8000")
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
WAGTAILSIMPLETRANSLATION_SYNC_PAGE_TREE = False
# The database backend uses PostgreSQL full-text search on PostgreSQL and SQLite FTS otherwise.
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["pdf", "docx", "pptx", "xlsx", "txt", "zip", "mp4", "webm", "mp3"]
WAGTAILDOCS_MAX_UPLOAD_SIZE = 500 * 1024 * 1024
