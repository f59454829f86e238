# -*- test-case-name: tests.secrets.test_resolve,tests.secrets.test_approvals -*-
"""Secret references resolved as a child starts: the spawner's L{SecretResolver}.

The specs the gateway keeps (its pools, C{/health}, C{status}, the catalog,
the logs) hold the references' text (L{mcpgateway.core.spec.ServerSpec.references});
when a child of a server starts, L{mcpgateway.core.upstream.Upstream} asks
L{SecretResolver.resolve} for the spec to spawn: the same spec with each
reference in its C{env}, C{args} and (a remote server's) C{headers}
replaced by its value. That spec goes to the spawner and nowhere else, so a
value lives as long as the child it was read for (a 1Password item is read
once per child, not per request). A reference that cannot be resolved
stops the child from starting: the reason names the reference and says
why (L{SecretError}), never a value.

The references are the user's: those of an entry of a project's own file
(a repository's C{.mcp.json}, C{.cursor/mcp.json}...: the spec's
C{origin}) are resolved only when the user approved that very entry
(L{mcpgateway.secrets.approvals}, read in a thread at each start); else
the child does not start, and the reason says how to allow them.

 - C{${keyring:NAME}}: L{mcpgateway.secrets.store.SecretStore} (the keyring's
   calls and the file are blocking: in a thread);
 - C{${file:PATH}} and C{${env:NAME}}: the file (C{~} expanded, at most
   L{MAX_FILE} bytes of UTF-8, one trailing line end dropped), the gateway's
   environment (never its own C{MCPGATEWAY_*}); in the same thread;
 - C{${op://...}}: C{op read --no-newline REF}, 1Password's CLI, run as a
   child process of the reactor (L{OnePasswordCli}; the gateway's warden
   stops one its death cuts short), with the gateway's
   environment (its service account token, its session) less the gateway's
   own variables, given at most L{OP_TIMEOUT} seconds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred, DeferredList, fail
from twisted.internet.error import ProcessExitedAlready
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure

from mcpgateway.config.references import (
    BadReference,
    Redactor,
    Reference,
    parseReferences,
    substitute,
)
from mcpgateway.core.environment import childEnvironment, isGatewayOwn
from mcpgateway.core.envsecrets import GivenSecrets
from mcpgateway.core.spawn import SecretsUnavailable
from mcpgateway.core.spec import ServerSpec
from mcpgateway.runtime.threads import RunInThread

if TYPE_CHECKING:
    from mcpgateway.runtime.reactortype import IReactor

OP_TIMEOUT = 60.0
"""Seconds C{op read} may take (it may wait for the desktop app's unlock)."""
MAX_FILE = 64 * 1024
"""The largest file a C{${file:PATH}} reads, in bytes."""
MAX_OUTPUT = 64 * 1024
"""The most of C{op}'s stdout (and stderr) kept, in bytes."""


class SecretError(SecretsUnavailable):
    """A reference cannot be resolved; the message names it and says why."""


class SecretLookup(Protocol):
    """The secret store, as the resolver reads it (blocking)."""

    def get(self, name: str) -> str | None: ...


class OnePasswordReader(Protocol):
    def read(self, reference: Reference) -> Deferred[str]: ...


class SecretResolver:
    """Resolves the references of a spec as its child starts (see the module docstring).

    @param stateDir: the state directory (its secret store).
    @param environ: the gateway's environment (C{${env:NAME}}, C{op}'s).
    @param runInThread: runs the blocking reads in a thread.
    @param store: the secret store (default: the state directory's, made on first use).
    @param onePassword: reads C{op://} references (default: L{OnePasswordCli}).
    """

    def __init__(
        self,
        reactor: IReactor,
        stateDir: Path,
        environ: Mapping[str, str],
        runInThread: RunInThread,
        *,
        store: SecretLookup | None = None,
        onePassword: OnePasswordReader | None = None,
    ) -> None:
        self._stateDir = Path(stateDir)
        self._environ = environ
        self._runInThread = runInThread
        self._store = store
        self._onePassword = (
            onePassword if onePassword is not None else OnePasswordCli(reactor, environ)
        )

    def watchedBy(self, warden: HelperWarden) -> None:
        """Have C{warden} (the gateway's) stop an C{op read} the gateway's
        death cuts short (L{OnePasswordCli.warden})."""
        if isinstance(self._onePassword, OnePasswordCli):
            self._onePassword.warden = warden

    def resolve(self, spec: ServerSpec) -> Deferred[tuple[ServerSpec, GivenSecrets]]:
        """C{spec} with its references' values in place, and the L{Redactor}
        of those values; fails with L{SecretError} (every reference that
        cannot be resolved, and why)."""
        try:
            wanted = wantedReferences(spec)
        except BadReference as e:
            return fail(SecretError(str(e)))
        if spec.origin is not None and wanted:
            # A project's own entry: the user's approval of it comes first.
            allowed = self._runInThread(self._checkApproved, spec, wanted)
            return allowed.addCallback(lambda _: self._read(spec, wanted))
        return self._read(spec, wanted)

    def _checkApproved(self, spec: ServerSpec, wanted: list[Reference]) -> None:
        """Nothing when the user approved C{spec}'s references (an entry of a
        project's own file, L{ServerSpec.origin}), else L{SecretError}
        saying how to (blocking: in a thread)."""
        from mcpgateway.secrets.approvals import ApprovalsError, readApprovals, refusal

        try:
            approvals = readApprovals(self._stateDir)
        except ApprovalsError as e:
            named = ", ".join(sorted(reference.text for reference in wanted))
            raise SecretError(f"{named}: not resolved: {e}") from None
        why = refusal(spec, [reference.text for reference in wanted], approvals)
        if why is not None:
            raise SecretError(why)

    def _read(
        self, spec: ServerSpec, wanted: list[Reference]
    ) -> Deferred[tuple[ServerSpec, GivenSecrets]]:
        """C{spec} with the values of C{wanted} in place (see L{resolve})."""
        local = [reference for reference in wanted if reference.kind != "op"]
        reads: list[Deferred[dict[str, str]]] = []
        if local:
            reads.append(self._runInThread(self._readLocal, local))
        for reference in wanted:
            if reference.kind == "op":
                reads.append(self._readOnePassword(reference))
        done: Deferred[Any] = DeferredList(reads, consumeErrors=True)
        return done.addCallback(_combined, spec)

    def _readOnePassword(self, reference: Reference) -> Deferred[dict[str, str]]:
        def failed(failure: Failure) -> Failure:
            if failure.check(SecretError):
                return failure
            return Failure(
                SecretError(f"{reference.text}: reading it failed ({type(failure.value).__name__})")
            )

        read = self._onePassword.read(reference)
        return read.addCallbacks(lambda value: {reference.text: value}, failed)

    def _readLocal(self, references: list[Reference]) -> dict[str, str]:
        """The values of C{keyring:}, C{env:} and C{file:} references
        (blocking: in a thread).

        @raise SecretError: any cannot be read (all of them, in the message).
        """
        values: dict[str, str] = {}
        problems = []
        for reference in references:
            try:
                values[reference.text] = self._readOne(reference)
            except SecretError as e:
                problems.append(str(e))
            except Exception as e:  # its message might hold a value: its type only
                problems.append(f"{reference.text}: reading it failed ({type(e).__name__})")
        if problems:
            raise SecretError("; ".join(problems))
        return values

    def _readOne(self, reference: Reference) -> str:
        text, target = reference.text, reference.target
        if reference.kind == "env":
            if isGatewayOwn(target):
                raise SecretError(f"{text}: the gateway's own variables are never given away")
            value = self._environ.get(target)
            if value is None:
                raise SecretError(f"{text}: the gateway's environment has no {target}")
            return value
        if reference.kind == "file":
            return readSecretFile(text, target)
        from mcpgateway.secrets.store import SecretStore, SecretStoreError

        if self._store is None:
            self._store = SecretStore(self._stateDir)
        try:
            found = self._store.get(target)
        except SecretStoreError as e:
            raise SecretError(f"{text}: {e}") from None
        if found is None:
            raise SecretError(
                f"{text}: the secret store has no secret {target!r}"
                f" (mcpgateway secret set {target})"
            )
        return found


def wantedReferences(spec: ServerSpec) -> list[Reference]:
    """The references of C{spec} (its entry's own, L{ServerSpec.references})
    that its C{env}, C{args} or C{headers} still hold, each once."""
    places = [*spec.args, *(value for _, value in spec.env)]
    if spec.remote is not None:
        places += [value for _, value in spec.remote.headers]
    wanted = sorted(text for text in spec.references if any(text in place for place in places))
    return [parseReferences(text)[0] for text in wanted]


def _combined(results: list[tuple[bool, Any]], spec: ServerSpec) -> tuple[ServerSpec, Redactor]:
    """C{spec} with the values read (C{results}: a C{DeferredList}'s) in place."""
    values: dict[str, str] = {}
    problems = []
    for ok, result in results:
        if ok:
            values.update(result)
        elif result.check(SecretError):
            problems.append(result.getErrorMessage())
        else:
            problems.append(f"reading a secret failed ({type(result.value).__name__})")
    for text, value in sorted(values.items()):
        if "\0" in value:
            problems.append(f"{text}: its value holds a NUL character, which a child cannot get")
    if problems:
        raise SecretError("; ".join(problems))
    env = tuple((key, substitute(value, values)) for key, value in spec.env)
    args = tuple(substitute(arg, values) for arg in spec.args)
    resolved = replace(spec, env=env, args=args)
    if spec.remote is not None:
        headers = []
        for key, written in spec.remote.headers:
            value = substitute(written, values)
            if value != written and not (value.isascii() and value.isprintable()):
                named = ", ".join(sorted({r.text for r in parseReferences(written)}))
                raise SecretError(
                    f"header {key!r}: the value of {named} is not printable ASCII,"
                    " which a header's must be"
                )
            headers.append((key, value))
        resolved = replace(resolved, remote=replace(spec.remote, headers=tuple(headers)))
    return resolved, Redactor(values)


def readSecretFile(text: str, path: str) -> str:
    """The secret in the file C{path} (C{~} expanded): its UTF-8 text, one
    trailing line end dropped (blocking).

    @param text: the reference, for the messages.
    @raise SecretError: it cannot be read, is not a regular file, is larger
        than L{MAX_FILE} bytes, or is not UTF-8.
    """
    where = os.path.expanduser(path)
    try:
        fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise SecretError(f"{text}: cannot be read ({e.strerror or type(e).__name__})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SecretError(f"{text}: not a regular file")
        data = os.read(fd, MAX_FILE + 1)
    except OSError as e:
        raise SecretError(f"{text}: cannot be read ({e.strerror or type(e).__name__})") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE:
        raise SecretError(f"{text}: larger than {MAX_FILE} bytes")
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"{text}: not UTF-8 text") from None
    return value.removesuffix("\n").removesuffix("\r")


class HelperWarden(Protocol):
    """The gateway's warden, as it is told of a process started on a
    child's behalf (L{mcpgateway.ops.warden.Warden})."""

    marker: tuple[str, str]

    def helperSpawned(self, server: str, pid: int) -> None: ...

    def helperExited(self, pid: int) -> None: ...


class OnePasswordCli:
    """Reads C{op://} references with 1Password's CLI, a child of the reactor.

    @param which: finds C{op} on a C{PATH} (C{shutil.which}'s signature).
    """

    def __init__(
        self,
        reactor: IReactor,
        environ: Mapping[str, str],
        timeout: float = OP_TIMEOUT,
        which: Callable[..., str | None] = shutil.which,
    ) -> None:
        self._reactor = reactor
        self._environ = environ
        self._timeout = timeout
        self._which = which
        self.warden: HelperWarden | None = None
        """The gateway's warden: each C{op read} gets its marker and is
        told to it, so that one the gateway's death cut short (waiting for
        an unlock) does not outlive it."""

    def read(self, reference: Reference) -> Deferred[str]:
        """The value C{op read} gives for C{reference}; L{SecretError} when
        C{op} is missing, fails, or takes longer than the timeout."""
        text = reference.text
        executable = self._which("op", path=self._environ.get("PATH"))
        if executable is None:
            return fail(
                SecretError(
                    f"{text}: 1Password's CLI 'op' was not found on the gateway's PATH"
                    " (https://developer.1password.com/docs/cli/get-started/)"
                )
            )
        done: Deferred[tuple[bytes, bytes, int | None]] = Deferred()
        collect = _Collect(done)
        argv = [executable, "read", "--no-newline", reference.target]
        env = childEnvironment(self._environ)
        warden = self.warden
        if warden is not None:
            env[warden.marker[0]] = warden.marker[1]
        try:
            transport = self._reactor.spawnProcess(collect, executable, argv, env=env)
        except OSError as e:
            return fail(SecretError(f"{text}: 'op' cannot be run ({e.strerror or e})"))
        timer = self._reactor.callLater(self._timeout, _kill, transport, collect)
        pid = transport.pid
        if warden is not None and pid is not None:
            warden.helperSpawned("1Password", pid)

        def ended(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            if warden is not None and pid is not None:
                warden.helperExited(pid)
            return result

        return done.addBoth(ended).addCallback(self._value, text, collect)

    def _value(self, result: tuple[bytes, bytes, int | None], text: str, collect: _Collect) -> str:
        out, err, code = result
        if collect.killed:
            raise SecretError(
                f"{text}: 'op read' did not answer within {self._timeout:g} s (is 1Password"
                " unlocked, or OP_SERVICE_ACCOUNT_TOKEN set in the gateway's environment?)"
            )
        if collect.tooLarge:
            raise SecretError(f"{text}: its value is larger than {MAX_OUTPUT} bytes")
        if code != 0:
            said = _firstLine(err)
            raise SecretError(
                f"{text}: 'op read' failed (exit status {code})" + (f": {said}" if said else "")
            )
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretError(f"{text}: 'op read' gave no UTF-8 text") from None


def _firstLine(err: bytes, limit: int = 300) -> str:
    """The first non-blank line of C{op}'s stderr, printable, at most C{limit}
    characters (its errors name the reference and the reason)."""
    for line in err.decode("utf-8", "replace").splitlines():
        line = "".join(c if c.isprintable() else " " for c in line).strip()
        if line:
            return line[:limit]
    return ""


def _kill(transport: Any, collect: _Collect) -> None:
    collect.killed = True
    with contextlib.suppress(ProcessExitedAlready, OSError):
        transport.signalProcess("KILL")


class _Collect(ProcessProtocol):
    """Keeps what C{op} writes (at most L{MAX_OUTPUT} bytes of each) and
    fires C{done} with C{(stdout, stderr, exit status)} when it has ended."""

    def __init__(self, done: Deferred[tuple[bytes, bytes, int | None]]) -> None:
        self._done = done
        self._out = bytearray()
        self._err = bytearray()
        self.killed = False

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.closeStdin()  # op asks for nothing: a prompt gets EOF

    def outReceived(self, data: bytes) -> None:
        self._out += data[: MAX_OUTPUT + 1 - len(self._out)]

    def errReceived(self, data: bytes) -> None:
        self._err += data[: MAX_OUTPUT - len(self._err)]

    @property
    def tooLarge(self) -> bool:
        return len(self._out) > MAX_OUTPUT

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        self._done.callback((bytes(self._out), bytes(self._err), code))
