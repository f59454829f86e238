# -*- test-case-name: tests.ops.test_audit_secrets -*-
"""What the audit log's payloads never show of a child's environment
(L{childRedactor}): besides the values of its secret references (the
resolver's L{mcpgateway.config.references.Redactor}), the per-user
credentials a client sent as C{X-Mcp-Env-<NAME>} headers (the entry's
C{credentialEnv}), and the literal values the entry wrote for a variable
whose name says it holds a secret (C{GITHUB_TOKEN}, C{DB_PASSWORD},
C{OPENAI_API_KEY}, ...) or whose value looks like a well-known token
(C{ghp_...}, C{sk-...}, C{xoxb-...}, C{AKIA...}).

Each is put back, wherever it appears in a text, as a name that says what
it was (C{[X-Mcp-Env-GITHUB_TOKEN]}, C{[env DB_PASSWORD]}), as a reference's
value is put back as the reference's text. Pure: built once per child.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from mcpgateway.core.spec import ServerSpec

SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL"
    r"|COOKIE|AUTH|_KEY$|^KEY$|_PAT$|_DSN$)",
    re.IGNORECASE,
)
"""A variable name that says its value is a secret."""

SECRET_VALUE = re.compile(
    r"^(gh[pousr]_|github_pat_|glpat-|sk-|sk_live_|rk_live_|xox[abposr]-|AKIA|ASIA|AIza"
    r"|ya29\.|eyJ[A-Za-z0-9_-]{8,}\.|npm_|pypi-|hf_|SG\.)"
)
"""A value that looks like a well-known kind of token, whatever its variable's name."""


class GivenSecrets(Protocol):
    """The values a child was given for its secret references, as the
    gateway keeps them: what takes them out of a line (its stderr, an
    error's message), and a keyed digest of them, by which the next gateway
    process tells whether the child it is handed was given what it would
    give a child of its own (L{mcpgateway.core.handedchild.sealSecrets})."""

    def __call__(self, line: str) -> str:
        """C{line} with each value put back as its reference's text."""
        ...

    def digest(self, salt: bytes) -> str:
        """The values under C{salt}, as hex: the same values, the same digest."""
        ...


MIN_REDACTED = 4
"""A shorter value is left as it is (it would be found in any text)."""


class _Values:
    """Puts each value back as its name, wherever it appears (a longer value first)."""

    def __init__(self, values: dict[str, str]) -> None:
        pairs = [(value, text) for text, value in values.items() if len(value) >= MIN_REDACTED]
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
        self._pairs = tuple(pairs)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __call__(self, text: str) -> str:
        for value, name in self._pairs:
            if value in text:
                text = text.replace(value, name)
        return text


def credentialText(name: str) -> str:
    """What a credential header's value is put back as."""
    return f"[X-Mcp-Env-{name}]"


def envText(name: str) -> str:
    """What a literal secret of the entry's environment is put back as."""
    return f"[env {name}]"


def secretLooking(name: str, value: str) -> bool:
    """Whether variable C{name}'s literal C{value} is taken for a secret."""
    return bool(SECRET_NAME.search(name) or SECRET_VALUE.match(value))


def childRedactor(
    launch: ServerSpec, redact: Callable[[str], str] | None
) -> Callable[[str], str] | None:
    """What takes every secret the child of C{launch} was given out of a
    text: the resolver's C{redact} (its references' values, put back as
    their text) first, then its credentials and its secret-looking literal
    variables (C{None}: nothing to take out)."""
    credentials = frozenset(launch.credentialEnv)
    values: dict[str, str] = {}
    for name, value in launch.env:
        if name in credentials:
            values[credentialText(name)] = value
        elif secretLooking(name, value):
            values[envText(name)] = value
    own = _Values(values)
    if not own:
        return redact or None
    if not redact:
        return own

    def both(text: str) -> str:
        return own(redact(text))

    return both
