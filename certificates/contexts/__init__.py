"""The JSON-LD contexts our credentials name, bundled byte for byte and never fetched.

eddsa-jcs-2022 signs the JSON itself, so signing and verifying need no context at all; the
files are here so the app can serve them and so a JSON-LD processor (if one is ever used)
resolves them without the network. Provenance, with the SHA-256 of each file:

- https://www.w3.org/ns/credentials/v2 -> credentials-v2.jsonld
  59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734, the digest the
  Verifiable Credentials Data Model 2.0 Recommendation publishes for this context.
- https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json -> ob-v3p0-context-3.0.3.json
  3d34f4d4ef1bce691106e63798beb5e7b862ba841423f5ee1e53ab7ddf3bca84, as served at that URL
  (the copy pinned by openbadgeslib 4.6.3).
- https://w3id.org/security/multikey/v1 -> multikey-v1.jsonld
  ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597 (same terms as the
  @digitalbazaar/multikey-context package).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3P0 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"

BUNDLED_CONTEXT_FILES: dict[str, str] = {
    VC_V2: "credentials-v2.jsonld",
    OB_V3P0: "ob-v3p0-context-3.0.3.json",
    MULTIKEY_V1: "multikey-v1.jsonld",
}
BUNDLED_CONTEXT_SHA256: dict[str, str] = {
    VC_V2: "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
    OB_V3P0: "3d34f4d4ef1bce691106e63798beb5e7b862ba841423f5ee1e53ab7ddf3bca84",
    MULTIKEY_V1: "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597",
}

_HERE = Path(__file__).resolve().parent


class ContextNotBundled(LookupError):
    """A context URL that is not bundled: it is refused, never fetched."""


@cache
def bundled_context_bytes(url: str) -> bytes:
    """The exact bytes of a bundled context (to serve with `application/ld+json`)."""
    name = BUNDLED_CONTEXT_FILES.get(url)
    if name is None:
        raise ContextNotBundled(f"{url} is not a bundled JSON-LD context")
    data = (_HERE / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != BUNDLED_CONTEXT_SHA256[url]:
        raise ContextNotBundled(f"the bundled copy of {url} does not match its pinned digest")
    return data


def bundled_context(url: str) -> dict[str, Any]:
    """The parsed context document for `url` (a fresh copy each call)."""
    document: dict[str, Any] = json.loads(bundled_context_bytes(url))
    return document


def document_loader(url: str, options: Any = None) -> dict[str, Any]:
    """A JSON-LD document loader (pyld's shape) that serves bundled contexts and nothing else."""
    return {"contextUrl": None, "documentUrl": url, "document": bundled_context(url)}
