"""Streaming: TURN credentials for participants, and where session recordings are kept."""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .env import VAR_DIR, env

# coturn URLs handed to browsers, e.g. "turn:turn.sg.corridor.example:3478?transport=udp".
# Empty (the embedded default): no TURN, peers use host (and STUN) candidates only.
TURN_URLS: list[str] = env.list("TURN_URLS", default=[])
# coturn's `static-auth-secret`. It stays on the server: browsers get HMAC credentials derived from it.
TURN_SECRET: str = env.str("TURN_SECRET", default="")
TURN_TTL_SECONDS: int = env.int("TURN_TTL_SECONDS", default=3600)
# Optional STUN servers (coturn answers STUN on its TURN port too).
STUN_URLS: list[str] = env.list("STUN_URLS", default=[])

if TURN_URLS and not TURN_SECRET:
    raise ImproperlyConfigured("TURN_URLS is set but TURN_SECRET is empty: coturn would refuse every credential.")

# The SFU writes recordings here while a session runs; a Celery task moves them to storage afterwards.
RECORDINGS_DIR = Path(env.str("RECORDINGS_DIR", default=str(VAR_DIR / "recordings")))
# Storage key prefix of uploaded recordings.
RECORDINGS_STORAGE_PREFIX: str = env.str("RECORDINGS_STORAGE_PREFIX", default="recordings")
# How long a recording's signed URL (S3 presigned, or the local signed link) stays valid.
RECORDING_URL_MAX_AGE: int = env.int("RECORDING_URL_MAX_AGE", default=300)
# Multipart part size for the S3 upload (S3's minimum is 5 MiB for every part but the last).
RECORDING_UPLOAD_PART_SIZE: int = env.int("RECORDING_UPLOAD_PART_SIZE", default=8 * 1024 * 1024)
