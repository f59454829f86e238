# -*- test-case-name: tests.config.test_origins -*-
"""Where a project's entry comes from: the user's own config, or a file of the project.

The user's own config is what the user writes: the user scope of a client,
the local scope of a project in C{~/.claude.json} (C{claude mcp add} in
that project), the gateway's C{servers.json} and its C{--config} file. A
project's own files come with its repository: a C{.mcp.json} (whose
approved servers the gateway serves through their shadows in
C{~/.claude.json}), C{.cursor/mcp.json}, C{.vscode/mcp.json} and the other
clients' project files. An entry of those is a L{ProjectEntry} with an
C{origin} (the file); L{mcpgateway.config.scopes} gives its launch spec an
L{EntryOrigin} with the entry's L{entryDigest}, and the secret resolver
(L{mcpgateway.secrets.resolve}) resolves its secret references only where
the user approved exactly that entry.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from mcpgateway.config.servers import LoadedConfig

DIGEST_PREFIX = "sha256:"

Origins = Mapping[tuple[str, str], str]
"""The project's file of each entry that comes from one, by C{(workspace,
name)} as a served document has them (the key of C{projects}, the server's
name)."""


def entryDigest(entry: Mapping[str, Any]) -> str:
    """The digest of an entry as the gateway serves it (its keys sorted,
    compact JSON): equal for equal entries, different when anything in it
    changes (its command, an argument, a reference)."""
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return DIGEST_PREFIX + hashlib.sha256(text.encode("ascii")).hexdigest()


def withOrigins(loaded: LoadedConfig, origins: Origins) -> LoadedConfig:
    """C{loaded} with the project's file of each of its project entries
    that C{origins} names (the others keep theirs, if any)."""
    if not origins:
        return loaded
    projects = [
        replace(project, origin=origins.get((project.workspace, project.name), project.origin))
        for project in loaded.projects
    ]
    return replace(loaded, projects=projects)
