"""The RSA key pair that signs local tokens (the stack's, the tests', the benchmarks')."""

from __future__ import annotations


def new_rsa_keypair() -> tuple[str, str]:
    """(private key PEM, PKCS#8; public key PEM, SubjectPublicKeyInfo) of a fresh 2048-bit key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public
