"""W3C Bitstring Status List v1.0: revocation that offline verifiers can check (no Django).

Each credential carries a `BitstringStatusListEntry` naming a status list credential and an
index in it. The list is a bitstring of at least 16 KB (131,072 entries, so one list hides
which certificate a verifier asks about), GZIP-compressed and written as multibase base64url
(`u...`). Index 0 is the most significant bit of the first byte; a set bit means revoked.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .multibase import MultibaseError, multibase_base64url, multibase_decode

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
STATUS_LIST_MIN_BITS = 131_072  # 16 KB, the spec's minimum
# A decompressed list larger than this is refused (a small gzip can inflate without bound).
STATUS_LIST_MAX_BYTES = 16 * 1024 * 1024

StatusPurpose = Literal["revocation", "suspension"]


class StatusListError(ValueError):
    """An encoded list or an index that the Bitstring Status List spec does not allow."""


@dataclass(frozen=True)
class StatusListEntry:
    """Where a credential's status lives: `index` in the list credential at `status_list_credential`."""

    status_list_credential: str
    index: int
    purpose: StatusPurpose = "revocation"

    def __post_init__(self) -> None:
        if self.index < 0:
            raise StatusListError("a status list index is 0 or more")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.status_list_credential}#{self.index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": self.purpose,
            # The spec writes the index as a base-10 string.
            "statusListIndex": str(self.index),
            "statusListCredential": self.status_list_credential,
        }


def status_list_encode(revoked: Iterable[int], *, length: int = STATUS_LIST_MIN_BITS) -> str:
    """The `encodedList` for a list of `length` entries with the `revoked` indexes set.

    The GZIP header carries no timestamp, so the same set always encodes to the same string
    (with zlib's default level, an empty list encodes exactly as the spec's example does).
    """
    if length < STATUS_LIST_MIN_BITS or length % 8:
        raise StatusListError(f"a status list has at least {STATUS_LIST_MIN_BITS} entries, a whole number of bytes")
    bits = bytearray(length // 8)
    for index in revoked:
        if not 0 <= index < length:
            raise StatusListError(f"index {index} is outside a list of {length} entries")
        bits[index // 8] |= 0x80 >> (index % 8)
    # zlib's gzip framing (mtime 0, OS 3): gzip.compress writes OS 255 from Python 3.13 on, which
    # would change every list's bytes, the spec's example included.
    deflater = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return multibase_base64url(deflater.compress(bytes(bits)) + deflater.flush())


def status_list_decode(encoded: str) -> bytes:
    """The raw bitstring of an `encodedList`, checked against the spec's minimum length."""
    try:
        compressed = multibase_decode(encoded)
    except MultibaseError as error:
        raise StatusListError(f"encodedList is not multibase: {error}") from error
    if not encoded.startswith("u"):
        raise StatusListError("encodedList is multibase base64url ('u')")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing only
    try:
        bits = inflater.decompress(compressed, STATUS_LIST_MAX_BYTES + 1)
    except zlib.error as error:
        raise StatusListError("encodedList is not GZIP data") from error
    if len(bits) > STATUS_LIST_MAX_BYTES or inflater.unconsumed_tail:
        raise StatusListError("the status list is larger than this verifier accepts")
    if not inflater.eof:
        raise StatusListError("the GZIP data is truncated")
    if len(bits) * 8 < STATUS_LIST_MIN_BITS:
        raise StatusListError(f"the status list has fewer than {STATUS_LIST_MIN_BITS} entries")
    return bits


def status_list_is_set(encoded: str, index: int) -> bool:
    """Whether entry `index` of an `encodedList` is set (for revocation: revoked)."""
    bits = status_list_decode(encoded)
    if not 0 <= index < len(bits) * 8:
        raise StatusListError(f"index {index} is outside a list of {len(bits) * 8} entries")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def status_list_credential_build(
    *,
    list_id: str,
    issuer_id: str,
    valid_from: datetime,
    revoked: Iterable[int],
    purpose: StatusPurpose = "revocation",
    length: int = STATUS_LIST_MIN_BITS,
    valid_until: datetime | None = None,
    ttl_ms: int | None = None,
) -> dict[str, Any]:
    """An unsigned `BitstringStatusListCredential` published at `list_id` (sign it like a credential)."""
    subject: dict[str, Any] = {
        "id": f"{list_id}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": status_list_encode(revoked, length=length),
    }
    if ttl_ms is not None:
        subject["ttl"] = ttl_ms
    document: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": list_id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": xsd_datetime(valid_from),
        "credentialSubject": subject,
    }
    if valid_until is not None:
        document["validUntil"] = xsd_datetime(valid_until)
    return document


@dataclass(frozen=True)
class StatusCheck:
    """The outcome of looking a credential up in a status list credential.

    `code` is one of: "not_revoked", "revoked", "no_status" (the credential names no list for
    this purpose), "wrong_list" (the list given is not the one it names), "malformed".
    """

    code: str
    reason: str
    index: int | None = None

    @property
    def revoked(self) -> bool:
        return self.code == "revoked"


def credential_status_check(
    credential: Mapping[str, Any],
    status_list_credential: Mapping[str, Any],
    *,
    purpose: StatusPurpose = "revocation",
) -> StatusCheck:
    """Look `credential` up in `status_list_credential` (whose signature the caller checks)."""
    entries = _status_entries(credential.get("credentialStatus"))
    entry = next((e for e in entries if e.get("statusPurpose") == purpose), None)
    if entry is None:
        return StatusCheck("no_status", f"the credential has no {purpose} status entry")
    list_url = entry.get("statusListCredential")
    raw_index = entry.get("statusListIndex")
    if not isinstance(list_url, str) or not isinstance(raw_index, str) or not raw_index.isdigit():
        return StatusCheck("malformed", "the credential's status entry is malformed")
    index = int(raw_index)
    if status_list_credential.get("id") != list_url:
        return StatusCheck("wrong_list", f"the credential's status is in {list_url}, not in the list given", index)
    subject = status_list_credential.get("credentialSubject")
    types = _as_list(status_list_credential.get("type"))
    if not isinstance(subject, Mapping) or "BitstringStatusListCredential" not in types:
        return StatusCheck("malformed", "not a BitstringStatusListCredential", index)
    if subject.get("statusPurpose") != purpose:
        return StatusCheck("wrong_list", f"the list given is not a {purpose} list", index)
    encoded = subject.get("encodedList")
    if not isinstance(encoded, str):
        return StatusCheck("malformed", "the status list has no encodedList", index)
    try:
        is_set = status_list_is_set(encoded, index)
    except StatusListError as error:
        return StatusCheck("malformed", str(error), index)
    if is_set:
        return StatusCheck("revoked", f"entry {index} of {list_url} is set: the credential is revoked", index)
    return StatusCheck("not_revoked", f"entry {index} of {list_url} is clear", index)


def xsd_datetime(moment: datetime) -> str:
    """An XML Schema dateTime in UTC to the second (`2025-01-31T09:30:00Z`); naive times are refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("credential times must be timezone-aware")
    utc = moment.astimezone(UTC).replace(microsecond=0)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_entries(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in _as_list(value) if isinstance(item, Mapping)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
