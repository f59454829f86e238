# -*- test-case-name: tests.config.test_references -*-
"""Secret references in a config entry: how they are written, found and replaced.

Four forms, in an entry's C{env} values, its C{args} and (a remote
server's) C{headers}, alone or inside a longer text (C{"Bearer
${keyring:api}"}):

 - C{${keyring:NAME}}: the gateway's secret store (L{mcpgateway.secrets.store}:
   the OS keyring, or an encrypted file on a machine without one);
 - C{${op://VAULT/ITEM/FIELD}} (or C{op://VAULT/ITEM/SECTION/FIELD}, with an
   optional C{?attribute=...}): 1Password, read with its CLI (C{op read});
 - C{${env:NAME}}: the gateway's environment (never one of the gateway's
   own variables, C{MCPGATEWAY_*}: L{mcpgateway.core.environment.isGatewayOwn});
 - C{${file:PATH}}: the contents of a file, C{PATH} absolute or starting
   with C{~}.

The draft standard client C{mcp.json} writes environment variables and
1Password references the same way. The forms do not collide with the
config's own C{${VAR}} and C{${VAR:-default}} (L{mcpgateway.config.servers}),
which have no C{:} after the name but for C{:-}: C{${env:-x}} is still the
variable C{env} with the default C{x}. A text written like a reference
(C{${keyring:...}}, C{${env:...}}, C{${file:...}}, C{${op:...}}) that is not
a good one is refused (L{BadReference}), never passed on as it is by mistake.

Pure: no I/O. A reference's text may be shown anywhere; the value it stands
for never is (L{Redactor}).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mcpgateway.core.environment import isGatewayOwn

KINDS = ("keyring", "op", "env", "file")
SECRET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
"""A name in the secret store (C{${keyring:NAME}}, C{mcpgateway secret set NAME})."""
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MIN_REDACTED = 4
"""Values shorter than this are not looked for in text to redact (a secret
of three characters is none; redacting every C{"abc"} would garble logs)."""
_CANDIDATE = re.compile(r"\$\{(keyring|env|file|op):(?!-)([^}]*)\}")
"""A reference, good or not: one of the kinds, a C{:} not followed by C{-}
(that is the config's C{${VAR:-default}}), up to the first closing brace."""


class BadReference(ValueError):
    """A text that is written as a reference and is not a usable one; the
    message names it and says why (it holds no secret: only config text)."""


@dataclass(frozen=True)
class Reference:
    """One secret reference as the config writes it."""

    kind: str
    """One of L{KINDS}."""
    target: str
    """The secret's name, the variable's name, the file's path, or (C{op})
    the whole C{op://...} URL."""

    @property
    def text(self) -> str:
        """The reference as written: C{${keyring:NAME}}, C{${op://v/i/f}}..."""
        if self.kind == "op":
            return "${" + self.target + "}"
        return "${" + self.kind + ":" + self.target + "}"


def parseReferences(text: str) -> list[Reference]:
    """Every reference in C{text}, in order (repeats included).

    @raise BadReference: one is written wrong.
    """
    if "${" not in text:
        return []
    return [_checked(match.group(1), match.group(2)) for match in _CANDIDATE.finditer(text)]


def _checked(kind: str, rest: str) -> Reference:
    """The reference C{${kind:rest}}, checked."""
    if kind == "op":
        target = "op:" + rest
        _checkOnePassword(target)
        return Reference("op", target)
    written = "${" + kind + ":" + rest + "}"
    if kind == "keyring":
        if not SECRET_NAME.fullmatch(rest):
            raise BadReference(
                f"{written}: a secret's name is 1-128 letters, digits, '_', '.' or '-'"
                " (not starting with '.' or '-')"
            )
    elif kind == "env":
        if not ENV_NAME.fullmatch(rest):
            raise BadReference(f"{written}: not an environment variable's name")
        if isGatewayOwn(rest):
            raise BadReference(
                f"{written}: the gateway's own variables (MCPGATEWAY_*, LISTEN_*,"
                " NOTIFY_SOCKET) are never given to a server"
            )
    elif not rest.startswith(("/", "~")) or "\0" in rest:
        raise BadReference(f"{written}: the path must be absolute or start with '~'")
    return Reference(kind, rest)


def _checkOnePassword(target: str) -> None:
    """C{target} is C{op://VAULT/ITEM/FIELD} or C{op://VAULT/ITEM/SECTION/FIELD},
    optionally followed by a C{?query}, else L{BadReference}."""
    path = target[len("op://") :].split("?", 1)[0] if target.startswith("op://") else ""
    parts = path.split("/")
    if (
        len(parts) not in (3, 4)
        or not all(part and part == part.strip() for part in parts)
        or not target.isprintable()
    ):
        raise BadReference(
            "${" + target + "}: a 1Password reference is op://VAULT/ITEM/FIELD"
            " or op://VAULT/ITEM/SECTION/FIELD"
        )


def referencesOf(places: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The texts of the references in C{places} (C{(where, text)} pairs:
    C{("env.TOKEN", "${keyring:gh}")}).

    @raise BadReference: one is written wrong; the message starts with its C{where}.
    """
    found: set[str] = set()
    for where, text in places:
        try:
            found.update(reference.text for reference in parseReferences(text))
        except BadReference as e:
            raise BadReference(f"{where}: {e}") from None
    return frozenset(found)


def substitute(text: str, values: Mapping[str, str]) -> str:
    """C{text} with each reference whose text is a key of C{values} replaced
    by its value; any other is left as it is."""
    if "${" not in text:
        return text
    return _CANDIDATE.sub(lambda match: values.get(match.group(0), match.group(0)), text)


class Redactor:
    """Puts a reference's text back where its value appears in a line (the
    child's stderr, an error's message): what a child was given is never
    logged, whatever it prints."""

    def __init__(self, values: Mapping[str, str]) -> None:
        """
        @param values: the value of each reference, by the reference's text.
        """
        pairs = [(value, text) for text, value in values.items() if len(value) >= MIN_REDACTED]
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)  # a longer value first
        self._pairs = tuple(pairs)
        self._values = json.dumps(sorted(values.items()), separators=(",", ":")).encode()

    def digest(self, salt: bytes) -> str:
        """An HMAC-SHA256 of every value (a short one too) under C{salt}:
        what a kept child's record carries instead of the values, so that
        the next gateway process can tell whether it resolves the same ones
        (L{mcpgateway.core.handedchild.sealSecrets})."""
        return hmac.new(salt, self._values, hashlib.sha256).hexdigest()

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def __call__(self, line: str) -> str:
        for value, text in self._pairs:
            if value in line:
                line = line.replace(value, text)
        return line

    def __repr__(self) -> str:
        return f"<Redactor of {len(self._pairs)} value(s)>"
