# -*- test-case-name: tests.registry.test_entries,tests.registry.test_properties -*-
"""A chosen package or remote as a gateway config entry, and the values it
asks the person for.

L{promptsOf} lists what the person may (or must) give: an environment
variable's value, an argument's, a header's, a C{{variable}} of a value or
a URL. L{buildEntry} turns the choice and the values given into the entry
C{servers.json} keeps:

 - npm: C{{"command": "npx", "args": ["-y", "<identifier>@<version>", ...]}};
 - pypi: C{{"command": "uvx", "args": ["<identifier>@<version>", ...]}} (the
   exact-version form C{uvx} documents, and the gateway's C{uvx} resolver
   reads);
 - oci: C{{"command": "docker", "args": ["run", "-i", "--rm", <options>,
   "-e", "NAME", ..., "<image>:<tag>", ...]}}, each variable passed by name
   (its value in the entry's C{env}, never on the command line);
 - a remote: C{{"type": "http" | "sse", "url": ..., "headers": {...}}};

each with the package's environment variables in C{env}. A value is the
publisher's fixed C{value} (its C{{name}} parts filled from its
C{variables}), else the person's, else the C{default}; a required one with
none is L{MissingValue}. A secret value (C{isSecret}, or a value with a
secret part) is not written: the entry holds C{${keyring:<server>.<key>}}
and the value is handed back in L{Built.secrets} for the secret store.

The entry is an argv list, run without a shell. What the registry gives is
checked as outside input: no control or format character, no C{$E{lb}}
reference (the gateway expands those from its own environment), an
environment variable name that steers no loader or interpreter, a header
name HTTP allows, option names that look like options, and a C{docker run}
command line read as Docker reads it, with only the options a registry entry
may give (L{mcpgateway.registry.dockerrun}): a path of this machine it
mounts is in the entry only when the person approved that exact path
(C{hostPaths} of L{buildEntry}; else L{HostPathNeeded}).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcpgateway.config.deniedenv import isDenied
from mcpgateway.config.envfiles import NAME as ENV_NAME
from mcpgateway.config.serversfile import blockedEnvKeys
from mcpgateway.core.environment import isGatewayOwn
from mcpgateway.registry.choose import (
    REMOTE_TYPES,
    RUNNERS,
    Choice,
    InstallError,
    packageSpec,
)
from mcpgateway.registry.display import badCharacter as badCharacter
from mcpgateway.registry.display import commandLineShown
from mcpgateway.registry.display import shown as shown
from mcpgateway.registry.dockerrun import DockerRun, readDockerRun, unapproved
from mcpgateway.registry.dockerrun import HostMount as HostMount
from mcpgateway.registry.dockerrun import HostPathNeeded as HostPathNeeded
from mcpgateway.registry.schema import Argument, Input, KeyValue

LOCAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A gateway server name (C{mcpgateway.config.servers.NAME_PATTERN})."""
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
OPTION_NAME = re.compile(r"--?[A-Za-z0-9][A-Za-z0-9_.:-]*")
TEMPLATE = re.compile(r"\{([^{}]{1,128})\}")
SECRET_NAME = re.compile(r"[^A-Za-z0-9_.-]")
DOCKER_RUN = ("run", "-i", "--rm")


def secretReference(name: str) -> str:
    """The value an entry holds for secret C{name}."""
    return f"${{keyring:{name}}}"


@dataclass(frozen=True)
class Prompt:
    """A value the person may give (C{required}: must, when there is no
    default). C{env}: an environment variable (C{--env NAME=VALUE}); else an
    argument, header or variable (C{--set KEY=VALUE})."""

    key: str
    env: bool
    description: str = ""
    required: bool = False
    secret: bool = False
    default: str | None = None
    choices: tuple[str, ...] = ()
    format: str = "string"
    placeholder: str | None = None


class MissingValue(InstallError):
    """A required value the person did not give (L{prompt} says which)."""

    def __init__(self, prompt: Prompt) -> None:
        option = "--env" if prompt.env else "--set"
        super().__init__(f"{prompt.key} needs a value ({option} {prompt.key}=VALUE)")
        self.prompt = prompt


@dataclass(frozen=True)
class Built:
    """A gateway entry for server C{name}, and the secret values it refers
    to (C{(secret name, value)}), which must be stored before it is added."""

    name: str
    entry: dict[str, Any]
    secrets: tuple[tuple[str, str], ...] = ()
    mounts: tuple[HostMount, ...] = ()
    """The paths of this machine its container gets (each one approved)."""

    @property
    def remote(self) -> bool:
        return "url" in self.entry


def defaultName(registryName: str) -> str:
    """The gateway name a registry server gets unless told another: the
    part after its namespace (C{io.github.acme/weather} is C{weather}), made
    of the letters a gateway name allows."""
    tail = registryName.rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", tail).strip("-._")[:64].strip("-._")
    return name if LOCAL_NAME.fullmatch(name) else "server"


@dataclass
class _Walk:
    """One pass over a choice: collecting its prompts (C{values} C{None}),
    or building its entry from C{values}."""

    choice: Choice
    server: str
    values: Mapping[str, str] | None = None
    envValues: Mapping[str, str] | None = None
    prompts: dict[tuple[bool, str], Prompt] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    run: DockerRun | None = None
    """An image's C{docker run} as Docker reads it."""

    # -- values ---------------------------------------------------------------------

    def registryText(self, text: str, where: str) -> str:
        """C{text} from the registry, checked."""
        bad = badCharacter(text)
        if bad is not None:
            raise InstallError(f"{where} from the registry holds the character {bad}")
        if "${" in text:
            raise InstallError(
                f"{where} from the registry holds '${{', which the gateway would expand"
                " from its own environment"
            )
        return text

    def givenText(self, text: str, prompt: Prompt) -> str:
        """C{text} the person gave for C{prompt}, checked against its
        C{choices} and C{format} (a boolean as C{true}/C{false})."""
        if "\x00" in text:
            raise InstallError(f"the value of {prompt.key} holds a NUL character")
        if prompt.choices and text not in prompt.choices:
            raise InstallError(
                f"{prompt.key} must be one of {', '.join(prompt.choices)}, not {text!r}"
            )
        if prompt.format == "boolean":
            if text.lower() not in ("true", "false"):
                raise InstallError(f"{prompt.key} must be true or false, not {text!r}")
            return text.lower()
        if prompt.format == "number":
            try:
                float(text)
            except ValueError:
                raise InstallError(f"{prompt.key} must be a number, not {text!r}") from None
        if prompt.format == "filepath":
            return os.path.expanduser(text)
        return text

    def ask(self, key: str, env: bool, item: Input, required: bool) -> Prompt:
        """The prompt for C{key}, recorded once (a key asked twice, such as a
        variable used in two values, is one prompt)."""
        prompt = Prompt(
            key=key,
            env=env,
            description=item.description,
            required=required,
            secret=item.isSecret,
            default=item.default,
            choices=item.choices,
            format=item.format,
            placeholder=item.placeholder,
        )
        known = self.prompts.get((env, key))
        if known is not None:
            prompt = Prompt(
                key=key,
                env=env,
                description=known.description or prompt.description,
                required=known.required or prompt.required,
                secret=known.secret or prompt.secret,
                default=known.default if known.default is not None else prompt.default,
                choices=known.choices or prompt.choices,
                format=known.format if known.format != "string" else prompt.format,
                placeholder=known.placeholder or prompt.placeholder,
            )
        self.prompts[(env, key)] = prompt
        return prompt

    def resolve(
        self, key: str, env: bool, item: Input, where: str, required: bool | None = None
    ) -> tuple[str | None, bool]:
        """The value of C{item} (fixed, given, or its default) and whether
        it is secret (an empty value never is); C{None} when it has none and
        is not required.

        @raise MissingValue: it is required and has none (building only).
        """
        if item.value is not None:
            text = self.registryText(item.value, where)
            value, secret = self.fill(text, item.variables, where, item.isSecret)
            return value, secret and bool(value)
        prompt = self.ask(key, env, item, item.isRequired if required is None else required)
        given = (self.envValues if env else self.values) or {}
        if key in given and (given[key] or not prompt.secret):  # an empty secret is none
            return self.givenText(given[key], prompt), item.isSecret
        if item.default is not None:
            default = self.registryText(item.default, f"the default of {where}")
            return default, item.isSecret and bool(default)
        if prompt.required and self.values is not None:
            raise MissingValue(prompt)
        return None, False

    def fill(
        self, template: str, variables: tuple[tuple[str, Input], ...], where: str, secret: bool
    ) -> tuple[str | None, bool]:
        """C{template} with its C{{name}} parts replaced by the values of
        C{variables} (a part that names no variable stays as it is)."""
        known = dict(variables)
        parts: list[str] = []
        end = 0
        for match in TEMPLATE.finditer(template):
            variable = known.get(match.group(1))
            if variable is None:
                continue
            value, isSecret = self.resolve(
                match.group(1),
                False,
                variable,
                f"variable {match.group(1)} of {where}",
                required=variable.default is None,
            )
            if value is None:
                return None, False
            parts += [template[end : match.start()], value]
            secret = secret or isSecret
            end = match.end()
        parts.append(template[end:])
        return "".join(parts), secret

    def store(self, key: str, value: str) -> str:
        """Keep C{value} as the secret of C{key}; its reference."""
        name = SECRET_NAME.sub("_", f"{self.server}.{key}")[:128]
        self.secrets[name] = value
        return secretReference(name)

    # -- the parts of an entry ----------------------------------------------------------

    def environment(self, variables: tuple[KeyValue, ...]) -> dict[str, str]:
        """The package's environment variables that have a value."""
        env: dict[str, str] = {}
        for variable in variables:
            name = self.registryText(variable.name, "an environment variable's name")
            if not ENV_NAME.fullmatch(name):
                raise InstallError(f"{name!r} is not an environment variable name")
            if blockedEnvKeys({name: ""}) or isDenied(name) or isGatewayOwn(name):
                raise InstallError(
                    f"its environment variable {name} steers a loader, an interpreter or the"
                    " gateway: not installed from a registry (docs/guide/scopes.md lists them)"
                )
            value, secret = self.resolve(name, True, variable.input, f"variable {name}")
            if value is None:
                continue
            env[name] = self.store(name, value) if secret else value
        return env

    def arguments(self, given: tuple[Argument, ...], docker: bool = False) -> list[str]:
        """The argv items of C{given}: runtime options of C{docker} (each
        C{--name=value}, one item, so that no value is read as the image),
        or a package's arguments."""
        argv: list[str] = []
        for i, argument in enumerate(given):
            where = f"argument {argument.name or argument.valueHint or i + 1}"
            if argument.type == "positional":
                if docker:
                    raise InstallError("a positional docker option would be read as the image")
                key = argument.valueHint or f"arg{i + 1}"
                value, secret = self.resolve(key, False, argument.input, where)
                if value is not None:
                    argv.append(self.store(key, value) if secret else value)
                continue
            name = self.registryText(argument.name or "", "an option's name")
            if not OPTION_NAME.fullmatch(name):
                raise InstallError(f"option name {name!r} is not an option")
            key = name.lstrip("-")
            value, secret = self.resolve(key, False, argument.input, where)
            if value is None:
                continue
            if docker:
                if secret:
                    raise InstallError(f"docker option {name} holds a secret on a command line")
                argv.append(f"{name}={value}")
            elif secret:
                argv += [name, self.store(key, value)]
            elif name.startswith("--"):
                argv.append(f"{name}={value}")
            else:
                argv += [name, value]
        return argv

    def headers(self, given: tuple[KeyValue, ...]) -> dict[str, str]:
        """A remote's headers that have a value."""
        headers: dict[str, str] = {}
        for header in given:
            name = self.registryText(header.name, "a header's name")
            if not HEADER_NAME.fullmatch(name):
                raise InstallError(f"{name!r} is not an HTTP header name")
            value, secret = self.resolve(name, False, header.input, f"header {name}")
            if value is None:
                continue
            if not (value.isascii() and value.isprintable()):
                raise InstallError(f"the value of header {name} must be printable ASCII")
            headers[name] = self.store(name, value) if secret else value
        return headers

    # -- the entry ---------------------------------------------------------------------

    def entry(self) -> dict[str, Any]:
        """The entry of the choice (collecting: every prompt is recorded)."""
        choice = self.choice
        if choice.remote is not None:
            remote = choice.remote
            url, secret = self.fill(
                self.registryText(remote.url or "", "the remote's URL"),
                remote.variables,
                "the remote's URL",
                False,
            )
            headers = self.headers(remote.headers)
            if self.values is None:
                return {}
            if url is None or secret:
                raise InstallError(
                    "the remote's URL needs a secret value: the gateway keeps secrets in"
                    " environment variables, headers and arguments only"
                )
            entry: dict[str, Any] = {"type": REMOTE_TYPES[remote.type], "url": checkUrl(url)}
            if headers:
                entry["headers"] = headers
            return entry
        package = choice.package
        assert package is not None
        spec = packageSpec(package)
        env = self.environment(package.environmentVariables)
        kind = package.registryType
        if kind == "oci":
            options = self.arguments(package.runtimeArguments, docker=True)
            passed = [item for name in env for item in ("-e", name)]
            args = [*DOCKER_RUN, *options, *passed, spec]
        else:
            args = (["-y"] if kind == "npm" else []) + [spec]
        given = self.arguments(package.packageArguments)
        args += given
        if kind == "oci":
            self.run = readDockerRun(args, passable=env)
            if self.run.image != spec or list(self.run.arguments) != given:
                raise InstallError(
                    f"its docker options would make {shown(self.run.image)!r} the image"
                )
        entry = {"command": RUNNERS[kind], "args": args}
        if env:
            entry["env"] = env
        return entry


def checkUrl(url: str) -> str:
    """C{url}, when it is an http(s) URL with a host and nothing a header
    line or a shell would trip on."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        raise InstallError(f"the remote's URL {url!r} is not a URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InstallError(f"the remote's URL {url!r} is not an http(s) URL")
    if not (url.isascii() and url.isprintable()) or " " in url:
        raise InstallError(f"the remote's URL {url!r} must be printable ASCII without spaces")
    return url


def promptsOf(choice: Choice) -> list[Prompt]:
    """The values an install of C{choice} may ask for, in the order they
    appear (environment variables, arguments, headers, variables).

    @raise InstallError: what the registry gives cannot be installed.
    """
    walk = _Walk(choice, "")
    walk.entry()
    return list(walk.prompts.values())


def buildEntry(
    choice: Choice,
    name: str,
    values: Mapping[str, str] | None = None,
    envValues: Mapping[str, str] | None = None,
    hostPaths: Collection[str] = (),
) -> Built:
    """The gateway entry of C{choice} for server C{name}, with C{values}
    (by L{Prompt.key}: arguments, headers, variables) and C{envValues}
    (environment variables) given by the person, and the paths of this
    machine the person approved for an image's container (C{hostPaths}).

    @raise MissingValue: a required value was not given and has no default.
    @raise HostPathNeeded: the container would mount a host path not in
        C{hostPaths} (the error lists each one: the person approves exactly
        those, or nothing is added).
    @raise InstallError: what the registry gives cannot be installed.
    """
    if not LOCAL_NAME.fullmatch(name):
        raise InstallError(f"name {name!r}: 1-64 letters, digits, '-', '_' or '.'")
    walk = _Walk(choice, name, dict(values or {}), dict(envValues or {}))
    entry = walk.entry()
    mounts = walk.run.mounts if walk.run is not None else ()
    needed = unapproved(walk.run, hostPaths) if walk.run is not None else []
    if needed:
        raise HostPathNeeded(needed)
    return Built(name, entry, tuple(walk.secrets.items()), mounts)


def commandLine(entry: Mapping[str, Any], limit: int | None = None) -> str:
    """What an entry runs, as a person reads it: the command line quoted
    as a shell would need it (it is never run by one), its whitespace made
    visible and cut at C{limit} characters with what is left out
    (L{mcpgateway.registry.display.commandLineShown}), or the remote's type
    and URL; control characters shown escaped."""
    if "url" in entry:
        return shown(f"{entry.get('type', 'http')} {entry['url']}")
    return commandLineShown(argvOf(entry), limit)


def argvOf(entry: Mapping[str, Any]) -> list[str]:
    """The command and arguments of a stdio entry."""
    return [str(entry.get("command", "")), *[str(a) for a in entry.get("args", [])]]


def describeEntry(built: Built) -> list[str]:
    """The lines a person confirms: what runs (or what is called), each
    environment variable and header with its value (a secret's reference),
    and each path of this machine its container gets."""
    entry = built.entry
    lines = [f"{'calls' if built.remote else 'runs'}: {commandLine(entry)}"]
    for title, key in (("env", "env"), ("header", "headers")):
        for name, value in (entry.get(key) or {}).items():
            lines.append(f"{title}: {shown(name)}={shown(value)}")
    for mount in built.mounts:
        lines.append(f"host path: {mount.describe()}")
    for secret, _ in built.secrets:
        lines.append(f"secret: {shown(secret)} (kept in the secret store, not in servers.json)")
    return lines
