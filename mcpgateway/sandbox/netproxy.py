# -*- test-case-name: tests.sandbox.test_netproxy -*-
"""The network allow list of a confined child, and the HTTP proxy requests
it judges: pure, free of Twisted (L{mcpgateway.startup.netproxy} runs the
proxy on the reactor).

A profile's C{allowedDomains} (and its launcher's package registries,
L{mcpgateway.sandbox.defaults.network}) name what a child may reach, as
VS Code's C{mcp.json} and Anthropic's sandbox-runtime read them:

 - C{api.example.com}: that host, on ports 443 and 80;
 - C{*.example.com}: every host under C{example.com}, never C{example.com}
   itself (list it too for that);
 - C{api.example.com:8443}: that host on that port only;
 - C{127.0.0.1:8000}, C{[::1]:8000}, C{10.0.0.5}: an address, named
   literally: the only way to reach a loopback, link-local or private
   address, whatever name resolves to it (a child must never reach the
   gateway's own port or another local service through a public name).

C{deniedDomains} take precedence over the allowed ones. A request is
judged twice: its host and port against the rules (L{AllowList.allows}),
then every address its name resolves to (L{AllowList.addressAllowed}).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mcpgateway.sandbox.defaults import DEFAULT_PORTS

MAX_HEAD = 16384
"""The longest request head (request line and headers) the proxy reads."""
HOP_HEADERS = (b"proxy-connection", b"proxy-authorization", b"connection", b"keep-alive")
"""Headers of the hop to the proxy, not forwarded."""
HOST_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyRequestError(ValueError):
    """A request the proxy cannot serve (its answer: 400)."""


@dataclass(frozen=True)
class Rule:
    """One entry of an allow or deny list.

    @ivar host: a host name (lower case, no trailing dot), or an address's
        text for a literal one.
    @ivar wildcard: C{*.host}: the hosts under C{host}, not C{host}.
    @ivar ports: the ports it allows; empty: L{DEFAULT_PORTS}.
    @ivar address: the address of a literal rule.
    """

    host: str
    wildcard: bool = False
    ports: tuple[int, ...] = ()
    address: IPAddress | None = None

    def matches(self, host: str, port: int) -> bool:
        """Whether this rule names C{host} (normalized) on C{port}."""
        if port not in (self.ports or DEFAULT_PORTS):
            return False
        if self.address is not None:
            return addressOf(host) == self.address
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host


def normalHost(host: str) -> str:
    """C{host} as rules compare it: lower case, without brackets or a
    trailing dot; an address in its canonical text.

    @raise ProxyRequestError: not a host name or address.
    """
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    address = addressOf(name)
    if address is not None:
        return str(address)
    name = name.rstrip(".")
    if not name or len(name) > 253 or not set(name) <= HOST_CHARACTERS:
        raise ProxyRequestError(f"{host[:64]!r} is not a host name")
    if any(not label or len(label) > 63 for label in name.split(".")):
        raise ProxyRequestError(f"{host[:64]!r} is not a host name")
    return name


def addressOf(text: str) -> IPAddress | None:
    """The address C{text} is (an IPv4-mapped IPv6 address as IPv4), or C{None}."""
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def splitAuthority(authority: str, defaultPort: int | None = None) -> tuple[str, int]:
    """C{host:port} (C{[v6]:port}) as its host and port.

    @raise ProxyRequestError: no valid port (and no default).
    """
    host, port = authority, None
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ProxyRequestError(f"{authority[:64]!r} is not host:port")
        host, rest = authority[: end + 1], authority[end + 1 :]
        if rest.startswith(":"):
            port = rest[1:]
        elif rest:
            raise ProxyRequestError(f"{authority[:64]!r} is not host:port")
    elif authority.count(":") == 1:
        host, port = authority.split(":")
    elif ":" in authority and addressOf(authority) is not None:
        host = authority  # a bare IPv6 address
    if port is None:
        if defaultPort is None:
            raise ProxyRequestError(f"{authority[:64]!r} names no port")
        return normalHost(host), defaultPort
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ProxyRequestError(f"{authority[:64]!r} names no valid port")
    return normalHost(host), int(port)


def parseRule(entry: str) -> Rule:
    """One C{allowedDomains} or C{deniedDomains} entry.

    @raise ProxyRequestError: not a host, wildcard or address (with its port).
    """
    text = entry.strip()
    wildcard = text.startswith("*.")
    if wildcard:
        text = text[2:]
    literal = addressOf(text)
    if literal is not None:  # a bare address (IPv6 too), no port
        return Rule(str(literal), address=literal)
    if ":" in text:
        host, port = splitAuthority(text)
        ports: tuple[int, ...] = (port,)
    else:
        host, ports = normalHost(text), ()
    address = None if wildcard else addressOf(host)
    return Rule(host, wildcard, ports, address)


def _rules(entries: tuple[str, ...]) -> tuple[Rule, ...]:
    out = []
    for entry in entries:
        try:
            out.append(parseRule(entry))
        except ProxyRequestError:
            continue  # the profile's parser refused worse; a rule that is no host allows nothing
    return tuple(out)


class AllowList:
    """What one child may reach through the proxy."""

    def __init__(self, allowed: tuple[str, ...], denied: tuple[str, ...] = ()) -> None:
        self.entries = allowed
        """The entries as the profile wrote them."""
        self.allowed = _rules(allowed)
        self.denied = _rules(denied)

    def allows(self, host: str, port: int) -> bool:
        """Whether a request for C{host} (normalized, L{normalHost}) on
        C{port} may go out, before its name is resolved."""
        if any(rule.matches(host, port) for rule in self.denied):
            return False
        return any(rule.matches(host, port) for rule in self.allowed)

    def addressAllowed(self, address: IPAddress, port: int) -> bool:
        """Whether the proxy may connect to C{address} on C{port}: a public
        address, or one the allow list names literally."""
        if isPublic(address):
            return True
        return any(
            rule.address == address and rule.matches(str(address), port) for rule in self.allowed
        )


LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
        "::/127", "fe80::/10", "fc00::/7", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
"""This machine, its links and its private networks: the addresses only a
literal rule reaches (whatever a name resolves to: a resolver may answer
with any address, and a machine behind an egress proxy may see public
names at documentation addresses, which stay reachable)."""
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def isPublic(address: IPAddress) -> bool:
    """Whether C{address} is beyond this machine's own networks: not
    loopback, link-local, private, shared (CGNAT), multicast, reserved or
    unspecified (an IPv4 address inside IPv6 judged as itself)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return not any(address in network for network in LOCAL_NETWORKS)


def allowLine(host: str, port: int) -> str:
    """The line of a profile that would allow C{host} on C{port}."""
    shown = f"[{host}]" if ":" in host else host
    entry = shown if port in DEFAULT_PORTS else f"{shown}:{port}"
    return f'add "{entry}" to "sandbox": {{"network": {{"allowedDomains": [...]}}}}'


@dataclass(frozen=True)
class ProxyRequest:
    """A request a child sent its proxy.

    @ivar tunnel: C{CONNECT}: after C{200}, bytes both ways.
    @ivar head: what goes upstream first (a forwarded request's head, in
        origin form); C{b""} for a tunnel.
    """

    host: str
    port: int
    tunnel: bool
    head: bytes = b""


def parseHead(head: bytes) -> ProxyRequest:
    """A request head (through its blank line) as the proxy serves it:
    C{CONNECT host:port}, or a plain HTTP request in absolute form
    (C{GET http://host[:port]/path HTTP/1.1}), whose head is rewritten in
    origin form with C{Connection: close} (one request per connection:
    a second one on it could name another host).

    @raise ProxyRequestError: anything else.
    """
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise ProxyRequestError("the request head is not ASCII") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProxyRequestError("the request line is not METHOD TARGET HTTP/1.x")
    method, target, version = parts
    if not method.isalpha() or not method.isupper():
        raise ProxyRequestError("the request method is not one")
    if method == "CONNECT":
        host, port = splitAuthority(target)
        return ProxyRequest(host, port, True)
    if not target.lower().startswith("http://"):
        raise ProxyRequestError("a proxy request names http://host/...; https goes through CONNECT")
    rest = target[len("http://") :]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, path = rest[:cut], rest[cut:] or "/"
    if "@" in authority or not authority:
        raise ProxyRequestError("the request's URL names no host")
    host, port = splitAuthority(authority, 80)
    if path.startswith("?"):
        path = "/" + path
    headers = [line for line in lines[1:] if line]
    kept = [
        line
        for line in headers
        if line.split(":", 1)[0].strip().lower().encode() not in HOP_HEADERS
    ]
    if not any(line.lower().startswith("host:") for line in kept):
        kept.insert(0, f"Host: {authority}")
    out = [f"{method} {path} {version}", *kept, "Connection: close", "", ""]
    return ProxyRequest(host, port, False, "\r\n".join(out).encode("ascii"))
