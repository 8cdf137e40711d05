from typing import Any

from .env import env

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")

_staticfiles: dict[str, Any] = {
    "BACKEND": env.str("STATICFILES_BACKEND", default="django.contrib.staticfiles.storage.StaticFilesStorage")
}

if AWS_STORAGE_BUCKET_NAME:
    STORAGES: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": AWS_STORAGE_BUCKET_NAME,
                "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
                "region_name": env.str("AWS_S3_REGION_NAME", default="ap-southeast-1"),
                "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
                "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
                # Against a custom endpoint botocore would otherwise presign with SigV2.
                "signature_version": "s3v4",
                "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
                "default_acl": None,
                "file_overwrite": False,
                "querystring_auth": True,
                "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
            },
        },
        "staticfiles": _staticfiles,
    }
    # Documents (lesson videos, handouts) are fetched from S3 by a short-lived signed URL.
    WAGTAILDOCS_SERVE_METHOD = "redirect"
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": _staticfiles,
    }
    # Documents stream through Wagtail's view, which asks courses.wagtail_hooks who may read them.
    WAGTAILDOCS_SERVE_METHOD = "serve_view"
