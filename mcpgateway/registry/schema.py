# -*- test-case-name: tests.registry.test_schema -*-
"""A registry's answers read into typed, frozen values.

The official registry answers C{{"server": {server.json}, "_meta": {...}}}
(its C{ServerResponse}) for one server, and a list of them under
C{"servers"} for a search. C{server.json} follows the schema of
U{https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json}:
C{packages} (each with C{registryType}, C{identifier}, C{version},
C{transport}, C{runtimeArguments}, C{packageArguments},
C{environmentVariables}) and C{remotes} (C{type}, C{url}, C{headers},
C{variables}).

Every field is checked for its type and its size here, and nothing else:
whether a package can be installed is L{mcpgateway.registry.choose}'s
question. A package or remote that cannot be read is left out and noted in
L{ServerDetail.problems} (the others may still be installed); a server whose
own fields cannot be read is a L{RegistryDataError}. Unknown fields are
ignored, as the schema lets publishers and registries add them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 4096
"""The longest string read from a registry (a description, a value, a URL)."""
MAX_ITEMS = 64
"""The most packages, remotes, arguments, variables or choices of one thing."""
OFFICIAL_META = "io.modelcontextprotocol.registry/official"
"""The key of the registry's own metadata in a C{ServerResponse}'s C{_meta}."""


class RegistryDataError(ValueError):
    """Registry data that does not follow the schema; the message says where."""


@dataclass(frozen=True)
class Input:
    """A value a server needs (the schema's C{Input} and
    C{InputWithVariables}): fixed by the publisher (C{value}, whose
    C{{name}} parts are filled from C{variables}), or given by the person,
    with a C{default}, C{choices} and a C{format}."""

    description: str = ""
    isRequired: bool = False
    isSecret: bool = False
    format: str = "string"
    value: str | None = None
    default: str | None = None
    placeholder: str | None = None
    choices: tuple[str, ...] = ()
    variables: tuple[tuple[str, Input], ...] = ()


@dataclass(frozen=True)
class Argument:
    """A command-line argument: C{positional} (its C{value}, or a value the
    person gives, labelled C{valueHint}) or C{named} (the flag C{name} and its
    value)."""

    type: str
    input: Input
    name: str | None = None
    valueHint: str | None = None
    isRepeated: bool = False


@dataclass(frozen=True)
class KeyValue:
    """An environment variable or an HTTP header: its C{name} and value."""

    name: str
    input: Input


@dataclass(frozen=True)
class Transport:
    """How a package or a remote is spoken to: C{stdio}, C{streamable-http}
    or C{sse}; the two HTTP ones with their C{url} (a template: C{{name}}
    parts come from C{variables}) and C{headers}."""

    type: str
    url: str | None = None
    headers: tuple[KeyValue, ...] = ()
    variables: tuple[tuple[str, Input], ...] = ()


@dataclass(frozen=True)
class Package:
    """One way to run the server locally: a package of C{registryType}
    (C{npm}, C{pypi}, C{oci}, C{nuget}, C{mcpb}, ...)."""

    registryType: str
    identifier: str
    transport: Transport
    version: str | None = None
    registryBaseUrl: str | None = None
    runtimeHint: str | None = None
    runtimeArguments: tuple[Argument, ...] = ()
    packageArguments: tuple[Argument, ...] = ()
    environmentVariables: tuple[KeyValue, ...] = ()


@dataclass(frozen=True)
class ServerDetail:
    """One version of one server, as a registry describes it.

    @ivar problems: a line for each package or remote left out because it
        could not be read.
    @ivar status: the registry's C{active}, C{deprecated} or C{deleted}
        (C{None} when it says nothing).
    """

    name: str
    description: str
    version: str
    title: str | None = None
    websiteUrl: str | None = None
    repositoryUrl: str | None = None
    packages: tuple[Package, ...] = ()
    remotes: tuple[Transport, ...] = ()
    problems: tuple[str, ...] = ()
    status: str | None = None
    statusMessage: str | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        """What it can be installed as: its package types, then C{remote}."""
        found = [p.registryType for p in self.packages]
        if self.remotes:
            found.append("remote")
        return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class ServerSummary:
    """One line of a search: enough to list it and to install it by name."""

    name: str
    description: str
    version: str
    kinds: tuple[str, ...]
    status: str | None = None


# -- reading ---------------------------------------------------------------------------


def _text(data: Mapping[str, Any], key: str, where: str, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise RegistryDataError(f"{where}: '{key}' is missing")
        return None
    if not isinstance(value, str):
        raise RegistryDataError(f"{where}: '{key}' must be a string")
    if len(value) > MAX_TEXT:
        raise RegistryDataError(f"{where}: '{key}' is longer than {MAX_TEXT} characters")
    return value


def _flag(data: Mapping[str, Any], key: str, where: str) -> bool:
    value = data.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RegistryDataError(f"{where}: '{key}' must be true or false")
    return value


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RegistryDataError(f"{where}: '{key}' must be a list")
    if len(value) > MAX_ITEMS:
        raise RegistryDataError(f"{where}: '{key}' has more than {MAX_ITEMS} items")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise RegistryDataError(f"{where} must be an object")
    return value


def readInput(data: Any, where: str, variables: bool = True) -> Input:
    """The schema's C{Input} (with its C{variables} when C{variables})."""
    data = _object(data, where)
    choices = tuple(_list(data, "choices", where))
    if not all(isinstance(c, str) and len(c) <= MAX_TEXT for c in choices):
        raise RegistryDataError(f"{where}: 'choices' must be a list of strings")
    form = _text(data, "format", where) or "string"
    found: list[tuple[str, Input]] = []
    if variables and data.get("variables") is not None:
        given = _object(data["variables"], f"{where}.variables")
        if len(given) > MAX_ITEMS:
            raise RegistryDataError(f"{where}: 'variables' has more than {MAX_ITEMS} items")
        for name, variable in given.items():
            if len(name) > MAX_TEXT:
                raise RegistryDataError(f"{where}: a variable name is too long")
            found.append((name, readInput(variable, f"{where}.variables.{name}", False)))
    return Input(
        description=_text(data, "description", where) or "",
        isRequired=_flag(data, "isRequired", where),
        isSecret=_flag(data, "isSecret", where),
        format=form,
        value=_text(data, "value", where),
        default=_text(data, "default", where),
        placeholder=_text(data, "placeholder", where),
        choices=choices,
        variables=tuple(found),
    )


def readArgument(data: Any, where: str) -> Argument:
    """A C{PositionalArgument} or a C{NamedArgument}."""
    data = _object(data, where)
    kind = _text(data, "type", where, required=True)
    if kind not in ("positional", "named"):
        raise RegistryDataError(f"{where}: 'type' must be 'positional' or 'named'")
    name = _text(data, "name", where, required=kind == "named")
    return Argument(
        type=kind,
        input=readInput(data, where),
        name=name,
        valueHint=_text(data, "valueHint", where),
        isRepeated=_flag(data, "isRepeated", where),
    )


def readKeyValue(data: Any, where: str) -> KeyValue:
    """A C{KeyValueInput}: an environment variable or a header."""
    data = _object(data, where)
    name = _text(data, "name", where, required=True)
    assert name is not None
    return KeyValue(name=name, input=readInput(data, where))


def readTransport(data: Any, where: str) -> Transport:
    """A package's C{transport}, or one of C{remotes}."""
    data = _object(data, where)
    kind = _text(data, "type", where, required=True)
    assert kind is not None
    url = _text(data, "url", where, required=kind != "stdio")
    headers = tuple(
        readKeyValue(h, f"{where}.headers[{i}]")
        for i, h in enumerate(_list(data, "headers", where))
    )
    variables = readInput({"variables": data.get("variables")}, where).variables
    return Transport(type=kind, url=url, headers=headers, variables=variables)


def readPackage(data: Any, where: str) -> Package:
    """One of C{packages}."""
    data = _object(data, where)
    kind = _text(data, "registryType", where, required=True)
    identifier = _text(data, "identifier", where, required=True)
    assert kind is not None and identifier is not None
    transport = data.get("transport")
    return Package(
        registryType=kind,
        identifier=identifier,
        # The schema requires it; older entries of some registries left it out: stdio.
        transport=Transport("stdio")
        if transport is None
        else readTransport(transport, f"{where}.transport"),
        version=_text(data, "version", where),
        registryBaseUrl=_text(data, "registryBaseUrl", where),
        runtimeHint=_text(data, "runtimeHint", where),
        runtimeArguments=tuple(
            readArgument(a, f"{where}.runtimeArguments[{i}]")
            for i, a in enumerate(_list(data, "runtimeArguments", where))
        ),
        packageArguments=tuple(
            readArgument(a, f"{where}.packageArguments[{i}]")
            for i, a in enumerate(_list(data, "packageArguments", where))
        ),
        environmentVariables=tuple(
            readKeyValue(e, f"{where}.environmentVariables[{i}]")
            for i, e in enumerate(_list(data, "environmentVariables", where))
        ),
    )


def _serverOf(document: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The C{server.json} of a C{ServerResponse} and its registry metadata
    (a bare C{server.json}, as some registries answer, has none)."""
    document = _object(document, "the answer")
    server = document.get("server")
    if server is None and "name" in document:
        server = document
    server = _object(server, "'server'")
    meta = document.get("_meta")
    official = meta.get(OFFICIAL_META) if isinstance(meta, dict) else None
    return server, official if isinstance(official, dict) else {}


def _status(official: Mapping[str, Any]) -> tuple[str | None, str | None]:
    status = official.get("status")
    message = official.get("statusMessage")
    return (
        status if isinstance(status, str) and len(status) <= 64 else None,
        message if isinstance(message, str) and len(message) <= MAX_TEXT else None,
    )


def readServer(document: Any) -> ServerDetail:
    """A C{ServerResponse} (or a bare C{server.json}) as a L{ServerDetail}.

    @raise RegistryDataError: its name, description or version cannot be read.
    """
    server, official = _serverOf(document)
    name = _text(server, "name", "the server", required=True)
    assert name is not None
    where = f"server {name[:200]}"
    packages: list[Package] = []
    remotes: list[Transport] = []
    problems: list[str] = []
    for i, item in enumerate(_list(server, "packages", where)):
        try:
            packages.append(readPackage(item, f"packages[{i}]"))
        except RegistryDataError as e:
            problems.append(str(e))
    for i, item in enumerate(_list(server, "remotes", where)):
        try:
            remotes.append(readTransport(item, f"remotes[{i}]"))
        except RegistryDataError as e:
            problems.append(str(e))
    repository = server.get("repository")
    status, message = _status(official)
    return ServerDetail(
        name=name,
        description=_text(server, "description", where) or "",
        version=_text(server, "version", where) or "",
        title=_text(server, "title", where),
        websiteUrl=_text(server, "websiteUrl", where),
        repositoryUrl=_text(repository, "url", where) if isinstance(repository, dict) else None,
        packages=tuple(packages),
        remotes=tuple(remotes),
        problems=tuple(problems),
        status=status,
        statusMessage=message,
    )


def readSummary(document: Any) -> ServerSummary:
    """One item of a search's C{servers}, read leniently: its name, its
    description and version when they are strings, and the kinds of what it
    lists.

    @raise RegistryDataError: it has no name.
    """
    server, official = _serverOf(document)
    name = _text(server, "name", "the server", required=True)
    assert name is not None
    kinds: list[str] = []
    packages = server.get("packages")
    for package in packages[:MAX_ITEMS] if isinstance(packages, list) else []:
        kind = package.get("registryType") if isinstance(package, dict) else None
        if isinstance(kind, str) and len(kind) <= 64:
            kinds.append(kind)
    remotes = server.get("remotes")
    if isinstance(remotes, list) and remotes:
        kinds.append("remote")
    description = server.get("description")
    version = server.get("version")
    return ServerSummary(
        name=name,
        description=description[:MAX_TEXT] if isinstance(description, str) else "",
        version=version[:255] if isinstance(version, str) else "",
        kinds=tuple(dict.fromkeys(kinds)),
        status=_status(official)[0],
    )
