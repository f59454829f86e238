# -*- test-case-name: tests.core.test_environment,tests.core.test_environment_logged -*-
"""The environment a child gets: the gateway's own, minus what is the gateway's.

A stdio server inherits the gateway's environment (so C{PATH}, C{HOME},
proxies and the user's tokens reach it as they would from a client), except:

 - C{MCPGATEWAY_*}: the gateway's own settings and secrets (the management
   API token among them);
 - C{NOTIFY_SOCKET} and C{LISTEN_*}: a service manager's handles meant for
   the gateway (a child that used them would speak for the gateway, or
   take its sockets).

A server's C{env} entries are added on top of this (see
L{mcpgateway.core.spec.ServerSpec.environment}). A project's own entry (a
repository's C{.mcp.json}...) inherits less: only what a program needs to
run (L{basicEnvironment}: C{PATH}, C{HOME}, the locale...), never the
user's tokens exported where the gateway started. Of those, the variables
that send a child's connections elsewhere or pick the credentials it
authenticates with (proxies, Kerberos, SASL: L{isRedirecting}) are named
in the log when a child gets them (L{redirecting}): an entry (or a
workspace's C{.env} it lists them from) may set them, and an operator
sees that it did. Their values are never logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

GATEWAY_PREFIX = "MCPGATEWAY_"
SERVICE_MANAGER_NAMES = frozenset({"NOTIFY_SOCKET"})
SERVICE_MANAGER_PREFIX = "LISTEN_"
REDIRECTING_NAMES = frozenset(
    {
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "KRB5_CONFIG",
        "KRB5CCNAME",
        "SASL_PATH",
    }
)
"""Variables (in any case: C{https_proxy} is curl's) that send a child's
connections through a proxy, or choose its Kerberos configuration and
ticket cache, or where SASL loads its mechanisms from."""


def isGatewayOwn(name: str) -> bool:
    """Whether C{name} is a variable a child must not inherit."""
    return (
        name.startswith((GATEWAY_PREFIX, SERVICE_MANAGER_PREFIX)) or name in SERVICE_MANAGER_NAMES
    )


def childEnvironment(environ: Mapping[str, str]) -> dict[str, str]:
    """C{environ} without the variables that belong to the gateway."""
    return {name: value for name, value in environ.items() if not isGatewayOwn(name)}


def isRedirecting(name: str) -> bool:
    """Whether C{name} is one of L{REDIRECTING_NAMES}, in any case."""
    return name.upper() in REDIRECTING_NAMES


def redirecting(env: Iterable[tuple[str, str]]) -> list[str]:
    """The names of C{env} (a spec's own variables) that L{isRedirecting}
    says redirect a child, sorted, each once; never a value."""
    return sorted({name for name, _ in env if isRedirecting(name)})


BASIC_NAMES = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "USERNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TERM",
        "COLORTERM",
        "NO_COLOR",
        "TZ",
        "TMPDIR",
        "TMP",
        "TEMP",
        # Which certificate authorities a TLS client trusts (paths, no secret):
        # behind an intercepting proxy no install nor request works without.
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NODE_EXTRA_CA_CERTS",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        # What a program needs to run on Windows.
        "SYSTEMROOT",
        "SYSTEMDRIVE",
        "WINDIR",
        "COMSPEC",
        "PATHEXT",
        "USERPROFILE",
        "APPDATA",
        "LOCALAPPDATA",
        "PROGRAMDATA",
        "PROGRAMFILES",
        "PROGRAMFILES(X86)",
        "COMMONPROGRAMFILES",
        "NUMBER_OF_PROCESSORS",
        "PROCESSOR_ARCHITECTURE",
        "OS",
    }
)
"""The variables of the gateway's environment a project's own entry's child
inherits (L{basicEnvironment}): where programs, the home, temporary files
and the user's folders are, who the user is, the language, the terminal,
the time zone and which certificate authorities TLS trusts. None of them
holds a secret; each is what a program needs to run at all."""
BASIC_PREFIXES = ("LC_", "XDG_")
"""Families of L{BASIC_NAMES}: the locale's categories, the XDG folders."""


def isBasic(name: str) -> bool:
    """Whether C{name} is one of L{BASIC_NAMES} (in any case: Windows reads
    names in any case) or of their families (L{BASIC_PREFIXES})."""
    upper = name.upper()
    return upper in BASIC_NAMES or upper.startswith(BASIC_PREFIXES)


def basicEnvironment(environ: Mapping[str, str]) -> dict[str, str]:
    """What a child of a project's own entry (a repository's C{.mcp.json},
    C{.cursor/mcp.json}...) inherits of C{environ}: its L{isBasic} variables
    only, never one of the gateway's own. The user's tokens, keys and
    settings exported where the gateway started are the user's, not the
    repository's."""
    return {
        name: value for name, value in environ.items() if isBasic(name) and not isGatewayOwn(name)
    }


def withheld(environ: Mapping[str, str]) -> list[str]:
    """The names of C{environ} that L{basicEnvironment} leaves out (sorted;
    the gateway's own are no child's anyway, and not named)."""
    return sorted(name for name in environ if not isBasic(name) and not isGatewayOwn(name))
