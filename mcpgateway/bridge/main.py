# -*- test-case-name: tests.bridge.test_main -*-
"""The bridge's entry: find the gateway (or start one), wire stdio to the
HTTP side, run the reactor until stdin ends (and the requests sent before
have their answers, within the timeout) or SIGTERM.

L{runBridge} is what C{mcpgateway bridge} calls; L{main} is C{python -m
mcpgateway.bridge}. The one place that takes the global reactor;
L{makeBridge} wires everything on any reactor (the tests pass a
C{MemoryReactor}).

SIGINT is ignored (clients send it to their children at will, and the
bridge must not take anything down with it); the gateway it starts runs in a
session of its own, so a client's SIGINT to its process group cannot reach
it either.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import ipaddress
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.error import ReactorNotRunning
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IReactorProcess,
    IReactorTCP,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import (
    FileLogObserver,
    FilteringLogObserver,
    ILogFilterPredicate,
    LogEvent,
    Logger,
    LogLevel,
    PredicateResult,
    eventAsText,
    globalLogBeginner,
)
from twisted.python.failure import Failure
from twisted.web.client import URI, Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory, IBodyProducer, IResponse
from zope.interface import implementer

from mcpgateway.bridge.client import BridgeClient
from mcpgateway.bridge.options import BridgeOptions, addArguments, checkTarget, fromNamespace
from mcpgateway.bridge.stdio import StdioProtocol
from mcpgateway.runtime import interpreter, logs
from mcpgateway.runtime.ownertoken import ownerHeaders
from mcpgateway.runtime.reactortype import IReactor

CONNECT_TIMEOUT = 5.0
"""Seconds a TCP connection to the gateway may take to open."""
START_OUTPUT_LINES = 20
"""Lines of C{mcpgateway start}'s output shown when it fails."""
POOL_IDLE_TIMEOUT = 30
"""Seconds an idle connection to the gateway is kept for the next request:
well under the gateway's own idle limit
(C{mcpgateway.tuned.channel.IDLE_CONNECTION_TIMEOUT}, 60 s), so the bridge
always closes first. Twisted's default, 240 s, let the bridge send a
request on a connection the gateway was closing that same moment: the
request never ran, and its caller was told the gateway may have stopped
(a POST is not retried: C{retryAutomatically} is off)."""
EXIT_NO_GATEWAY = 1
"""The exit status when requests read before stdin's end got an error
because no gateway could be reached (a one-shot pipe that got no answers)."""

_START_CODE = (
    "import os, signal, sys; os.setsid();"
    " signal.signal(signal.SIGINT, signal.default_int_handler);"
    " from mcpgateway.cli import main; sys.exit(main([*sys.argv[1:], '--auto-started']))"
)
"""C{mcpgateway start}, in a session of its own (out of the client's process
group) and with SIGINT back to normal (the bridge ignores it; children would
inherit that), as a bridge's start (C{--auto-started}: the client's
environment is not the user's, a GUI app's C{PATH} lacks C{npx} and C{uvx};
the start puts the C{PATH} of the user's own start first)."""


def ignoreSigint() -> None:
    """Ignore SIGINT (Twisted installs its own handler only over Python's
    default one, so this holds once the reactor runs too)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def locator(options: BridgeOptions) -> Callable[[], str | None]:
    """The function that says where the gateway's server is now."""
    if options.isUrl:
        return lambda: options.target
    from mcpgateway.ops.gatewayprobe import probe

    def locate() -> str | None:
        found = probe(options.stateDir)
        return f"{found.baseUrl()}/{options.target}/mcp" if found.running else None

    return locate


def ownerHeadersFor(options: BridgeOptions) -> Callable[[str], dict[str, str]]:
    """The headers the bridge's requests to a gateway URL carry: the owner
    token of its state directory (L{ownerHeaders}: to a loopback address
    only). A URL the bridge was given gets it only while it names the port
    of the gateway running on that state directory: a port another account
    listens on never learns it."""
    if not options.isUrl:
        return functools.partial(ownerHeaders, options.stateDir)
    from urllib.parse import urlsplit

    from mcpgateway.ops.gatewayprobe import probe

    def headers(url: str) -> dict[str, str]:
        found = probe(options.stateDir)
        try:
            port = urlsplit(url).port
        except ValueError:
            return {}
        if not found.running or port is None or port != found.port:
            return {}
        return ownerHeaders(options.stateDir, url)

    return headers


def startingElsewhere(options: BridgeOptions) -> Callable[[], bool]:
    """Whether some gateway holds the bridge's state directory (its
    instance lock): one is starting, or runs, there."""
    from mcpgateway.ops.statedir import lockHeld

    return lambda: lockHeld(options.stateDir)


def startCommand(options: BridgeOptions) -> list[str]:
    """The C{mcpgateway start} command line the bridge runs (C{--json}: what
    it started is read from its answer, L{startedLine}), with the flags of
    every gateway Python (L{mcpgateway.runtime.interpreter}): C{-P} above
    all, for the bridge runs in whatever folder its client starts it (a
    cloned repository's root, a shared one), and a module planted there
    must never be imported."""
    argv = [
        *interpreter.command("-c", _START_CODE),
        "--state-dir",
        str(options.stateDir),
        "start",
        "--json",
    ]
    if options.port is not None:
        argv += ["--port", str(options.port)]
    return argv


START_CAUSE_LINES = 3
"""Error lines of a failed start's output the client is told of."""
START_CAUSE_LENGTH = 400
"""Characters of the cause the client is told of, at most."""
_ERROR_TAGS = ("#error] ", "#critical] ")
"""How a line of the gateway's log at level error or critical is marked."""


def startFailure(code: object, output: str) -> str:
    """What the client is told of a failed C{mcpgateway start}: its exit
    status and the cause, short: the error and critical lines of the log
    it showed, without their timestamp and namespace (else its first line,
    and its last when that differs)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    causes: list[str] = []
    for line in lines:
        for tag in _ERROR_TAGS:
            at = line.find(tag)
            if at >= 0:
                cause = line[at + len(tag) :].strip()
                if cause and cause not in causes:
                    causes.append(cause)
                break
    if not causes:
        causes = lines[:1] + lines[-1:] if len(lines) > 1 else lines
    said = " | ".join(causes[:START_CAUSE_LINES]) or "no output"
    if len(said) > START_CAUSE_LENGTH:
        said = said[: START_CAUSE_LENGTH - 3] + "..."
    return f"`mcpgateway start` failed (exit status {code}): {said}"


def _document(stdout: bytes) -> dict[str, Any] | None:
    """The JSON object C{mcpgateway start --json} printed, if it did."""
    try:
        document = json.loads(stdout.decode("utf-8", "replace"))
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def startOutput(stdout: bytes, stderr: bytes, output: bytes) -> str:
    """What a failed C{mcpgateway start --json} said, as lines of text:
    its notes (stderr), then its error, what twistd said and the lines of
    the log it named; all it wrote (C{output}, both streams) when it
    printed no JSON answer (it crashed)."""
    document = _document(stdout)
    if document is None or not isinstance(document.get("error"), str):
        return output.decode("utf-8", "replace").strip()
    lines = stderr.decode("utf-8", "replace").splitlines()
    lines.append(f"mcpgateway: {document['error']}")
    for heading, key in (("twistd said:", "output"), ("the gateway's log said:", "log")):
        said = document.get(key)
        if isinstance(said, list) and said:
            lines.append(heading)
            lines += [f"  {line}" for line in said if isinstance(line, str)]
    return "\n".join(lines).strip()


def startedLine(document: dict[str, Any] | None, state: dict[str, Any] | None) -> str | None:
    """What the bridge says on stderr once C{mcpgateway start} answered
    C{document} (its C{--json} answer; C{state}: the C{state.json} of the
    gateway then): the gateway it started, its pid and port, what it
    serves, and whether a client's file was touched and how to have them
    adopted; C{None} when it started none (another start had)."""
    if document is None or document.get("alreadyRunning") is not False:
        return None
    state = state or {}
    config = state.get("config")
    served = _shown(config) if isinstance(config, str) and config else "the bundled demo"
    where = f"pid {document.get('pid')}, port {document.get('port')}"
    if state.get("rewriteConfig"):
        return (
            f"started a gateway ({where}) serving {served}, keeping the adoption an earlier"
            " `mcpgateway start` left in place (`mcpgateway stop` puts the client files back)"
        )
    asItIs = "" if served == "the bundled demo" else " as it is"
    return (
        f"started a gateway ({where}) serving {served}{asItIs}; no client's config file was"
        " changed (to have the gateway adopt your clients' servers: `mcpgateway stop`, then"
        " `mcpgateway start`)"
    )


def _shown(path: str) -> str:
    """C{path}, with C{~} for the home directory."""
    home = os.path.expanduser("~")
    if path.startswith(home + os.sep):
        return "~" + path[len(home) :]
    return path


class _StartProcess(ProcessProtocol):
    """Collects C{mcpgateway start --json}'s output; C{done} fires with
    C{None} or why it failed, short (L{startFailure}); its whole output (the
    last L{START_OUTPUT_LINES} lines) goes to stderr when it failed and said
    more than that, and one
    line saying what it started (L{startedLine}, with the C{state.json} of
    C{stateDir}) when it did."""

    log = Logger(observer=logs.observer)

    def __init__(self, stateDir: Path | None = None) -> None:
        self.stateDir = stateDir
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.output = bytearray()
        """Both streams, as they came."""
        self.done: Deferred[str | None] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self.stdout += data[: 1 << 16]
        self.output += data[: 1 << 16]

    def errReceived(self, data: bytes) -> None:
        self.stderr += data[: 1 << 16]
        self.output += data[: 1 << 16]

    def processEnded(self, reason: Failure) -> None:
        code = getattr(reason.value, "exitCode", None)
        if code == 0:
            self._started()
            self.done.callback(None)
            return
        text = startOutput(bytes(self.stdout), bytes(self.stderr), bytes(self.output))
        failure = startFailure(code, text)
        if not failure.endswith(f": {text}"):  # more than the one line the failure quotes
            shown = "\n".join(f"  {line}" for line in text.splitlines()[-START_OUTPUT_LINES:])
            self.log.error(
                "`mcpgateway start` failed (exit status {code}); it said:\n{output}",
                code=code,
                output=shown or "  (nothing)",
            )
        self.done.callback(failure)

    def _started(self) -> None:
        from mcpgateway.ops.statedir import readState

        state = None if self.stateDir is None else readState(self.stateDir)
        line = startedLine(_document(bytes(self.stdout)), state)
        if line is not None:
            self.log.info("{line}", line=line)


def starter(reactor: IReactorProcess, options: BridgeOptions) -> Callable[[], Deferred[str | None]]:
    """Runs C{mcpgateway start} for the bridge's state directory, detached
    (it returns once the gateway answers C{/health})."""

    def start() -> Deferred[str | None]:
        process = _StartProcess(options.stateDir)
        argv = startCommand(options)
        reactor.spawnProcess(process, argv[0], argv, env=dict(os.environ))
        return process.done

    return start


@implementer(IAgentEndpointFactory)
class LoopbackEndpoints:
    """TCP endpoints for the gateway's URLs: an IP literal (what the state
    directory gives) is connected to directly, without the threaded name
    resolution a C{HostnameEndpoint} does for every new connection."""

    def __init__(self, reactor: IReactorTCP) -> None:
        self._reactor = reactor

    def endpointForURI(self, uri: URI) -> Any:
        host = uri.host.decode("ascii").strip("[]")
        if uri.scheme == b"http":
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                pass
            else:
                endpoint = TCP4ClientEndpoint if address.version == 4 else TCP6ClientEndpoint
                return endpoint(self._reactor, host, uri.port, timeout=CONNECT_TIMEOUT)
        plain = HostnameEndpoint(self._reactor, uri.host, uri.port, timeout=CONNECT_TIMEOUT)
        if uri.scheme == b"https":
            from twisted.internet.endpoints import wrapClientTLS

            return wrapClientTLS(tlsCreator(host, uri.port), plain)
        return plain


def tlsCreator(host: str, port: int) -> Any:
    """How the bridge speaks TLS to C{host}: a gateway on a loopback
    address may use a self-signed certificate (as the healthcheck and the
    C{mcpgateway} command accept: the connection never leaves the machine),
    anything else is verified as a browser would."""
    from mcpgateway.runtime.addresses import isLoopbackHost

    if isLoopbackHost(host):
        return _UnverifiedLoopbackTLS()
    from twisted.web.client import BrowserLikePolicyForHTTPS

    return BrowserLikePolicyForHTTPS().creatorForNetloc(host.encode("idna"), port)


@implementer(IOpenSSLClientConnectionCreator)
class _UnverifiedLoopbackTLS:
    """A TLS client connection that does not verify the certificate: only
    for loopback addresses (L{tlsCreator})."""

    def __init__(self) -> None:
        from twisted.internet.ssl import CertificateOptions

        self._context = CertificateOptions(verify=False).getContext()

    def clientConnectionForTLS(self, tlsProtocol: Any) -> Any:
        from OpenSSL import SSL

        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tlsProtocol)
        return connection


class SameURLAgent(Agent):
    """An C{Agent} that parses each URL, and makes its endpoint, once.

    The bridge sends every message to the same one or two URLs (the MCP
    endpoint, C{/health}); C{Agent.request} parses the URL and asks the
    endpoint factory anew for each request, a tenth of the bridge's own time
    per call. The rest is C{Agent.request}'s (C{_requestWithEndpoint}: the
    pool, the Host header, the request)."""

    MAX_URLS = 8
    """URLs remembered (a gateway on a new port adds two; older ones go)."""

    def _init(self, *args: Any, **kwargs: Any) -> None:
        super()._init(*args, **kwargs)
        self._targets: dict[bytes, tuple[tuple[bytes, bytes, int], Any, URI]] = {}

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> Deferred[IResponse]:
        target = self._targets.get(uri)
        if target is None:
            parsed = URI.fromBytes(uri.strip())
            try:
                endpoint = self._getEndpoint(parsed)
            except Exception:
                return fail()
            if len(self._targets) >= self.MAX_URLS:
                self._targets.clear()
            target = self._targets[uri] = (
                (parsed.scheme, parsed.host, parsed.port),
                endpoint,
                parsed,
            )
        key, endpoint, parsed = target
        return self._requestWithEndpoint(
            key, endpoint, method, parsed, headers, bodyProducer, parsed.originForm
        )


def makeAgent(reactor: IReactorTCP) -> tuple[Agent, HTTPConnectionPool]:
    """An Agent on a persistent connection pool (one idle connection kept
    per concurrent request; the gateway's SSE answers each hold one)."""
    pool = HTTPConnectionPool(reactor, persistent=True)
    pool.maxPersistentPerHost = 16
    pool.cachedConnectionTimeout = POOL_IDLE_TIMEOUT  # the gateway closes idle ones at 60 s
    pool.retryAutomatically = False  # a POST is never sent twice behind our back
    agent = SameURLAgent.usingEndpointFactory(reactor, LoopbackEndpoints(reactor), pool=pool)
    return agent, pool


@dataclass
class Bridge:
    """The two sides, wired."""

    client: BridgeClient
    stdio: StdioProtocol
    pool: HTTPConnectionPool
    ended: Deferred[None]
    """Fires once the bridge has finished (stdin EOF, the answers to the
    requests sent before it, the DELETE, then what is left for stdout
    flushed)."""

    def exitCode(self) -> int:
        """The bridge's exit status: L{EXIT_NO_GATEWAY} when requests read
        before stdin's end were answered with an error because no gateway
        could be reached, else 0."""
        return EXIT_NO_GATEWAY if self.client.gaveUpAtEnd else 0


def makeBridge(reactor: IReactor, options: BridgeOptions) -> Bridge:
    """Wire the stdio protocol and the HTTP side on C{reactor} (not yet
    connected to stdio: see L{runBridge})."""
    agent, pool = makeAgent(reactor)
    ended: Deferred[None] = Deferred()
    holder: list[BridgeClient] = []

    def closeConnections(_: object) -> Deferred[None]:
        closed: Deferred[None] = pool.closeCachedConnections()
        return closed

    def flush(_: object) -> Deferred[None]:
        # A reactor that stops drops what its stdout pipe still buffers (the
        # errors just written for requests no gateway answered, say).
        return stdio.closeOutput(reactor)

    def finish(_: object) -> None:
        if not ended.called:
            ended.callback(None)

    ending: list[bool] = []

    def end(_: object = None) -> None:
        if not ending:
            ending.append(True)
            holder[0].close().addBoth(closeConnections).addBoth(flush).addBoth(finish)

    def onEnd() -> None:
        # stdin EOF: the client asks the bridge to end; the requests it sent
        # before still get their answers (bounded), then the end.
        holder[0].drain().addBoth(end)

    stdio = StdioProtocol(lambda message: holder[0].send(message), onEnd, onGone=end)
    byName = not options.isUrl
    client = BridgeClient(
        reactor,
        agent,
        locator(options),
        stdio.write,
        start=starter(reactor, options) if options.autostart and byName else None,
        starting=startingElsewhere(options) if byName else None,
        where=f"state directory {options.stateDir}" if byName else None,
        timeout=options.timeout,
        ownerHeaders=ownerHeadersFor(options),
    )
    holder.append(client)
    return Bridge(client, stdio, pool, ended)


@implementer(ILogFilterPredicate)
class _Wanted:
    """The bridge's own events (their level is L{logs}' business), and
    anyone else's warnings and worse (not Twisted's chatter)."""

    def __call__(self, event: LogEvent) -> Any:  # a PredicateResult (untyped constants)
        namespace = event.get("log_namespace") or ""
        level = event.get("log_level", LogLevel.info)
        wanted = namespace.startswith("mcpgateway") or level >= LogLevel.warn
        return PredicateResult.maybe if wanted else PredicateResult.no


def _stderrObserver(level: str) -> FilteringLogObserver:
    """The bridge's own events at C{level} and above, anyone else's warnings."""

    def format(event: LogEvent) -> str:
        text = eventAsText(event, includeTimestamp=False, includeSystem=False)
        return f"mcpgateway bridge: {text}\n"

    logs.setLevel(level)
    return FilteringLogObserver(FileLogObserver(sys.stderr, format), [_Wanted()])


def runBridge(options: BridgeOptions) -> int:
    """Run the bridge on the global reactor until it ends; the exit code."""
    ignoreSigint()
    globalLogBeginner.beginLoggingTo([_stderrObserver(options.logLevel)], redirectStandardIO=False)
    from twisted.internet.stdio import StandardIO

    from mcpgateway.runtime.reactortype import installedReactor

    reactor = installedReactor()
    bridge = makeBridge(reactor, options)

    def stop(_: object = None) -> None:
        if reactor.running:
            with contextlib.suppress(ReactorNotRunning):  # SIGTERM came first: stopping
                reactor.stop()

    bridge.ended.addBoth(stop)
    # SIGTERM stops the reactor; the session is DELETEd (bounded) on the way out.
    reactor.addSystemEventTrigger("before", "shutdown", bridge.client.close)
    reactor.addSystemEventTrigger("before", "shutdown", bridge.pool.closeCachedConnections)
    reactor.addSystemEventTrigger("before", "shutdown", bridge.stdio.closeOutput, reactor)
    StandardIO(bridge.stdio, reactor=reactor)
    reactor.callWhenRunning(ignoreSigint)
    reactor.callWhenRunning(bridge.client.connect)
    reactor.run()
    return bridge.exitCode()


def main(argv: Sequence[str] | None = None) -> int:
    """C{python -m mcpgateway.bridge [--state-dir DIR] SERVER|URL}."""
    from mcpgateway.ops.gatewayprobe import resolveStateDir

    parser = argparse.ArgumentParser(
        prog="python -m mcpgateway.bridge",
        description="mcpgateway bridge (see `mcpgateway bridge --help`)",
    )
    parser.add_argument("--state-dir", metavar="DIR", default=None)
    addArguments(parser)
    args = parser.parse_args(argv)
    problem = checkTarget(args.target)
    if problem is not None:
        parser.error(problem)
    return runBridge(fromNamespace(args, resolveStateDir(args.state_dir)))
