"""What the tests of secrets by reference share: an in-memory keyring, a
thread runner that runs at once, and a fake 1Password reader."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed

from mcpgateway.config.references import Reference
from mcpgateway.secrets.resolve import SecretError


class FakeKeyring:
    """Stands in for the C{keyring} module with a real backend."""

    class Backend:
        priority = 5

    def __init__(self, broken: bool = False) -> None:
        self.passwords: dict[tuple[str, str], str] = {}
        self.broken = broken

    def get_keyring(self) -> Any:
        return self.Backend()

    def get_password(self, service: str, user: str) -> str | None:
        if self.broken:
            raise RuntimeError("the keyring is locked")
        return self.passwords.get((service, user))

    def set_password(self, service: str, user: str, value: str) -> None:
        if self.broken:
            raise RuntimeError("the keyring is locked")
        self.passwords[(service, user)] = value

    def delete_password(self, service: str, user: str) -> None:
        del self.passwords[(service, user)]


def inline(f: Any, *args: Any, **kwargs: Any) -> Deferred[Any]:
    """Runs "in a thread": at once, on this stack."""
    return maybeDeferred(f, *args, **kwargs)


class FakeOnePassword:
    """Answers C{op://} references from C{items}; counts the reads."""

    def __init__(self, items: dict[str, str] | None = None) -> None:
        self.items = items or {}
        self.reads: list[str] = []
        self.pending: dict[str, Deferred[str]] = {}
        self.hold = False

    def read(self, reference: Reference) -> Deferred[str]:
        self.reads.append(reference.target)
        if self.hold:
            d: Deferred[str] = Deferred()
            self.pending[reference.target] = d
            return d
        if reference.target in self.items:
            return succeed(self.items[reference.target])
        return fail(SecretError(f"{reference.text}: 'op read' failed (exit status 1): no item"))
