from typing import Any

from .env import env

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
_AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="")
_AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="ap-southeast-1")
_AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="")
_AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="")

# Personal files (certificates, recordings) live in their region's storage (lms/regions.py): one bucket per
# region, each defaulting to the one bucket above; locally one folder per region under MEDIA_ROOT.
STORAGE_REGIONS = ("singapore", "chongqing")
# Where a session's recordings go unless the person scheduling it chose: the instructor's home region, or always
# one region.
RECORDINGS_REGION = env.str("RECORDINGS_REGION", default="instructor")
if RECORDINGS_REGION not in ("instructor", *STORAGE_REGIONS):
    raise ValueError(f"RECORDINGS_REGION must be instructor, singapore or chongqing, not {RECORDINGS_REGION!r}")


def _s3(*, bucket: str, endpoint: str, region_name: str, access_key: str, secret_key: str) -> dict[str, Any]:
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint or None,
            "region_name": region_name,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            # Against a custom endpoint botocore would otherwise presign with SigV2.
            "signature_version": "s3v4",
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="path"),
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
        },
    }


# Each region's bucket, and where it differs, its endpoint, AWS region and keys (China's regions need their own).
_REGION_S3 = {
    "singapore": {
        "bucket": env.str("AWS_STORAGE_BUCKET_NAME_SINGAPORE", default=""),
        "endpoint": env.str("AWS_S3_ENDPOINT_URL_SINGAPORE", default=""),
        "region_name": env.str("AWS_S3_REGION_NAME_SINGAPORE", default=""),
        "access_key": env.str("AWS_ACCESS_KEY_ID_SINGAPORE", default=""),
        "secret_key": env.str("AWS_SECRET_ACCESS_KEY_SINGAPORE", default=""),
    },
    "chongqing": {
        "bucket": env.str("AWS_STORAGE_BUCKET_NAME_CHONGQING", default=""),
        "endpoint": env.str("AWS_S3_ENDPOINT_URL_CHONGQING", default=""),
        "region_name": env.str("AWS_S3_REGION_NAME_CHONGQING", default=""),
        "access_key": env.str("AWS_ACCESS_KEY_ID_CHONGQING", default=""),
        "secret_key": env.str("AWS_SECRET_ACCESS_KEY_CHONGQING", default=""),
    },
}


def _region_s3(region: str) -> dict[str, Any]:
    own = _REGION_S3[region]
    return _s3(
        bucket=own["bucket"] or AWS_STORAGE_BUCKET_NAME,
        endpoint=own["endpoint"] or _AWS_S3_ENDPOINT_URL,
        region_name=own["region_name"] or _AWS_S3_REGION_NAME,
        access_key=own["access_key"] or _AWS_ACCESS_KEY_ID,
        secret_key=own["secret_key"] or _AWS_SECRET_ACCESS_KEY,
    )


_staticfiles: dict[str, Any] = {
    "BACKEND": env.str("STATICFILES_BACKEND", default="django.contrib.staticfiles.storage.StaticFilesStorage")
}

if AWS_STORAGE_BUCKET_NAME:
    STORAGES: dict[str, dict[str, Any]] = {
        "default": _s3(
            bucket=AWS_STORAGE_BUCKET_NAME,
            endpoint=_AWS_S3_ENDPOINT_URL,
            region_name=_AWS_S3_REGION_NAME,
            access_key=_AWS_ACCESS_KEY_ID,
            secret_key=_AWS_SECRET_ACCESS_KEY,
        ),
        **{region: _region_s3(region) for region in STORAGE_REGIONS},
        "staticfiles": _staticfiles,
    }
    # Documents (lesson videos, handouts) are fetched from S3 by a short-lived signed URL.
    WAGTAILDOCS_SERVE_METHOD = "redirect"
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        **{
            # MEDIA_ROOT/<region>/ (lms/regions.py), the embedded default's stand-in for a region's bucket.
            region: {"BACKEND": "lms.regions.RegionFolderStorage", "OPTIONS": {"region": region}}
            for region in STORAGE_REGIONS
        },
        "staticfiles": _staticfiles,
    }
    # Documents stream through Wagtail's view, which asks courses.wagtail_hooks who may read them.
    WAGTAILDOCS_SERVE_METHOD = "serve_view"
