"""Corridor's RSA keys as LTI wants them: PEM for signing, a JSON Web Key for the published set.

The key id is pylti1p3's (the key's RFC 7638 thumbprint, as `pylti1p3.registration.Registration.get_jwk` computes it),
so what Corridor signs through pylti1p3 names the key that the JWKS URL publishes."""

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pylti1p3.registration import Registration

KEY_SIZE = 2048


def rsa_key_pair() -> tuple[str, str]:
    """A new key pair: (private PEM, public PEM)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def public_jwk(public_pem: str) -> dict[str, Any]:
    """The public key as a JSON Web Key (kty, n, e, kid, alg RS256, use sig)."""
    return dict(Registration.get_jwk(public_pem))
