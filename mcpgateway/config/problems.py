# -*- test-case-name: tests.config.test_problems -*-
"""What the config holds that the gateway cannot use: the server entries it
does not serve for what they hold (L{InvalidEntry}), the client files it
does not adopt (L{RefusedFile}), and the keys added to its URL entry of an
adopted server that have no effect (L{IgnoredKeys}), each with the file it
is in and why.

The config service keeps them as of its last load
(L{mcpgateway.config.configservice.ConfigService.problems}); C{/health}
shows them (L{mcpgateway.report.health}), and C{mcpgateway start},
C{status} and C{doctor} name each one, not only the log.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InvalidEntry:
    """A server entry the gateway does not serve: what it holds cannot be
    used (neither C{command} nor C{url}, a value of the wrong type...)."""

    server: str
    """The entry's name."""
    file: str
    """The file it is in (a path, or what stands for one: C{bundled demo})."""
    scope: str
    """Where in that file: C{user scope}, C{local scope of project /p}..."""
    why: str
    """What is wrong with it, in the words the log uses."""


@dataclass(frozen=True)
class RefusedFile:
    """A client's config file the gateway does not adopt (its servers are
    left to the client): unparsable, refused by the client's policy..."""

    file: str
    client: str
    """The client's id (C{cursor}, C{vscode}...)."""
    why: str


@dataclass(frozen=True)
class IgnoredKeys:
    """Keys a user added to the gateway's URL entry of an adopted server in
    a client's file: they have no effect, and are refused with the fix
    (L{mcpgateway.clientconfigs.ignoredkeys})."""

    server: str
    file: str
    keys: tuple[str, ...]
    fix: str
    """What to do instead (C{mcpgateway servers edit ...})."""


@dataclass(frozen=True)
class ConfigProblems:
    """Every invalid entry, refused file and ignored key of the config in use."""

    invalidEntries: tuple[InvalidEntry, ...] = ()
    refusedFiles: tuple[RefusedFile, ...] = ()
    ignoredKeys: tuple[IgnoredKeys, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.invalidEntries or self.refusedFiles or self.ignoredKeys)
