# -*- test-case-name: tests.ops.test_handover -*-
"""A restart that refuses no connection: a running gateway hands its
listening socket and its instance lock to a successor.

C{mcpgateway restart} sends the gateway C{SIGUSR2} (as nginx upgrades its
binary on C{SIGUSR2}). L{Predecessor}, in the running gateway, then starts
the successor: the same plugin command line under C{twistd} (daemonized, no
pid file), the same environment plus C{MCPGATEWAY_HANDOVER}, and three
inherited descriptors:

 - 3: the listening socket. Both processes now hold the one socket: the
   kernel queues new connections on it whoever accepts them, so none is
   refused at any point of the restart;
 - 4: the instance lock. An C{flock} belongs to the open file, which both
   processes share now: the lock is never free while either runs, so no
   third gateway can start on the state directory in between;
 - 5: one end of a socket pair, the I{link}.

The successor (L{Successor}) adopts the socket and writes C{listening} on
the link. The predecessor then stops accepting (closing its descriptor
without C{shutdown(2)}, which would stop the shared socket for both), stops
watching the client config and will not restore it (the successor keeps it
adopted), keeps C{state.json} (the successor's), answers each request still
coming on its open connections with C{Connection: close}, and once those
connections are gone (or after C{--restart-timeout}) stops as on
C{SIGTERM}: it drains, saves C{sessions.json} a last time, and exits.

The link closes when the predecessor's process ends, however it ends. The
successor then merges the sessions the predecessor saved last (a request
for a session it did not know yet waits for that) and from then on is the
only writer of the state directory's files.

The pid file: a predecessor whose C{twistd} wrote one (C{--pidfile}, as
C{mcpgateway start} does) hands it over too. Its path goes in
C{MCPGATEWAY_HANDOVER_PIDFILE} and descriptor 6 is one end of a second
socket pair, the I{exit link}, whose other end the predecessor holds
outside the reactor until its process ends. The order matters: the
predecessor's C{twistd} deletes its pid file after its reactor stopped,
and the reactor shuts the link down before that; the exit link ends only
with the process, so the pid file is gone by then. The successor then
writes its own pid there (atomically) and deletes it as it stops, as
C{twistd} would (the next successor writes it again once this process
has exited). The successor itself runs with no C{--pidfile}: C{twistd}
would refuse to start while the predecessor's pid in it still runs.

Why descriptor inheritance and not C{SO_REUSEPORT}: two sockets bound with
C{SO_REUSEPORT} each have their own accept queue on Linux, and the
connections queued on the old one are reset when it closes; one inherited
socket has one queue, which the successor goes on draining. Why the
predecessor starts the successor, and not C{mcpgateway restart}: only the
running gateway knows its exact command line and environment (its API
token among them), and only it can pass its descriptors without a socket
in the file system.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessDone, ReactorNotRunning
from twisted.internet.interfaces import IFileDescriptorReceiver
from twisted.internet.protocol import ProcessProtocol, Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from mcpgateway.ops.lateanswers import SuccessorWords
from mcpgateway.ops.signals import IGNORED_ENV, ignoredStopSignals
from mcpgateway.runtime import interpreter, logs
from mcpgateway.runtime.atomicfile import writeFileAtomic
from mcpgateway.runtime.pathrecord import PATH_FROM_ENV, entries, merged
from mcpgateway.runtime.paths import HANDOVER_ENV

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorSocket, IReactorTime

    from mcpgateway.ops.childhandover import ChildPassing, ChildReceiving
    from mcpgateway.runtime.reactortype import IReactor

PIDFILE_ENV = "MCPGATEWAY_HANDOVER_PIDFILE"
"""Set in the successor's environment (with L{HANDOVER_ENV}) when it takes
the predecessor's pid file over: the file's absolute path. It stays set in
the successor, which owns that file from then on (its own restart reads it)."""
LISTEN_FD, LOCK_FD, LINK_FD = 3, 4, 5
"""Where the successor finds what it inherits."""
EXIT_FD = 6
"""The exit link, passed with L{PIDFILE_ENV}: it ends when the predecessor's
process has ended."""
TWISTD_PIDFILE = "twistd.pid"
"""C{twistd}'s pid file when its command line names none."""
RESTART_SIGNAL = signal.SIGUSR2
LISTENING = b"listening\n"
ADOPTED = b"adopted\n"
"""The successor's answer once it holds the children passed to it."""
STOP = b"stop\n"
"""The successor's word when it stops before the predecessor has handed
over (C{mcpgateway stop} during a restart): the predecessor stops too, its
children with it, rather than drain for C{--restart-timeout} with no one
to hand them to."""
STOP_WAIT = 15.0
"""Seconds a successor that stops waits, at most, for the predecessor it
told to stop (L{STOP}) to close the link: nothing of the gateway is left
when its stop returns."""
MAX_OUTPUT = 4096
"""Bytes of the successor's early output kept for the log if it fails."""


def _serverFactory(make: Callable[[], Protocol]) -> ServerFactory[Any]:
    """A server factory of C{make}'s protocols, for an adopted connection.
    C{ServerFactory.forProtocol} makes one, but its type says only
    C{Factory}."""
    return cast("ServerFactory[Any]", ServerFactory.forProtocol(make))


class BadHandover(ValueError):
    """C{MCPGATEWAY_HANDOVER} is not what a predecessor writes."""


@dataclass(frozen=True)
class Inherited:
    """What a successor got from its predecessor."""

    predecessor: int
    listenFd: int = LISTEN_FD
    lockFd: int = LOCK_FD
    linkFd: int = LINK_FD
    pidfile: str | None = None
    """The predecessor's pid file to take over (L{PIDFILE_ENV}), on
    L{EXIT_FD}'s exit link."""
    exitFd: int = EXIT_FD

    def encode(self) -> str:
        return (
            f"from={self.predecessor},listen={self.listenFd},lock={self.lockFd},link={self.linkFd}"
        )

    @classmethod
    def fromEnviron(cls, environ: Mapping[str, str]) -> Inherited | None:
        """The hand-over described in C{environ}; C{None} without one. A
        L{PIDFILE_ENV} that is not an absolute path is left out (a pid file
        is not worth failing the restart for).

        @raise BadHandover: the variable is there but malformed.
        """
        text = environ.get(HANDOVER_ENV)
        if text is None:
            return None
        fields: dict[str, int] = {}
        for part in text.split(","):
            name, sep, value = part.partition("=")
            if (
                not sep
                or name in fields
                or not (value.isascii() and value.isdigit())
                or len(value) > 10
            ):
                raise BadHandover(f"{HANDOVER_ENV}={text[:80]!r} is malformed")
            fields[name] = int(value)
        if set(fields) != {"from", "listen", "lock", "link"} or not 0 < fields["from"] < 2**31:
            raise BadHandover(f"{HANDOVER_ENV}={text[:80]!r} is malformed")
        pidfile = environ.get(PIDFILE_ENV) or None
        if pidfile is not None and not os.path.isabs(pidfile):
            pidfile = None
        return cls(fields["from"], fields["listen"], fields["lock"], fields["link"], pidfile)


def successorCommand(
    pluginArgs: Sequence[str],
    executable: str = sys.executable,
    bytecodeFolder: str | None = None,
) -> list[str]:
    """The successor's command line: twistd as C{mcpgateway start} runs it
    (L{mcpgateway.launch}, with L{mcpgateway.runtime.interpreter}'s flags,
    its bytecode in C{bytecodeFolder} when given: the predecessor's own),
    daemonized without a pid file
    (the predecessor's would make twistd refuse while it still runs; the
    successor has C{state.json} and the lock), with the predecessor's own
    plugin arguments."""
    return [
        *interpreter.command(
            "-m", "mcpgateway.launch", python=executable, bytecodeFolder=bytecodeFolder
        ),
        "--pidfile=",
        f"--logger={logs.DISCARD}",
        "mcpgateway",
        *pluginArgs,
    ]


def twistdPidfile(argv: Sequence[str]) -> str:
    """The pid file C{twistd}'s command line C{argv} (C{sys.argv}) names:
    its C{--pidfile} before the plugin's name, else C{twistd.pid}; C{""}
    for none (C{--pidfile=}). Relative to the current directory."""
    found = TWISTD_PIDFILE
    for i, arg in enumerate(argv):
        if arg == "mcpgateway":
            break
        if arg == "--pidfile" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--pidfile="):
            found = arg[len("--pidfile=") :]
    return found


def ownPidfile(argv: Sequence[str], environ: Mapping[str, str], pid: int) -> str | None:
    """The pid file of this process (pid C{pid}): the one it took over in a
    restart (L{PIDFILE_ENV}), else the one its C{twistd} wrote; the
    absolute path of whichever holds C{pid}, else C{None} (C{twist}, no
    pid file, or one this process does not own)."""
    candidates = [environ.get(PIDFILE_ENV) or "", twistdPidfile(argv)]
    for candidate in candidates:
        if not candidate:
            continue
        path = os.path.abspath(candidate)
        try:
            with open(path, "rb") as f:
                text = f.read(32).strip()
        except OSError:
            continue
        if text == b"%d" % pid:
            return path
    return None


def socketFamily(fd: int) -> int:
    """The address family of the socket at C{fd} (read from a duplicate)."""
    with socket.socket(fileno=os.dup(fd)) as sock:
        return int(sock.family)


# -- the running gateway's side ----------------------------------------------


class _Launch(ProcessProtocol):
    """The successor's twistd until it daemonizes: its output, for the log."""

    def __init__(self, predecessor: Predecessor) -> None:
        self._predecessor = predecessor
        self.output = b""

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if len(self.output) < MAX_OUTPUT:
            self.output = (self.output + data)[:MAX_OUTPUT]

    def processEnded(self, reason: Failure) -> None:
        if not reason.check(ProcessDone):
            self._predecessor.successorFailed(
                f"its twistd exited with status {getattr(reason.value, 'exitCode', '?')}",
                self.output,
            )


class _PredecessorSide(Protocol):
    """The predecessor's end of the link: C{listening}, then C{adopted}
    once the successor holds the children it was passed; and the clients'
    answers the successor passes back (L{mcpgateway.ops.lateanswers})."""

    def __init__(self, predecessor: Predecessor) -> None:
        self._predecessor = predecessor
        self._words = SuccessorWords(self._said, predecessor.answered)

    def connectionMade(self) -> None:
        self._predecessor.linkTransport = self.transport

    def dataReceived(self, data: bytes) -> None:
        self._words.feed(data)

    def _said(self, word: bytes) -> None:
        if word == LISTENING:
            self._predecessor.successorListening()
        elif word == ADOPTED and self._predecessor.children is not None:
            self._predecessor.children.acknowledged()
        elif word == STOP:
            self._predecessor.stopAsked()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._predecessor.linkTransport = None
        if self._predecessor.children is not None:
            self._predecessor.children.linkLost()
        self._predecessor.linkLost()


class Predecessor:
    """Starts a successor and hands over to it, when asked (L{restart}: the
    start-up's C{SIGUSR2} handler,
    L{mcpgateway.startup.handoverwiring.RestartOnSignal}; see the module
    docstring). What handing over means for the rest of the gateway is the
    wiring's business: C{prepare} runs before the successor starts (save the
    sessions), C{handOver} once it listens (stop accepting, stop adopting,
    close connections after their current request; fires when the last one
    is gone or its deadline passed); then the reactor stops."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        reactor: IReactor,
        command: Sequence[str],
        environ: Mapping[str, str],
        listeningFd: Callable[[], int | None],
        lockFd: Callable[[], int | None],
        prepare: Callable[[], None],
        handOver: Callable[[], Deferred[Any]],
        pidfile: Callable[[], str | None] | None = None,
        children: ChildPassing | None = None,
        userPath: Callable[[], str | None] | None = None,
    ) -> None:
        """
        @param pidfile: this process's pid file to hand over, if any (by
            default L{ownPidfile} of C{sys.argv} and C{environ}).
        @param userPath: the C{PATH} the user last ran C{mcpgateway
            start}, C{restart} or C{service install} with (the state
            directory's record, L{mcpgateway.runtime.pathrecord}), read at
            each restart: the successor runs with its entries first, then
            this process's own it lacks, so a program installed since the
            start (C{uvx} new in C{~/.local/bin}) is found after a restart.
        @param children: passes the running children to the successor
            once the connections are gone (C{None}: they stop with this process).
        """
        self.children = children
        self.linkTransport: Any = None
        """The link to the successor, once connected."""
        self.answers: Callable[[dict[str, Any]], object] | None = None
        """Takes the clients' answers the successor passes back while this
        process hands over (L{mcpgateway.ops.lateanswers.AnswerTaking})."""
        self._reactor = reactor
        self._command = list(command)
        self._environ = dict(environ)
        self._listeningFd = listeningFd
        self._lockFd = lockFd
        self._prepare = prepare
        self._handOver = handOver
        self.state = "serving"
        """C{serving}, C{starting} (a successor is on its way), C{handing over}."""
        self._launch: _Launch | None = None
        self._pidfile = pidfile or (lambda: ownPidfile(sys.argv, self._environ, os.getpid()))
        self._userPath = userPath
        self._exitLink: socket.socket | None = None
        """Our end of the exit link: never closed after a hand-over, so the
        successor sees it end only when this process has."""
        self._abandoned = False
        """The successor stops (L{stopAsked}): nothing is handed to it."""

    def restart(self) -> bool:
        """Start a successor; C{False} (and a log line) when one is on its
        way already or the gateway does not listen."""
        if self.state != "serving":
            self.log.warn(
                "restart asked while one is under way ({state}); ignored", state=self.state
            )
            return False
        listenFd, lockFd = self._listeningFd(), self._lockFd()
        if listenFd is None or lockFd is None:
            self.log.warn("restart asked before the gateway listens; ignored")
            return False
        self.state = "starting"
        try:
            self._prepare()
        except Exception:
            self.log.failure("restart: preparing failed; going on")
        try:
            pidfile = self._pidfile()
        except Exception:
            self.log.failure("restart: finding the pid file failed; handing none over")
            pidfile = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        exitTheirs: socket.socket | None = None
        try:
            self._launch = _Launch(self)
            environ = {**self._environ, HANDOVER_ENV: Inherited(os.getpid()).encode()}
            environ.update(self._successorPath())
            environ[PATH_FROM_ENV] = "restart"  # for `status`: the recorded PATH comes first
            environ.pop(PIDFILE_ENV, None)
            environ.pop(IGNORED_ENV, None)
            ignored = ignoredStopSignals()
            if ignored:  # nohup: spawnProcess resets it in the child
                environ[IGNORED_ENV] = ignored
            childFDs: dict[int, str | int] = {
                0: "w",
                1: "r",
                2: "r",
                LISTEN_FD: listenFd,
                LOCK_FD: lockFd,
                LINK_FD: theirs.fileno(),
            }
            if pidfile:
                self._exitLink, exitTheirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                environ[PIDFILE_ENV] = pidfile
                childFDs[EXIT_FD] = exitTheirs.fileno()
            self._reactor.spawnProcess(
                self._launch,
                self._command[0],
                self._command,
                env=environ,
                childFDs=childFDs,
            )
            self._reactor.adoptStreamConnection(
                ours.fileno(),
                socket.AF_UNIX,
                _serverFactory(lambda: _PredecessorSide(self)),
            )
        except Exception as e:
            self.state = "serving"
            self._closeExitLink()
            self.log.error("restart: cannot start the successor: {why}", why=str(e))
            return False
        finally:
            ours.close()
            theirs.close()
            if exitTheirs is not None:
                exitTheirs.close()
        self.log.info("restart: starting a successor; this process serves until it listens")
        return True

    def _successorPath(self) -> dict[str, str]:
        """The C{PATH} of the successor, where the user's recorded one
        changes it (logged, with what it adds and drops); else nothing."""
        recorded = None
        if self._userPath is not None:
            try:
                recorded = self._userPath()
            except Exception:
                self.log.failure("restart: reading the user's PATH failed; keeping this one's")
        own = self._environ.get("PATH", "")
        if not recorded:
            return {}
        path = merged(recorded, own)
        if entries(path) == entries(own):
            return {}
        added = [e for e in entries(path) if e not in entries(own)]
        self.log.info(
            "restart: the successor runs with the PATH of the command that asked for it"
            " ({added} added, before this process's own)",
            added=", ".join(added) or "none",
        )
        return {"PATH": path}

    def successorListening(self) -> None:
        if self.state != "starting":
            return
        self.state = "handing over"
        self.log.info(
            "restart: the successor listens; this process accepts no more connections and"
            " stops once its open ones have finished"
        )
        Deferred.fromCoroutine(self._handingOver())

    async def _handingOver(self) -> None:
        """Hand over, then stop the reactor (whether or not it went well)."""
        done: Deferred[Any]
        try:
            done = self._handOver()
        except Exception:
            self.log.failure("restart: handing over failed; stopping now")
            done = succeed(None)
        with contextlib.suppress(Exception):  # the last connection's end, or its deadline
            await done
        if self.children is not None and self.linkTransport is not None and not self._abandoned:
            try:
                await self.children.send(self.linkTransport)
            except Exception:
                self.log.failure("restart: handing the children over failed")
        self._stopReactor()

    def _stopReactor(self) -> None:
        with contextlib.suppress(ReactorNotRunning):  # a SIGTERM stopped it meanwhile
            self._reactor.stop()

    def answered(self, record: dict[str, Any]) -> None:
        """A client's answer the successor passed back: to L{answers}, while
        this process hands over (its connections, the calls' streams, open)."""
        if self.answers is not None and self.state == "handing over" and not self._abandoned:
            self.answers(record)

    def stopAsked(self) -> None:
        """The successor stops before this process has handed over
        (L{STOP}): the gateway is being stopped, so this process stops now
        too, its children with it, instead of draining for
        C{--restart-timeout} and handing them to no one."""
        if self.state != "handing over" or self._abandoned:
            return
        self._abandoned = True
        self.log.info(
            "restart: the successor is stopping before this process handed over; this process"
            " stops now too, and its running children with it"
        )
        self._stopReactor()

    def successorFailed(self, why: str, output: bytes = b"") -> None:
        if self.state != "starting":
            return
        self.state = "serving"
        self._closeExitLink()
        said = output.decode("utf-8", "replace").strip()
        self.log.error(
            "restart failed: the successor did not take over ({why}){said}; this process"
            " goes on serving",
            why=why,
            said=f": {said}" if said else "",
        )

    def _closeExitLink(self) -> None:
        if self._exitLink is not None:
            self._exitLink.close()
            self._exitLink = None

    def linkLost(self) -> None:
        self.successorFailed(
            "it exited before it listened; its log says why",
            self._launch.output if self._launch is not None else b"",
        )


# -- the successor's side ----------------------------------------------------


@implementer(IFileDescriptorReceiver)
class _SuccessorSide(Protocol):
    """The successor's end of the link: the children come on it."""

    def __init__(self, successor: Successor) -> None:
        self._successor = successor

    def connectionMade(self) -> None:
        self._successor.linked(self.transport)

    def fileDescriptorReceived(self, descriptor: int) -> None:
        children = self._successor.children
        if children is None:
            _closeQuietly(descriptor)
        else:
            children.descriptor(descriptor)

    def dataReceived(self, data: bytes) -> None:
        children = self._successor.children
        if children is not None:
            children.data(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._successor.predecessorGone()


class _ExitSide(Protocol):
    def __init__(self, successor: Successor) -> None:
        self._successor = successor

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._successor.predecessorExited()


class Successor(Service):
    """The successor's end of the link: says C{listening} (call
    L{listening}), and fires C{gone} when the predecessor has stopped (the
    link closes with its reactor). With a pid file to take over
    (L{Inherited.pidfile}), writes it once the exit link ends and deletes
    it as it stops. Until C{gone} has fired the hand-over is pending
    (L{pending}): a restart of this process waits for it
    (L{mcpgateway.startup.handoverwiring.RestartOnSignal}), and a stop of
    this process tells the predecessor to stop too (L{STOP}) and waits for
    it, L{STOP_WAIT} seconds at most."""

    log = Logger(observer=logs.observer)

    def __init__(
        self,
        reactor: IReactorSocket,
        inherited: Inherited,
        gone: Deferred[None],
        pid: Callable[[], int] = os.getpid,
        stopWait: float = STOP_WAIT,
    ) -> None:
        """
        @param pid: this process's pid (C{os.getpid}: after C{twistd}
            daemonized, so not read before the pid file is written).
        @param stopWait: seconds a stop waits for a predecessor still
            handing over to stop too.
        """
        self._reactor = reactor
        self._stopWait = stopWait
        self._stopped: Deferred[None] | None = None
        """Fires when the predecessor told to stop has closed the link."""
        self._inherited = inherited
        self.gone = gone
        self._pid = pid
        self._side: _SuccessorSide | None = None
        self._transport: Any = None
        self._said = False
        self.pidfileWritten: str | None = None
        """The pid file this process wrote (and deletes as it stops)."""
        self._exited = False
        self.children: ChildReceiving | None = None
        """Takes the children the predecessor passes (C{None}: they are closed)."""

    def startService(self) -> None:
        super().startService()
        if self.children is not None:
            self.children.start()
        self._watchExit()
        fd = self._inherited.linkFd
        try:
            self._reactor.adoptStreamConnection(
                fd, socket.AF_UNIX, _serverFactory(lambda: _SuccessorSide(self))
            )
        except Exception as e:
            self.log.warn(
                "restart: no link to the predecessor (pid {pid}): {why}; taking over now",
                pid=self._inherited.predecessor,
                why=str(e),
            )
            self.predecessorGone(why=str(e))
            return
        finally:
            _closeQuietly(fd)

    def linked(self, transport: Any) -> None:
        self._transport = transport
        if self.children is not None:
            self.children.reply = transport.write
        if self._said:
            transport.write(LISTENING)

    def listening(self, port: int) -> None:
        """Tell the predecessor to stop accepting: this process listens."""
        if self._said:
            return
        self._said = True
        self.log.info(
            "restart: took over the listening socket (port {port}) from pid {pid}",
            port=port,
            pid=self._inherited.predecessor,
        )
        if self._transport is not None:
            self._transport.write(LISTENING)

    @property
    def predecessorPid(self) -> int:
        """The pid of the process this one took over from."""
        return self._inherited.predecessor

    def tell(self, data: bytes) -> bool:
        """Write C{data} to the predecessor (a client's answer it is owed:
        L{mcpgateway.ops.lateanswers}); whether the link was up."""
        if self.gone.called or self._transport is None:
            return False
        self._transport.write(data)
        return True

    def pending(self) -> Deferred[None] | None:
        """A Deferred that fires once the predecessor has stopped (its
        last sessions merged, its children adopted or gone); C{None} when
        it has already."""
        if self.gone.called:
            return None
        done: Deferred[None] = Deferred()

        def fire(result: object) -> object:
            done.callback(None)
            return result

        self.gone.addBoth(fire)
        return done

    def stopService(self) -> Deferred[None] | None:
        """Stop; while the predecessor still hands over, tell it to stop
        too (L{STOP}) and wait until it has (L{STOP_WAIT} at most): the
        gateway is being stopped, and no part of it may go on running,
        holding the children and the state directory's lock."""
        super().stopService()
        self._deletePidfile()
        if self.gone.called or self._transport is None or not self._said:
            return None
        if self.children is not None:
            self.children.stopping()
        self.log.info(
            "restart: this process stops while its predecessor (pid {pid}) is still handing"
            " over; telling it to stop too",
            pid=self._inherited.predecessor,
        )
        self._transport.write(STOP)
        stopped: Deferred[None] = Deferred()
        self._stopped = stopped
        clock = cast("IReactorTime", self._reactor)
        timer = clock.callLater(self._stopWait, self._stopTimedOut)
        stopped.addBoth(lambda result: timer.cancel() if timer.active() else None)
        return stopped

    def _stopTimedOut(self) -> None:
        stopped, self._stopped = self._stopped, None
        if stopped is not None:
            stopped.callback(None)
            self.log.warn(
                "restart: the predecessor (pid {pid}) has not stopped within {seconds:g} s;"
                " this process stops without it",
                pid=self._inherited.predecessor,
                seconds=self._stopWait,
            )

    def _deletePidfile(self) -> None:
        path = self.pidfileWritten
        if path is None:
            return
        self.pidfileWritten = None
        try:
            with open(path, "rb") as f:
                ours = f.read(32).strip() == b"%d" % self._pid()
            if ours:
                os.unlink(path)
        except OSError as e:
            self.log.warn("cannot delete the pid file {path}: {why}", path=path, why=str(e))

    def _watchExit(self) -> None:
        if self._inherited.pidfile is None:
            return
        fd = self._inherited.exitFd
        try:
            self._reactor.adoptStreamConnection(
                fd, socket.AF_UNIX, _serverFactory(lambda: _ExitSide(self))
            )
        except Exception as e:
            self.log.warn(
                "restart: no exit link to the predecessor (pid {pid}): {why}; not writing"
                " the pid file {path}",
                pid=self._inherited.predecessor,
                why=str(e),
                path=self._inherited.pidfile,
            )
        finally:
            _closeQuietly(fd)

    def predecessorExited(self) -> None:
        """The predecessor's process has ended, and its C{twistd} with it
        has deleted its pid file: write ours in its place."""
        path = self._inherited.pidfile
        if self._exited or path is None or not self.running:
            return
        self._exited = True
        try:
            writeFileAtomic(Path(path), b"%d" % self._pid(), mode=0o644)
        except OSError as e:
            self.log.warn("restart: cannot write the pid file {path}: {why}", path=path, why=str(e))
            return
        self.pidfileWritten = path
        self.log.info("restart: took over the pid file {path}", path=path)

    def predecessorGone(self, why: str | None = None) -> None:
        """The link has closed (or could not be adopted: C{why}): the
        predecessor has stopped, or this process is stopping (its own
        reactor closes the link then). Says which, and fires C{gone}."""
        if self.gone.called:
            return
        if self.children is not None:  # after the sessions it saved last are merged
            self.gone.addCallback(_tellLinkLost, self.children)
        if why is None:  # else said already
            told = self._stopped is not None
            self.log.info(
                "restart: the predecessor (pid {pid}) has stopped{too}"
                if self.running or told
                else "restart: the link to the predecessor (pid {pid}) closed as this"
                " process stops",
                pid=self._inherited.predecessor,
                too=" too" if told else "",
            )
        self.gone.callback(None)
        stopped, self._stopped = self._stopped, None
        if stopped is not None:
            stopped.callback(None)


def _tellLinkLost(result: object, children: ChildReceiving) -> object:
    children.linkLost()
    return result


def _closeQuietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
