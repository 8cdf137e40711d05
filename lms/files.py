"""Stored files, for every app that keeps some (certificates, recordings): short-lived signed links to
them, and writes that storage checks against the file's SHA-256.

Depends on Django and its storage backend (django-storages, boto3) only, never on an app.

Links: on S3 a presigned GET; on any other storage (local files, the embedded default) a link to the
app's own view carrying a Django-signed token that expires as fast and works only for the user it was
made for. `SignedFileLinks` makes and reads both; the app's view checks the claims it put in.

Each file is in its region's storage (lms/regions.py: `storage_for_region`, `StoredFile.region`).

Writes: `checksummed_writer(storage)` writes bytes (one PUT) or uploads a file (multipart, per-part
checksums) so that S3 refuses a corrupted transfer, and tells whether storage holds exactly a file.
Every write goes under exactly the key given, replacing what an earlier, interrupted run left.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.http import FileResponse
from django.urls import reverse
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from lms.errors import CorridorError
from lms.regions import storage_for_region

logger = logging.getLogger(__name__)

# S3's smallest part (but the last) is 5 MiB.
DEFAULT_PART_SIZE = 8 * 1024 * 1024


# Signed links ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredFile:
    """One stored file as its viewer gets it: where it is, its type, the name it downloads as."""

    key: str
    content_type: str
    filename: str
    attachment: bool = False  # saved as `filename` rather than shown in the browser
    region: str = ""  # the storage region its bytes are in (lms/regions.py); "" the default storage


@dataclass(frozen=True)
class SignedFileLinks:
    """Short-lived links to one app's files.

    `salt` keeps one app's tokens from opening another's files; `view` is the app's URL name taking
    `token` that serves a file from local storage; `max_age_setting` names the setting (seconds) for
    how long a link lives, read when a link is made or checked.
    """

    salt: str
    view: str
    max_age_setting: str

    @property
    def max_age(self) -> int:
        return int(getattr(settings, self.max_age_setting))

    def url(self, *, file: StoredFile, user: Any, claims: dict[str, Any]) -> str:
        """A URL for `file`: S3 presigned on S3, else a signed local link to `view` that works only for `user`
        and carries `claims` (what the view needs to find the file again)."""
        storage = storage_for_region(file.region)
        if isinstance(storage, S3Storage):
            parameters = {"ResponseContentType": file.content_type}
            if file.attachment:
                parameters["ResponseContentDisposition"] = f'attachment; filename="{file.filename}"'
            return str(storage.url(file.key, parameters=parameters, expire=self.max_age))
        token = signing.dumps({**claims, "user": user.pk}, salt=self.salt, compress=True)
        return reverse(self.view, kwargs={"token": token})

    def claims(self, *, token: str, user: Any) -> dict[str, Any] | None:
        """The claims of a token `url` made for `user`, if it has not expired; None for anything else."""
        try:
            claims = signing.loads(token, salt=self.salt, max_age=self.max_age)
        except signing.BadSignature:  # also SignatureExpired
            return None
        if not isinstance(claims, dict) or claims.get("user") != user.pk:
            return None
        return claims


def stored_file_response(file: StoredFile) -> FileResponse:
    """Serve `file` from local storage, for a valid signed link (never cached: the link is per user)."""
    response = FileResponse(
        storage_for_region(file.region).open(file.key, "rb"),
        content_type=file.content_type,
        filename=file.filename,
        as_attachment=file.attachment,
    )
    response["Cache-Control"] = "private, no-store"
    return response


# Checksummed writes ---------------------------------------------------------------------------------------------


class StorageKeyConflict(CorridorError):
    """Storage kept a file under another name than the key asked for (it would not replace the old one)."""

    def __init__(self, *, key: str, stored: str) -> None:
        super().__init__("storage_conflict", f"storage kept {stored!r} instead of {key!r}")


class ChecksummedWriter(Protocol):
    def write(self, *, key: str, content: bytes, content_type: str) -> str:
        """Store `content` under exactly `key`; return its SHA-256 (hex)."""

    def upload(self, *, key: str, path: Path, size: int, sha256: str, content_type: str) -> None:
        """Store the file at `path` (of `size` bytes and SHA-256 `sha256`, hex) under exactly `key`."""

    def holds(self, *, key: str, path: Path | None, size: int | None, sha256: str) -> bool:
        """Whether storage holds exactly this file under `key` (`path` None: the local file is gone)."""


def checksummed_writer(storage: Storage | None = None, *, part_size: int = DEFAULT_PART_SIZE) -> ChecksummedWriter:
    """The writer for `storage` (the default storage if None): S3, or any other through the Storage API."""
    storage = default_storage if storage is None else storage
    if isinstance(storage, S3Storage):
        return S3Writer(storage=storage, part_size=part_size)
    return StorageWriter(storage=storage)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class S3Writer:
    """Writes through the storage backend's own boto3 client, with SHA-256s that S3 checks on arrival.

    Bytes go in one PUT that overwrites. A file goes as a multipart upload checksummed per part; S3
    reports the object's composite checksum (the SHA-256 of the parts' SHA-256s, "-<parts>"), which
    `holds` compares with the one computed from the local file. The whole file's SHA-256 also goes
    into the object's metadata.
    """

    storage: S3Storage
    part_size: int = DEFAULT_PART_SIZE

    @property
    def client(self) -> Any:
        return self.storage.connection.meta.client

    def object_key(self, key: str) -> str:
        return str(self.storage._normalize_name(clean_name(key)))

    def write(self, *, key: str, content: bytes, content_type: str) -> str:
        digest = hashlib.sha256(content)
        self.storage.bucket.Object(self.object_key(key)).put(
            Body=content,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(digest.digest()),
        )
        return digest.hexdigest()

    def part_digests(self, path: Path) -> list[bytes]:
        digests = []
        with path.open("rb") as file:
            while chunk := file.read(self.part_size):
                digests.append(hashlib.sha256(chunk).digest())
        return digests

    def composite_checksum(self, path: Path) -> str:
        digests = self.part_digests(path)
        return f"{_b64(hashlib.sha256(b''.join(digests)).digest())}-{len(digests)}"

    def holds(self, *, key: str, path: Path | None, size: int | None, sha256: str) -> bool:
        try:
            head = self.client.head_object(
                Bucket=self.storage.bucket_name, Key=self.object_key(key), ChecksumMode="ENABLED"
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        if head.get("Metadata", {}).get("sha256") != sha256 or head.get("ContentLength") != size:
            return False
        if path is None:
            return True
        expected, parts = self.composite_checksum(path).rsplit("-", 1)
        stored = str(head.get("ChecksumSHA256", ""))
        # S3 reports a composite checksum as "<base64>-<parts>" (some S3-compatible servers leave the suffix off).
        stored_value, _, stored_parts = stored.partition("-")
        return stored_value == expected and stored_parts in {"", parts}

    def abort_unfinished(self, object_key: str) -> None:
        """Abort the unfinished multipart uploads of `object_key`: an earlier attempt's, whose worker was killed
        before it could abort them itself (its parts are billed until then). Keys are one per recording or
        composition, and an upload is only started when storage does not hold the file yet."""
        try:
            found = self.client.list_multipart_uploads(Bucket=self.storage.bucket_name, Prefix=object_key)
            for upload in found.get("Uploads", []):
                if upload["Key"] == object_key:
                    self.client.abort_multipart_upload(
                        Bucket=self.storage.bucket_name, Key=object_key, UploadId=upload["UploadId"]
                    )
        except (ClientError, BotoCoreError):
            logger.warning("could not list or abort the unfinished uploads of %s", object_key, exc_info=True)

    def upload(self, *, key: str, path: Path, size: int, sha256: str, content_type: str) -> None:
        bucket, object_key = self.storage.bucket_name, self.object_key(key)
        self.abort_unfinished(object_key)
        upload_id = self.client.create_multipart_upload(
            Bucket=bucket,
            Key=object_key,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": sha256},
        )["UploadId"]
        try:
            parts = []
            with path.open("rb") as file:
                number = 0
                while chunk := file.read(self.part_size):
                    number += 1
                    checksum = _b64(hashlib.sha256(chunk).digest())
                    response = self.client.upload_part(
                        Bucket=bucket,
                        Key=object_key,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                        ChecksumSHA256=checksum,
                    )
                    parts.append({"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": checksum})
            self.client.complete_multipart_upload(
                Bucket=bucket, Key=object_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            # Parts of an unfinished upload are billed until aborted (a bucket lifecycle rule
            # should abort incomplete uploads too, for workers killed right here).
            try:
                self.client.abort_multipart_upload(Bucket=bucket, Key=object_key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                logger.warning("could not abort multipart upload %s of %s", upload_id, object_key)
            raise


@dataclass(frozen=True)
class StorageWriter:
    """Any other Django storage (local files on the embedded default), through the Storage API."""

    storage: Storage

    def stored_sha256(self, key: str) -> tuple[int, str] | None:
        if not self.storage.exists(key):
            return None
        digest, size = hashlib.sha256(), 0
        with self.storage.open(key, "rb") as file:
            while chunk := file.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        return size, digest.hexdigest()

    def holds(self, *, key: str, path: Path | None, size: int | None, sha256: str) -> bool:
        return self.stored_sha256(key) == (size, sha256)

    def _save(self, key: str, content: File[Any]) -> None:
        if self.storage.exists(key):
            self.storage.delete(key)  # an earlier, incomplete copy: replace it, not keep both
        name = self.storage.save(key, content)
        if name != key:
            self.storage.delete(name)
            raise StorageKeyConflict(key=key, stored=name)

    def write(self, *, key: str, content: bytes, content_type: str) -> str:
        self._save(key, ContentFile(content))
        return hashlib.sha256(content).hexdigest()

    def upload(self, *, key: str, path: Path, size: int, sha256: str, content_type: str) -> None:
        with path.open("rb") as file:
            self._save(key, File(file, name=path.name))
