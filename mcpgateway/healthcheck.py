# -*- test-case-name: tests.test_healthcheck,tests.integration.host.test_container -*-
"""The container's health probe: C{python -m mcpgateway.healthcheck}.

It finds the gateway of a state directory (C{--state-dir}, else
C{$MCPGATEWAY_HOME}, else C{~/.mcpgateway}) by the C{state.json} the gateway
writes once it listens (its port and interface), sends C{GET /health} to that
port on that address (loopback when the gateway listens on every address),
and exits 0 when the answer is a 200 whose JSON says C{"status": "ok"}
within 2 seconds, else 1. Either way it writes one line on stderr saying
why, which C{docker inspect} shows in the container's health log.

http or https: C{"tls"} in C{state.json} says which when present; otherwise
plain HTTP is tried first, and HTTPS when the port does not speak HTTP (a
TLS port closes on a plain request). On a loopback address the certificate
is not verified (a self-signed one is fine: this checks liveness, not
identity); elsewhere it must verify.

Standard library only (plus L{mcpgateway.runtime.paths}, a leaf): it runs every 30
seconds inside the container, so it must start fast, import no Twisted and
need no reactor. Exit status 2 is never used (Docker reserves it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from mcpgateway.runtime.addresses import isLoopbackHost
from mcpgateway.runtime.paths import STATE_FILE, defaultStateDir

HEALTHY = 0
UNHEALTHY = 1
TIMEOUT = 2.0
"""Seconds the whole check may take (connect, TLS, request, answer)."""
MAX_BODY = 8 * 1024 * 1024
"""The most of C{/health} read (it grows with the number of servers)."""
PREFIX = "mcpgateway healthcheck: "


class Unhealthy(Exception):
    """Why the gateway is not healthy (the one line the probe prints)."""


@dataclass(frozen=True)
class GatewayAddress:
    """Where the gateway of a state directory answers."""

    host: str
    port: int
    tls: bool | None = None
    """Whether the port speaks TLS; C{None} when C{state.json} does not say."""
    pid: int | None = None

    def url(self, tls: bool) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if tls else 'http'}://{host}:{self.port}/health"


def _positiveInt(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def hostFor(interface: Any) -> str:
    """The address to reach a gateway bound to C{interface} (its
    C{state.json}'s C{"interface"}): loopback when it listens on every
    address or does not say. Shared with the C{mcpgateway} command."""
    host = interface if isinstance(interface, str) and interface else "127.0.0.1"
    if host == "0.0.0.0":
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def targetOf(state: Any, source: str) -> GatewayAddress:
    """The L{GatewayAddress} a parsed C{state.json} names, or L{Unhealthy} saying
    what is missing from it."""
    if not isinstance(state, dict):
        raise Unhealthy(f"{source}: not a JSON object")
    value = state.get("port")
    if value == 0 and not isinstance(value, bool):
        raise Unhealthy(
            f"{source}: port 0: the gateway listens on a UNIX socket,"
            " which this probe does not reach (check the socket instead)"
        )
    port = _positiveInt(value)
    if port is None or port > 65535:
        raise Unhealthy(f"{source}: no valid port ({value!r})")
    tls = state.get("tls")
    return GatewayAddress(
        host=hostFor(state.get("interface")),
        port=port,
        tls=tls if isinstance(tls, bool) else None,
        pid=_positiveInt(state.get("pid")),
    )


def readTarget(stateDir: Path) -> GatewayAddress:
    """Read C{<stateDir>/state.json}; L{Unhealthy} when it is absent or unusable."""
    path = stateDir / STATE_FILE
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise Unhealthy(
            f"no {path}: the gateway is not listening (still starting, or not running)"
        ) from None
    except OSError as e:
        raise Unhealthy(f"cannot read {path}: {e.strerror or e}") from None
    try:
        state = json.loads(text)
    except ValueError as e:
        raise Unhealthy(f"{path} is not JSON: {e}") from None
    return targetOf(state, str(path))


Answer = tuple[int, bytes]
Get = Callable[[GatewayAddress, bool, float], Answer]
"""C{(target, tls, timeout) -> (status, body)}; raises C{OSError} (C{ssl.SSLError},
C{TimeoutError} included) or C{http.client.HTTPException}."""


def tlsContext(host: str) -> ssl.SSLContext:
    """Verify the certificate, except on loopback (self-signed is fine there).
    Shared with the C{mcpgateway} command's HTTP client."""
    context = ssl.create_default_context()
    if isLoopbackHost(host):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def httpGet(target: GatewayAddress, tls: bool, timeout: float) -> Answer:
    """C{GET /health} with C{http.client}, all of it within C{timeout} seconds."""
    deadline = time.monotonic() + timeout
    connection: http.client.HTTPConnection
    if tls:
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=tlsContext(target.host)
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        connection.request(
            "GET",
            "/health",
            headers={
                "Accept": "application/json",
                "User-Agent": "mcpgateway-healthcheck",
                "Connection": "close",
            },
        )
        response = connection.getresponse()
        body = bytearray()
        while len(body) <= MAX_BODY:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            if connection.sock is not None:
                connection.sock.settimeout(left)
            chunk = response.read(65536)
            if not chunk:
                break
            body += chunk
        return response.status, bytes(body)
    finally:
        connection.close()


def judge(status: int, body: bytes) -> str:
    """What a healthy answer says (pid, uptime); L{Unhealthy} for any other."""
    if status != 200:
        raise Unhealthy(f"answered HTTP {status}")
    if len(body) > MAX_BODY:
        raise Unhealthy(f"answered more than {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise Unhealthy("answered 200 with a body that is not JSON") from None
    if not isinstance(data, dict) or data.get("status") != "ok":
        shown = data.get("status") if isinstance(data, dict) else None
        raise Unhealthy(f'answered 200 without "status": "ok" (status {shown!r})')
    details = []
    if _positiveInt(data.get("pid")) is not None:
        details.append(f"pid {data['pid']}")
    uptime = data.get("uptime")
    if isinstance(uptime, (int, float)) and not isinstance(uptime, bool):
        details.append(f"up {uptime:.0f} s")
    return f"answered 200 ({', '.join(details)})" if details else "answered 200"


def _why(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(error, (TimeoutError, OSError)) and "timed out" in str(error):
        return "no answer in time"
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed the connection without an answer"
    if isinstance(error, http.client.HTTPException):
        return f"did not answer HTTP ({type(error).__name__})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed: {getattr(error, 'reason', None) or error}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _speaksOtherProtocol(error: BaseException) -> bool:
    """Whether a failed plain-HTTP attempt looks like a TLS port (it closed, or
    answered bytes that are no HTTP status line)."""
    return isinstance(error, (http.client.HTTPException, ConnectionResetError))


def check(
    target: GatewayAddress,
    get: Get = httpGet,
    timeout: float = TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Ask C{target} for C{/health}: the success line, or L{Unhealthy}."""
    deadline = clock() + timeout
    schemes = [target.tls] if target.tls is not None else [False, True]
    failures: list[str] = []
    for tls in schemes:
        url = target.url(tls)
        left = deadline - clock()
        if left <= 0:
            failures.append(f"{url}: no time left (--timeout {timeout:g} s)")
            break
        try:
            status, body = get(target, tls, left)
        except (OSError, http.client.HTTPException) as e:
            failures.append(f"{url}: {_why(e)}")
            if not tls and target.tls is None and _speaksOtherProtocol(e):
                continue  # perhaps a TLS port: try https
            break
        try:
            return f"{url} {judge(status, body)}"
        except Unhealthy as e:
            raise Unhealthy(f"{url} {e}") from None
    raise Unhealthy("; ".join(failures) + _pidNote(target))


def _pidNote(target: GatewayAddress) -> str:
    return f" (state.json names pid {target.pid})" if target.pid is not None else ""


class _ArgumentParser(argparse.ArgumentParser):
    """Usage errors are one line and exit 1 (Docker reserves 2)."""

    def error(self, message: str) -> NoReturn:
        raise Unhealthy(f"usage: {message} (see --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="python -m mcpgateway.healthcheck",
        description="Exit 0 if the gateway of the state directory answers GET /health"
        " with status ok, else 1; one line on stderr says why.",
    )
    parser.add_argument(
        "--state-dir", help="the gateway's state directory (default: $MCPGATEWAY_HOME)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT,
        help=f"seconds the check may take (default {TIMEOUT:g})",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    stderr: IO[str] | None = None,
    get: Get = httpGet,
) -> int:
    """Run the probe; returns the exit status (0 healthy, 1 not)."""
    out = sys.stderr if stderr is None else stderr
    env = dict(os.environ if environ is None else environ)
    try:
        options = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
        if not options.timeout > 0:
            raise Unhealthy("usage: --timeout must be a positive number of seconds")
        stateDir = Path(options.state_dir or defaultStateDir(env))
        line = check(readTarget(stateDir), get, options.timeout)
    except Unhealthy as e:
        out.write(f"{PREFIX}unhealthy: {e}\n")
        return UNHEALTHY
    out.write(f"{PREFIX}healthy: {line}\n")
    return HEALTHY


if __name__ == "__main__":
    sys.exit(main())
