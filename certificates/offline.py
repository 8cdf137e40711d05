"""Check a certificate credential offline, with the issuer's published key.

    python -m certificates.offline credential.json --key z6Mk...
    python -m certificates.offline credential.json --key-file issuer-key.json --status-list status.json

It also runs as a plain file, which imports nothing of the `lms` package (so neither Django
nor Celery): `python certificates/offline.py credential.json --key-file issuer-key.json`.
Either way it needs only Python 3.11 with `cryptography` and `rfc8785`, and fetches nothing.

Exit status: 0 valid, 1 invalid (or its revocation status could not be established from the
list given), 2 revoked, 3 usage error (bad arguments, unreadable files).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:  # run as a file
    # Load this directory as a private package, without running lms/__init__.py (Celery, Django);
    # and take it off sys.path first, where a sibling module could shadow the standard library.
    from pathlib import Path as _Path

    _here = _Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if _Path(entry or ".").resolve() != _here]
    import importlib
    import types

    _package = types.ModuleType("_corridor_certificates")
    _package.__path__ = [str(_here)]
    sys.modules[_package.__name__] = _package
    sys.exit(importlib.import_module("_corridor_certificates.offline").main())

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, TextIO

from .credentials import (
    CredentialFormatError,
    KeyFormatError,
    Verification,
    credential_loads,
    credential_verify,
    public_key_from_multibase,
    public_keys_from_document,
)
from .status_list import credential_status_check

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_REVOKED = 2
EXIT_USAGE = 3


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _parser() -> _Parser:
    parser = _Parser(
        prog="python -m certificates.offline",
        description="Check a certificate credential's signature (eddsa-jcs-2022) and, given its status list, "
        "whether it was revoked. Nothing is fetched.",
        epilog="Exit status: 0 valid, 1 invalid, 2 revoked, 3 usage error.",
    )
    parser.add_argument("credential", type=Path, help="the credential (.json)")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="z6Mk...",
        help="the issuer's public key (publicKeyMultibase), trusted for the proof's verification method",
    )
    parser.add_argument(
        "--key-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="the issuer's published key document (or a Multikey document, or {publicKeyMultibase})",
    )
    parser.add_argument(
        "--status-list",
        type=Path,
        metavar="FILE",
        help="the status list credential the credential names (downloaded beforehand), to check revocation",
    )
    return parser


def main(argv: list[str] | None = None, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        bare_keys, keyed, controllers = _trusted_keys(args.key, args.key_file)
        text = _read(args.credential)
        status_text = _read(args.status_list) if args.status_list is not None else None
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    try:
        credential = credential_loads(text)
    except CredentialFormatError as error:
        print(f"INVALID (malformed): {error}", file=out)
        return EXIT_INVALID

    verification = _verify(credential, bare_keys, keyed)
    if not verification.valid:
        print(f"INVALID ({verification.code}): {verification.reason}", file=out)
        print("  What it claims (not to be trusted):", file=out)
        _print_summary(credential, out)
        return EXIT_INVALID
    controller = controllers.get(verification.verification_method or "")
    issuer = _issuer_id(credential)
    if controller is not None and controller != issuer:
        print(f"INVALID (wrong_issuer): the key belongs to {controller}, but the credential names {issuer}", file=out)
        return EXIT_INVALID

    status_line = "not checked (pass --status-list with the list it names)"
    if "credentialStatus" not in credential:
        status_line = "the credential carries no status entry"
    if status_text is not None:
        try:
            status_credential = credential_loads(status_text)
        except CredentialFormatError as error:
            print(f"INVALID (status_list_malformed): the status list is not usable: {error}", file=out)
            return EXIT_INVALID
        list_verification = _verify(status_credential, bare_keys, keyed)
        if not list_verification.valid:
            print(
                f"INVALID (status_list_{list_verification.code}): the status list's signature does not check: "
                f"{list_verification.reason}",
                file=out,
            )
            return EXIT_INVALID
        check = credential_status_check(credential, status_credential)
        if check.revoked:
            print(f"REVOKED: {check.reason}", file=out)
            _print_summary(credential, out)
            return EXIT_REVOKED
        if check.code in ("wrong_list", "malformed"):
            print(f"INVALID (status_{check.code}): {check.reason}", file=out)
            return EXIT_INVALID
        status_line = f"not revoked ({check.reason})" if check.code == "not_revoked" else check.reason

    print(f"VALID: {verification.reason}", file=out)
    _print_summary(credential, out)
    print(f"  Revocation:  {status_line}", file=out)
    return EXIT_VALID


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from error


def _trusted_keys(keys: list[str], key_files: list[Path]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Keys given bare (trusted for whatever method the proof names), keys by verification
    method id, and each identified key's controller."""
    if not keys and not key_files:
        raise UsageError("give the issuer's key: --key z6Mk... or --key-file issuer-key.json")
    bare: list[str] = []
    keyed: dict[str, str] = {}
    controllers: dict[str, str] = {}
    for key in keys:
        _check_key(key)
        bare.append(key)
    for path in key_files:
        try:
            document = json.loads(_read(path))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise UsageError(f"{path} is not JSON") from error
        published = public_keys_from_document(document) if isinstance(document, Mapping) else []
        if not published:
            raise UsageError(f"{path} holds no publicKeyMultibase")
        for entry in published:
            _check_key(entry.public_key)
            if entry.id is None:
                bare.append(entry.public_key)
                continue
            keyed[entry.id] = entry.public_key
            if entry.controller is not None:
                controllers[entry.id] = entry.controller
    return bare, keyed, controllers


def _check_key(key: str) -> None:
    try:
        public_key_from_multibase(key)
    except KeyFormatError as error:
        raise UsageError(str(error)) from error


def _verify(document: dict[str, Any], bare_keys: list[str], keyed: dict[str, str]) -> Verification:
    """Verify with the identified keys, then with each bare key standing for the proof's method."""
    methods = [
        proof["verificationMethod"]
        for proof in _as_list(document.get("proof"))
        if isinstance(proof, Mapping) and isinstance(proof.get("verificationMethod"), str)
    ]
    attempts = [keyed] if keyed or not bare_keys else []
    attempts += [{**keyed, **dict.fromkeys(methods, key)} for key in bare_keys]
    results = [credential_verify(document, public_keys=keys) for keys in attempts]
    for result in results:
        if result.valid:
            return result
    # Say why in the most telling way: an altered document beats "unknown key".
    return next((r for r in results if r.code != "unknown_key"), results[0])


def _issuer_id(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _print_summary(document: Mapping[str, Any], out: TextIO) -> None:
    issuer = document.get("issuer")
    issuer_name = issuer.get("name") if isinstance(issuer, Mapping) else None
    subject = document.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, Mapping) else {}
    issuer_id = _issuer_id(document)
    issuer_parts = [part for part in (issuer_name, issuer_id and f"<{issuer_id}>") if isinstance(part, str) and part]
    rows = [
        ("Credential", document.get("id")),
        ("Issuer", " ".join(issuer_parts)),
        ("Awarded to", subject.get("name")),
        ("Achievement", achievement.get("name")),
        ("Valid from", document.get("validFrom")),
    ]
    for label, value in rows:
        if isinstance(value, str) and value:
            print(f"  {label + ':':<12} {value}", file=out)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


if __name__ == "__main__":
    sys.exit(main())
