"""Signed credentials: the W3C vc-di-eddsa vectors, tampering, keys, the status list, the offline CLI."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from certificates import contexts, credentials, multibase, status_list

VECTORS = Path(__file__).parent / "vectors"
REPO = Path(__file__).resolve().parents[2]
OFFLINE_FILE = REPO / "certificates" / "offline.py"

ISSUER_ID = "https://corridor.example/verify/issuer/"
METHOD = ISSUER_ID + "#key-1"
STATUS_URL = "https://corridor.example/verify/status/0.json"


def _vector() -> dict[str, Any]:
    return json.loads((VECTORS / "vc-di-eddsa-jcs-2022.json").read_text())


# --- the W3C vc-di-eddsa test vectors (Recommendation, Appendix B.3) -------------------------------------------


@pytest.fixture
def vector() -> dict[str, Any]:
    return _vector()


def test_vector_secret_key_derives_the_published_public_key(vector: dict[str, Any]) -> None:
    key = credentials.signing_key_from_secret(vector["keyPair"]["secretKeyMultibase"])

    assert credentials.public_key_multibase(key) == vector["keyPair"]["publicKeyMultibase"]
    assert credentials.secret_key_multibase(key) == vector["keyPair"]["secretKeyMultibase"]


def test_vector_canonical_credential_and_its_hash(vector: dict[str, Any]) -> None:
    canonical = credentials.jcs(vector["credentialWithoutProof"])

    assert canonical == vector["canonicalCredentialWithoutProof"].encode()
    assert hashlib.sha256(canonical).hexdigest() == vector["credentialHashHex"]


def test_vector_canonical_proof_options_and_their_hash(vector: dict[str, Any]) -> None:
    canonical = credentials.jcs(vector["proofOptions"])

    assert canonical == vector["canonicalProofOptions"].encode()
    assert hashlib.sha256(canonical).hexdigest() == vector["proofOptionsHashHex"]


def test_vector_combined_hash_signature_and_proof_value(vector: dict[str, Any]) -> None:
    key = credentials.signing_key_from_secret(vector["keyPair"]["secretKeyMultibase"])

    hash_data = credentials.proof_hash_data(vector["credentialWithoutProof"], vector["proofOptions"])
    signature = key.sign(hash_data)

    assert hash_data.hex() == vector["combinedHashHex"]
    assert signature.hex() == vector["signatureHex"]
    assert multibase.multibase_base58btc(signature) == vector["proofValue"]
    assert multibase.multibase_decode(vector["proofValue"]).hex() == vector["signatureHex"]


def test_signing_the_vector_credential_reproduces_the_spec_signed_credential(vector: dict[str, Any]) -> None:
    key = credentials.signing_key_from_secret(vector["keyPair"]["secretKeyMultibase"])

    signed = credentials.credential_sign(
        vector["credentialWithoutProof"],
        key=key,
        verification_method=vector["proofOptions"]["verificationMethod"],
        created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC),
    )

    assert signed == vector["signedCredential"]
    assert list(signed["proof"]) == list(vector["signedCredential"]["proof"])  # same member order too


def test_the_spec_signed_credential_verifies(vector: dict[str, Any]) -> None:
    method = vector["proofOptions"]["verificationMethod"]

    result = credentials.credential_verify(
        vector["signedCredential"], public_keys={method: vector["keyPair"]["publicKeyMultibase"]}
    )

    assert result == credentials.Verification(True, "ok", result.reason, method)


def test_the_spec_signed_credential_altered_does_not_verify(vector: dict[str, Any]) -> None:
    method = vector["proofOptions"]["verificationMethod"]
    altered = vector["signedCredential"]
    altered["credentialSubject"]["alumniOf"] = "The School of Counterfeits"

    result = credentials.credential_verify(altered, public_keys={method: vector["keyPair"]["publicKeyMultibase"]})

    assert (result.valid, result.code) == (False, "bad_signature")


# --- our certificate credential ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> Any:
    return credentials.signing_key_from_secret(credentials.generate_secret())


@pytest.fixture(scope="module")
def public_key(key: Any) -> str:
    return credentials.public_key_multibase(key)


def _unsigned(*, index: int = 42, code: str = "K7Q2-9XMD") -> dict[str, Any]:
    return credentials.credential_build(
        credential_id=f"https://corridor.example/verify/{code}.json",
        issuer=credentials.Issuer(id=ISSUER_ID, name="Corridor Academy", name_zh="廊道学院"),
        recipient=credentials.Recipient(name_en="Tan Wei Ming", name_zh="陈伟明"),
        achievement=credentials.Achievement(
            id="https://corridor.example/certificates/achievements/robotics/v2",
            title_en="Industrial Robotics Fundamentals",
            title_zh="工业机器人基础",
            criteria_en="Attended at least 80% of live minutes and completed every module.",
            criteria_zh="出席至少80%的直播课时并完成所有单元。",
            course_code="ROB-101",
        ),
        valid_from=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        certificate_code=code,
        status=status_list.StatusListEntry(status_list_credential=STATUS_URL, index=index),
    )


def _sign(document: dict[str, Any], key: Any) -> dict[str, Any]:
    return credentials.credential_sign(
        document, key=key, verification_method=METHOD, created=datetime(2025, 3, 1, 9, 31, tzinfo=UTC)
    )


@pytest.fixture
def signed(key: Any) -> dict[str, Any]:
    return _sign(_unsigned(), key)


def test_a_certificate_credential_is_an_open_badge_with_both_languages(signed: dict[str, Any]) -> None:
    subject = signed["credentialSubject"]
    achievement = subject["achievement"]

    assert signed["@context"] == [contexts.VC_V2, contexts.OB_V3P0]
    assert signed["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert signed["issuer"] == {"id": ISSUER_ID, "type": ["Profile"], "name": "Corridor Academy / 廊道学院"}
    assert signed["validFrom"] == "2025-03-01T09:30:00Z"
    assert subject["type"] == ["AchievementSubject"]
    assert subject["name"] == "Tan Wei Ming / 陈伟明"
    assert [i["identityHash"] for i in subject["identifier"] if i["identityType"] == "name"] == [
        "Tan Wei Ming",
        "陈伟明",
    ]
    assert achievement["type"] == ["Achievement"]
    assert achievement["name"] == "Industrial Robotics Fundamentals / 工业机器人基础"
    assert "出席至少80%" in achievement["criteria"]["narrative"]
    assert "K7Q2-9XMD" in signed["description"]
    assert signed["credentialStatus"] == {
        "id": STATUS_URL + "#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": STATUS_URL,
    }
    assert signed["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert signed["proof"]["@context"] == signed["@context"]


def test_an_email_goes_in_only_as_a_salted_hash() -> None:
    document = credentials.credential_build(
        credential_id="https://corridor.example/verify/X.json",
        issuer=credentials.Issuer(id=ISSUER_ID, name="Corridor"),
        recipient=credentials.Recipient(name_en="Ana", email="ana@example.com", email_hash_salt="X"),
        achievement=credentials.Achievement(id="https://corridor.example/a", title_en="Welding"),
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
        certificate_code="X",
    )

    email = next(i for i in document["credentialSubject"]["identifier"] if i["identityType"] == "emailAddress")
    assert "ana@example.com" not in json.dumps(document)
    assert email["identityHash"] == "sha256$" + hashlib.sha256(b"ana@example.comX").hexdigest()
    assert email["hashed"] is True


def test_credential_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        credentials.credential_build(
            credential_id="https://corridor.example/verify/X.json",
            issuer=credentials.Issuer(id=ISSUER_ID, name="Corridor"),
            recipient=credentials.Recipient(name_en="Ana"),
            achievement=credentials.Achievement(id="https://corridor.example/a", title_en="Welding"),
            valid_from=datetime(2025, 1, 1),
            certificate_code="X",
        )


def test_sign_then_verify(signed: dict[str, Any], public_key: str) -> None:
    result = credentials.credential_verify(signed, public_keys={METHOD: public_key})

    assert result.valid
    assert result.code == "ok"
    assert result.verification_method == METHOD


def test_signing_leaves_the_input_alone_and_refuses_a_second_proof(key: Any, signed: dict[str, Any]) -> None:
    unsigned = _unsigned()
    before = copy.deepcopy(unsigned)

    _sign(unsigned, key)

    assert unsigned == before
    with pytest.raises(ValueError, match="already has a proof"):
        _sign(signed, key)


def _set(path: tuple[str | int, ...], value: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


ALTERATIONS = {
    "recipient name": _set(("credentialSubject", "name"), "Someone Else / 某人"),
    "recipient Chinese name": _set(("credentialSubject", "identifier", 1, "identityHash"), "陈伟民"),
    "valid from date": _set(("validFrom",), "2024-03-01T09:30:00Z"),
    "achievement title": _set(("credentialSubject", "achievement", "name"), "Advanced Robotics / 高级机器人"),
    "achievement criteria": _set(("credentialSubject", "achievement", "criteria", "narrative"), "Just turned up."),
    "achievement id": _set(("credentialSubject", "achievement", "id"), "https://corridor.example/a/other"),
    "issuer": _set(("issuer", "id"), "https://evil.example/issuer"),
    "status index": _set(("credentialStatus", "statusListIndex"), "43"),
    "added member": _set(("validUntil",), "2099-01-01T00:00:00Z"),
    "proof created": _set(("proof", "created"), "2025-03-02T09:31:00Z"),
}


@pytest.mark.parametrize("change", ALTERATIONS.values(), ids=ALTERATIONS.keys())
def test_any_altered_field_makes_the_credential_invalid(signed: dict[str, Any], public_key: str, change: Any) -> None:
    change(signed)

    result = credentials.credential_verify(signed, public_keys={METHOD: public_key})

    assert not result.valid
    assert result.code == "bad_signature"
    assert "altered" in result.reason


def test_a_removed_member_makes_the_credential_invalid(signed: dict[str, Any], public_key: str) -> None:
    del signed["credentialStatus"]  # hiding the revocation entry

    result = credentials.credential_verify(signed, public_keys={METHOD: public_key})

    assert (result.valid, result.code) == (False, "bad_signature")


def test_credential_json_edited_as_text_is_invalid(signed: dict[str, Any], public_key: str) -> None:
    text = json.dumps(signed, ensure_ascii=False, indent=2).replace("陈伟明", "陈伟民")

    result = credentials.credential_verify(credentials.credential_loads(text), public_keys={METHOD: public_key})

    assert (result.valid, result.code) == (False, "bad_signature")


def test_reformatted_json_still_verifies(signed: dict[str, Any], public_key: str) -> None:
    text = json.dumps(dict(reversed(signed.items())), ensure_ascii=True, separators=(",", ":"))

    assert credentials.credential_verify(credentials.credential_loads(text), public_keys={METHOD: public_key}).valid


def test_a_credential_signed_by_another_key_is_invalid(signed: dict[str, Any], public_key: str) -> None:
    other = credentials.public_key_multibase(credentials.signing_key_from_secret(credentials.generate_secret()))

    trusted_other = credentials.credential_verify(signed, public_keys={METHOD: other})
    not_trusted = credentials.credential_verify(signed, public_keys={"https://other.example/key": public_key})

    assert (trusted_other.valid, trusted_other.code) == (False, "bad_signature")
    assert (not_trusted.valid, not_trusted.code) == (False, "unknown_key")


def test_a_credential_without_proof_is_invalid(signed: dict[str, Any], public_key: str) -> None:
    del signed["proof"]

    result = credentials.credential_verify(signed, public_keys={METHOD: public_key})

    assert (result.valid, result.code) == (False, "no_proof")


PROOF_DEFECTS = {
    "other cryptosuite": (("proof", "cryptosuite"), "eddsa-rdfc-2022", "wrong_cryptosuite"),
    "other proof type": (("proof", "type"), "Ed25519Signature2020", "wrong_cryptosuite"),
    "other purpose": (("proof", "proofPurpose"), "authentication", "wrong_purpose"),
    "proof value not base58": (("proof", "proofValue"), "uAAAA", "malformed"),
    "proof value too short": (("proof", "proofValue"), "z3yMApqCuCjXDWPrbjfR5mjCPTHqFG8Pux1TxQrEM35jj", "malformed"),
    "no verification method": (("proof", "verificationMethod"), None, "malformed"),
    "created not a date": (("proof", "created"), "yesterday", "malformed"),
    "proof context replaced": (("proof", "@context"), ["https://example.org/other"], "context_mismatch"),
    "proof expired": (("proof", "expires"), "2025-03-02T00:00:00Z", "expired"),
    "proof not an object": (("proof",), "signed, honest", "malformed"),
}


@pytest.mark.parametrize(("path", "value", "code"), PROOF_DEFECTS.values(), ids=PROOF_DEFECTS.keys())
def test_proof_defects_are_named(signed: dict[str, Any], public_key: str, path: Any, value: Any, code: str) -> None:
    _set(path, value)(signed)

    result = credentials.credential_verify(signed, public_keys={METHOD: public_key})

    assert (result.valid, result.code) == (False, code)
    assert result.reason


def test_a_document_that_is_not_an_object_is_malformed(public_key: str) -> None:
    result = credentials.credential_verify([1, 2], public_keys={METHOD: public_key})  # type: ignore[arg-type]

    assert (result.valid, result.code) == (False, "malformed")


def test_numbers_beyond_json_precision_are_malformed_not_a_crash(signed: dict[str, Any], public_key: str) -> None:
    signed["credentialSubject"]["achievement"]["creditsAvailable"] = 2**60

    result = credentials.credential_verify(signed, public_keys={METHOD: public_key})

    assert (result.valid, result.code) == (False, "malformed")


def test_every_proof_of_a_proof_set_must_verify(key: Any, public_key: str) -> None:
    second_key = credentials.signing_key_from_secret(credentials.generate_secret())
    unsigned = _unsigned()
    created = datetime(2025, 3, 1, tzinfo=UTC)
    proofs = [
        credentials.proof_create(unsigned, key=key, verification_method=METHOD, created=created),
        credentials.proof_create(unsigned, key=second_key, verification_method=METHOD + "2", created=created),
    ]
    document = {**unsigned, "proof": proofs}
    both = {METHOD: public_key, METHOD + "2": credentials.public_key_multibase(second_key)}

    assert credentials.credential_verify(document, public_keys=both).valid
    assert credentials.credential_verify(document, public_keys={METHOD: public_key}).code == "unknown_key"


@pytest.mark.parametrize(
    "text",
    [
        '{"id": "a", "id": "b"}',
        '{"value": NaN}',
        "[1, 2]",
        "{not json",
    ],
    ids=["duplicate member", "NaN", "not an object", "not JSON"],
)
def test_credential_loads_refuses_what_jcs_cannot_sign_faithfully(text: str) -> None:
    with pytest.raises(credentials.CredentialFormatError):
        credentials.credential_loads(text)


def test_the_credential_is_clean_json_ld_under_the_bundled_contexts(signed: dict[str, Any]) -> None:
    """Every member means something: JSON-LD expansion with only the bundled contexts (no
    network) drops nothing, so the credential also works for RDF-based verifiers."""
    jsonld = pytest.importorskip("pyld.jsonld")
    options = {"documentLoader": contexts.document_loader}

    def member_paths(value: Any, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                for name, inner in item.items():
                    if name != "@context":
                        found |= {prefix + name} | member_paths(inner, prefix + name + ".")
        return found

    compacted = jsonld.compact(jsonld.expand(signed, options), signed["@context"], options)

    assert member_paths(compacted) == member_paths(signed)
    with_unknown = jsonld.compact(jsonld.expand({**signed, "grade": "A"}, options), signed["@context"], options)
    assert "grade" not in member_paths(with_unknown)  # the check above would notice a dropped term


# --- keys -------------------------------------------------------------------------------------------------------


def test_a_secret_is_accepted_as_multikey_base64_or_base64url(vector: dict[str, Any]) -> None:
    seed = multibase.multikey_ed25519_secret_decode(vector["keyPair"]["secretKeyMultibase"])
    forms = [
        vector["keyPair"]["secretKeyMultibase"],
        base64.b64encode(seed).decode(),
        base64.b64encode(seed).decode().rstrip("="),
        base64.urlsafe_b64encode(seed).decode(),
        "  " + base64.urlsafe_b64encode(seed).decode().rstrip("=") + "\n",
    ]

    public = {credentials.public_key_multibase(credentials.signing_key_from_secret(form)) for form in forms}

    assert public == {vector["keyPair"]["publicKeyMultibase"]}


@pytest.mark.parametrize(
    "secret",
    ["", "   ", "not a key!", base64.b64encode(bytes(31)).decode(), base64.b64encode(bytes(64)).decode()],
    ids=["empty", "blank", "garbage", "31 bytes", "64 bytes"],
)
def test_a_bad_secret_is_refused_without_repeating_it(secret: str) -> None:
    with pytest.raises(credentials.KeyFormatError) as raised:
        credentials.signing_key_from_secret(secret)

    assert secret.strip() == "" or secret not in str(raised.value)


def test_generated_secrets_are_new_each_time_and_round_trip() -> None:
    first, second = credentials.generate_secret(), credentials.generate_secret()
    key = credentials.signing_key_from_secret(first)

    assert first != second
    assert first.startswith("z3u2")
    assert credentials.public_key_multibase(key).startswith("z6Mk")
    assert credentials.secret_key_multibase(key) == first


def test_the_published_key_document_holds_only_the_public_key(key: Any, public_key: str) -> None:
    document = credentials.public_key_document(key_id=METHOD, controller=ISSUER_ID, public_key=key, name="Corridor")

    assert document == {
        "id": ISSUER_ID,
        "name": "Corridor",
        "verificationMethod": [
            {"id": METHOD, "type": "Multikey", "controller": ISSUER_ID, "publicKeyMultibase": public_key}
        ],
        "assertionMethod": [METHOD],
    }
    assert credentials.secret_key_multibase(key) not in json.dumps(document)
    assert credentials.public_keys_from_document(document) == [
        credentials.PublishedKey(id=METHOD, controller=ISSUER_ID, public_key=public_key)
    ]


def test_a_secret_key_is_never_published_as_a_public_one(key: Any) -> None:
    with pytest.raises(credentials.KeyFormatError):
        credentials.public_key_document(
            key_id=METHOD, controller=ISSUER_ID, public_key=credentials.secret_key_multibase(key)
        )


def test_a_standalone_multikey_document_uses_the_bundled_context(public_key: str) -> None:
    document = credentials.multikey_document(key_id=METHOD, controller=ISSUER_ID, public_key=public_key)

    assert document["@context"] == contexts.MULTIKEY_V1
    assert credentials.public_keys_from_document(document)[0].public_key == public_key


def test_base58btc_keeps_leading_zero_bytes() -> None:
    for data in (b"", b"\0", b"\0\0\x01", bytes(range(40)), b"\xff" * 33):
        assert multibase.base58btc_decode(multibase.base58btc_encode(data)) == data
    assert multibase.base58btc_encode(b"\0\0\x01") == "112"


# --- bundled contexts -------------------------------------------------------------------------------------------


def test_every_context_the_credential_names_is_bundled_and_pinned(signed: dict[str, Any]) -> None:
    for url in signed["@context"]:
        data = contexts.bundled_context_bytes(url)
        assert hashlib.sha256(data).hexdigest() == contexts.BUNDLED_CONTEXT_SHA256[url]
        assert "@context" in contexts.bundled_context(url)


def test_the_vc_context_is_the_one_the_recommendation_pins() -> None:
    digest = hashlib.sha256(contexts.bundled_context_bytes(contexts.VC_V2)).hexdigest()

    assert digest == "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734"
    assert "BitstringStatusListEntry" in contexts.bundled_context(contexts.VC_V2)["@context"]
    assert "AchievementSubject" in contexts.bundled_context(contexts.OB_V3P0)["@context"]


def test_an_unbundled_context_is_refused_not_fetched() -> None:
    with pytest.raises(contexts.ContextNotBundled):
        contexts.bundled_context("https://www.w3.org/ns/credentials/examples/v2")


# --- Bitstring Status List --------------------------------------------------------------------------------------


def test_status_list_bits_are_most_significant_first() -> None:
    revoked = {0, 1, 7, 8, 94567, 131_071}
    encoded = status_list.status_list_encode(revoked)
    bits = status_list.status_list_decode(encoded)

    assert bits[0] == 0b1100_0001
    assert bits[1] == 0b1000_0000
    assert bits[-1] == 0b0000_0001
    for index in revoked:
        assert status_list.status_list_is_set(encoded, index)
    for index in (2, 6, 9, 94566, 94568, 131_070):
        assert not status_list.status_list_is_set(encoded, index)


def test_status_list_is_gzip_in_multibase_base64url_with_the_minimum_length() -> None:
    encoded = status_list.status_list_encode([5])

    assert encoded.startswith("u")
    assert "=" not in encoded and "+" not in encoded and "/" not in encoded
    compressed = multibase.base64url_nopad_decode(encoded[1:])
    assert compressed[:2] == b"\x1f\x8b"  # GZIP
    assert len(gzip.decompress(compressed)) == 16_384  # 131,072 bits
    assert status_list.status_list_encode([5]) == encoded  # no timestamp: deterministic


def test_status_list_length_and_index_bounds() -> None:
    longer = status_list.status_list_encode([200_000], length=262_144)

    assert len(status_list.status_list_decode(longer)) == 32_768
    assert status_list.status_list_is_set(longer, 200_000)
    with pytest.raises(status_list.StatusListError):
        status_list.status_list_encode([], length=65_536)  # under the 16 KB minimum
    with pytest.raises(status_list.StatusListError):
        status_list.status_list_encode([], length=131_073)  # not whole bytes
    with pytest.raises(status_list.StatusListError):
        status_list.status_list_encode([131_072])
    with pytest.raises(status_list.StatusListError):
        status_list.status_list_encode([-1])
    with pytest.raises(status_list.StatusListError):
        status_list.status_list_is_set(status_list.status_list_encode([]), 131_072)


@pytest.mark.parametrize(
    "encoded",
    [
        "u" + multibase.base64url_nopad_encode(gzip.compress(bytes(100))),  # shorter than 16 KB
        "u" + multibase.base64url_nopad_encode(b"not gzip at all"),
        "z" + multibase.base58btc_encode(gzip.compress(bytes(16_384))),  # base58, not base64url
        "uH4sI===",
        "u" + multibase.base64url_nopad_encode(gzip.compress(bytes(16_384))[:-12]),  # truncated
    ],
    ids=["too short", "not gzip", "wrong base", "padding", "truncated"],
)
def test_a_bad_encoded_list_is_refused(encoded: str) -> None:
    with pytest.raises(status_list.StatusListError):
        status_list.status_list_decode(encoded)


def test_the_spec_example_list_decodes_and_an_empty_list_encodes_identically() -> None:
    example = json.loads((VECTORS / "bitstring-status-list-example.json").read_text())
    encoded = example["statusListCredential"]["credentialSubject"]["encodedList"]

    assert status_list.status_list_decode(encoded) == bytes(16_384)
    assert status_list.status_list_encode([]) == encoded
    check = status_list.credential_status_check(
        {"credentialStatus": example["credentialStatus"]}, example["statusListCredential"]
    )
    assert (check.code, check.index, check.revoked) == ("not_revoked", 94567, False)


def _status_list_signed(key: Any, revoked: list[int], *, list_id: str = STATUS_URL) -> dict[str, Any]:
    unsigned = status_list.status_list_credential_build(
        list_id=list_id, issuer_id=ISSUER_ID, valid_from=datetime(2025, 3, 2, tzinfo=UTC), revoked=revoked
    )
    return _sign(unsigned, key)


def test_the_status_list_credential_is_signed_and_says_who_is_revoked(
    key: Any, public_key: str, signed: dict[str, Any]
) -> None:
    revoked_list = _status_list_signed(key, [42])
    clear_list = _status_list_signed(key, [41, 43])

    assert revoked_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert revoked_list["credentialSubject"]["id"] == STATUS_URL + "#list"
    assert credentials.credential_verify(revoked_list, public_keys={METHOD: public_key}).valid
    assert status_list.credential_status_check(signed, revoked_list).code == "revoked"
    assert status_list.credential_status_check(signed, clear_list).code == "not_revoked"
    assert status_list.credential_status_check(
        signed, _status_list_signed(key, [42], list_id=STATUS_URL + "x")
    ).code == ("wrong_list")
    assert status_list.credential_status_check({"id": "x"}, revoked_list).code == "no_status"


def test_a_status_list_whose_bits_were_flipped_fails_its_signature(key: Any, public_key: str) -> None:
    listing = _status_list_signed(key, [42])
    listing["credentialSubject"]["encodedList"] = status_list.status_list_encode([])  # un-revoke quietly

    assert credentials.credential_verify(listing, public_keys={METHOD: public_key}).code == "bad_signature"


# --- the offline verifier ---------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path, key: Any, public_key: str, signed: dict[str, Any]) -> dict[str, Path]:
    def write(name: str, document: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
        return path

    altered = copy.deepcopy(signed)
    altered["credentialSubject"]["achievement"]["name"] = "Advanced Robotics / 高级机器人"
    return {
        "credential": write("credential.json", signed),
        "altered": write("altered.json", altered),
        "key": write(
            "issuer-key.json", credentials.public_key_document(key_id=METHOD, controller=ISSUER_ID, public_key=key)
        ),
        "revoked": write("status-revoked.json", _status_list_signed(key, [42])),
        "clear": write("status-clear.json", _status_list_signed(key, [7])),
        "forged list": write(
            "status-forged.json", {**_status_list_signed(key, [42]), "validFrom": "2020-01-01T00:00:00Z"}
        ),
    }


def _offline(*args: str | Path, as_file: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(OFFLINE_FILE)] if as_file else [sys.executable, "-m", "certificates.offline"]
    return subprocess.run(
        [*command, *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )


def test_offline_valid_credential_exits_0(files: dict[str, Path], public_key: str) -> None:
    run = _offline(files["credential"], "--key", public_key)

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("VALID")
    assert "Tan Wei Ming / 陈伟明" in run.stdout
    assert "Industrial Robotics Fundamentals / 工业机器人基础" in run.stdout
    assert "not checked" in run.stdout


def test_offline_with_the_published_key_document_and_a_clear_status_list(files: dict[str, Path]) -> None:
    run = _offline(files["credential"], "--key-file", files["key"], "--status-list", files["clear"])

    assert run.returncode == 0, run.stdout + run.stderr
    assert "not revoked" in run.stdout


def test_offline_altered_credential_exits_1_with_the_reason(files: dict[str, Path]) -> None:
    run = _offline(files["altered"], "--key-file", files["key"])

    assert run.returncode == 1
    assert run.stdout.startswith("INVALID (bad_signature)")


def test_offline_wrong_key_exits_1(files: dict[str, Path]) -> None:
    other = credentials.public_key_multibase(credentials.signing_key_from_secret(credentials.generate_secret()))

    run = _offline(files["credential"], "--key", other)

    assert run.returncode == 1
    assert "INVALID (bad_signature)" in run.stdout


def test_offline_key_of_another_issuer_exits_1(tmp_path: Path, files: dict[str, Path], key: Any) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(
        json.dumps(credentials.public_key_document(key_id=METHOD, controller="https://other.example/", public_key=key))
    )

    run = _offline(files["credential"], "--key-file", elsewhere)

    assert run.returncode == 1
    assert "wrong_issuer" in run.stdout


def test_offline_revoked_credential_exits_2(files: dict[str, Path]) -> None:
    run = _offline(files["credential"], "--key-file", files["key"], "--status-list", files["revoked"])

    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stdout.startswith("REVOKED")


def test_offline_status_list_that_does_not_check_exits_1(files: dict[str, Path]) -> None:
    run = _offline(files["credential"], "--key-file", files["key"], "--status-list", files["forged list"])

    assert run.returncode == 1
    assert "status_list_bad_signature" in run.stdout


def test_offline_usage_errors_exit_3(files: dict[str, Path], public_key: str) -> None:
    assert _offline(files["credential"]).returncode == 3  # no key
    assert _offline(files["credential"], "--key", "z6MkNotAKey").returncode == 3
    assert _offline(files["credential"].with_name("missing.json"), "--key", public_key).returncode == 3


def test_offline_runs_as_a_plain_file_without_django(files: dict[str, Path], public_key: str) -> None:
    run = _offline(files["credential"], "--key", public_key, as_file=True)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import runpy, sys\n"
            f"sys.argv = [{str(OFFLINE_FILE)!r}, {str(files['credential'])!r}, '--key', {public_key!r}]\n"
            "try:\n"
            f"    runpy.run_path({str(OFFLINE_FILE)!r}, run_name='__main__')\n"
            "except SystemExit as stop:\n"
            "    print('exit', stop.code)\n"
            "print('django', any(name.split('.')[0] in ('django', 'celery', 'lms') for name in sys.modules))\n",
        ],
        cwd=Path(files["credential"]).parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("VALID")
    assert probe.stdout.splitlines()[-2:] == ["exit 0", "django False"], probe.stdout + probe.stderr


def test_offline_main_in_process_for_a_proofless_credential(tmp_path: Path, public_key: str) -> None:
    from certificates import offline

    unsigned = tmp_path / "unsigned.json"
    unsigned.write_text(json.dumps(_unsigned()))
    out = tmp_path / "out.txt"

    with out.open("w") as stream:
        code = offline.main([str(unsigned), "--key", public_key], out=stream)

    assert code == 1
    assert out.read_text().startswith("INVALID (no_proof)")


def test_valid_from_in_the_future_is_still_a_signature_matter_only(key: Any, public_key: str) -> None:
    """credential_verify checks integrity; validity dates are shown, and judged by the caller."""
    later = _unsigned()
    later["validFrom"] = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert credentials.credential_verify(_sign(later, key), public_keys={METHOD: public_key}).valid
