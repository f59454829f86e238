"""Fixtures of the authentication tests: an issuer's signing keys, one of
each algorithm the gateway verifies, made once a module (key generation is
slow)."""

from __future__ import annotations

import pytest

from tests.fixtures.jwt_issuer import IssuerKey


@pytest.fixture(scope="module")
def rsa() -> IssuerKey:
    return IssuerKey("RS256", "r1")


@pytest.fixture(scope="module")
def ecKey() -> IssuerKey:
    return IssuerKey("ES256", "e1")


@pytest.fixture(scope="module")
def edKey() -> IssuerKey:
    return IssuerKey("EdDSA", "d1")
