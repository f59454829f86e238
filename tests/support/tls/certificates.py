"""Keys and X.509 certificates made on the spot, for the tests that serve or
check TLS: a gateway's own certificate, a local OAuth issuer's CA and server
certificate, the key files the start-up checks refuse or take. Each is
valid from five minutes ago (clock skew) for a day, long enough for any
test."""

from __future__ import annotations

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

LOOPBACK = x509.SubjectAlternativeName(
    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
)
"""The names a loopback server answers as: localhost and 127.0.0.1."""

CA = x509.BasicConstraints(ca=True, path_length=None)
"""What makes a certificate a CA's (a self-signed one is its own CA)."""


def newKey() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key: quick to make."""
    return ec.generate_private_key(ec.SECP256R1())


def named(commonName: str) -> x509.Name:
    """A subject or issuer name that is its common name alone."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, commonName)])


def issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    signer: CertificateIssuerPrivateKeyTypes,
    issuer: x509.Name | None = None,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
) -> x509.Certificate:
    """C{subject}'s certificate for C{key}, signed by C{signer} as
    C{issuer} (C{subject} itself when not given: self-signed), with
    C{extensions} as (extension, critical) pairs."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


def certificatePem(certificate: x509.Certificate) -> bytes:
    """C{certificate} as a PEM file's bytes."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def keyPem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """C{key} as an unencrypted PKCS#8 PEM file's bytes, the form a server
    reads without asking for a password."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
