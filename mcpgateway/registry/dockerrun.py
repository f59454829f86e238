# -*- test-case-name: tests.registry.test_dockerrun -*-
"""What a C{docker run} command line gives its container, read as Docker
reads it, and the few things a registry entry may give.

An entry for an OCI image runs C{docker run -i --rm <options> -e NAME ...
<image> <arguments>}; its options come from the registry (and from values
the person typed). L{readDockerRun} reads that argv as the Docker CLI's flag
parser does: long and short forms, C{--opt=value} and C{--opt value},
combined short flags (C{-it}, C{-vVALUE}, C{-v=VALUE}), C{--} and the
first positional argument ending the options; C{-v}/C{--volume} as
C{source:target[:modes]}, C{--mount} as one CSV record (quotes as Go's CSV
reader takes them) of C{key=value} fields. It is an allow list: an option
not in L{OPTIONS} is refused by name (what it would give the container
cannot be judged), and each one there has its value checked.

What is never given: the host's privileges (C{--privileged}, C{--cap-add},
C{--device}, C{--gpus}, C{--security-opt} other than C{no-new-privileges}),
the host's namespaces (C{host} or another container's, for the network,
PIDs, IPC, UTS, users and cgroups), a loader or interpreter variable
(C{-e LD_PRELOAD=...}: L{mcpgateway.config.deniedenv}, C{ENV_BLOCKLIST}),
another variable of the gateway's environment (C{-e NAME} passes only the
entry's own), C{--env-file} and C{--volumes-from} (whose content no one
sees), options that break a child (C{-t}, C{-d}, C{--name}) and published
ports. A host path (a bind mount by C{-v} or C{--mount}, or a C{volume}
whose C{volume-opt device} is one) is a L{HostMount}: the caller passes it
only when the person approved that exact path (L{unapproved}); a relative
one (which depends on the gateway's directory), one with C{..}, C{/}
itself, C{/proc}, C{/sys}, C{/dev}, C{/run} and C{/var/run} (the Docker
socket and its peers) and any C{*.sock} are refused even so. A named volume
is fine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from mcpgateway.config.deniedenv import isDenied
from mcpgateway.config.envfiles import NAME as ENV_NAME
from mcpgateway.config.serversfile import blockedEnvKeys
from mcpgateway.core.environment import isGatewayOwn
from mcpgateway.registry.choose import InstallError
from mcpgateway.registry.display import badCharacter, shown

VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]+")
"""A named volume, as Docker's local driver names one."""
NETWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
"""A network's name; a C{--mount} volume's too (C{-v} reads one letter as a drive)."""
USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,62}")
SIZE = re.compile(r"[0-9]+(\.[0-9]+)?[A-Za-z]{0,2}")
SWAP = re.compile(r"-1|[0-9]+(\.[0-9]+)?[A-Za-z]{0,2}")
INTEGER = re.compile(r"-?[0-9]{1,12}")
PLATFORM = re.compile(r"[a-z0-9_]+(/[a-z0-9_.]+){0,2}")
CAPABILITY = re.compile(r"[A-Za-z_]{1,40}")
SIGNAL = re.compile(r"[A-Za-z0-9+]{1,16}")
GO_BOOLEANS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
"""What Go's C{strconv.ParseBool} (and so a boolean flag) takes."""
VOLUME_MODES = frozenset(
    {"ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "slave", "rslave"}
    | {"consistent", "cached", "delegated"}
)
"""The modes of C{-v SOURCE:TARGET:MODES} accepted (not C{shared}, C{rshared})."""
PROPAGATIONS = frozenset({"private", "rprivate", "slave", "rslave"})
NEVER_MOUNTED = ("/proc", "/sys", "/dev", "/run", "/var/run")
"""Host directories never given, however approved: the kernel's and the
daemons' (the Docker socket is under C{/run})."""


class DockerRefused(InstallError):
    """A C{docker run} option (or value) a registry entry may not give."""


@dataclass(frozen=True)
class HostMount:
    """A path of this machine a container gets: C{path} (absolute,
    normalized), where it appears (C{target}), whether it is read-only, and
    the option that gives it."""

    path: str
    target: str
    readOnly: bool
    option: str

    def describe(self) -> str:
        """C{/srv/data (read-write, at /data in the container)}."""
        access = "read-only" if self.readOnly else "read-write"
        return f"{shown(self.path)} ({access}, at {shown(self.target)} in the container)"


class HostPathNeeded(InstallError):
    """Host paths a container would get that the person has not approved
    (L{mounts}); approving each exact path makes the entry."""

    def __init__(self, mounts: Sequence[HostMount]) -> None:
        self.mounts = tuple(mounts)
        listed = "; ".join(m.describe() for m in self.mounts)
        super().__init__(f"the container would get paths of this machine, not approved: {listed}")


@dataclass(frozen=True)
class DockerRun:
    """A C{docker run} command line as Docker reads it: the C{options} (by
    long name, with their values), the C{image}, the container's
    C{arguments} and the host paths it mounts."""

    options: tuple[tuple[str, str], ...]
    image: str
    arguments: tuple[str, ...]
    mounts: tuple[HostMount, ...]


@dataclass
class _Reading:
    """What a pass over the options found so far; C{passable}: the
    variables C{-e NAME} may pass (the entry's own environment)."""

    passable: Collection[str]
    options: list[tuple[str, str]] = field(default_factory=list)
    mounts: list[HostMount] = field(default_factory=list)


Check = Callable[[_Reading, str, str], None]
"""Checks option C{name}'s C{value} (raising L{DockerRefused}), noting what
it gives in the reading."""


@dataclass(frozen=True)
class Option:
    """One option of C{docker run}: its long C{name}, its one-letter
    C{short} form, whether it takes a value (else it is a boolean), the
    check of its value, or why it is never given (C{refused})."""

    name: str
    short: str = ""
    takesValue: bool = True
    check: Check | None = None
    refused: str | None = None


def refuse(message: str) -> DockerRefused:
    return DockerRefused(f"docker option {message}")


def _pattern(pattern: re.Pattern[str], what: str) -> Check:
    def check(reading: _Reading, name: str, value: str) -> None:
        if not pattern.fullmatch(value):
            raise refuse(f"{name}={shown(value)!r}: not {what}")

    return check


def _choices(*allowed: str) -> Check:
    def check(reading: _Reading, name: str, value: str) -> None:
        if value not in allowed:
            raise refuse(f"{name}={shown(value)!r}: one of {', '.join(allowed)} is accepted")

    return check


def _absolute(reading: _Reading, name: str, value: str) -> None:
    if not value.startswith("/"):
        raise refuse(f"{name}={shown(value)!r}: not an absolute path in the container")


def _anything(reading: _Reading, name: str, value: str) -> None:
    """Any value (control characters are refused for every option)."""


def _env(reading: _Reading, name: str, value: str) -> None:
    key, sep, _ = value.partition("=")
    if not ENV_NAME.fullmatch(key):
        raise refuse(f"{name} {shown(key)!r}: not an environment variable name")
    if blockedEnvKeys({key: ""}) or isDenied(key) or isGatewayOwn(key):
        raise refuse(
            f"{name} {key}: the variable steers a loader, an interpreter or the gateway"
            " (docs/guide/scopes.md lists them)"
        )
    if not sep and key not in reading.passable:
        raise refuse(
            f"{name} {key} would pass the gateway's own {key} into the container; an entry"
            " passes only the variables of its env"
        )


def _namespace(kind: str, *allowed: str) -> Check:
    """The check of a namespace option: never the host's, nor another
    container's; one of C{allowed} (or a network's name for C{network})."""

    def check(reading: _Reading, name: str, value: str) -> None:
        lowered = value.lower()
        if lowered == "host":
            raise refuse(f"{name}={value} shares the host's {kind}")
        if lowered.startswith(("container:", "service:")):
            raise refuse(f"{name}={shown(value)} shares another container's {kind}")
        if kind == "network" and NETWORK_NAME.fullmatch(value):
            return
        if value not in allowed:
            listed = ", ".join(allowed) if allowed else "no value"
            raise refuse(f"{name}={shown(value)!r}: {listed} is accepted")

    return check


def _securityOpt(reading: _Reading, name: str, value: str) -> None:
    accepted = {"no-new-privileges"} | {
        f"no-new-privileges{sep}{b}" for sep in ":=" for b in ("true", "false")
    }
    if value in accepted:
        return
    if "unconfined" in value.lower() or value.lower().replace(":", "=") == "label=disable":
        raise refuse(f"{name}={shown(value)} lifts the container's confinement")
    raise refuse(f"{name}={shown(value)!r}: only no-new-privileges is accepted")


def hostPath(path: str, name: str) -> str:
    """C{path} as an approved mount names it: absolute, its C{.} and empty
    parts dropped.

    @raise DockerRefused: it is relative, has C{..}, or is one never given.
    """
    if not path.startswith("/"):
        raise refuse(
            f"{name}: the host path {shown(path)!r} is relative (it would depend on the"
            " directory the gateway runs in): give an absolute path"
        )
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise refuse(f"{name}: the host path {shown(path)!r} has '..': give it without")
    normal = "/" + "/".join(parts)
    if normal == "/":
        raise refuse(f"{name} mounts the host's root directory")
    if normal.startswith(tuple(f"{d}/" for d in NEVER_MOUNTED)) or normal in NEVER_MOUNTED:
        raise refuse(f"{name} mounts the host's {shown(normal)} (its kernel or daemon sockets)")
    if normal.endswith(".sock"):
        raise refuse(f"{name} mounts the socket {shown(normal)} of a daemon of the host")
    return normal


def _volume(reading: _Reading, name: str, value: str) -> None:
    """C{-v [SOURCE:]TARGET[:MODES]}, as the Docker daemon splits it."""
    parts = value.split(":")
    if len(parts) > 3 or not parts[0]:
        raise refuse(f"{name}={shown(value)!r}: not SOURCE:TARGET[:MODES]")
    if len(parts) == 1:
        _absolute(reading, name, parts[0])  # an anonymous volume
        return
    if len(parts) == 2 and set(parts[1].split(",")) <= VOLUME_MODES:
        raise refuse(f"{name}={shown(value)!r}: a volume with modes needs a source")
    source, target = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 else []
    _absolute(reading, name, target)
    unknown = [mode for mode in modes if mode not in VOLUME_MODES]
    if unknown:
        raise refuse(f"{name}: mode {shown(unknown[0])!r} is not accepted")
    if VOLUME_NAME.fullmatch(source):
        return
    path = hostPath(source, name)
    if "z" in modes or "Z" in modes:
        raise refuse(f"{name}: mode z relabels the host's {shown(path)} for the container")
    reading.mounts.append(HostMount(path, target, "ro" in modes, name))


def csvRecord(value: str) -> list[str]:
    """The first record of C{value} as Go's C{encoding/csv} reads it
    (which is how C{docker run --mount} reads its value): fields split at
    commas; a field starting with C{"} is quoted (C{""} is a quote in it,
    and the quote must end the field); a quote anywhere else is an error.

    @raise ValueError: Go's reader would refuse it.
    """
    fields: list[str] = []
    i = 0
    while True:
        if i < len(value) and value[i] == '"':
            i += 1
            text: list[str] = []
            while True:
                j = value.find('"', i)
                if j < 0:
                    raise ValueError('extraneous or missing " in quoted-field')
                text.append(value[i:j])
                i = j + 1
                if value[i : i + 1] == '"':
                    text.append('"')
                    i += 1
                    continue
                break
            fields.append("".join(text))
            if i == len(value):
                return fields
            if value[i] != ",":
                raise ValueError('extraneous or missing " in quoted-field')
            i += 1
            continue
        j = value.find(",", i)
        piece = value[i:] if j < 0 else value[i:j]
        if '"' in piece:
            raise ValueError('bare " in non-quoted-field')
        fields.append(piece)
        if j < 0:
            return fields
        i = j + 1


MOUNT_FLAGS = frozenset({"readonly", "ro", "volume-nocopy"})
"""C{--mount} fields that may stand without C{=value}."""
MOUNT_KEYS = {
    "type": "type",
    "source": "source",
    "src": "source",
    "target": "target",
    "dst": "target",
    "destination": "target",
    "readonly": "readonly",
    "ro": "readonly",
    "consistency": "consistency",
    "bind-propagation": "bind-propagation",
    "volume-nocopy": "volume-nocopy",
    "volume-label": "volume-label",
    "volume-opt": "volume-opt",
    "volume-subpath": "volume-subpath",
    "tmpfs-size": "tmpfs-size",
    "tmpfs-mode": "tmpfs-mode",
}
"""The C{--mount} keys accepted, each with the one it stands for."""
REPEATABLE = frozenset({"volume-label", "volume-opt"})


def _mount(reading: _Reading, name: str, value: str) -> None:
    """C{--mount type=...,source=...,target=...}: a bind mount or a volume
    with a C{device} option is a host path; a named volume or a tmpfs is not."""
    try:
        record = csvRecord(value)
    except ValueError as e:
        raise refuse(f"{name}={shown(value)!r}: {e}") from None
    fields: dict[str, str] = {}
    volumeOptions: dict[str, str] = {}
    for item in record:
        raw, sep, text = item.partition("=")
        key = MOUNT_KEYS.get(raw.lower())
        if key is None:
            raise refuse(f"{name}: key {shown(raw)!r} is not accepted")
        if not sep:
            if raw.lower() not in MOUNT_FLAGS:
                raise refuse(f"{name}: {shown(item)!r} must be a key=value pair")
            text = "true"
        if key == "volume-opt":
            option, _, optionValue = text.partition("=")
            if option in volumeOptions or option not in ("type", "o", "device"):
                raise refuse(f"{name}: volume-opt {shown(option)!r} is not accepted")
            volumeOptions[option] = optionValue
        elif key in fields and key not in REPEATABLE:
            raise refuse(f"{name}: {key} is given twice (Docker would take the last one)")
        fields[key] = text
    kind = fields.get("type", "volume").lower()
    target = fields.get("target", "")
    _absolute(reading, name, target)
    readOnly = GO_BOOLEANS.get(fields.get("readonly", "false"))
    if readOnly is None:
        raise refuse(f"{name}: readonly={shown(fields['readonly'])!r} is not a boolean")
    propagation = fields.get("bind-propagation", "rprivate").lower()
    if propagation not in PROPAGATIONS:
        raise refuse(f"{name}: bind-propagation={shown(propagation)!r} is not accepted")
    source = fields.get("source", "")
    if kind == "bind":
        path = hostPath(source, name)
        reading.mounts.append(HostMount(path, target, readOnly, name))
    elif kind == "volume":
        if source and not NETWORK_NAME.fullmatch(source):  # one letter is a name here
            raise refuse(f"{name}: source {shown(source)!r} is not a volume's name")
        if volumeOptions:
            device = volumeOptions.get("device", "")
            path = hostPath(device, f"{name} volume-opt device")
            reading.mounts.append(HostMount(path, target, readOnly, name))
    elif kind == "tmpfs":
        if source:
            raise refuse(f"{name}: a tmpfs has no source")
    else:
        raise refuse(f"{name}: type {shown(kind)!r} is not accepted (bind, volume, tmpfs)")


HOST = "gives the container the host's"
OPTIONS = {
    option.name: option
    for option in [
        Option("interactive", "i", False),
        Option("rm", takesValue=False),
        Option("init", takesValue=False),
        Option("read-only", takesValue=False),
        Option("no-healthcheck", takesValue=False),
        Option("quiet", "q", False),
        Option("sig-proxy", takesValue=False),
        Option("env", "e", check=_env),
        Option("volume", "v", check=_volume),
        Option("mount", check=_mount),
        Option("tmpfs", check=lambda r, n, v: _absolute(r, n, v.partition(":")[0])),
        Option("network", check=_namespace("network", "none", "bridge")),
        Option("net", check=_namespace("network", "none", "bridge")),
        Option("pid", check=_namespace("process namespace")),
        Option("ipc", check=_namespace("IPC namespace", "none", "private", "shareable")),
        Option("uts", check=_namespace("UTS namespace")),
        Option("userns", check=_namespace("user namespace")),
        Option("cgroupns", check=_namespace("cgroup namespace", "private")),
        Option("security-opt", check=_securityOpt),
        Option("user", "u", check=_pattern(USER, "a user name or id")),
        Option("workdir", "w", check=_absolute),
        Option("entrypoint", check=_anything),
        Option("hostname", "h", check=_pattern(HOSTNAME, "a host name")),
        Option("label", "l", check=_anything),
        Option("pull", check=_choices("missing", "always", "never")),
        Option("platform", check=_pattern(PLATFORM, "a platform (linux/amd64)")),
        Option("memory", "m", check=_pattern(SIZE, "a size")),
        Option("memory-swap", check=_pattern(SWAP, "a size, or -1")),
        Option("shm-size", check=_pattern(SIZE, "a size")),
        Option("cpus", check=_pattern(SIZE, "a number of CPUs")),
        Option("pids-limit", check=_pattern(INTEGER, "a number")),
        Option("stop-timeout", check=_pattern(INTEGER, "a number of seconds")),
        Option("stop-signal", check=_pattern(SIGNAL, "a signal")),
        Option("cap-drop", check=_pattern(CAPABILITY, "a capability")),
        Option("privileged", takesValue=False, refused=f"{HOST} devices and every capability"),
        Option("cap-add", refused="gives the container capabilities beyond Docker's default"),
        Option("device", refused=f"{HOST} devices"),
        Option("device-cgroup-rule", refused=f"{HOST} devices"),
        Option("gpus", refused=f"{HOST} devices"),
        Option("cgroup-parent", refused="places the container in a cgroup of the host"),
        Option(
            "volumes-from",
            refused="gives the container another container's mounts (host paths no one"
            " approved among them)",
        ),
        Option("volume-driver", refused="mounts its volumes through a plugin of the host"),
        Option(
            "env-file",
            refused="passes variables from a file of this machine that the person does not"
            " see (a loader variable among them)",
        ),
        Option("use-api-socket", takesValue=False, refused="gives the container Docker's API"),
        Option("publish", "p", refused="opens ports of this machine"),
        Option("publish-all", "P", False, refused="opens ports of this machine"),
        Option(
            "name", refused="names the container, so a second child of the server could not start"
        ),
        Option("detach", "d", False, refused="detaches the container from the child's stdio"),
        Option("tty", "t", False, refused="gives the container a terminal, which breaks stdio"),
    ]
}
"""The options of C{docker run} the gateway knows: those accepted (their
values checked) and those refused with the reason."""
SHORT = {option.short: option for option in OPTIONS.values() if option.short}


def _value(reading: _Reading, option: Option, written: str, value: str) -> None:
    """Check option C{option} (as C{written}) given C{value}."""
    if option.refused is not None:
        raise refuse(f"{written} {option.refused}: not given by a registry entry")
    bad = badCharacter(value)
    if bad is not None or "\x00" in value:
        raise refuse(f"{written}: its value holds the character {bad or 'U+0000'}")
    if not option.takesValue:
        if value not in GO_BOOLEANS:
            raise refuse(f"{written}={shown(value)!r}: not true or false")
    elif option.check is not None:
        option.check(reading, written, value)
    reading.options.append((option.name, value))


def _long(reading: _Reading, argument: str, rest: list[str]) -> None:
    """C{--name}, C{--name=value} or C{--name value} (taken from C{rest})."""
    body = argument[2:]
    if body[:1] in ("-", "="):
        raise refuse(f"{shown(argument)!r}: bad flag syntax")
    name, sep, value = body.partition("=")
    option = OPTIONS.get(name)
    if option is None:
        raise refuse(f"--{shown(name)} is not one the gateway knows: refused")
    if not sep:
        if not option.takesValue:
            value = "true"
        elif rest:
            value = rest.pop(0)
        else:
            raise refuse(f"--{name} needs a value")
    _value(reading, option, f"--{name}", value)


def _short(reading: _Reading, argument: str, rest: list[str]) -> None:
    """C{-abc}: one-letter options; one that takes a value takes the rest
    of the item (after an C{=}, if that follows it), else the next item."""
    letters = argument[1:]
    while letters:
        option = SHORT.get(letters[0])
        written = f"-{letters[0]}"
        if option is None:
            raise refuse(f"{shown(written)} is not one the gateway knows: refused")
        if len(letters) > 2 and letters[1] == "=":
            value, letters = letters[2:], ""
        elif not option.takesValue:
            value, letters = "true", letters[1:]
        elif len(letters) > 1:
            value, letters = letters[1:], ""
        elif rest:
            value, letters = rest.pop(0), ""
        else:
            raise refuse(f"{written} needs a value")
        _value(reading, option, written, value)


def readDockerRun(argv: Sequence[str], passable: Collection[str] = ()) -> DockerRun:
    """C{docker} arguments C{argv} (C{run}, its options, the image and the
    container's arguments) as Docker reads them, when every option is one
    a registry entry may give; C{passable}: the variables C{-e NAME} may
    pass on (the entry's own environment).

    @raise DockerRefused: not C{run}, no image, or an option (or a value)
        that is refused; the message names it.
    """
    if not argv or argv[0] != "run":
        raise DockerRefused("a docker entry runs 'docker run'")
    reading = _Reading(passable)
    rest = list(argv[1:])
    while rest:
        argument = rest.pop(0)
        if argument == "--":
            break
        if not argument.startswith("-") or argument == "-":
            rest.insert(0, argument)
            break
        if argument.startswith("--"):
            _long(reading, argument, rest)
        else:
            _short(reading, argument, rest)
    if not rest:
        raise DockerRefused("docker run is given no image")
    return DockerRun(tuple(reading.options), rest[0], tuple(rest[1:]), tuple(reading.mounts))


def unapproved(run: DockerRun, approved: Collection[str]) -> list[HostMount]:
    """The host mounts of C{run} whose exact path is not in C{approved}
    (each approval read as L{hostPath} reads a mount's)."""
    normal: set[str] = set()
    for path in approved:
        try:
            normal.add(hostPath(path, "--allow-host-path"))
        except DockerRefused:
            continue
    return [mount for mount in run.mounts if mount.path not in normal]
