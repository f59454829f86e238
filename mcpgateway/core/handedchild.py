# -*- test-case-name: tests.core.test_handedchild -*-
"""What one running child is, written down to pass it to another gateway
process: L{HandedChild}, its L{fingerprint}, and the record codec
(L{encodeRecord}, L{RecordDecoder}).

A restart passes each child's three pipes (its stdin, stdout and stderr)
with C{SCM_RIGHTS} over a UNIX socket, and with them one record: the
server and the session it serves, the fingerprint of what it runs, its
pid and process group, the start of a stdout line the old process read
but had not finished, and the state the new process serves it with
without an C{initialize} (its C{initialize} results, the router's next
id). A record is a 4-byte big-endian length, then that many bytes of
JSON; the JSON says how many descriptors belong to it (C{fds}), taken in
the order they arrived: a stream socket may split a record's bytes
anywhere and delivers a descriptor with the byte it was sent with, so a
record's descriptors are all there by the time its last byte is.

Everything a record says comes from the other gateway process of the
same user and state directory, but it is parsed as outside input all
the same: a record that is not what L{HandedChild.fromJson} expects is
refused whole, and its descriptors are closed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mcpgateway.core.envsecrets import GivenSecrets
from mcpgateway.core.spec import ServerSpec

MAX_RECORD = 16 * 1024 * 1024
"""The longest record accepted, in bytes (an C{initialize} result with
every tool's schema fits many times over)."""
CHILD_FDS = 3
"""Descriptors per child: its stdin, stdout and stderr."""


class BadRecord(ValueError):
    """A record that is not what a gateway process writes."""


SEALED = re.compile(r"[0-9a-f]{32}:[0-9a-f]{64}")
"""A sealed set of values (L{sealSecrets}): a salt and a digest, in hex."""


def sealSecrets(given: GivenSecrets, salt: bytes | None = None) -> str:
    """The values a child was given, sealed for its record: a random
    16-byte salt and their HMAC-SHA256 under it (L{GivenSecrets.digest}).
    A record never carries a value, and the same values give another
    seal in each record, so a record read elsewhere tells nothing of them
    (a low-entropy value still needs the record's salt to be guessed)."""
    salt = os.urandom(16) if salt is None else salt
    return f"{salt.hex()}:{given.digest(salt)}"


def secretsMatch(sealed: str, given: GivenSecrets) -> bool:
    """Whether C{given} (this process's values of a child's references)
    are the values C{sealed} (its record's L{HandedChild.secrets}) seals."""
    if SEALED.fullmatch(sealed) is None:
        return False
    salt, digest = sealed.split(":")
    return hmac.compare_digest(given.digest(bytes.fromhex(salt)), digest)


def fingerprint(spec: ServerSpec, principal: str = "") -> str:
    """What a child of C{spec} runs for C{principal}, as one hex digest:
    its command, its arguments, its environment (the references' text,
    never a value), its working directory, the binary its command resolved
    to, its sandbox and the principal. A child is kept across a restart
    only when the new process's spec has the same fingerprint (and, for a
    confined child, its sandbox the same layout: L{HandedChild.layout})."""
    what = [
        spec.command,
        list(spec.args),
        [list(pair) for pair in spec.env],
        spec.cwd,
        spec.executable,
        repr(spec.sandbox),
        principal,
    ]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class HandedChild:
    """One child passed from a gateway process to the next.

    @ivar server: its server's name.
    @ivar session: the id of the session whose own child it is (C{""}: the
        server's shared child).
    @ivar pending: the start of a stdout line read but not finished.
    @ivar nextId: the first id the new router may use towards the child
        (an answer to an id of the old one is then never taken for a new one's).
    """

    server: str
    session: str
    fingerprint: str
    pid: int
    pgid: int
    pending: bytes = b""
    nextId: int = 1
    childInitializeResult: dict[str, Any] | None = None
    sessionInitializeResult: dict[str, Any] | None = None
    sessionCapabilities: dict[str, Any] | None = None
    subscriptions: tuple[str, ...] = ()
    logLevel: str | None = None
    fds: tuple[int, ...] = field(default=(), compare=False)
    """Its stdin, stdout and stderr descriptors, in this process."""
    confinement: str = ""
    """The C{--sandbox} setting it runs confined under (C{""}: unconfined)."""
    startTime: int = 0
    """When its process started (field 22 of C{/proc/PID/stat}), read when
    it was spawned: the pid names it only while a process with that pid
    started then (C{0}: not known, and then it is neither attached nor
    signalled)."""
    layout: str = ""
    """What its sandbox gives it (L{mcpgateway.core.childlayout.layoutOf};
    C{""}: unconfined, or not known)."""
    command: str = ""
    """The command its launch request named (its C{npx}/C{uvx} entry's
    resolved program): the next process builds the request it would hand
    the same command line's launcher, to compare L{layout}."""
    probed: dict[str, Any] = field(default_factory=dict)
    """What of its gateway's probe findings laid it out
    (L{mcpgateway.core.childlayout.probedOf}; C{{}}: unconfined, or not
    known): the next process names what its own probe found otherwise."""
    others: tuple[str, ...] | None = None
    """The other servers' paths its launcher was given to mask
    (L{mcpgateway.core.childlayout.othersOf}; C{None}: unconfined, or not
    known): a next process whose servers name other paths, all else laid
    out the same, keeps it while its sandbox hides what a child of its own
    would be hidden (L{mcpgateway.core.adopted.compareLayout})."""
    secrets: str = ""
    """The values of its secret references, sealed (L{sealSecrets}; C{""}:
    it was given none): the next process keeps it only when it resolves
    the same values (L{secretsMatch})."""
    childKey: str = ""
    """A scoped pool's child: its child key (L{mcpgateway.core.spec.Variant.childKey}),
    by which the next process finds the route whose child it is (C{""}: the
    server's shared child, or L{session}'s)."""

    def toJson(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "session": self.session,
            "fingerprint": self.fingerprint,
            "pid": self.pid,
            "pgid": self.pgid,
            "pending": base64.b64encode(self.pending).decode("ascii"),
            "nextId": self.nextId,
            "childInitializeResult": self.childInitializeResult,
            "sessionInitializeResult": self.sessionInitializeResult,
            "sessionCapabilities": self.sessionCapabilities,
            "subscriptions": list(self.subscriptions),
            "logLevel": self.logLevel,
            "confinement": self.confinement,
            "startTime": self.startTime,
            "layout": self.layout,
            "command": self.command,
            "probed": self.probed,
            "others": None if self.others is None else list(self.others),
            "secrets": self.secrets,
            "childKey": self.childKey,
            "fds": CHILD_FDS,
        }

    @classmethod
    def fromJson(cls, data: Any, fds: tuple[int, ...]) -> HandedChild:
        """The child C{data} describes, with its descriptors C{fds}.

        @raise BadRecord: C{data} is not what L{toJson} makes."""
        if not isinstance(data, dict) or len(fds) != CHILD_FDS:
            raise BadRecord("not a child's record")
        try:
            server, session, print_ = data["server"], data["session"], data["fingerprint"]
            pid, pgid, nextId = data["pid"], data["pgid"], data["nextId"]
            pending = base64.b64decode(data["pending"], validate=True)
            subscriptions = data["subscriptions"]
            logLevel = data["logLevel"]
            confinement = data.get("confinement", "")
            startTime = data.get("startTime", 0)
            layout, command = data.get("layout", ""), data.get("command", "")
            probed = _probed(data.get("probed", {}))
            others = _others(data.get("others"))
            secrets, childKey = data.get("secrets", ""), data.get("childKey", "")
        except (KeyError, TypeError, ValueError) as e:
            raise BadRecord(f"a child's record lacks or mangles {e}") from None
        if not (
            isinstance(server, str)
            and isinstance(session, str)
            and isinstance(print_, str)
            and all(_positive(n) for n in (pid, pgid, nextId))
            and isinstance(subscriptions, list)
            and all(isinstance(uri, str) for uri in subscriptions)
            and (logLevel is None or isinstance(logLevel, str))
            and isinstance(confinement, str)
            and (_positive(startTime) or (type(startTime) is int and startTime == 0))
            and isinstance(layout, str)
            and isinstance(command, str)
            and isinstance(secrets, str)
            and (secrets == "" or SEALED.fullmatch(secrets) is not None)
            and isinstance(childKey, str)
            and len(childKey) <= MAX_CHILD_KEY
        ):
            raise BadRecord("a child's record has a field of the wrong type")
        results = {}
        for name in ("childInitializeResult", "sessionInitializeResult", "sessionCapabilities"):
            value = data.get(name)
            if value is not None and not isinstance(value, dict):
                raise BadRecord(f"a child's record has a {name} that is not an object")
            results[name] = value
        return cls(
            server,
            session,
            print_,
            pid,
            pgid,
            pending,
            nextId,
            results["childInitializeResult"],
            results["sessionInitializeResult"],
            results["sessionCapabilities"],
            tuple(subscriptions),
            logLevel,
            fds,
            confinement,
            startTime,
            layout,
            command,
            probed,
            others,
            secrets,
            childKey,
        )


MAX_CHILD_KEY = 1024
"""The longest child key a record may hold (a route's, with a credential's
and a principal's keys after it, is far shorter)."""
MAX_OTHERS = 256
"""The most other servers' paths a record may hold (as many as the
launcher reads)."""
MAX_OTHER_PATH = 4096
"""The longest path of another server a record may hold."""


def _others(value: object) -> tuple[str, ...] | None:
    """A record's C{others}: C{None} (not known), or at most L{MAX_OTHERS}
    absolute paths of at most L{MAX_OTHER_PATH} characters."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_OTHERS:
        raise TypeError("others")
    for path in value:
        if not (isinstance(path, str) and path.startswith("/") and len(path) <= MAX_OTHER_PATH):
            raise TypeError("others")
    return tuple(value)


MAX_PROBED = 8
"""The most entries a record's C{probed} may have (it has four)."""


def _probed(value: object) -> dict[str, Any]:
    """A record's C{probed}: an object of at most L{MAX_PROBED} short
    entries, each a string, a number or a boolean.

    @raise TypeError: it is not."""
    if not isinstance(value, dict) or len(value) > MAX_PROBED:
        raise TypeError("probed")
    for key, entry in value.items():
        short = not isinstance(entry, str) or len(entry) <= 64
        if not (isinstance(key, str) and isinstance(entry, str | int | bool) and short):
            raise TypeError("probed")
    return dict(value)


def _positive(value: object) -> bool:
    return type(value) is int and 0 < value < 2**63


def encodeRecord(record: dict[str, Any]) -> bytes:
    """One record on the wire: its length, then its JSON."""
    body = json.dumps(record, separators=(",", ":")).encode()
    return len(body).to_bytes(4, "big") + body


class RecordDecoder:
    """Takes a stream's bytes and descriptors as they come (L{feed},
    L{descriptor}) and hands each whole record, with the descriptors it
    says are its own, to C{onRecord}.

    @ivar broken: why the stream was given up (C{None}: it was not). A
        broken stream's descriptors, and those that come after, are closed.
    """

    def __init__(
        self,
        onRecord: Callable[[dict[str, Any], tuple[int, ...]], None],
        close: Callable[[int], None] = os.close,
    ) -> None:
        self._onRecord = onRecord
        self._close = close
        self._buffer = b""
        self._fds: list[int] = []
        self.broken: str | None = None

    def descriptor(self, fd: int) -> None:
        if self.broken is not None:
            self._close(fd)
            return
        self._fds.append(fd)

    def feed(self, data: bytes) -> None:
        if self.broken is not None:
            return
        self._buffer += data
        while len(self._buffer) >= 4:
            size = int.from_bytes(self._buffer[:4], "big")
            if size > MAX_RECORD:
                self._break(f"a record of {size} bytes, over the limit")
                return
            if len(self._buffer) < 4 + size:
                return
            body, self._buffer = self._buffer[4 : 4 + size], self._buffer[4 + size :]
            try:
                record = json.loads(body)
            except ValueError:
                self._break("a record that is not JSON")
                return
            count = record.get("fds", 0) if isinstance(record, dict) else 0
            if type(count) is not int or not 0 <= count <= len(self._fds):
                self._break("a record that claims descriptors that did not come")
                return
            fds, self._fds = tuple(self._fds[:count]), self._fds[count:]
            self._onRecord(record, fds)

    def leftover(self) -> list[int]:
        """The descriptors no record took (the stream ended): the caller closes them."""
        fds, self._fds = self._fds, []
        return fds

    def _break(self, why: str) -> None:
        self.broken = why
        self._buffer = b""
        for fd in self.leftover():
            self._close(fd)
