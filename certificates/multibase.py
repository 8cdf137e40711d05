"""Multibase and Multikey encodings used by signed credentials (no Django, stdlib only).

Multibase prefixes one character naming the base: `z` is base58btc (proof values, keys),
`u` is base64url without padding (Bitstring Status List `encodedList`). A Multikey is a
multicodec-prefixed key in base58btc: `0xed01` for an Ed25519 public key (so it reads
`z6Mk...`), `0x8026` for an Ed25519 secret key (`z3u2...`).
"""

from __future__ import annotations

import base64
import binascii

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: value for value, char in enumerate(BASE58_ALPHABET)}

# Multicodec varints, already encoded (0xed -> ed 01, 0x1300 -> 80 26).
ED25519_PUBLIC_PREFIX = b"\xed\x01"
ED25519_SECRET_PREFIX = b"\x80\x26"
ED25519_KEY_BYTES = 32


class MultibaseError(ValueError):
    """A value is not in the multibase form it should be in."""


def base58btc_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits: list[str] = []
    while number:
        number, remainder = divmod(number, 58)
        digits.append(BASE58_ALPHABET[remainder])
    # Each leading zero byte is one leading '1' (the number alone would lose them).
    leading_zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * leading_zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        value = _BASE58_INDEX.get(char)
        if value is None:
            raise MultibaseError(f"{char!r} is not a base58btc character")
        number = number * 58 + value
    leading_ones = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * leading_ones + body


def base64url_nopad_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def base64url_nopad_decode(text: str) -> bytes:
    if "=" in text:
        raise MultibaseError("base64url in multibase carries no padding")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as error:
        raise MultibaseError("not base64url") from error


def multibase_base58btc(data: bytes) -> str:
    return "z" + base58btc_encode(data)


def multibase_base64url(data: bytes) -> str:
    return "u" + base64url_nopad_encode(data)


def multibase_decode(text: str) -> bytes:
    """Decode a `z` (base58btc) or `u` (base64url, no padding) multibase string."""
    if not isinstance(text, str) or not text:
        raise MultibaseError("a multibase value is a non-empty string")
    prefix, body = text[0], text[1:]
    if prefix == "z":
        return base58btc_decode(body)
    if prefix == "u":
        return base64url_nopad_decode(body)
    raise MultibaseError(f"unsupported multibase prefix {prefix!r}")


def multikey_ed25519_public_encode(raw: bytes) -> str:
    if len(raw) != ED25519_KEY_BYTES:
        raise MultibaseError("an Ed25519 public key is 32 bytes")
    return multibase_base58btc(ED25519_PUBLIC_PREFIX + raw)


def multikey_ed25519_public_decode(text: str) -> bytes:
    """The 32 raw bytes of an Ed25519 public Multikey (`z6Mk...`); anything else is refused."""
    decoded = _multikey_decode(text)
    if decoded[:2] != ED25519_PUBLIC_PREFIX or len(decoded) != 2 + ED25519_KEY_BYTES:
        raise MultibaseError("not an Ed25519 public Multikey (multicodec 0xed01 + 32 bytes)")
    return decoded[2:]


def multikey_ed25519_secret_encode(seed: bytes) -> str:
    if len(seed) != ED25519_KEY_BYTES:
        raise MultibaseError("an Ed25519 secret key (seed) is 32 bytes")
    return multibase_base58btc(ED25519_SECRET_PREFIX + seed)


def multikey_ed25519_secret_decode(text: str) -> bytes:
    """The 32-byte seed of an Ed25519 secret Multikey (`z3u2...`)."""
    decoded = _multikey_decode(text)
    if decoded[:2] != ED25519_SECRET_PREFIX or len(decoded) != 2 + ED25519_KEY_BYTES:
        raise MultibaseError("not an Ed25519 secret Multikey (multicodec 0x8026 + 32 bytes)")
    return decoded[2:]


def _multikey_decode(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("z"):
        raise MultibaseError("a Multikey is base58btc multibase (starts with 'z')")
    return base58btc_decode(text[1:])
