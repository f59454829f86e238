# -*- test-case-name: tests.test_tap -*-
"""C{Options} (every command-line flag) and C{makeService} (the service tree).

The only place that resolves the reactor. Heavy imports (klein, the web tree)
happen inside L{makeService}, so C{twistd --help} stays fast and the plugin
file stays inert.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from twisted.application.service import IService, Service
from twisted.python import usage

from mcpgateway.protocol import limits
from mcpgateway.runtime import logs
from mcpgateway.runtime.paths import (
    API_TOKEN_ENV,
    AUDIT_LOG_ENV,
    AUTH_TOKENS_ENV,
    DEFAULT_PORT,
    OAUTH_ISSUER_ENV,
    RESOURCE_URI_ENV,
    defaultStateDir,
    stateFile,
)

CLUSTER_KEY_FILE_ENV = "MCPGATEWAY_CLUSTER_KEY_FILE"
REPLICA_ID_ENV = "MCPGATEWAY_REPLICA_ID"
CLUSTER_ADVERTISE_ENV = "MCPGATEWAY_CLUSTER_ADVERTISE"
REPLICA_ID = re.compile(r"[a-z0-9-]{1,32}")
"""A replica's label (L{mcpgateway.cluster.sealing.LABEL}, not imported: cryptography)."""

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from twisted.internet.defer import Deferred

    from mcpgateway.config.resolve import Resolver
    from mcpgateway.core.spec import ServerSpec
    from mcpgateway.ops.services import StateFileService
    from mcpgateway.service.preflight import Preflight
    from mcpgateway.web.app import TeamSurface


def _positiveFloat(value: str) -> float:
    number = float(value)
    if not (number > 0 and math.isfinite(number)):
        raise ValueError("must be a positive number")
    return number


def _positiveInt(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be positive")
    return number


def _nonNegativeFloat(value: str) -> float:
    number = float(value)
    if not (number >= 0 and math.isfinite(number)):
        raise ValueError("must be a number, zero or more")
    return number


def _spinMicroseconds(value: str) -> float:
    number = _nonNegativeFloat(value)
    if number > 10_000:
        raise ValueError("must be at most 10000 (10 ms)")
    return number


def _nonNegativeInt(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be zero or more")
    return number


def _named(parameter: list[Any]) -> list[Any]:
    """An C{optParameters} entry whose coercion, when it refuses a value,
    names the option and the value (Twisted's message names neither:
    "Parameter type enforcement failed: must be positive")."""
    if len(parameter) < 5 or parameter[4] is None:
        return parameter
    name, coerce = parameter[0], parameter[4]

    def coerced(value: str) -> Any:
        try:
            return coerce(value)
        except ValueError as e:
            raise ValueError(f"--{name} {value!r}: {e}") from None

    coerced.coerceDoc = getattr(coerce, "coerceDoc", "")  # type: ignore[attr-defined]
    return [*parameter[:4], coerced, *parameter[5:]]


def _manholePort(value: str | int | None) -> int | None:
    """C{--manhole-ssh}: a port number (the manhole listens on 127.0.0.1
    only, so an endpoint string is refused, saying so)."""
    if value is None or isinstance(value, int):
        return value
    try:
        number = int(value)
    except ValueError:
        raise usage.UsageError(
            f"--manhole-ssh takes a TCP port number, not {value!r}: the manhole listens on"
            " 127.0.0.1 only (an endpoint string or another interface is not accepted;"
            " reach it from elsewhere through ssh -L)"
        ) from None
    if not 0 <= number <= 65535:
        raise usage.UsageError(f"--manhole-ssh {number} is out of range (0-65535)")
    return number


def _words(value: str | None) -> tuple[str, ...]:
    """A comma- or space-separated list (of scopes, audiences)."""
    if not value:
        return ()
    return tuple(word for word in value.replace(",", " ").split() if word)


HANDLER_HELP = {
    "version": "Display mcpgateway's and Twisted's versions and exit.",
    "help": "Display this help and exit.",
}
"""The help of the options that run a method, in case their docstrings are
not loaded (C{-OO})."""


class Options(usage.Options):
    """mcpgateway's command line (C{twistd mcpgateway --help})."""

    installsReactor = False
    """Whether checking the options installs the gateway's reactor
    (L{RunnerOptions})."""
    synopsis = "[options]"
    longdesc = (
        "Serve every stdio MCP server of a config file at http://INTERFACE:PORT/<server>/mcp"
        " (MCP Streamable HTTP), sharing one child process per server between all clients."
        " Without --config: ~/.claude.json if it exists, else a bundled demo server."
    )
    optFlags: list[list[Any]] = [
        [
            "no-resolve",
            None,
            "Run npx/uvx commands as configured instead of resolving them once to the real"
            " binary (which saves a ~40 MB wrapper process per child).",
        ],
        [
            "rewrite-config",
            None,
            "Adopt the client config: back up its stdio entries, point them at this gateway,"
            " serve them from the backup, and restore them on stop.",
        ],
        [
            "audit-payloads",
            None,
            "With --audit-log: also write each request's arguments and its result or error"
            " (they may hold secrets; off by default).",
        ],
        [
            "otel",
            None,
            "Export OpenTelemetry traces and metrics (MCP semantic conventions) over OTLP/HTTP"
            " to OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318); on by itself"
            " when that variable is set. Needs the otel extra: pip install 'mcpgateway[otel]'.",
        ],
        [
            "public-health",
            None,
            "With authentication: /health and /metrics show every caller the servers and"
            " their figures (never a child's stderr); without it a caller without an admin's"
            " token sees only that the gateway lives.",
        ],
    ]
    optParameters: list[list[Any]] = [
        [
            "port",
            "p",
            str(DEFAULT_PORT),
            "TCP port to listen on, or a Twisted endpoint string (e.g. tcp:9100:interface=::1).",
        ],
        [
            "interface",
            "i",
            "127.0.0.1",
            "Address to bind when --port is a number. Keep loopback unless you know why not.",
        ],
        [
            "config",
            "c",
            None,
            "A JSON file with a top-level mcpServers object (~/.claude.json, .mcp.json, or your"
            " own). Default: ~/.claude.json if present, else the bundled demo.",
        ],
        [
            "state-dir",
            None,
            None,
            "Directory for the gateway's state. Default: $MCPGATEWAY_HOME or ~/.mcpgateway.",
        ],
        ["log-level", None, "info", "One of " + ", ".join(logs.LEVELS) + "."],
        [
            "request-timeout",
            None,
            None,
            "Seconds a child may take to answer a request (default 60; a server's"
            " requestTimeout, in ms, overrides it).",
            _positiveFloat,
        ],
        [
            "max-body",
            None,
            limits.MAX_BODY,
            "Largest accepted POST body, in bytes (413 beyond).",
            _positiveInt,
        ],
        [
            "max-batch",
            None,
            limits.MAX_BATCH,
            "Most messages in one JSON-RPC batch (413 beyond).",
            _positiveInt,
        ],
        [
            "max-depth",
            None,
            limits.MAX_DEPTH,
            "Deepest nesting of arrays and objects in a message (-32700 beyond).",
            _positiveInt,
        ],
        [
            "max-number-digits",
            None,
            limits.MAX_NUMBER_DIGITS,
            "Longest JSON number, in characters (-32700 beyond; below 4300).",
            _positiveInt,
        ],
        [
            "max-in-flight",
            None,
            limits.MAX_IN_FLIGHT_PER_SESSION,
            "Most requests one session may have waiting for a child (-32004 beyond).",
            _positiveInt,
        ],
        [
            "header-timeout",
            None,
            limits.HEADER_TIMEOUT,
            "Seconds a request's headers may take to arrive (408 beyond).",
            _positiveFloat,
        ],
        [
            "max-connections-per-peer",
            None,
            limits.MAX_CONNECTIONS_PER_PEER,
            "Most open connections from one address (503 beyond).",
            _positiveInt,
        ],
        [
            "keepalive-interval",
            None,
            limits.KEEPALIVE_INTERVAL,
            "Seconds of silence after which an SSE stream gets a keep-alive comment.",
            _positiveFloat,
        ],
        [
            "poll-spin",
            None,
            limits.POLL_SPIN,
            "Microseconds the gateway keeps polling for its next event before it sleeps, after"
            " six quick waits in a row (each under twice as long) while it serves at most one"
            " request (a chain of quick calls: it spares a wake-up per hop). 0 never polls; on"
            " one CPU, and on Twisted's own reactor (--reactor=mcpgateway is the gateway's),"
            " it never does.",
            _spinMicroseconds,
        ],
        [
            "max-modern-in-flight",
            None,
            limits.MAX_MODERN_IN_FLIGHT,
            "Most MCP 2026-07-28 requests and listen streams one endpoint may have waiting"
            " (-32004 beyond).",
            _positiveInt,
        ],
        [
            "max-suspended-calls",
            None,
            limits.MAX_SUSPENDED_CALLS,
            "Most MCP 2026-07-28 calls of one server waiting for their client's input_required"
            " answer (-32004 beyond).",
            _positiveInt,
        ],
        [
            "max-sessions-per-principal",
            None,
            limits.MAX_SESSIONS_PER_PRINCIPAL,
            "Most live sessions of one authenticated caller (HTTP 503 with Retry-After beyond,"
            " when none of its own is idle; room is made only among the caller's own sessions)."
            " Without authentication it does not apply (every caller is the same one).",
            _positiveInt,
        ],
        [
            "result-store-bytes",
            None,
            limits.RESULT_STORE_BYTES,
            "Bytes the aggregate endpoint may keep of large tool results for get_result,"
            " across all sessions (the oldest are dropped first).",
            _positiveInt,
        ],
        [
            "modern-input-timeout",
            None,
            limits.MODERN_INPUT_TIMEOUT,
            "Seconds an MCP 2026-07-28 call waits for its client's input_required answer;"
            " then the child's questions are declined and its call cancelled.",
            _positiveFloat,
        ],
        [
            "max-line",
            None,
            16 * 1024 * 1024,
            "Longest stdout line accepted from a child, in bytes; longer kills the child.",
            _positiveInt,
        ],
        [
            "reap-interval",
            None,
            60.0,
            "Seconds between reaper sweeps (dead children, dead clients, idle sessions).",
            _positiveFloat,
        ],
        [
            "idle-timeout",
            None,
            1800.0,
            "Seconds after which a session with no known client pid, no open GET stream and"
            " no activity is ended.",
            _positiveFloat,
        ],
        [
            "log-file",
            None,
            None,
            "Also write the log to this file, rotated at 5 MB (mcpgateway start uses"
            " <state-dir>/gateway.log).",
        ],
        [
            "api-token",
            None,
            None,
            "Bearer token the management API (/api/v1) requires. Prefer $MCPGATEWAY_API_TOKEN"
            " (a command-line value shows in ps). Without one, only loopback clients are served.",
        ],
        [
            "manhole",
            None,
            None,
            "Serve a debugging Python prompt over SSH on this UNIX socket (mode 0600; a relative"
            " path is taken in the state dir, e.g. manhole.sock). Keys only:"
            " <state-dir>/manhole_authorized_keys. Needs mcpgateway[manhole].",
        ],
        [
            "manhole-ssh",
            None,
            None,
            "Serve the debugging prompt over SSH on this 127.0.0.1 TCP port (keys only).",
        ],
        [
            "restart-backoff",
            None,
            1.0,
            "Seconds before a failed server's first restart; doubles per consecutive failure up"
            " to 60 s.",
            _positiveFloat,
        ],
        [
            "circuit-cool-down",
            None,
            60.0,
            "Seconds a server's circuit stays open (after 5 failures in 5 minutes) before one"
            " attempt is let through.",
            _positiveFloat,
        ],
        [
            "drain-timeout",
            None,
            5.0,
            "Seconds requests in flight may take to finish when the gateway stops; what is"
            " still running then is answered with an error.",
            _positiveFloat,
        ],
        [
            "restart-timeout",
            None,
            30.0,
            "Seconds the old process of a restart (mcpgateway restart, SIGUSR2) goes on serving"
            " the requests of its open connections before it closes them.",
            _positiveFloat,
        ],
        [
            "clients",
            None,
            "all",
            "With --rewrite-config: the MCP clients adopted besides Claude Code, 'all'"
            " (every one found on this machine), 'none', or a comma list of ids (cursor,"
            " vscode, codex, gemini, windsurf, claude-desktop, cline, roo, continue,"
            " opencode, zed, goose, copilot, amazonq, kiro, junie).",
        ],
        [
            "auth-tokens",
            None,
            None,
            "A team gateway's tokens file (JSON: token hashes, principal names, allowed"
            " servers); every MCP request then needs Authorization: Bearer <token>."
            " `mcpgateway token new NAME --file FILE` makes one. Env: " + AUTH_TOKENS_ENV + ".",
        ],
        [
            "oauth-issuer",
            None,
            None,
            "Accept OAuth 2.1 access tokens (JWT) of this issuer (https, or a loopback http"
            " URL for tests); needs --resource-uri and mcpgateway[team]. Env: "
            + OAUTH_ISSUER_ENV
            + ".",
        ],
        [
            "resource-uri",
            None,
            None,
            "The gateway's canonical URI (e.g. https://mcp.example.com): the audience tokens"
            " must name, and the resource of /.well-known/oauth-protected-resource. Env: "
            + RESOURCE_URI_ENV
            + ".",
        ],
        [
            "oauth-jwks-uri",
            None,
            None,
            "The issuer's JWKS URL (default: discovered from its RFC 8414 or OpenID metadata).",
        ],
        [
            "oauth-audience",
            None,
            None,
            "More accepted 'aud' values, comma-separated (for issuers that ignore 'resource').",
        ],
        [
            "oauth-scopes",
            None,
            None,
            "Scopes every access token must carry, comma-separated (default: none).",
        ],
        [
            "oauth-principal-claim",
            None,
            "sub",
            "The claim that names the principal.",
        ],
        [
            "oauth-ca-file",
            None,
            None,
            "PEM file of the CA that signed the issuer's TLS certificate (a private CA).",
        ],
        [
            "max-requests-per-principal",
            None,
            64,
            "With authentication: most requests one principal may have in flight (429"
            " beyond; 0: no limit).",
            _nonNegativeInt,
        ],
        [
            "rate-per-principal",
            None,
            50.0,
            "With authentication: requests a second one principal may send, with bursts of"
            " twice that (429 with Retry-After beyond; 0: no limit).",
            _nonNegativeFloat,
        ],
        [
            "audit-log",
            None,
            None,
            "Write one JSON line per MCP request to this file (mode 0600, rotated at 50 MB,"
            " 10 kept): principal key, session, server, method, tool, outcome, duration."
            " Env: " + AUDIT_LOG_ENV + ".",
        ],
        [
            "child-idle-timeout",
            None,
            None,
            "Seconds after which a shared child with no session is stopped (default: never;"
            " it restarts on demand).",
            _positiveFloat,
        ],
        [
            "cluster-key-file",
            None,
            None,
            "Run as one replica of a cluster (docs/cluster.md): session ids are sealed with"
            " the first key of this file (base64, one 32-byte key a line, mode 0600), and"
            " requests for another replica's session are forwarded to it. Every replica"
            " gets the same file. Needs mcpgateway[team]. Env: " + CLUSTER_KEY_FILE_ENV + ".",
        ],
        [
            "replica-id",
            None,
            None,
            "With --cluster-key-file: this replica's label, [a-z0-9-]{1,32}, the clear"
            " prefix of its session ids (default: the host name). Env: " + REPLICA_ID_ENV + ".",
        ],
        [
            "cluster-advertise",
            None,
            None,
            "With --cluster-key-file: the URL the other replicas reach this one at,"
            " http://IP:PORT (an IP address; default: the host's first non-loopback"
            " address and the listening port). Env: " + CLUSTER_ADVERTISE_ENV + ".",
        ],
    ]
    optParameters = [_named(parameter) for parameter in optParameters]

    def parseOptions(self, options: Any = None) -> None:
        """Parse; a bad command line is one line naming the problem and where
        the options are listed (twistd and twist would print the whole help
        first), then exit status 1."""
        self.pluginArgs = list(sys.argv[1:] if options is None else options)
        """The arguments as given: a restart's successor gets the same."""
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            sys.stderr.write(
                f"mcpgateway: {e}\n`{_runner()} mcpgateway --help` lists the options\n"
            )
            raise SystemExit(1) from None

    def __init__(self) -> None:
        super().__init__()
        # usage.Options takes a handler's help from its docstring, which -OO
        # (mcpgateway.runtime.interpreter) leaves out: say it here as well.
        for name, text in HANDLER_HELP.items():
            self.docs[name] = self.docs.get(name) or text

    def opt_version(self) -> NoReturn:
        """Display mcpgateway's and Twisted's versions and exit."""
        from mcpgateway import __version__
        from twisted import copyright

        print(f"mcpgateway {__version__} (Twisted {copyright.version})")
        raise SystemExit(0)

    def postOptions(self) -> None:
        self["manhole-ssh"] = _manholePort(self["manhole-ssh"])
        port = str(self["port"])
        if ":" in port:
            problem = endpointProblem(port)
            if problem is not None:
                raise usage.UsageError(f"--port {port!r}: {problem}")
            self["endpoint"] = port
        else:
            try:
                number = int(port)
            except ValueError:
                raise usage.UsageError(
                    f"--port must be a number or an endpoint string, not {port!r}"
                ) from None
            if not 0 <= number <= 65535:
                raise usage.UsageError(f"--port {number} is out of range")
            interface = self["interface"].replace(":", "\\:")
            self["endpoint"] = f"tcp:{number}:interface={interface}"
        try:
            self["limits"] = limits.Limits(
                maxBody=self["max-body"],
                maxBatch=self["max-batch"],
                maxDepth=self["max-depth"],
                maxNumberDigits=self["max-number-digits"],
                maxInFlightPerSession=self["max-in-flight"],
                headerTimeout=self["header-timeout"],
                maxConnectionsPerPeer=self["max-connections-per-peer"],
                keepAliveInterval=self["keepalive-interval"],
                maxModernInFlight=self["max-modern-in-flight"],
                maxSuspendedCalls=self["max-suspended-calls"],
                modernInputTimeout=self["modern-input-timeout"],
                maxSessionsPerPrincipal=self["max-sessions-per-principal"],
            )
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        if self["log-level"] not in logs.LEVELS:
            raise usage.UsageError(f"--log-level must be one of {', '.join(logs.LEVELS)}")
        if self["clients"] not in ("all", "none"):
            from mcpgateway.clientconfigs.clients import select

            try:
                chosen = select(self["clients"])
            except KeyError as e:
                raise usage.UsageError(
                    f"--clients: no client named {e} (use all, none, or a comma list of ids)"
                ) from None
            if not chosen:  # '' or ',': no client, as preflight reads it
                self["clients"] = "none"
        if not self["api-token"]:
            self["api-token"] = os.environ.get(API_TOKEN_ENV) or None
        self._teamOptions()
        self._clusterOptions()
        if self["state-dir"] is None:
            self["state-dir"] = defaultStateDir()
        if self["config"] is not None:
            config = Path(self["config"]).expanduser()
            if not config.is_file():
                raise usage.UsageError(f"--config {self['config']}: no such file")
            # As the start's directory has it: state.json (and so doctor, status
            # and stop, run from anywhere) and a restart's successor get this.
            self["config"] = str(config.absolute())
        from mcpgateway.ops.handover import BadHandover, Inherited

        try:
            self["handover"] = Inherited.fromEnviron(os.environ)
        except BadHandover as e:
            raise usage.UsageError(str(e)) from None
        leaveOutTLS(
            self["endpoint"], needTLS=_isHttps(self["oauth-issuer"], self["oauth-jwks-uri"])
        )
        if "twisted.internet.reactor" not in sys.modules:
            # The reactor's UDP and UNIX-socket support load when first used.
            from mcpgateway.runtime.lazyimport import REACTOR_DEFERRED, deferImports

            deferImports(REACTOR_DEFERRED)
            if self.installsReactor:
                # No reactor yet (twistd and twist install one named with
                # --reactor before a plugin's options are parsed): the
                # gateway's, after TLS and the modules above were left out.
                from mcpgateway.runtime import reactor  # (imports epoll's: after the above)

                reactor.installUnlessChosen()

    def _teamOptions(self) -> None:
        """The team gateway's options (docs/team.md): environment fallbacks,
        then the combinations that cannot work."""
        for name, env in (
            ("auth-tokens", AUTH_TOKENS_ENV),
            ("oauth-issuer", OAUTH_ISSUER_ENV),
            ("resource-uri", RESOURCE_URI_ENV),
            ("audit-log", AUDIT_LOG_ENV),
        ):
            if not self[name]:
                self[name] = os.environ.get(env) or None
        for name in ("auth-tokens", "audit-log", "oauth-ca-file"):
            if self[name]:
                self[name] = str(Path(self[name]).expanduser().absolute())
        issuer = self["oauth-issuer"]
        if self["auth-tokens"] and issuer:
            raise usage.UsageError(
                "--auth-tokens and --oauth-issuer: give one authentication method, not both"
            )
        if issuer:
            if not self["resource-uri"]:
                raise usage.UsageError(
                    "--oauth-issuer needs --resource-uri URL (the gateway's canonical URI,"
                    " e.g. https://mcp.example.com: the audience its tokens must name)"
                )
            for name in ("oauth-issuer", "resource-uri", "oauth-jwks-uri"):
                problem = _urlProblem(self[name])
                if problem is not None:
                    raise usage.UsageError(f"--{name} {self[name]}: {problem}")
        else:
            for name in ("resource-uri", "oauth-jwks-uri", "oauth-audience", "oauth-scopes"):
                if self[name]:
                    raise usage.UsageError(f"--{name} needs --oauth-issuer URL")
            if self["oauth-ca-file"]:
                raise usage.UsageError("--oauth-ca-file needs --oauth-issuer URL")
        if self["audit-payloads"] and not self["audit-log"]:
            raise usage.UsageError("--audit-payloads needs --audit-log FILE")
        if self["public-health"] and not (self["auth-tokens"] or issuer):
            raise usage.UsageError(
                "--public-health needs --auth-tokens FILE or --oauth-issuer URL (a gateway"
                " without authentication shows /health and /metrics whole)"
            )
        self["oauth-audience"] = _words(self["oauth-audience"])
        self["oauth-scopes"] = _words(self["oauth-scopes"])

    def _clusterOptions(self) -> None:
        """A cluster replica's options (docs/cluster.md): environment
        fallbacks, the replica's label (default: the host name), the
        advertised address (C{(host, port, tls)}, C{None}: found at start)."""
        for name, env in (
            ("cluster-key-file", CLUSTER_KEY_FILE_ENV),
            ("replica-id", REPLICA_ID_ENV),
            ("cluster-advertise", CLUSTER_ADVERTISE_ENV),
        ):
            if not self[name]:
                self[name] = os.environ.get(env) or None
        if not self["cluster-key-file"]:
            for name in ("replica-id", "cluster-advertise"):
                if self[name]:
                    raise usage.UsageError(f"--{name} needs --cluster-key-file FILE")
            self["advertised"] = None
            return
        self["cluster-key-file"] = str(Path(self["cluster-key-file"]).expanduser().absolute())
        if self["rewrite-config"]:
            raise usage.UsageError(
                "--rewrite-config and --cluster-key-file: a cluster replica serves a team from"
                " its own config; it does not adopt this machine's MCP clients"
            )
        replica = self["replica-id"]
        if replica is None:
            replica = self["replica-id"] = defaultReplicaId()
        elif not REPLICA_ID.fullmatch(replica):
            raise usage.UsageError(f"--replica-id {replica[:64]!r}: use 1 to 32 of a-z, 0-9 and -")
        advertise = self["cluster-advertise"]
        self["advertised"] = None if advertise is None else parseAdvertise(advertise)


def defaultReplicaId(hostname: str | None = None) -> str:
    """This host's name as a replica label: lower case, anything but
    C{[a-z0-9-]} turned into C{-}, at most 32 characters (C{replica} if
    nothing is left)."""
    import socket

    name = socket.gethostname() if hostname is None else hostname
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:32].strip("-")
    return label or "replica"


def parseAdvertise(url: str) -> tuple[str, int, bool]:
    """C{http://IP:PORT} (or C{https://}) as (host, port, tls).

    @raise usage.UsageError: not such a URL (a host name is not enough: the
        address is sealed into session ids, and must not depend on DNS).
    """
    import ipaddress
    from urllib.parse import urlsplit

    shown = f"--cluster-advertise {url[:100]}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise usage.UsageError(f"{shown}: not a URL (http://IP:PORT)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise usage.UsageError(f"{shown}: must be http://IP:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise usage.UsageError(f"{shown}: must be http://IP:PORT (no path, query or user)")
    try:
        host = str(ipaddress.ip_address(parts.hostname))
    except ValueError:
        raise usage.UsageError(
            f"{shown}: {parts.hostname!r} is not an IP address (the address is sealed into"
            " session ids)"
        ) from None
    if port is None or not 0 < port <= 65535:
        raise usage.UsageError(f"{shown}: give the port (http://IP:PORT)")
    return host, port, parts.scheme == "https"


def _urlProblem(url: str | None) -> str | None:
    """Why C{url} cannot be an issuer's, a JWKS or a resource URI (C{None}: it can)."""
    if url is None:
        return None
    from urllib.parse import urlsplit

    from mcpgateway.web.guard import isLoopbackHost

    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an https:// URL"
    if parts.fragment or parts.query:
        return "must have no query or fragment"
    if parts.scheme == "http" and not isLoopbackHost(parts.hostname):
        return "must be https (plain http only on a loopback host)"
    return None


def _isHttps(*urls: str | None) -> bool:
    return any(url is not None and url.lower().startswith("https:") for url in urls)


def leaveOutTLS(endpoint: str, needTLS: bool = False) -> bool:
    """Keep pyOpenSSL out of a gateway that serves no TLS.

    Importing the reactor imports C{twisted.internet.tcp}, which imports
    pyOpenSSL (about 18 MB resident) only to offer C{startTLS} on TCP
    connections. A gateway listening on plain TCP or a UNIX socket never uses
    it, so before the reactor is imported (twistd and twist parse options
    first) mark pyOpenSSL unavailable; Twisted then leaves C{startTLS} out.
    A TLS endpoint (C{ssl:}, C{tls:}) keeps it, and so does C{needTLS} (an
    https OAuth issuer). Returns whether it did so.
    """
    if (
        needTLS
        or isTLSEndpoint(endpoint)
        or "OpenSSL" in sys.modules
        or "twisted.internet.reactor" in sys.modules
    ):
        return False
    sys.modules["OpenSSL"] = None  # type: ignore[assignment]
    return True


def isTLSEndpoint(endpoint: str) -> bool:
    """Whether C{endpoint} is a TLS endpoint string (C{ssl:}, C{tls:})."""
    return endpoint.split(":", 1)[0].lower() in ("ssl", "tls")


def requireAuth(endpoint: str, loopback: bool, options: Any) -> str | None:
    """The one line that refuses a gateway reachable from other machines
    with no authentication, or C{None} (loopback, or authentication set).

    Off loopback: a TCP or TLS endpoint without C{interface=}, or on
    C{0.0.0.0}, C{::} or any other non-loopback address, and an adopted
    socket that is not loopback; a UNIX socket is local."""
    if loopback or options.get("auth-tokens") or options.get("oauth-issuer"):
        return None
    return (
        f"{endpoint} is reachable from other machines and no authentication is set:"
        " add --auth-tokens FILE (`mcpgateway token new NAME --file FILE` makes one) or"
        " --oauth-issuer URL --resource-uri URL, or listen on 127.0.0.1"
    )


def makeService(options: Options, reactor: Any = None) -> IService:
    """Build the gateway's service tree from parsed C{options}: the checks
    that must fail before daemonizing (L{preflight}), then wiring only."""
    from mcpgateway.runtime.lazyimport import deferImports

    deferImports()  # before the web tree: Twisted's error-page helpers load when used
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    from mcpgateway.ops.reaper import OrphanCleanup
    from mcpgateway.ops.statedir import processStartTime
    from mcpgateway.service.preflight import PreflightError, preflight

    try:
        pre = preflight(options, _interfaceOf(options))
    except PreflightError as e:
        _refuse(str(e))
    cluster = _Cluster.of(options, pre) if pre.clusterKeys else None
    secret = cluster.secret if cluster is not None else _workspaceSecret(pre)
    top = _root(options, pre, reactor)
    if pre.logFile is not None:
        pre.logFile.reactor = reactor  # its stop is this reactor's shutdown
        pre.logFile.setServiceParent(top)
    if options["otel"] or os.environ.get(OTEL_ENDPOINT_ENV):
        tracingService = _tracing(reactor, required=bool(options["otel"]))
        if tracingService is not None:
            tracingService.setServiceParent(top)
    if pre.orphans:
        OrphanCleanup(pre.orphans, reactor, processStartTime).setServiceParent(top)
    successor = _successor(options, reactor, top)
    gateway, configService = _gatewayAndConfig(
        options, pre, reactor, top, successor, secret, cluster
    )
    team = _team(options, pre, reactor, top, gateway, secret, cluster)
    listener, site = _listener(
        options, pre, reactor, gateway, configService, top, successor, secret, team, cluster
    )
    listener.setServiceParent(top)
    _predecessor(options, pre, reactor, gateway, configService, top, listener, site)
    if options["manhole"] or options["manhole-ssh"] is not None:
        _manhole(options, pre, reactor, gateway, top).setServiceParent(top)
    from mcpgateway.ops.heap import HeapTrim
    from mcpgateway.runtime.gctuning import CollectorTuning

    CollectorTuning(reactor).setServiceParent(top)  # last: it freezes what start-up left alive
    HeapTrim(reactor).setServiceParent(top)  # then the C heap's free pages go back
    return top


OTEL_ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""The standard variable that turns tracing on as C{--otel} does."""


def _tracing(reactor: Any, required: bool = True) -> Any:
    """The service that exports traces and metrics (C{--otel}), from its
    C{startService} on: the OpenTelemetry SDK is imported here only, and
    its export threads start after daemonizing. When the C{otel} extra is
    not installed: with C{--otel} (C{required}), refuse in one line; with
    only C{OTEL_EXPORTER_OTLP_ENDPOINT} (set for other programs, perhaps),
    say so in one line and serve untraced (C{None})."""
    import importlib.util

    try:
        found = importlib.util.find_spec("opentelemetry.sdk") is not None
        found = found and importlib.util.find_spec("opentelemetry.exporter.otlp") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        if not required:
            sys.stderr.write(
                f"mcpgateway: {OTEL_ENDPOINT_ENV} is set but the OpenTelemetry SDK is not"
                " installed (pip install 'mcpgateway[otel]'); serving without tracing\n"
            )
            return None
        _refuse(
            "--otel needs the OpenTelemetry SDK and its OTLP exporter:"
            " pip install 'mcpgateway[otel]'"
        )
    from mcpgateway.ops.otel import TracingService

    return TracingService(reactor)


def _workspaceSecret(pre: Preflight) -> bytes:
    """The secret of the state directory's workspace and credential keys
    (C{workspace.key}, made on first use), read once here: routes and
    credential headers are keyed with it without any file I/O later. A file
    that cannot be used refuses the start, in one line (every adopted
    workspace route depends on it)."""
    from mcpgateway.config.workspaces import WorkspaceKeyError, loadSecret
    from mcpgateway.runtime.paths import WORKSPACE_KEY_FILE

    try:
        return loadSecret(pre.stateDir)
    except WorkspaceKeyError as e:
        _refuse(str(e))
    except OSError as e:
        _refuse(
            f"cannot make the workspace key file {pre.stateDir / WORKSPACE_KEY_FILE}:"
            f" {e.strerror or e}"
        )


class _Cluster:
    """A cluster replica's wiring (docs/cluster.md): its keys and label,
    the address its peers reach it at (the listening port filled in once
    known), and, once the gateway exists, its sealer, forwarder and router."""

    def __init__(
        self,
        keys: tuple[bytes, ...],
        replica: str,
        host: str,
        port: int,
        tls: bool,
    ) -> None:
        from mcpgateway.cluster.sealing import SessionSealer, derive

        self.keys = keys
        self.replica = replica
        self.host, self.port, self.tls = host, port, tls
        # The last key anchors what must not change while the sealing key
        # rotates (a new first line): workspace, credential and principal
        # keys (the same on every replica), and the peers' header.
        self.secret = derive(keys[-1], "workspace-keys")
        self.sealer = SessionSealer(keys, replica, self.address)

    @classmethod
    def of(cls, options: Options, pre: Preflight) -> _Cluster:
        """From the options (the key file read by preflight); refuses in one
        line when no address to advertise can be found."""
        advertised = options.get("advertised")
        endpoint = options["endpoint"]
        tls = isTLSEndpoint(endpoint)
        if advertised is not None:
            host, port, tls = advertised
        else:
            host = _advertisedHost(endpoint)
            port = _endpointPort(endpoint)
            if port is None:
                _refuse(
                    f"--cluster-key-file: cannot tell the port peers reach {endpoint} at:"
                    " give --cluster-advertise http://IP:PORT"
                )
        return cls(pre.clusterKeys, options["replica-id"], host, port, tls)

    def address(self) -> Any:
        from mcpgateway.cluster.sealing import Address

        return Address(self.host, self.port, self.tls)

    @property
    def url(self) -> str:
        return str(self.address().url)

    def listening(self, port: int) -> None:
        """The listening port, once known (for C{--port 0})."""
        if not self.port:
            self.port = port

    def surface(
        self, reactor: Any, top: Any, gateway: Any, stateDir: Path, idleTimeout: float
    ) -> Any:
        """The web's L{mcpgateway.web.app.ClusterSurface} for C{gateway};
        the connection pool to the peers is closed when C{top} stops. The
        ids of the sessions that end here are kept (C{idleTimeout} seconds,
        in the state directory, written last at stop) so none is rebuilt
        from its sealed id."""
        from twisted.web.client import HTTPConnectionPool

        from mcpgateway.cluster.forward import Forwarder, peerAgent
        from mcpgateway.cluster.peer import PeerSeal
        from mcpgateway.cluster.routing import ENDED_FILE, ClusterSessions, EndedSessions
        from mcpgateway.web.app import ClusterSurface

        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = 32
        pool.cachedConnectionTimeout = 30  # under a peer's 60 s idle timeout
        agent = peerAgent(reactor, pool, FORWARD_CONNECT_TIMEOUT)
        peers = PeerSeal(self.keys[-1], self.replica, reactor)
        forwarder = Forwarder(agent, reactor, peers)
        ended = EndedSessions(reactor, keepFor=idleTimeout, path=stateFile(stateDir, ENDED_FILE))
        sessions = ClusterSessions(gateway, self.sealer, forwarder, self.address, ended=ended)
        gateway.sessionEnded = lambda session: sessions.sessionEnded(session.id)
        _PeerPool(pool, ended).setServiceParent(top)
        return ClusterSurface(sessions, forwarder, peers, self.replica, lambda: self.url)


FORWARD_CONNECT_TIMEOUT = 2.0
"""Seconds a connection to a session's owner may take before it counts as down."""


class _PeerPool(Service):
    """Closes the cached connections to the peers when the gateway stops,
    and writes the record of ended sessions one last time."""

    def __init__(self, pool: Any, ended: Any = None) -> None:
        self._pool = pool
        self._ended = ended

    def stopService(self) -> Any:
        super().stopService()
        if self._ended is not None:
            self._ended.flush()
        return self._pool.closeCachedConnections()


def _advertisedHost(endpoint: str) -> str:
    """The address peers reach a replica listening on C{endpoint} at: its
    interface when it names one, else the host's first non-loopback address
    (refused in one line when there is none)."""
    import ipaddress

    interface = _endpointInterface(endpoint)
    if interface not in (None, "", "0.0.0.0", "::"):
        try:
            return str(ipaddress.ip_address(interface))
        except ValueError:
            pass
    if endpoint.split(":", 1)[0].lower() in ("tcp", "tcp6", "ssl", "tls"):
        host = hostAddress()
        if host is not None:
            return host
    _refuse(
        f"--cluster-key-file: cannot tell the address peers reach {endpoint} at (no"
        " non-loopback address found): give --cluster-advertise http://IP:PORT"
    )


def hostAddress() -> str | None:
    """The host's first non-loopback address: the one its default route
    leaves from (a UDP socket connected nowhere sends nothing), else the
    first address its name resolves to; C{None} if there is none."""
    import ipaddress
    import socket

    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))
                address = str(udp.getsockname()[0]).split("%", 1)[0]
        except OSError:
            continue
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local):
            return str(ip)
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not (ip.is_loopback or ip.is_unspecified or ip.is_link_local):
            return str(ip)
    return None


PORTED_ENDPOINTS = ("tcp", "tcp6", "ssl", "tls")
"""The endpoint kinds whose first argument (or C{port=}) is a TCP port."""


def endpointArguments(endpoint: str) -> tuple[str, list[str], dict[str, str]]:
    """The kind, positional arguments and keyword arguments of an endpoint
    string, split as Twisted splits it: at unescaped C{:}, a keyword at its
    first unescaped C{=}, C{\\x} read as C{x}."""
    current: list[str] = []
    keyword: str | None = None
    escaped = False
    items: list[tuple[str | None, str]] = []
    for char in endpoint:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":":
            items.append((keyword, "".join(current)))
            current, keyword = [], None
        elif char == "=" and keyword is None:
            keyword, current = "".join(current), []
        else:
            current.append(char)
    items.append((keyword, "".join(current)))
    kind = items[0][1] if items[0][0] is None else f"{items[0][0]}={items[0][1]}"
    positional = [value for key, value in items[1:] if key is None]
    keywords = {key: value for key, value in items[1:] if key is not None}
    return kind, positional, keywords


def endpointProblem(endpoint: str) -> str | None:
    """What is wrong with the numbers or the path of endpoint string
    C{endpoint}, in words, before Twisted's parser says it in its own (an
    C{int()} error, a port out of range found only when listening, an
    empty UNIX socket path found only after the reactor started); C{None}
    when nothing is, or for kinds it does not know (Twisted's parser then
    speaks, in C{_listener})."""
    kind, positional, keywords = endpointArguments(endpoint)
    kind = kind.lower()
    if kind in PORTED_ENDPOINTS:
        port = keywords.get("port", positional[0] if positional else "")
        number = _integer(port)
        if number is None:
            return f"the port must be a number, not {port!r}"
        if not 0 <= number <= 65535:
            return f"port {number} is out of range (0 to 65535)"
    elif kind == "unix":
        address = keywords.get("address", positional[0] if positional else "")
        if not address:
            return "give the socket's path: unix:/path/to/gateway.sock"
        mode = keywords.get("mode")
        if mode is not None and _integer(mode, 8) is None:
            return f"mode must be an octal number (mode=600), not {mode!r}"
    else:
        return None
    backlog = keywords.get("backlog")
    if backlog is not None and _integer(backlog) is None:
        return f"backlog must be a whole number, not {backlog!r}"
    return None


def _integer(text: str, base: int = 10) -> int | None:
    """C{text} read as Twisted's endpoint parsers read it (C{int()}), or C{None}."""
    try:
        return int(text, base)
    except ValueError:
        return None


def _endpointPort(endpoint: str) -> int | None:
    """The port of a C{tcp:}/C{ssl:} endpoint string (C{None}: another kind)."""
    kind, _, rest = endpoint.partition(":")
    if kind.lower() not in ("tcp", "tcp6", "ssl", "tls"):
        return None
    first = rest.split(":", 1)[0]
    if first.startswith("port="):
        first = first[len("port=") :]
    try:
        return int(first)
    except ValueError:
        return None


def _successor(options: Options, reactor: Any, top: Any) -> Any:
    """In a process a restart started: the link to its predecessor, whose
    C{gone} fires when that process has exited; else C{None}."""
    from twisted.internet.defer import Deferred

    from mcpgateway.ops.handover import HANDOVER_ENV, Successor

    inherited = options.get("handover")
    if inherited is None:
        return None
    os.environ.pop(HANDOVER_ENV, None)  # the next restart sets its own
    successor = Successor(reactor, inherited, Deferred())
    successor.setServiceParent(top)
    return successor


def _predecessor(
    options: Options,
    pre: Preflight,
    reactor: Any,
    gateway: Any,
    configService: Any,
    top: Any,
    listener: Any,
    site: Any,
) -> None:
    """Restart on C{SIGUSR2}: start a successor and hand over to it (see
    L{mcpgateway.ops.handover})."""
    from mcpgateway.ops.handover import Predecessor, successorCommand

    args = list(getattr(options, "pluginArgs", []))
    if options["log-file"] is None:
        # Detached, the successor's log would go nowhere: it writes the state dir's.
        from mcpgateway.runtime.paths import LOG_FILE

        args += ["--log-file", str(pre.stateDir / LOG_FILE)]

    def handOver() -> Any:
        listener.handOver()
        configService.handOver()
        top.handOver()
        return site.handOver(options["restart-timeout"])

    Predecessor(
        reactor,
        successorCommand(args),
        os.environ,
        listener.fileno,
        pre.lock.fileno,
        gateway.saveSessions,
        handOver,
    ).setServiceParent(top)


class _LazyResolver:
    """The gateway's L{mcpgateway.config.resolve.Resolver}, made when the
    first server that runs through C{npx} or C{uvx} needs it: a gateway
    with none never loads the resolver (issue 19: idle RSS)."""

    WRAPPERS = frozenset({"npx", "uvx"})
    """The only programs the resolver parses (any other command is not a
    wrapper: C{parseWrapper} gives C{None})."""

    def __init__(self, stateDir: Path, reactor: Any, environ: Mapping[str, str]) -> None:
        self._stateDir = stateDir
        self._reactor = reactor
        self._environ = environ
        self._resolver: Resolver | None = None

    def _real(self) -> Resolver:
        if self._resolver is None:
            from mcpgateway.config.resolve import Resolver

            reactor = self._reactor
            self._resolver = Resolver(self._stateDir, reactor, reactor, self._environ)
        return self._resolver

    def wrapperOf(self, spec: ServerSpec) -> tuple[str, str, list[str]] | None:
        if os.path.basename(spec.command) not in self.WRAPPERS:
            return None
        return self._real().wrapperOf(spec)

    def resolve(self, spec: ServerSpec) -> Deferred[ServerSpec]:
        return self._real().resolve(spec)

    def failureOf(self, spec: ServerSpec) -> str | None:
        return self._real().failureOf(spec)


def _root(options: Options, pre: Preflight, reactor: Any) -> StateFileService:
    """The root service: it holds the instance lock and state.json, and lets
    go of them only after every service below it has stopped."""
    from mcpgateway.ops.services import StateFileService

    details = {
        "interface": _interfaceOf(options),
        "config": str(pre.configPath) if pre.configPath else None,
        "stateDir": str(pre.stateDir),
        "rewriteConfig": bool(options["rewrite-config"]),
        "tls": isTLSEndpoint(options["endpoint"]),
        "clients": options["clients"] if options["rewrite-config"] else "none",
    }
    return StateFileService(pre.stateDir, pre.lock, details, reactor)


def _gatewayAndConfig(
    options: Options,
    pre: Preflight,
    reactor: Any,
    top: Any,
    successor: Any = None,
    secret: bytes | None = None,
    cluster: _Cluster | None = None,
) -> tuple[Any, Any]:
    """The gateway (pools, sessions, children) and the config service that
    keeps it current (workspace routes keyed with C{secret}; promotions kept
    in C{promotions.json}), with the reaper and the monitor; all under C{top}.
    A cluster replica's sessions get sealed ids (C{cluster.sealer})."""
    from twisted.logger import Logger

    from mcpgateway.config.promotions import Promoter, PromotionStore
    from mcpgateway.config.source import ConfigService
    from mcpgateway.config.workspaces import WorkspaceKeys
    from mcpgateway.core.environment import childEnvironment
    from mcpgateway.core.gateway import Gateway, GatewayService
    from mcpgateway.core.healing import HealingPolicy
    from mcpgateway.core.spawn import Spawner
    from mcpgateway.ops.monitor import Monitor, MonitorService
    from mcpgateway.ops.reaper import Reaper, ReaperService
    from mcpgateway.ops.sessionstore import SessionStore
    from mcpgateway.ops.statedir import ChildLedger
    from mcpgateway.runtime.paths import SESSIONS_FILE, stateFile

    log = Logger(observer=logs.observer, namespace="mcpgateway.tap")
    timeout, runInThread = options["request-timeout"], _threadRunner(reactor)
    gateway: list[Gateway] = []  # bound below; a reload cannot come before start

    def reload(specs: dict[str, Any]) -> Any:
        return gateway[0].reconfigure(_withTimeout(specs, timeout))

    promotions = PromotionStore(pre.stateDir)

    def keys() -> WorkspaceKeys:
        # One instance per load (it caches real paths); the secret read at start.
        return (
            WorkspaceKeys(secret) if secret is not None else WorkspaceKeys.forStateDir(pre.stateDir)
        )

    def useAggregate(settings: Any) -> None:
        # aggregate.json (docs/aggregate.md): its endpoints and names, from now on.
        gateway[0].useEndpoints(settings.endpoints, settings.names)

    configService = ConfigService(
        pre.source,
        pre.stateDir,
        reactor,
        reactor,
        runInThread,
        reload,
        keys=keys,
        promotions=promotions,
        onAggregate=useAggregate,
        onConfigPath=getattr(top, "configChanged", None),
    )
    specs = _withTimeout(configService.specs(pre.loaded), timeout)
    for spec in specs.values():
        if spec.executable is None:
            log.warn(
                "server {server}: command {command!r} {where}; its endpoint answers with an error",
                server=spec.name,
                command=spec.command,
                where="not found on PATH"
                if "/" not in spec.command
                else "not executable"
                if os.path.exists(spec.command)
                else "not found",
            )
    log.info(
        "config: {count} stdio server(s) from {source}", count=len(specs), source=pre.loaded.source
    )
    environ = childEnvironment(os.environ)  # never the gateway's own secrets
    ledger = ChildLedger(pre.stateDir)
    if successor is not None:
        # The predecessor's children exiting rewrote the ledger: this process's again.
        successor.gone.addCallback(lambda _: ledger.rewrite())
    spawner = Spawner(
        reactor=reactor,
        clock=reactor,
        environ=environ,
        setsid=shutil.which("setsid"),
        maxLine=options["max-line"],
        watcher=ledger,
    )
    # The aggregate endpoint /mcp (docs/aggregate.md): what every server
    # lists, kept in the state directory; its search index and schema
    # checks (loaded on its first use) work in the reactor's thread pool.
    from mcpgateway.core.catalog import CatalogService
    from mcpgateway.ops.catalogstore import CatalogStore
    from mcpgateway.ops.statedir import pidAlive

    catalogs = CatalogService(reactor, CatalogStore(pre.stateDir), runInThread)
    gateway.append(
        Gateway(
            specs,
            spawner,
            catalogs=catalogs,
            runInThread=runInThread,
            resultBytes=options["result-store-bytes"],
            healing=HealingPolicy(
                base=options["restart-backoff"], coolDown=options["circuit-cool-down"]
            ),
            # Behind a proxy or a load balancer (a team gateway, a cluster) the
            # socket's owner is the proxy, not the client: its pid says nothing
            # of when the client is gone (the proxy's restart would end them all).
            pidFinder=None if _behindProxy(options) else _pidFinder(runInThread),
            resolver=None
            if options["no-resolve"]
            else _LazyResolver(pre.stateDir, reactor, environ),
            drainTimeout=options["drain-timeout"],
            # read at start, saved while running and at stop (see docs/continuity.md)
            persistence=SessionStore(stateFile(pre.stateDir, SESSIONS_FILE)),
            predecessor=None if successor is None else successor.gone,
            # a promotion is kept in promotions.json, then the config reloads
            promotions=Promoter(promotions, reactor, runInThread, configService.reload),
            # MCP 2026-07-28 calls waiting for their client (docs/era.md)
            modernInputTimeout=options["limits"].modernInputTimeout,
            maxSuspendedCalls=options["limits"].maxSuspendedCalls,
            sessionIds=None if cluster is None else cluster.sealer,
            # a saved session whose client exited while no gateway ran is not restored
            clientAlive=pidAlive,
        )
    )
    # Read at start, before restored sessions build their views.
    useAggregate(configService.aggregate)
    # The predecessor lets its connections finish, then drains: then it exits.
    gateway[0].predecessorWait = options["restart-timeout"] + options["drain-timeout"] + 15.0
    GatewayService(gateway[0]).setServiceParent(top)
    # SIGTERM/SIGINT: a second one while stopping cuts the drain short (no traceback).
    from mcpgateway.ops.signals import IGNORED_ENV, StopSignals

    StopSignals(
        reactor, gateway[0].cutDrainShort, inherited=os.environ.get(IGNORED_ENV, "")
    ).setServiceParent(top)
    configService.setServiceParent(top)
    reaper = Reaper(gateway[0], reactor, options["idle-timeout"], options["child-idle-timeout"])
    ReaperService(reaper, reactor, options["reap-interval"]).setServiceParent(top)
    # What sharing saves (docs/operations.md): /proc read in the thread pool.
    from mcpgateway.ops.savings import SavingsSampler, SavingsService

    sampler = SavingsSampler(gateway[0].status, reactor, runInThread)
    gateway[0].savings = sampler.estimate
    MonitorService(Monitor(gateway[0], reactor, rss=sampler.rss), reactor).setServiceParent(top)
    SavingsService(sampler, reactor).setServiceParent(top)
    return gateway[0], configService


def _principalKeys(secret: bytes | None) -> Any:
    """A principal's name to its key: a keyed hash (never the name) that
    sessions, sharing scopes, /health and the audit log carry."""
    from mcpgateway.config.workspaces import WorkspaceKeys

    keys = WorkspaceKeys(secret if secret is not None else os.urandom(32))

    def keyOf(name: str) -> str:
        return keys.digest("principal", name.encode("utf-8"))

    return keyOf


class _Polling(Service):
    """Polls a tokens file (L{mcpgateway.auth.tokens.TokensFile}) from
    C{startService} on: after daemonizing."""

    def __init__(self, tokens: Any) -> None:
        self._tokens = tokens

    def startService(self) -> None:
        super().startService()
        self._tokens.start()

    def stopService(self) -> None:
        self._tokens.stop()
        super().stopService()


def _team(
    options: Options,
    pre: Preflight,
    reactor: Any,
    top: Any,
    gateway: Any,
    secret: bytes | None,
    cluster: _Cluster | None = None,
) -> TeamSurface:
    """A team gateway's door (docs/team.md): the authentication gate (a
    tokens file, or an OAuth issuer's JWTs), the per-principal limits and
    the audit log; their services (polling, key fetching, the log file)
    start with the tree, after daemonizing. A cluster replica's door also
    takes its peers' forwarded requests (docs/cluster.md)."""
    from mcpgateway.web.app import TeamSurface

    authStatus: Any = None
    gate: Any = None
    if options["auth-tokens"]:
        gate, authStatus = _tokensGate(options, reactor, top, secret)
    elif options["oauth-issuer"]:
        gate, authStatus = _oauthGate(options, reactor, top, gateway, secret)
    quota = None
    limited = options["max-requests-per-principal"] or options["rate-per-principal"]
    if gate is not None and limited:  # without authentication there is one caller
        from mcpgateway.auth.quota import PrincipalQuota

        quota = PrincipalQuota(
            reactor, options["max-requests-per-principal"], options["rate-per-principal"]
        )
    audit = None
    if options["audit-log"]:
        from mcpgateway.ops.audit import AuditLog

        audit = AuditLog(Path(options["audit-log"]), reactor, payloads=options["audit-payloads"])
        audit.setServiceParent(top)

    def status() -> dict[str, Any]:
        line: dict[str, Any] = authStatus() if authStatus is not None else {"mode": "none"}
        if quota is not None:
            line["limits"] = {
                "maxConcurrent": quota.maxConcurrent,
                "perSecond": quota.perSecond,
                "principals": len(quota),
            }
        if audit is not None:
            line["audit"] = True
        return line

    clustered = None
    if cluster is not None:
        from twisted.logger import Logger

        clustered = cluster.surface(
            reactor, top, gateway, pre.stateDir, float(options["idle-timeout"])
        )
        log = Logger(observer=logs.observer, namespace="mcpgateway.tap")
        log.info(
            "cluster: replica {replica}, reached by its peers at {url}; {count} key(s)",
            replica=cluster.replica,
            url=cluster.url if cluster.port else f"{cluster.host}:<listening port>",
            count=len(cluster.keys),
        )
    return TeamSurface(gate, quota, audit, status, clustered, bool(options["public-health"]))


def _tokensGate(options: Options, reactor: Any, top: Any, secret: bytes | None) -> Any:
    from mcpgateway.auth.tokenfile import TokensFileError
    from mcpgateway.auth.tokens import TokensFile, TokenTable
    from mcpgateway.web.auth import AuthGate

    table = TokenTable((), _principalKeys(secret), reactor)
    tokens = TokensFile(Path(options["auth-tokens"]), table, reactor, _threadRunner(reactor))
    try:
        tokens.load()
    except TokensFileError as e:
        _refuse(str(e))
    except OSError as e:
        _refuse(f"--auth-tokens {options['auth-tokens']}: {e.strerror or e}")
    _Polling(tokens).setServiceParent(top)
    gate = AuthGate(table, reactor, None, None, lambda: ())

    def status() -> dict[str, Any]:
        return {
            "mode": "tokens",
            "principals": table.principals(),
            "tokens": len(table),
            "reloads": tokens.reloads,
            "lastError": tokens.lastError,
        }

    return gate, status


def _oauthGate(options: Options, reactor: Any, top: Any, gateway: Any, secret: bytes | None) -> Any:
    from twisted.web.client import Agent, HTTPConnectionPool

    from mcpgateway.auth.bearer import JwtVerifier, OAuthSettings
    from mcpgateway.auth.jwks import KeySet, KeySetService, httpFetch
    from mcpgateway.auth.metadata import SCOPE_ADMIN, serverScope
    from mcpgateway.web.auth import AuthGate

    issuer, resource = options["oauth-issuer"], options["resource-uri"]
    settings = OAuthSettings(
        issuer=issuer,
        resource=resource,
        audiences=options["oauth-audience"],
        jwksUri=options["oauth-jwks-uri"],
        requiredScopes=options["oauth-scopes"],
        principalClaim=options["oauth-principal-claim"],
    )
    pool = HTTPConnectionPool(reactor, persistent=False)
    if options["oauth-ca-file"]:
        from twisted.internet.ssl import Certificate
        from twisted.web.client import BrowserLikePolicyForHTTPS

        pem = Path(options["oauth-ca-file"]).read_bytes()
        policy = BrowserLikePolicyForHTTPS(trustRoot=Certificate.loadPEM(pem))
        agent = Agent(reactor, contextFactory=policy, pool=pool)
    else:
        agent = Agent(reactor, pool=pool)
    keys = KeySet(httpFetch(agent, reactor), reactor, issuer, options["oauth-jwks-uri"])
    KeySetService(keys).setServiceParent(top)
    verifier = JwtVerifier(settings, keys, _principalKeys(secret), reactor)

    def scopes() -> list[str]:
        return [SCOPE_ADMIN, *(serverScope(name) for name in sorted(gateway.pools))]

    gate = AuthGate(verifier, reactor, resource, issuer, scopes)

    def status() -> dict[str, Any]:
        return {"mode": "oauth", "issuer": issuer, "resource": resource, "jwks": keys.status()}

    return gate, status


def _pollSpin(reactor: Any, microseconds: float, worthIt: Callable[[], bool]) -> None:
    """Have the gateway's own reactor (L{mcpgateway.runtime.reactor}) poll up to
    C{microseconds} before it sleeps, while C{worthIt()}; never on a single
    CPU, where the process it waits for needs that CPU to answer."""
    from twisted.logger import Logger

    log = Logger(observer=logs.observer, namespace="mcpgateway.tap")
    log.info("reactor: {reactor}", reactor=f"{type(reactor).__module__}.{type(reactor).__name__}")
    spinBeforeWaiting = getattr(reactor, "spinBeforeWaiting", None)
    if spinBeforeWaiting is None:  # Twisted's own reactor: it never spins
        if microseconds != limits.POLL_SPIN:
            log.info(
                "--poll-spin does nothing on this reactor ({reactor}): it is the gateway's"
                " own reactor's (--reactor=mcpgateway, as `mcpgateway start` runs it)",
                reactor=type(reactor).__name__,
            )
        return
    if microseconds and _usableCpus() < 2:
        log.info("--poll-spin is off: this process may run on one CPU only")
        microseconds = 0.0
    spinBeforeWaiting(microseconds / 1e6, worthIt)


def _usableCpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _listener(
    options: Options,
    pre: Preflight,
    reactor: Any,
    gateway: Any,
    configService: Any,
    top: Any,
    successor: Any = None,
    secret: bytes | None = None,
    team: TeamSurface | None = None,
    cluster: _Cluster | None = None,
) -> tuple[Any, Any]:
    """The HTTP side on C{--port} (or on the socket a restart's predecessor
    passed down): the MCP endpoints (credential headers keyed with
    C{secret}) behind C{team}'s door, /health, and the management apps
    (Klein, loaded on their first call); the listener and the site.

    A gateway reachable from other machines with no authentication is
    refused here (L{requireAuth}), once the socket is known. A restart's
    successor on a TLS endpoint wraps the socket it adopted in TLS again,
    with the same key and certificate."""
    from twisted.internet.endpoints import AdoptedStreamServerEndpoint, serverFromString

    from mcpgateway.config.workspaces import WorkspaceKeys
    from mcpgateway.ops.services import ListenerService
    from mcpgateway.ops.systemd import NotifyService, adoptsLoopback
    from mcpgateway.web.app import makeSite

    endpoint = options["endpoint"]

    def api() -> Any:
        # Made on the API's first request (the site keeps what this returns).
        from mcpgateway.config.gatewayfile import ManagedConfig
        from mcpgateway.ops.management import Management
        from mcpgateway.web.api import ApiApp

        management = Management(gateway, configService, ManagedConfig(pre.stateDir))
        authLine = team.authLine if team is not None else None
        return ApiApp(
            management, gateway, reactor, options["api-token"], authLine=authLine
        ).resource()

    tls: Any = None
    if successor is not None and isTLSEndpoint(endpoint):
        tls = _tlsContext(reactor, endpoint)
    try:
        if successor is not None:
            from mcpgateway.ops.handover import socketFamily

            fd = options["handover"].listenFd
            server = AdoptedStreamServerEndpoint(reactor, fd, socketFamily(fd))
        else:
            server = serverFromString(reactor, endpoint)
    except OSError as e:
        if successor is not None:
            _refuse(f"the restart passed no listening socket: {e}")
        _refuse(f"--port {endpoint}: {e.strerror or e}: {e.filename or ''}".rstrip(": "))
    except (IndexError, KeyError, ValueError) as e:
        if endpoint.split(":", 1)[0].lower() == "systemd":
            # Twisted indexes the sockets systemd passed (LISTEN_FDS,
            # LISTEN_FDNAMES): none passed is an IndexError or a KeyError.
            _refuse(
                f"--port {endpoint}: systemd passed no such socket (LISTEN_FDS, LISTEN_FDNAMES):"
                " start it from its .socket unit (mcpgateway service install)"
            )
        _refuse(f"--port {endpoint}: {e or 'no socket passed in (LISTEN_FDS, LISTEN_FDNAMES)'}")
    except TypeError:
        # Twisted's parsers take an unknown or repeated key (an IPv6
        # address's bare colons split it) as a keyword argument.
        _refuse(
            f"--port {endpoint}: not a valid endpoint string (an unknown or repeated option;"
            " escape an IPv6 address's colons: tcp6:9100:interface=\\:\\:1)"
        )
    loopbackOnly = _isLoopbackEndpoint(endpoint) or adoptsLoopback(server)
    refusal = requireAuth(endpoint, loopbackOnly, options)
    if refusal is not None:
        _refuse(refusal)
    site = makeSite(
        gateway,
        reactor,
        loopbackOnly=loopbackOnly,
        api=api,
        limits=options["limits"],
        keys=None if secret is None else WorkspaceKeys(secret),
        team=team,
        flusher=gateway.spawner.flusher,
    )
    _pollSpin(reactor, options["poll-spin"], site.servesAtMostOne)
    notify = NotifyService(os.environ.get("NOTIFY_SOCKET"))
    notify.setServiceParent(top)

    def listening(port: int) -> None:
        if cluster is not None:
            cluster.listening(port)
        top.listening(port, listener.host)  # the bound address, as the socket reports it
        configService.listening(port)
        notify.listening(port)  # READY=1 once it serves
        if successor is not None:
            successor.listening(port)  # the predecessor stops accepting

    factory: Any = site
    if tls is not None:
        # The adopted socket is a plain one: TLS is this process's to add.
        from twisted.protocols.tls import TLSMemoryBIOFactory

        factory = TLSMemoryBIOFactory(tls, False, site)
    listener = ListenerService(server, endpoint, factory, reactor, onListening=listening)
    return listener, site


def _tlsContext(reactor: Any, endpoint: str) -> Any:
    """The TLS context factory of the C{ssl:} endpoint string C{endpoint}
    (Twisted's parser reads its key and certificate files)."""
    from twisted.internet.endpoints import serverFromString

    try:
        parsed = serverFromString(reactor, endpoint)
    except (OSError, ValueError, KeyError, IndexError) as e:
        _refuse(f"--port {endpoint}: {e}")
    context = getattr(parsed, "_sslContextFactory", None)
    if context is None:
        _refuse(f"--port {endpoint}: not a TLS endpoint Twisted can re-create on a restart")
    return context


def _manhole(options: Options, pre: Preflight, reactor: Any, gateway: Any, top: Any) -> Any:
    """The SSH debugging prompt (C{--manhole}, C{--manhole-ssh}); refuses in
    one line when its files or socket are not private."""
    from mcpgateway.ops.manhole import ManholeError, gatewayNamespace, makeManholeService

    try:
        return makeManholeService(
            reactor,
            pre.stateDir,
            gatewayNamespace(gateway, top, reactor),
            socketPath=Path(options["manhole"]) if options["manhole"] else None,
            sshPort=options["manhole-ssh"],
        )
    except ManholeError as e:
        _refuse(str(e))


def _runner() -> str:
    """The runner this process was started as, to name in a pointer to the
    help: C{twist} (also as C{python -m twisted}) or C{twistd}."""
    program = sys.argv[0] if sys.argv else ""
    if os.path.basename(program) == "twist" or program.endswith(
        os.path.join("twisted", "__main__.py")
    ):
        return "twist"
    return "twistd"


def _refuse(message: str) -> NoReturn:
    """Stop before starting, with one line and exit status 1."""
    sys.stderr.write(f"mcpgateway: {message}\n")
    raise SystemExit(1)


def _interfaceOf(options: Options) -> str:
    """The address clients should use: the bound interface, or loopback when
    bound to every interface. (C{state.json} records the address the
    listening socket reports instead, once it listens: L{_listener}.)"""
    interface = _endpointInterface(options["endpoint"])
    return "127.0.0.1" if interface in (None, "", "0.0.0.0", "::") else interface


def _withTimeout(specs: dict[str, Any], seconds: float | None) -> dict[str, Any]:
    """Apply --request-timeout to servers that did not set their own."""
    if seconds is None:
        return specs
    return {name: _withDefaultTimeout(spec, seconds) for name, spec in specs.items()}


def _threadRunner(reactor: Any) -> Any:
    """C{deferToThread} on C{reactor}'s own thread pool (never the global
    reactor's), looked up when first used: after daemonizing."""
    from twisted.internet.threads import deferToThreadPool

    def runInThread(f: Any, *args: Any, **kwargs: Any) -> Any:
        return deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kwargs)

    return runInThread


def _behindProxy(options: Options) -> bool:
    """Whether this gateway's clients come through a proxy or a load
    balancer: it authenticates them (a team gateway) or is a cluster's
    replica. Then the process holding a connection's other end is not an MCP
    client, and its exit must not end the sessions (docs/lifecycle.md)."""
    return bool(options["auth-tokens"] or options["oauth-issuer"] or options["cluster-key-file"])


def _pidFinder(runInThread: Any) -> Any:
    """Look up a socket's owner in a thread: it reads /proc, which may be slow."""

    def findClientPid(
        peerHost: str, peerPort: int, localHost: str, localPort: int, hints: Any
    ) -> Any:
        from mcpgateway.ops.peerpid import findClientPid

        return runInThread(findClientPid, peerHost, peerPort, localHost, localPort, hints=hints)

    return findClientPid


def _withDefaultTimeout(spec: Any, seconds: float) -> Any:
    """C{spec} with C{seconds} as its request timeout, unless its entry set
    one itself (even one equal to the built-in default)."""
    from dataclasses import replace

    if spec.requestTimeoutDeclared:
        return spec
    return replace(spec, requestTimeout=seconds)


def _endpointInterface(endpoint: str) -> str | None:
    """The C{interface=} of a TCP endpoint string (C{None} when absent)."""
    for part in endpoint.replace("\\:", "\0").split(":")[1:]:
        if part.startswith("interface="):
            return part[len("interface=") :].replace("\0", ":")
    return None


def _isLoopbackEndpoint(endpoint: str) -> bool:
    """Whether the listening endpoint only accepts loopback connections, in
    which case Host must be loopback too (DNS-rebinding guard)."""
    from mcpgateway.web.guard import isLoopbackHost

    if endpoint.startswith("unix:"):
        return True
    interface = _endpointInterface(endpoint)
    return interface is not None and isLoopbackHost(interface)


class RunnerOptions(Options):
    """The options as C{twistd}, C{twist} and the C{.tac} parse them: the
    same, and once checked they install the gateway's reactor when none is
    installed yet (L{mcpgateway.runtime.reactor.installUnlessChosen}), so every way
    of running the gateway runs it on the reactor C{mcpgateway start} uses.
    Plain L{Options} install nothing: a service built on a reactor of one's
    own (a test's, an embedding program's) touches no global reactor."""

    installsReactor = True
