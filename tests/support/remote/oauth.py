"""What tests/remote/oauth/test_oauth.py shares with the other tests: METADATA,
MemoryKey."""

from __future__ import annotations

METADATA = {
    "issuer": "https://auth.example.com",
    "authorization_endpoint": "https://auth.example.com/authorize",
    "token_endpoint": "https://auth.example.com/token",
    "registration_endpoint": "https://auth.example.com/register",
    "revocation_endpoint": "https://auth.example.com/revoke",
    "code_challenge_methods_supported": ["S256"],
    "scopes_supported": ["read", "write"],
}


class MemoryKey:
    def __init__(self) -> None:
        self.key: bytes | None = None

    def get(self) -> bytes | None:
        return self.key

    def set(self, key: bytes) -> None:
        self.key = key
