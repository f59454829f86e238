# -*- test-case-name: tests.config.test_envfiles -*-
"""A child's environment: every layer that sets it, and the C{.env} files among them.

Highest first (the order seed 001 documents, and C{docs/guide/scopes.md}):

 1. the workspace's C{.env} (C{<workspace>/.env}; workspace-scoped children only),
 2. the gateway's C{<state-dir>/.env},
 3. the entry's C{env} (after C{${VAR}} expansion),
 4. the gateway's environment, minus its own settings and secrets
    (L{mcpgateway.core.environment.childEnvironment}).

An entry of a project's own file (a repository's) gets neither layer 2 nor
more of layer 4 than the basics (L{mcpgateway.config.projectenv}).

L{overlay} merges layers 1-3 into the C{env} of a launch spec (the spawner
puts it on top of layer 4, L{mcpgateway.core.spec.ServerSpec.environment});
L{resolveEnvironment} gives the whole environment; L{expansionEnvironment}
is what C{${VAR}} in a workspace's entry expands from (layers 1, 2 and 4).

A C{.env} file is parsed by python-dotenv's parser (its C{dotenv_values}
minus two things: no variable interpolation, so a file cannot copy the
gateway's own secrets or environment into a child, and no warnings through
the standard library's logging). Rules:

 - a missing file is empty; so is one that cannot be read, is not a regular
   file (a FIFO is never opened for a blocking read), is larger than
   L{MAX_BYTES} or is not UTF-8: each of those is one warning, never an error;
 - a workspace's file is read only as a file of the workspace's own
   (L{mcpgateway.config.workspacefile}): one that is a symbolic link (to
   C{~/.aws/credentials}, to another project's C{.env}), has other hard
   links, or lies on the sandbox's deny list is unusable, and empty;
 - a line the parser cannot read, a name that is not a portable variable
   name, or a value with a NUL character is skipped, and the file gets one
   warning that gives line numbers, never a line's text;
 - C{KEY} alone (no C{=}) sets nothing; the last of duplicate keys wins;
 - the gateway's own names (C{MCPGATEWAY_*}, C{LISTEN_*}, C{NOTIFY_SOCKET})
   are never taken from a file; neither, from a workspace's file (which may
   come with a cloned repository), are the variables that make a program
   load other code (L{mcpgateway.config.deniedenv}): the warning names them;
 - a workspace's file gives a server's children only the names its entry
   lists (L{onlyListed}).

No value is ever logged, put in a warning, or shown by C{repr}.

Whether a file changed is cheap to tell: L{refresh} compares the file's
L{FileStamp} (device, inode, size, mtime, ctime: one C{stat}) and reads it again
only when that differs; L{EnvFile.digest} is a hash of the values the file
yields, so an edit of a comment changes the stamp but not the digest, and
only a digest change needs the children that use the file restarted.

Blocking (files): call from the config loading thread, never on the reactor.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from mcpgateway.config.deniedenv import isDenied
from mcpgateway.config.workspacefile import ForeignFile, openWorkspaceFile
from mcpgateway.core.environment import childEnvironment, isGatewayOwn
from mcpgateway.runtime import paths

ENV_FILE = paths.ENV_FILE
"""The name of a workspace's file, and of the gateway's in its state
directory (a name for L{mcpgateway.runtime.paths})."""
MAX_BYTES = 1024 * 1024
"""A bigger C{.env} file is not read (a warning; it counts as empty)."""
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A portable environment variable name."""
MAX_LISTED = 5
"""How many line numbers or names one warning lists."""

Pairs = tuple[tuple[str, str], ...]


def listable(name: str) -> bool:
    """Whether an entry may list the variable C{name} for someone other than
    the user to set (its C{envFrom}, its C{credentialEnv}): a portable name
    that neither steers a loader or an interpreter (L{isDenied}) nor is the
    gateway's own (L{isGatewayOwn}), which L{mcpgateway.config.servers}
    refuses there."""
    return bool(NAME.fullmatch(name)) and not isDenied(name) and not isGatewayOwn(name)


def onlyListed(file: EnvFile, listed: Iterable[str]) -> tuple[EnvFile, tuple[str, ...]]:
    """A workspace's C{file} with only the names in C{listed} (the server's
    entry names them: its C{env} keys, C{credentialEnv}, C{envFrom}), and the
    names it set that were left out. A repository's C{.env} so adds nothing
    to a child that the user's entry does not ask for."""
    wanted = set(listed)
    kept = tuple((name, value) for name, value in file.values if name in wanted)
    if len(kept) == len(file.values):
        return file, ()
    left = tuple(name for name, _ in file.values if name not in wanted)
    return replace(file, values=kept, digest=digestOf(kept)), left


def digestOf(values: Mapping[str, str] | Pairs) -> str:
    """A hash of C{values} (order-free): equal values, equal digest. Kept in
    memory to tell changes apart; never shown (it is a hash of secrets)."""
    pairs = sorted(dict(values).items())
    encoded = json.dumps(pairs, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


EMPTY_DIGEST = digestOf({})


@dataclass(frozen=True)
class FileStamp:
    """What one C{stat} says of a file; a different stamp means it may have changed."""

    device: int
    inode: int
    size: int
    mtimeNs: int
    ctimeNs: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStamp:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True)
class EnvFile:
    """What one C{.env} file yields, and how to tell whether it changed."""

    path: str
    values: Pairs = field(default=(), repr=False)
    """Name and value of every variable it sets, sorted by name."""
    stamp: FileStamp | None = None
    """C{None}: no file (or not one that could be read)."""
    digest: str = field(default=EMPTY_DIGEST, repr=False)
    """L{digestOf} the values."""
    warning: str | None = None
    """What was wrong with it (names and line numbers, never a value)."""
    workspace: bool = False
    """A workspace's file (L{isDenied} applies)."""

    @property
    def names(self) -> tuple[str, ...]:
        """The names it sets (these may be shown)."""
        return tuple(name for name, _ in self.values)

    def asDict(self) -> dict[str, str]:
        return dict(self.values)


@dataclass(frozen=True)
class ParsedEnv:
    """The variables of a C{.env} text, and what was skipped (no values)."""

    values: dict[str, str] = field(repr=False)
    badLines: tuple[int, ...] = ()
    """Lines the parser could not read, or whose name or value is unusable."""
    refused: tuple[str, ...] = ()
    """Names it may not set (the gateway's own; L{isDenied} ones when asked)."""

    def problems(self) -> list[str]:
        """The warnings' parts, in words."""
        out = []
        if self.badLines:
            word = "line" if len(self.badLines) == 1 else "lines"
            out.append(f"skipped {word} {_listed([str(n) for n in self.badLines])}")
        own = [name for name in self.refused if isGatewayOwn(name)]
        steering = [name for name in self.refused if not isGatewayOwn(name)]
        if own:
            out.append(f"ignored {_listed(own)} (the gateway's own)")
        if steering:
            out.append(
                f"ignored {_listed(steering)} (a workspace's .env may not set what"
                " chooses the code a program loads or runs)"
            )
        return out


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def parseEnv(text: str, denyWorkspace: bool = False) -> ParsedEnv:
    """The variables C{text} (the contents of a C{.env} file) sets; see the
    module docstring for what is skipped. Never raises for any text."""
    values: dict[str, str] = {}
    bad: list[int] = []
    refused: list[str] = []
    # Imported on the first .env file read: a gateway whose servers name
    # none never loads python-dotenv (the idle footprint).
    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            bad.append(line)
            continue
        name, value = binding.key, binding.value
        if name is None or value is None:
            continue  # a blank line, a comment, or KEY alone: sets nothing
        if not NAME.fullmatch(name) or "\0" in value:
            bad.append(line)
            continue
        if isGatewayOwn(name) or (denyWorkspace and isDenied(name)):
            if name not in refused:
                refused.append(name)
            continue
        values[name] = value
    return ParsedEnv(values, tuple(sorted(set(bad))), tuple(sorted(refused)))


def readEnvFile(path: str | os.PathLike[str], workspace: bool = False) -> EnvFile:
    """What the C{.env} file at C{path} yields (C{workspace}: it is a
    workspace's, so L{isDenied} applies). Never raises for anything
    the file system or the file holds; see the module docstring."""
    where = os.fspath(path)

    def unused(why: str, stamp: FileStamp | None = None) -> EnvFile:
        return EnvFile(where, stamp=stamp, warning=f"{where}: {why}; not used", workspace=workspace)

    try:
        # A workspace's file (a repository's) is read as a file of its own, never through a link.
        fd = openWorkspaceFile(where) if workspace else os.open(where, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return EnvFile(where, workspace=workspace)
    except ForeignFile as e:
        stamp = None if e.stamp is None else FileStamp.of(e.stamp)
        return unused(f"{e} (a workspace's .env is read only as a file of its own)", stamp)
    except OSError as e:
        return unused(f"cannot be read ({_reason(e)})", stampOf(where, follow=not workspace))
    except (ValueError, UnicodeError):  # a NUL in the path, a lone surrogate
        return EnvFile(where, warning=f"{where!r}: not a file name; not used", workspace=workspace)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return unused("not a regular file")
        if st.st_size > MAX_BYTES:
            return unused(f"larger than {MAX_BYTES} bytes", FileStamp.of(st))
        chunks = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        return unused(f"cannot be read ({_reason(e)})")
    finally:
        os.close(fd)
    data = b"".join(chunks)
    stamp = FileStamp.of(st)
    if len(data) > MAX_BYTES:
        return unused(f"larger than {MAX_BYTES} bytes", stamp)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return unused(f"not UTF-8 (at byte {e.start})", stamp)
    parsed = parseEnv(text, denyWorkspace=workspace)
    values = tuple(sorted(parsed.values.items()))
    problems = parsed.problems()
    return EnvFile(
        where,
        values,
        stamp,
        digestOf(values),
        f"{where}: {'; '.join(problems)}" if problems else None,
        workspace,
    )


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def readWorkspaceEnv(workspace: str | os.PathLike[str]) -> EnvFile:
    """The C{.env} of the workspace directory C{workspace}."""
    return readEnvFile(Path(workspace) / ENV_FILE, workspace=True)


def readGatewayEnv(stateDir: str | os.PathLike[str]) -> EnvFile:
    """The gateway's own C{<state-dir>/.env}."""
    return readEnvFile(Path(stateDir) / ENV_FILE)


def stampOf(path: str | os.PathLike[str], follow: bool = True) -> FileStamp | None:
    """The file's L{FileStamp} now (C{None}: there is none, or no regular
    file). C{follow=False} (a workspace's file): a symbolic link's own
    stamp, never its target's, which is not read."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError, UnicodeError):
        return None
    kept = stat.S_ISREG(st.st_mode) or (not follow and stat.S_ISLNK(st.st_mode))
    return FileStamp.of(st) if kept else None


def refresh(previous: EnvFile) -> EnvFile:
    """C{previous} itself when its file's stamp is unchanged (one C{stat}),
    else the file read again (by the same rules). Compare the
    L{EnvFile.digest}s to know whether the values changed (then the children
    using it need a restart: L{changed})."""
    now = stampOf(previous.path, follow=not previous.workspace)
    if now == previous.stamp and (now is not None or previous.warning is None):
        return previous  # the same file, or still none
    return readEnvFile(previous.path, workspace=previous.workspace)


def changed(previous: EnvFile, current: EnvFile) -> bool:
    """Whether C{current} yields other values than C{previous}."""
    return previous.digest != current.digest


def overlay(
    entryEnv: Iterable[tuple[str, str]] | Mapping[str, str],
    gatewayFile: EnvFile | None = None,
    workspaceFile: EnvFile | None = None,
) -> Pairs:
    """Layers 1-3 merged (sorted by name): the C{env} a launch spec carries,
    which the spawner puts over the gateway's environment."""
    merged = dict(entryEnv.items() if isinstance(entryEnv, Mapping) else entryEnv)
    for layer in (gatewayFile, workspaceFile):
        if layer is not None:
            merged.update(layer.values)
    return tuple(sorted(merged.items()))


def resolveEnvironment(
    base: Mapping[str, str],
    entryEnv: Iterable[tuple[str, str]] | Mapping[str, str],
    gatewayFile: EnvFile | None = None,
    workspaceFile: EnvFile | None = None,
) -> dict[str, str]:
    """The whole environment of a child: C{base} (the gateway's, whose own
    variables are removed here too) under L{overlay}."""
    environment = childEnvironment(base)
    environment.update(overlay(entryEnv, gatewayFile, workspaceFile))
    return environment


def expansionEnvironment(
    base: Mapping[str, str],
    gatewayFile: EnvFile | None = None,
    workspaceFile: EnvFile | None = None,
) -> dict[str, str]:
    """What C{${VAR}} in an entry served for a workspace expands from: the
    gateway's environment under the gateway's and the workspace's C{.env}
    (a token kept in a workspace's C{.env} fills C{"${TOKEN}"} in its entry)."""
    environment = dict(base)
    for layer in (gatewayFile, workspaceFile):
        if layer is not None:
            environment.update(layer.values)
    return environment
