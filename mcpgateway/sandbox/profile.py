# -*- test-case-name: tests.sandbox.test_profile -*-
"""A server entry's C{"sandbox"}: what its children may do besides the
defaults (L{mcpgateway.sandbox.defaults}), parsed into a L{SandboxProfile}.

The key takes:

 - C{false}: the server's children are not confined (a warning on a team
   gateway);
 - C{true}: the default profile, whatever the gateway's C{--sandbox};
 - C{"learn"}: confined but permissive (the home read-only, every public
   host through the proxy, no system-call filter) while what it uses is
   recorded, for C{mcpgateway sandbox suggest} (L{mcpgateway.sandbox.learnrun});
 - an object in the shape VS Code's C{mcp.json} and Anthropic's
   sandbox-runtime use: C{{"filesystem": {"allowRead", "allowWrite",
   "denyRead", "denyWrite"}, "network": {"allowedDomains",
   "deniedDomains"}}}, plus the gateway's own C{"network": "host"} or
   C{"none"}, C{"limits": {"processes", "openFiles", "memoryMb"}} and
   C{"syscalls": "unfiltered"} (no system-call filter,
   L{mcpgateway.sandbox.seccomp}: for a server that needs one of the calls
   it refuses).

VS Code's C{"sandboxEnabled": true} on the entry (adopted from its
C{mcp.json}) means the same as C{"sandbox": true}, or, with a
C{"sandbox"} object, that object. Unknown keys are refused: a misspelled
C{denyRead} must not pass for no rule at all. Pure: no files are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNSET = "unset"
"""The entry says nothing: the gateway's C{--sandbox} decides."""
ON = "on"
OFF = "off"
LEARN = "learn"

NETWORK_NONE = "none"
"""No network: a namespace of its own with only a loopback nobody listens on."""
NETWORK_HOST = "host"
"""The host's network, loopback and the gateway's own port included."""
NETWORK_ALLOW = "allow"
"""Only the allowed domains (enforced by a proxy that does not exist yet:
until then the child shares the host network, and the gateway says so)."""
NETWORK_WORDS = (NETWORK_NONE, NETWORK_HOST)

FILESYSTEM_KEYS = ("allowRead", "allowWrite", "denyRead", "denyWrite")
NETWORK_KEYS = ("allowedDomains", "deniedDomains")
SANDBOX_RESOURCE_KEYS = {"processes": 65536, "openFiles": 1048576, "memoryMb": 1048576}
"""Each limit and the largest value it takes."""
SYSCALLS_FILTERED = "filtered"
SYSCALLS_UNFILTERED = "unfiltered"
SYSCALLS_WORDS = (SYSCALLS_FILTERED, SYSCALLS_UNFILTERED)
"""The words of C{"syscalls"} (L{mcpgateway.sandbox.seccomp}'s deny list, or none)."""
PROFILE_KEYS = ("filesystem", "network", "limits", "syscalls")
MAX_ENTRIES = 256
"""The most paths or domains one list may hold."""
MAX_PATH = 4096


class SandboxError(ValueError):
    """An entry's C{"sandbox"} (or C{"sandboxEnabled"}) cannot be used; the
    message says why, naming the key."""


@dataclass(frozen=True)
class FilesystemRules:
    """Paths as the entry writes them (C{~/x}, C{/x}, C{./x} or C{x}: under
    the server's working directory); L{mcpgateway.sandbox.layout} makes
    them real paths."""

    allowRead: tuple[str, ...] = ()
    allowWrite: tuple[str, ...] = ()
    denyRead: tuple[str, ...] = ()
    denyWrite: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkRules:
    """What a child may reach. C{mode} C{None}: the entry does not say (no
    network, unless its launcher needs a package registry:
    L{mcpgateway.sandbox.defaults.network})."""

    mode: str | None = None
    allowedDomains: tuple[str, ...] = ()
    deniedDomains: tuple[str, ...] = ()


@dataclass(frozen=True)
class SandboxResources:
    """Resource limits (C{None}: the default of L{mcpgateway.sandbox.defaults})."""

    processes: int | None = None
    """Processes and threads the child may add to its user's."""
    openFiles: int | None = None
    memoryMb: int | None = None
    """Its data segment (C{RLIMIT_DATA}), in MiB."""


@dataclass(frozen=True)
class SandboxProfile:
    """One server's sandbox, as its entry says."""

    setting: str = UNSET
    """L{UNSET}, L{ON}, L{OFF} or L{LEARN}."""
    filesystem: FilesystemRules = field(default_factory=FilesystemRules)
    network: NetworkRules = field(default_factory=NetworkRules)
    limits: SandboxResources = field(default_factory=SandboxResources)
    syscalls: str = SYSCALLS_FILTERED
    """L{SYSCALLS_FILTERED} (the deny list) or L{SYSCALLS_UNFILTERED}."""

    @property
    def filtersSyscalls(self) -> bool:
        """Whether its children get the system-call filter: unless the
        entry says C{"syscalls": "unfiltered"}, or it learns (C{"learn"}
        traces the server, which the filter's C{ptrace} rule refuses)."""
        return self.syscalls == SYSCALLS_FILTERED and self.setting != LEARN

    def confined(self, gatewayDefault: str) -> bool:
        """Whether its children are confined when the gateway runs with
        C{--sandbox gatewayDefault} (C{auto} or C{off}): an entry that asks
        for a sandbox gets one either way, one that says C{false} never."""
        if self.setting == OFF:
            return False
        return self.setting in (ON, LEARN) or gatewayDefault == "auto"

    def toJson(self) -> dict[str, Any]:
        """The profile as a JSON object (what C{mcpgateway sandbox show}
        prints and the launcher is handed)."""
        return {
            "setting": self.setting,
            "filesystem": {key: list(getattr(self.filesystem, key)) for key in FILESYSTEM_KEYS},
            "network": {
                "mode": self.network.mode,
                "allowedDomains": list(self.network.allowedDomains),
                "deniedDomains": list(self.network.deniedDomains),
            },
            "limits": {key: getattr(self.limits, key) for key in SANDBOX_RESOURCE_KEYS},
            "syscalls": self.syscalls,
        }


DEFAULT = SandboxProfile()
"""The profile of an entry that says nothing."""


def parseSandbox(entry: Mapping[str, Any]) -> SandboxProfile:
    """The profile of a server entry (its C{"sandbox"} and
    C{"sandboxEnabled"}).

    @raise SandboxError: a value the gateway cannot use, naming the key.
    """
    enabled = entry.get("sandboxEnabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise SandboxError("'sandboxEnabled' must be true or false")
    if "sandbox" not in entry:
        return SandboxProfile(ON) if enabled else DEFAULT
    value = entry["sandbox"]
    if value is False:
        if enabled:
            raise SandboxError("'sandbox': false and 'sandboxEnabled': true disagree")
        return SandboxProfile(OFF)
    if value is True:
        return SandboxProfile(ON)
    if value == LEARN:
        return SandboxProfile(LEARN)
    if not isinstance(value, dict):
        raise SandboxError(
            "'sandbox' must be true, false, \"learn\" or an object with filesystem, network,"
            " limits and syscalls"
        )
    _known(value, PROFILE_KEYS, "sandbox")
    # VS Code's "sandboxEnabled": false keeps the object but does not ask for it.
    return SandboxProfile(
        UNSET if enabled is False else ON,
        _filesystem(value.get("filesystem", {})),
        _network(value.get("network")),
        _resources(value.get("limits", {})),
        _syscalls(value.get("syscalls", SYSCALLS_FILTERED)),
    )


def _known(value: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(key) for key in value if key not in keys)
    if unknown:
        raise SandboxError(
            f"'{where}' has {', '.join(repr(k[:64]) for k in unknown[:4])}: it takes"
            f" {', '.join(keys)}"
        )


def _filesystem(value: Any) -> FilesystemRules:
    if not isinstance(value, dict):
        raise SandboxError("'sandbox.filesystem' must be an object")
    _known(value, FILESYSTEM_KEYS, "sandbox.filesystem")
    lists = {key: _strings(value.get(key, []), f"sandbox.filesystem.{key}") for key in value}
    for key, paths in lists.items():
        for path in paths:
            if len(path) > MAX_PATH or "\0" in path:
                raise SandboxError(f"'sandbox.filesystem.{key}' holds a path that is not one")
    return FilesystemRules(**lists)


def _network(value: Any) -> NetworkRules:
    if value is None:
        return NetworkRules()
    if isinstance(value, str):
        if value not in NETWORK_WORDS:
            raise SandboxError(
                '\'sandbox.network\' must be "none", "host" or an object with allowedDomains'
            )
        return NetworkRules(value)
    if not isinstance(value, dict):
        raise SandboxError('\'sandbox.network\' must be "none", "host" or an object')
    _known(value, NETWORK_KEYS, "sandbox.network")
    allowed = _strings(value.get("allowedDomains", []), "sandbox.network.allowedDomains")
    denied = _strings(value.get("deniedDomains", []), "sandbox.network.deniedDomains")
    for domain in (*allowed, *denied):
        if len(domain) > 253 or any(c.isspace() or c in "/@" for c in domain):
            raise SandboxError(f"'sandbox.network' names {domain[:64]!r}, which is not a domain")
    if "*" in allowed:
        return NetworkRules(NETWORK_HOST, allowed, denied)
    return NetworkRules(NETWORK_ALLOW if allowed else NETWORK_NONE, allowed, denied)


def _resources(value: Any) -> SandboxResources:
    if not isinstance(value, dict):
        raise SandboxError("'sandbox.limits' must be an object")
    _known(value, tuple(SANDBOX_RESOURCE_KEYS), "sandbox.limits")
    for key, number in value.items():
        top = SANDBOX_RESOURCE_KEYS[key]
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= top:
            raise SandboxError(f"'sandbox.limits.{key}' must be a whole number from 1 to {top}")
    return SandboxResources(**value)


def _syscalls(value: Any) -> str:
    if value not in SYSCALLS_WORDS:
        raise SandboxError(
            '\'sandbox.syscalls\' must be "filtered" (the default) or "unfiltered" (no'
            " system-call filter)"
        )
    return str(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SandboxError(f"'{where}' must be a list of non-empty strings")
    unique = tuple(dict.fromkeys(value))
    if len(unique) > MAX_ENTRIES:
        raise SandboxError(f"'{where}' holds more than {MAX_ENTRIES} entries")
    return unique
