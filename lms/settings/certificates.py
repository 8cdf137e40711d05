"""Certificates: the issuer's signing key, the public URL certificates point at, how long file links live."""

from pathlib import Path

from .env import VAR_DIR, env

# The issuer's Ed25519 key (a base64 32-byte seed or a multibase Multikey secret). It comes from the
# environment, never from the repository. Unset, it is read from CERTIFICATE_SIGNING_KEY_FILE, which
# `load_demo` creates on a development machine (var/ is not committed).
CERTIFICATE_SIGNING_KEY: str = env.str("CERTIFICATE_SIGNING_KEY", default="")
CERTIFICATE_SIGNING_KEY_FILE = Path(
    env.str("CERTIFICATE_SIGNING_KEY_FILE", default=str(VAR_DIR / "certificate-signing.key"))
)
# The public address of this deployment: QR codes, credential ids and the key URL are built on it.
CORRIDOR_PUBLIC_URL: str = env.str(
    "CORRIDOR_PUBLIC_URL", default=env.str("WAGTAILADMIN_BASE_URL", default="http://127.0.0.1:8000")
).rstrip("/")
CERTIFICATE_ISSUER_NAME: str = env.str("CERTIFICATE_ISSUER_NAME", default="Corridor Training Consortium")
CERTIFICATE_ISSUER_NAME_ZH: str = env.str("CERTIFICATE_ISSUER_NAME_ZH", default="Corridor 培训联盟")
# How long a certificate file's signed URL stays valid.
CERTIFICATE_URL_MAX_AGE: int = env.int("CERTIFICATE_URL_MAX_AGE", default=300)
# Storage key prefix of certificate PDFs and credentials.
CERTIFICATES_STORAGE_PREFIX: str = env.str("CERTIFICATES_STORAGE_PREFIX", default="certificates")
# Certificates per Celery task in a bulk run (progress still moves one certificate at a time).
CERTIFICATE_TASK_ITEMS: int = env.int("CERTIFICATE_TASK_ITEMS", default=8)
# Verification by code (page and JSON): how long an outcome is cached (revoking forgets it at once), and how many
# verification requests one address may make per minute before a 429.
CERTIFICATE_VERIFY_CACHE_SECONDS: int = env.int("CERTIFICATE_VERIFY_CACHE_SECONDS", default=300)
CERTIFICATE_VERIFY_RATE: int = env.int("CERTIFICATE_VERIFY_RATE", default=30)
