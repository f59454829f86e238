# -*- test-case-name: tests.config.test_problems -*-
"""What the config holds that the gateway cannot use: the server entries it
does not serve for what they hold (L{InvalidEntry}) and the client files it
does not adopt (L{RefusedFile}), each with the file it is in and why.

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
class ConfigProblems:
    """Every invalid entry and refused file of the config in use."""

    invalidEntries: tuple[InvalidEntry, ...] = ()
    refusedFiles: tuple[RefusedFile, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.invalidEntries or self.refusedFiles)
