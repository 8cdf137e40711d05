"""Signed certificate credentials: Open Badges 3.0 in the W3C VC 2.0 form (no Django).

A certificate's credential is an `OpenBadgeCredential` whose `credentialSubject` is an
`AchievementSubject` holding the course's `Achievement`. It is secured with a W3C Data
Integrity proof using the eddsa-jcs-2022 cryptosuite (vc-di-eddsa §3.3):

    hashData   = SHA-256(JCS(proof options)) || SHA-256(JCS(document without proof))
    proofValue = "z" + base58btc(Ed25519 signature of hashData)

JCS is RFC 8785, so no JSON-LD processing (and no context fetching) is needed to sign or to
verify. The signing key comes from the environment as a string; its public half is
published as a Multikey document at a stable URL, and that URL is the proof's
`verificationMethod`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from .contexts import MULTIKEY_V1, OB_V3P0, VC_V2
from .multibase import (
    ED25519_KEY_BYTES,
    MultibaseError,
    multibase_base58btc,
    multibase_decode,
    multikey_ed25519_public_decode,
    multikey_ed25519_public_encode,
    multikey_ed25519_secret_decode,
    multikey_ed25519_secret_encode,
)
from .status_list import StatusListEntry, xsd_datetime

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_PURPOSE = "assertionMethod"
CREDENTIAL_CONTEXT = (VC_V2, OB_V3P0)
ED25519_SIGNATURE_BYTES = 64

VerificationCode = Literal[
    "ok",
    "malformed",
    "no_proof",
    "wrong_cryptosuite",
    "wrong_purpose",
    "unknown_key",
    "bad_key",
    "context_mismatch",
    "expired",
    "bad_signature",
]


class KeyFormatError(ValueError):
    """A key string that is not in a form we accept. The message never repeats the secret."""


# --- keys ---------------------------------------------------------------------------------


def signing_key_from_secret(secret: str) -> Ed25519PrivateKey:
    """The Ed25519 signing key in `secret`, as read from the environment.

    Accepted: an Ed25519 secret Multikey (`z3u2...`, multicodec 0x8026 + the 32-byte seed),
    or the 32-byte seed in base64 or base64url, padded or not.
    """
    text = secret.strip()
    if not text:
        raise KeyFormatError("the signing key secret is empty")
    seed: bytes | None = None
    if text.startswith("z"):
        try:
            seed = multikey_ed25519_secret_decode(text)
        except MultibaseError:
            seed = None  # base64 may start with 'z' too
    if seed is None:
        seed = _base64_seed(text)
    return Ed25519PrivateKey.from_private_bytes(seed)


def _base64_seed(text: str) -> bytes:
    standard = text.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(
            "the signing key is neither an Ed25519 secret Multikey (z...) nor base64 of a 32-byte seed"
        ) from None
    if len(raw) != ED25519_KEY_BYTES:
        raise KeyFormatError(f"the signing key decodes to {len(raw)} bytes; an Ed25519 seed is 32")
    return raw


def generate_secret() -> str:
    """A new Ed25519 secret as a Multikey (`z3u2...`): for the environment, never the repository."""
    return secret_key_multibase(Ed25519PrivateKey.generate())


def secret_key_multibase(key: Ed25519PrivateKey) -> str:
    return multikey_ed25519_secret_encode(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def public_key_multibase(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as a Multikey `publicKeyMultibase` (`z6Mk...`)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return multikey_ed25519_public_encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(multikey_ed25519_public_decode(value))
    except (MultibaseError, ValueError) as error:
        raise KeyFormatError(f"not an Ed25519 public Multikey: {error}") from error


def public_key_document(
    *,
    key_id: str,
    controller: str,
    public_key: str | Ed25519PublicKey | Ed25519PrivateKey,
    name: str = "",
) -> dict[str, Any]:
    """The issuer's key document, to publish at `controller` (the credentials' issuer id).

    A controlled identifier document (W3C CID 1.0, plain JSON) holding one Multikey
    verification method, `key_id` (for example `controller + "#key-1"`), which is the
    proofs' `verificationMethod` and is listed under `assertionMethod`. Only public
    material goes in: a private key is reduced to its public half.
    """
    public = public_key if isinstance(public_key, str) else public_key_multibase(public_key)
    public_key_from_multibase(public)  # refuse to publish anything but an Ed25519 public key
    document: dict[str, Any] = {"id": controller}
    if name:
        document["name"] = name
    document["verificationMethod"] = [
        {"id": key_id, "type": "Multikey", "controller": controller, "publicKeyMultibase": public}
    ]
    document["assertionMethod"] = [key_id]
    return document


def multikey_document(
    *, key_id: str, controller: str, public_key: str | Ed25519PublicKey | Ed25519PrivateKey
) -> dict[str, Any]:
    """A standalone Multikey document (JSON-LD, bundled context), for a key published at its own URL."""
    public = public_key if isinstance(public_key, str) else public_key_multibase(public_key)
    public_key_from_multibase(public)
    return {
        "@context": MULTIKEY_V1,
        "id": key_id,
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": public,
    }


@dataclass(frozen=True)
class PublishedKey:
    id: str | None
    controller: str | None
    public_key: str


def public_keys_from_document(document: Mapping[str, Any]) -> list[PublishedKey]:
    """The keys in a published key document: a Multikey document, a controller document
    (`verificationMethod` list), or a bare `{"publicKeyMultibase": ...}` (then `id` is None)."""
    candidates: list[Any] = [document]
    methods = document.get("verificationMethod")
    if isinstance(methods, list):
        candidates.extend(methods)
    keys: list[PublishedKey] = []
    for candidate in candidates:
        if not isinstance(candidate, Mapping) or not isinstance(candidate.get("publicKeyMultibase"), str):
            continue
        key_id = candidate.get("id")
        controller = candidate.get("controller")
        keys.append(
            PublishedKey(
                id=key_id if isinstance(key_id, str) else None,
                controller=controller if isinstance(controller, str) else None,
                public_key=candidate["publicKeyMultibase"],
            )
        )
    return keys


# --- building -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Issuer:
    """The issuing organisation. `id` is where its key document is published (the key's controller)."""

    id: str
    name: str
    name_zh: str = ""
    url: str = ""


@dataclass(frozen=True)
class Recipient:
    """The trainee: their name in English and, where given, in Chinese.

    `email`, if given, goes in only as a salted SHA-256 (an Open Badges IdentityHash), so the
    credential does not publish it; `email_hash_salt` is the salt (the certificate code will do).
    """

    name_en: str
    name_zh: str = ""
    id: str = ""  # a DID or URL for the trainee, if they have one
    email: str = ""
    email_hash_salt: str = ""


@dataclass(frozen=True)
class Achievement:
    """What was achieved: the course, titled in both languages, and how it was earned."""

    id: str  # a stable URL for this course's achievement
    title_en: str
    title_zh: str = ""
    criteria_en: str = ""
    criteria_zh: str = ""
    course_code: str = ""


def credential_build(
    *,
    credential_id: str,
    issuer: Issuer,
    recipient: Recipient,
    achievement: Achievement,
    valid_from: datetime,
    certificate_code: str,
    status: StatusListEntry | None = None,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """An unsigned `OpenBadgeCredential` for one certificate (sign it with `credential_sign`).

    Fields Open Badges defines as text stay plain strings (both languages in one string, as
    on the paper certificate); the recipient's name in each script is also an `identifier`
    entry, so machines need not split strings.
    """
    if not certificate_code:
        raise ValueError("a certificate has a code")
    if recipient.email and not recipient.email_hash_salt:
        raise ValueError("an email goes in hashed, with a salt")
    issued = xsd_datetime(valid_from)
    title = _bilingual(achievement.title_en, achievement.title_zh)
    name = _bilingual(recipient.name_en, recipient.name_zh)

    description = (
        f"Awarded to {recipient.name_en} for completing {achievement.title_en}. Certificate code {certificate_code}."
    )
    if recipient.name_zh or achievement.title_zh:
        name_zh = recipient.name_zh or recipient.name_en
        title_zh = achievement.title_zh or achievement.title_en
        description += f"\n授予{name_zh}，以表彰其完成《{title_zh}》。证书编号 {certificate_code}。"

    criteria = "\n\n".join(text for text in (achievement.criteria_en, achievement.criteria_zh) if text)
    achievement_json: dict[str, Any] = {
        "id": achievement.id,
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": title,
        "description": _bilingual(
            f"Completion of the course {achievement.title_en}.",
            achievement.title_zh and f"完成课程《{achievement.title_zh}》。",
        ),
        "criteria": {"narrative": criteria or f"Completed {achievement.title_en}."},
    }
    if achievement.course_code:
        achievement_json["humanCode"] = achievement.course_code

    identifiers: list[dict[str, Any]] = [
        {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": value}
        for value in (recipient.name_en, recipient.name_zh)
        if value
    ]
    if recipient.email:
        identifiers.append(_email_identity(recipient.email, recipient.email_hash_salt))
    subject_json: dict[str, Any] = {}
    if recipient.id:
        subject_json["id"] = recipient.id
    subject_json |= {
        "type": ["AchievementSubject"],
        "name": name,
        "identifier": identifiers,
        "achievement": achievement_json,
    }

    issuer_json: dict[str, Any] = {
        "id": issuer.id,
        "type": ["Profile"],
        "name": _bilingual(issuer.name, issuer.name_zh),
    }
    if issuer.url:
        issuer_json["url"] = issuer.url

    document: dict[str, Any] = {
        "@context": list(CREDENTIAL_CONTEXT),
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": _bilingual(
            f"Certificate: {achievement.title_en}", achievement.title_zh and f"证书：{achievement.title_zh}"
        ),
        "description": description,
        "issuer": issuer_json,
        "validFrom": issued,
        "awardedDate": issued,
        "credentialSubject": subject_json,
    }
    if valid_until is not None:
        document["validUntil"] = xsd_datetime(valid_until)
    if status is not None:
        document["credentialStatus"] = status.as_json()
    return document


def _email_identity(email: str, salt: str) -> dict[str, Any]:
    """An Open Badges IdentityHash: "sha256$" + hex SHA-256 of the address followed by the salt."""
    digest = hashlib.sha256((email.strip() + salt).encode()).hexdigest()
    return {
        "type": "IdentityObject",
        "identityType": "emailAddress",
        "hashed": True,
        "identityHash": f"sha256${digest}",
        "salt": salt,
    }


def _bilingual(english: str, chinese: str) -> str:
    return f"{english} / {chinese}" if chinese and chinese != english else english


# --- signing and verifying ----------------------------------------------------------------


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON (UTF-8 bytes)."""
    return rfc8785.dumps(value)


def proof_hash_data(unsecured_document: Mapping[str, Any], proof_options: Mapping[str, Any]) -> bytes:
    """vc-di-eddsa §3.3.4: SHA-256 of the canonical proof options, then of the canonical document."""
    if proof_options.get("type") != PROOF_TYPE or proof_options.get("cryptosuite") != CRYPTOSUITE:
        raise ValueError(f"proof options must be {PROOF_TYPE} with cryptosuite {CRYPTOSUITE}")
    return hashlib.sha256(jcs(proof_options)).digest() + hashlib.sha256(jcs(unsecured_document)).digest()


def proof_create(
    unsecured_document: Mapping[str, Any],
    *,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    proof_purpose: str = PROOF_PURPOSE,
) -> dict[str, Any]:
    """vc-di-eddsa §3.3.1 Create Proof: the `proof` object for `unsecured_document`."""
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": xsd_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in unsecured_document:
        # Step 2: binds the proof to the document's contexts (and keeps proof sets interoperable).
        proof["@context"] = copy.deepcopy(unsecured_document["@context"])
    signature = key.sign(proof_hash_data(unsecured_document, proof))
    proof["proofValue"] = multibase_base58btc(signature)
    return proof


def credential_sign(
    document: Mapping[str, Any],
    *,
    key: Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
) -> dict[str, Any]:
    """A copy of `document` with an eddsa-jcs-2022 `proof`. A document already signed is refused."""
    if "proof" in document:
        raise ValueError("the document already has a proof")
    signed = copy.deepcopy(dict(document))
    signed["proof"] = proof_create(document, key=key, verification_method=verification_method, created=created)
    return signed


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a credential's proof.

    `code` is a stable word for machines ("ok", "no_proof", "bad_signature", ...);
    `reason` says the same for people.
    """

    valid: bool
    code: VerificationCode
    reason: str
    verification_method: str | None = None


def credential_verify(
    document: Mapping[str, Any],
    *,
    public_keys: Mapping[str, str],
    now: datetime | None = None,
) -> Verification:
    """vc-di-eddsa §3.3.2 Verify Proof, trusting only `public_keys` (verification method id ->
    publicKeyMultibase). Every proof must verify. Nothing is fetched.

    Any change to the signed JSON (a name, a date, the achievement, the status entry, the
    proof's own options) makes it invalid with code "bad_signature".
    """
    if not isinstance(document, Mapping):
        return _invalid("malformed", "a credential is a JSON object")
    proofs = document.get("proof")
    if proofs is None or proofs == []:
        return _invalid("no_proof", "the credential carries no proof: it is not signed")
    unsecured = {name: value for name, value in document.items() if name != "proof"}
    result = _invalid("no_proof", "the credential carries no proof: it is not signed")
    for proof in proofs if isinstance(proofs, list) else [proofs]:
        result = _proof_verify(document, unsecured, proof, public_keys, now or datetime.now(UTC))
        if not result.valid:
            break
    return result


def _proof_verify(
    document: Mapping[str, Any],
    unsecured: dict[str, Any],
    proof: Any,
    public_keys: Mapping[str, str],
    now: datetime,
) -> Verification:
    if not isinstance(proof, Mapping):
        return _invalid("malformed", "the proof is not a JSON object")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        found = f"{proof.get('type')}/{proof.get('cryptosuite')}"
        return _invalid("wrong_cryptosuite", f"the proof is {found}; expected {PROOF_TYPE}/{CRYPTOSUITE}")
    method = proof.get("verificationMethod")
    if not isinstance(method, str) or not method:
        return _invalid("malformed", "the proof names no verificationMethod")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        return _invalid("wrong_purpose", f"the proof's purpose is not {PROOF_PURPOSE}", method)
    created = proof.get("created")
    if created is not None and _parse_datetime(created) is None:
        return _invalid("malformed", "the proof's created time is not a valid dateTime", method)
    if "expires" in proof:
        expires = _parse_datetime(proof["expires"])
        if expires is None:
            return _invalid("malformed", "the proof's expires time is not a valid dateTime", method)
        if expires <= now:
            return _invalid("expired", f"the proof expired at {proof['expires']}", method)
    proof_value = proof.get("proofValue")
    if not isinstance(proof_value, str) or not proof_value.startswith("z"):
        return _invalid("malformed", "the proofValue is not base58btc multibase", method)
    try:
        signature = multibase_decode(proof_value)
    except MultibaseError:
        return _invalid("malformed", "the proofValue is not base58btc multibase", method)
    if len(signature) != ED25519_SIGNATURE_BYTES:
        return _invalid("malformed", "the proofValue is not a 64-byte Ed25519 signature", method)
    key_text = public_keys.get(method)
    if key_text is None:
        return _invalid("unknown_key", f"signed with {method}, which is not a trusted key", method)
    try:
        public_key = public_key_from_multibase(key_text)
    except KeyFormatError as error:
        return _invalid("bad_key", f"the key for {method} is unusable: {error}", method)

    options = {name: value for name, value in proof.items() if name != "proofValue"}
    if "@context" in options:
        if not _starts_with(document.get("@context"), options["@context"]):
            return _invalid("context_mismatch", "the credential's @context does not start with the proof's", method)
        unsecured = {**unsecured, "@context": options["@context"]}
    try:
        hash_data = proof_hash_data(unsecured, options)
    except rfc8785.CanonicalizationError as error:
        return _invalid("malformed", f"the credential cannot be canonicalised (RFC 8785): {error}", method)
    try:
        public_key.verify(signature, hash_data)
    except InvalidSignature:
        return _invalid(
            "bad_signature",
            "the signature does not match the credential: it was altered after signing, or signed by another key",
            method,
        )
    return Verification(True, "ok", f"the signature by {method} is valid", method)


def _invalid(code: VerificationCode, reason: str, method: str | None = None) -> Verification:
    return Verification(False, code, reason, method)


def _starts_with(document_context: Any, proof_context: Any) -> bool:
    document_values = document_context if isinstance(document_context, list) else [document_context]
    proof_values = proof_context if isinstance(proof_context, list) else [proof_context]
    return document_context is not None and document_values[: len(proof_values)] == proof_values


def _parse_datetime(value: Any) -> datetime | None:
    """An XML Schema dateTime with a time zone, or None."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


# --- reading --------------------------------------------------------------------------------


class CredentialFormatError(ValueError):
    """Text that is not one JSON object as RFC 8785 can canonicalise it."""


def credential_loads(text: str | bytes) -> dict[str, Any]:
    """Parse a credential, refusing what JCS cannot sign faithfully: duplicate member names,
    NaN/Infinity, and anything but an object at the top."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                raise CredentialFormatError(f"duplicate member {name!r}")
            result[name] = value
        return result

    def no_constant(name: str) -> Any:
        raise CredentialFormatError(f"{name} is not JSON")

    try:
        document = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CredentialFormatError(f"not JSON: {error}") from error
    if not isinstance(document, dict):
        raise CredentialFormatError("a credential is a JSON object")
    return document
