# -*- test-case-name: tests.startup.test_tap -*-
"""Listening endpoints and the URLs a gateway is reached at.

What an endpoint string says (its port, its interface, whether it is
TLS), what is wrong with one, whether it listens on loopback only (then
no authentication is required), this host's address and a replica's
advertised URL. Parsing only: nothing here listens.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

from twisted.python import usage

if TYPE_CHECKING:
    from mcpgateway.runtime.reactortype import IReactor

    pass
from mcpgateway.startup.process import refuse


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


def urlProblem(url: str | None) -> str | None:
    """Why C{url} cannot be an issuer's, a JWKS or a resource URI (C{None}: it can)."""
    if url is None:
        return None
    from urllib.parse import urlsplit

    from mcpgateway.runtime.addresses import isLoopbackHost

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


def isHttps(*urls: str | None) -> bool:
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


def advertisedHost(endpoint: str) -> str:
    """The address peers reach a replica listening on C{endpoint} at: its
    interface when it names one, else the host's first non-loopback address
    (refused in one line when there is none)."""
    import ipaddress

    interface = endpointInterface(endpoint)
    if interface not in (None, "", "0.0.0.0", "::"):
        try:
            return str(ipaddress.ip_address(interface))
        except ValueError:
            pass
    if endpoint.split(":", 1)[0].lower() in ("tcp", "tcp6", "ssl", "tls"):
        host = hostAddress()
        if host is not None:
            return host
    refuse(
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


def endpointPort(endpoint: str) -> int | None:
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


def tlsContext(reactor: IReactor, endpoint: str) -> Any:
    """The TLS context factory of the C{ssl:} endpoint string C{endpoint}
    (Twisted's parser reads its key and certificate files)."""
    from twisted.internet.endpoints import serverFromString

    try:
        parsed = serverFromString(reactor, endpoint)
    except (OSError, ValueError, KeyError, IndexError) as e:
        refuse(f"--port {endpoint}: {e}")
    context = getattr(parsed, "_sslContextFactory", None)
    if context is None:
        refuse(f"--port {endpoint}: not a TLS endpoint Twisted can re-create on a restart")
    return context


def endpointInterface(endpoint: str) -> str | None:
    """The C{interface=} of a TCP endpoint string (C{None} when absent)."""
    for part in endpoint.replace("\\:", "\0").split(":")[1:]:
        if part.startswith("interface="):
            return part[len("interface=") :].replace("\0", ":")
    return None


def isLoopbackEndpoint(endpoint: str) -> bool:
    """Whether the listening endpoint only accepts loopback connections, in
    which case Host must be loopback too (DNS-rebinding guard)."""
    from mcpgateway.runtime.addresses import isLoopbackHost

    if endpoint.startswith("unix:"):
        return True
    interface = endpointInterface(endpoint)
    return interface is not None and isLoopbackHost(interface)
