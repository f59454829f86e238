# -*- test-case-name: tests.startup.test_tap -*-
"""Every command-line option of the gateway, checked as it is parsed.

L{Options} is what C{twistd mcpgateway --help} lists; its C{postOptions}
refuses what cannot work (a bad endpoint, authentication off loopback
missing, a cluster without a key) with one line before anything starts.
L{RunnerOptions} are the same options as twistd, twist and the C{.tac}
parse them: once checked they install the gateway's reactor.
"""

from __future__ import annotations

import math
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from twisted.python import usage

from mcpgateway.protocol import bounds
from mcpgateway.runtime import logs
from mcpgateway.runtime.paths import (
    API_TOKEN_ENV,
    AUDIT_LOG_ENV,
    AUTH_TOKENS_ENV,
    DEFAULT_PORT,
    HANDOVER_ENV,
    OAUTH_ISSUER_ENV,
    RESOURCE_URI_ENV,
    defaultStateDir,
)
from mcpgateway.startup import teamoptions
from mcpgateway.startup.childwiring import adoptGraceParameters
from mcpgateway.startup.dooroptions import OWNER_ROOT_FLAG, checkDoor
from mcpgateway.startup.endpoints import (
    defaultReplicaId,
    endpointProblem,
    isHttps,
    leaveOutTLS,
    parseAdvertise,
    urlProblem,
)
from mcpgateway.startup.era2026options import era2026Parameters, newSpellings
from mcpgateway.startup.lazyoptions import LAZY_START_FLAG
from mcpgateway.startup.pidfile import refuseTakenPidfile
from mcpgateway.startup.pinoptions import pinFlags, pinParameters, pinsSetting
from mcpgateway.startup.process import runnerName
from mcpgateway.startup.sandboxing import sandboxParameters, sandboxSetting
from mcpgateway.startup.taskoptions import taskParameters
from mcpgateway.tuned.switch import TUNED, checkTwisted, twistedParameters

CLUSTER_KEY_FILE_ENV = "MCPGATEWAY_CLUSTER_KEY_FILE"
REPLICA_ID_ENV = "MCPGATEWAY_REPLICA_ID"
CLUSTER_ADVERTISE_ENV = "MCPGATEWAY_CLUSTER_ADVERTISE"
REPLICA_ID = re.compile(r"[a-z0-9-]{1,32}")
"""A replica's label (L{mcpgateway.cluster.sealing.LABEL}, not imported: cryptography)."""


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
        ["audit-otel", None, "With --audit-log: also send each record as an OTLP log record."],
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
            bounds.MAX_BODY,
            "Largest accepted POST body, in bytes (413 beyond).",
            _positiveInt,
        ],
        [
            "max-batch",
            None,
            bounds.MAX_BATCH,
            "Most messages in one JSON-RPC batch (413 beyond).",
            _positiveInt,
        ],
        [
            "max-depth",
            None,
            bounds.MAX_DEPTH,
            "Deepest nesting of arrays and objects in a message (-32700 beyond).",
            _positiveInt,
        ],
        [
            "max-number-digits",
            None,
            bounds.MAX_NUMBER_DIGITS,
            "Longest JSON number, in characters (-32700 beyond; below 4300).",
            _positiveInt,
        ],
        [
            "max-in-flight",
            None,
            bounds.MAX_IN_FLIGHT_PER_SESSION,
            "Most requests one session may have waiting for a child (-32004 beyond).",
            _positiveInt,
        ],
        [
            "header-timeout",
            None,
            bounds.HEADER_TIMEOUT,
            "Seconds a request's headers may take to arrive (408 beyond).",
            _positiveFloat,
        ],
        [
            "max-connections-per-peer",
            None,
            bounds.MAX_CONNECTIONS_PER_PEER,
            "Most open connections of one client process (503 beyond).",
            _positiveInt,
        ],
        [
            "keepalive-interval",
            None,
            bounds.KEEPALIVE_INTERVAL,
            "Seconds of silence after which an SSE stream gets a keep-alive comment.",
            _positiveFloat,
        ],
        [
            "poll-spin",
            None,
            bounds.POLL_SPIN,
            "Microseconds the gateway keeps polling for its next event before it sleeps, after"
            " six quick waits in a row (each under twice as long) while it serves at most one"
            " request (a chain of quick calls: it spares a wake-up per hop). 0 never polls; on"
            " one CPU, and on Twisted's own reactor (--reactor=mcpgateway is the gateway's),"
            " it never does.",
            _spinMicroseconds,
        ],
        [
            "max-suspended-calls",
            None,
            bounds.MAX_SUSPENDED_CALLS,
            "Most MCP 2026-07-28 calls of one server waiting for their client's input_required"
            " answer (-32004 beyond).",
            _positiveInt,
        ],
        [
            "max-sessions",
            None,
            bounds.MAX_SESSIONS,
            "Most live sessions, every endpoint together (HTTP 503 with Retry-After beyond).",
            _positiveInt,
        ],
        [
            "max-sessions-per-principal",
            None,
            bounds.MAX_SESSIONS_PER_PRINCIPAL,
            "Most live sessions of one authenticated caller (HTTP 503 with Retry-After beyond,"
            " when none of its own is idle; room is made only among the caller's own sessions)."
            " Without authentication it does not apply (every caller is the same one).",
            _positiveInt,
        ],
        [
            "result-store-bytes",
            None,
            bounds.RESULT_STORE_BYTES,
            "Bytes the aggregate endpoint may keep of large tool results for get_result,"
            " across all sessions (the oldest are dropped first).",
            _positiveInt,
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
            " the requests of its open connections before it closes them; a call still running"
            " then is answered with an error, and its child moves on to the new process.",
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
            "remote",
            None,
            None,
            "With --rewrite-config: what becomes of the remote (http, sse) entries of the"
            " clients' files: 'keep' leaves them to the clients, 'adopt' serves them through"
            " this gateway too (the entry's headers and OAuth client id stay with the"
            ' gateway). Default: "remote" in <state-dir>/servers.json, else keep.',
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
        *teamoptions.auditParameters(),
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
            "Run as one replica of a cluster (docs/guide/cluster.md): session ids are sealed with"
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
    optParameters += taskParameters(_positiveFloat, _nonNegativeFloat, _positiveInt)
    optParameters += era2026Parameters(_positiveInt, _positiveFloat)
    optFlags += [teamoptions.SELF_SERVICE_FLAG, LAZY_START_FLAG, OWNER_ROOT_FLAG]
    optParameters += pinParameters()
    optParameters += adoptGraceParameters(_nonNegativeFloat)
    optFlags += pinFlags()
    optParameters += sandboxParameters()
    optParameters += teamoptions.policyParameters()
    optParameters += twistedParameters()
    optParameters = [_named(parameter) for parameter in optParameters]

    def parseOptions(self, options: Any = None) -> None:
        """Parse; a bad command line is one line naming the problem and where
        the options are listed (twistd and twist would print the whole help
        first), then exit status 1. Older option names are read as the
        names that replaced them."""
        self.pluginArgs = list(sys.argv[1:] if options is None else options)
        """The arguments as given: a restart's successor gets the same."""
        try:
            super().parseOptions(newSpellings(self.pluginArgs))
        except usage.UsageError as e:
            sys.stderr.write(
                f"mcpgateway: {e}\n`{runnerName()} mcpgateway --help` lists the options\n"
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
            self["limits"] = bounds.MessageBounds(
                maxBody=self["max-body"],
                maxBatch=self["max-batch"],
                maxDepth=self["max-depth"],
                maxNumberDigits=self["max-number-digits"],
                maxInFlightPerSession=self["max-in-flight"],
                headerTimeout=self["header-timeout"],
                maxConnectionsPerPeer=self["max-connections-per-peer"],
                keepAliveInterval=self["keepalive-interval"],
                maxEra2026InFlight=self["max-era2026-in-flight"],
                maxSuspendedCalls=self["max-suspended-calls"],
                era2026InputTimeout=self["era2026-input-timeout"],
                maxSessions=self["max-sessions"],
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
        checkDoor(self)
        self._clusterOptions()
        self["sandbox"] = sandboxSetting(self["sandbox"], os.environ)
        teamoptions.checkSelfService(self)
        self["pins"] = pinsSetting(self)
        if self["state-dir"] is None:
            self["state-dir"] = defaultStateDir()
        refuseTakenPidfile(self)  # before twistd's own check, in the gateway's words
        self["remote"] = self._remoteSetting()
        if self["config"] is not None:
            config = Path(self["config"]).expanduser()
            if not config.is_file():
                raise usage.UsageError(f"--config {self['config']}: no such file")
            # As the start's directory has it: state.json (and so doctor, status
            # and stop, run from anywhere) and a restart's successor get this.
            self["config"] = str(config.absolute())
        self["handover"] = None
        if HANDOVER_ENV in os.environ:  # a restart started this process
            from mcpgateway.ops.handover import BadHandover, Inherited

            try:
                self["handover"] = Inherited.fromEnviron(os.environ)
            except BadHandover as e:
                raise usage.UsageError(str(e)) from None
        leaveOutTLS(self["endpoint"], needTLS=self._needsTLS())
        checkTwisted(self)  # --twisted, else $MCPGATEWAY_TWISTED: before the reactor
        if "twisted.internet.reactor" not in sys.modules:
            # The reactor's UDP and UNIX-socket support load when first used.
            from mcpgateway.runtime.lazyimport import REACTOR_DEFERRED, deferImports

            deferImports(REACTOR_DEFERRED)
            if self.installsReactor and self["twisted"] == TUNED:
                # No reactor yet (twistd and twist install one named with
                # --reactor before a plugin's options are parsed): the
                # gateway's, after TLS and the modules above were left out.
                from mcpgateway.tuned import reactor  # (imports epoll's: after the above)

                reactor.installUnlessChosen()

    def _remoteSetting(self) -> str:
        """C{--remote}, else the C{"remote"} of C{servers.json}, else C{keep};
        a bad value, or C{adopt} given without C{--rewrite-config}, is a
        usage error."""
        from mcpgateway.config.servers import REMOTE_SETTINGS
        from mcpgateway.config.serversfile import remoteSetting

        given = self["remote"]
        if given is not None:
            if given not in REMOTE_SETTINGS:
                raise usage.UsageError(f"--remote {given!r}: use keep or adopt")
            if given == "adopt" and not self["rewrite-config"]:
                raise usage.UsageError(
                    "--remote adopt needs --rewrite-config (adopting the clients' remote"
                    " entries rewrites their files)"
                )
            return str(given)
        try:
            return remoteSetting(Path(self["state-dir"]).expanduser()) or "keep"
        except ValueError as e:
            raise usage.UsageError(str(e)) from None

    def _needsTLS(self) -> bool:
        """Whether the gateway talks to anything over https (an OAuth issuer,
        a remote server in its own config or its C{servers.json}, the
        clients' remote servers it adopts): then it keeps TLS support loaded."""
        if isHttps(self["oauth-issuer"], self["oauth-jwks-uri"]):
            return True
        if self["remote"] == "adopt" and self["rewrite-config"]:
            return True
        from mcpgateway.config.servers import httpsRemotes
        from mcpgateway.runtime.paths import SERVERS_FILE

        own = [Path(self["state-dir"]) / SERVERS_FILE]
        if self["config"] is not None:
            own.append(Path(self["config"]))
        return httpsRemotes(*own)

    def _teamOptions(self) -> None:
        """The team gateway's options (docs/guide/team.md): environment fallbacks,
        then the combinations that cannot work."""
        for name, env in (
            ("auth-tokens", AUTH_TOKENS_ENV),
            ("oauth-issuer", OAUTH_ISSUER_ENV),
            ("resource-uri", RESOURCE_URI_ENV),
            ("audit-log", AUDIT_LOG_ENV),
        ):
            if not self[name]:
                self[name] = os.environ.get(env) or None
        for name in ("auth-tokens", "audit-log", "audit-key-file", "oauth-ca-file"):
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
                problem = urlProblem(self[name])
                if problem is not None:
                    raise usage.UsageError(f"--{name} {self[name]}: {problem}")
        else:
            for name in ("resource-uri", "oauth-jwks-uri", "oauth-audience", "oauth-scopes"):
                if self[name]:
                    raise usage.UsageError(f"--{name} needs --oauth-issuer URL")
            if self["oauth-ca-file"]:
                raise usage.UsageError("--oauth-ca-file needs --oauth-issuer URL")
        for name in ("audit-payloads", "audit-syslog", "audit-otel", "audit-key-file"):
            if self[name] and not self["audit-log"]:
                raise usage.UsageError(f"--{name} needs --audit-log FILE")
        if self["public-health"] and not (self["auth-tokens"] or issuer):
            raise usage.UsageError(
                "--public-health needs --auth-tokens FILE or --oauth-issuer URL (a gateway"
                " without authentication shows /health and /metrics whole)"
            )
        self["oauth-audience"] = _words(self["oauth-audience"])
        self["oauth-scopes"] = _words(self["oauth-scopes"])

    def _clusterOptions(self) -> None:
        """A cluster replica's options (docs/guide/cluster.md): environment
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


class RunnerOptions(Options):
    """The options as C{twistd}, C{twist} and the C{.tac} parse them: the
    same, and once checked they install the gateway's reactor when none is
    installed yet (L{mcpgateway.tuned.reactor.installUnlessChosen}), so every way
    of running the gateway runs it on the reactor C{mcpgateway start} uses.
    Plain L{Options} install nothing: a service built on a reactor of one's
    own (a test's, an embedding program's) touches no global reactor."""

    installsReactor = True
