# -*- test-case-name: tests.config.test_scopes -*-
"""The routes of every server, and which of them share a child.

L{buildScopes} turns a loaded config (the user's servers, and the raw entries
of projects) into the specs the gateway serves. A server name may be defined
by the user and by any number of projects, each with its own meaning; it gets
one pool, and in it one L{Variant} per route:

 - the user's (or gateway file's) entry is the route C{""}
   (C{/<server>/mcp}); its child's C{env} is the entry's under the
   gateway's C{<state-dir>/.env};
 - a project's entry is the route of its workspace (C{/<server>~<key>/mcp},
   the key from L{WorkspaceKeys}). Its C{${VAR}} are expanded from the
   gateway's environment under the gateway's and the workspace's C{.env}
   (L{expansionEnvironment}). Unless its scope is C{global}, its child runs
   in the workspace (or the entry's C{cwd}, relative to it) with the
   workspace's C{.env} on top (L{overlay});
 - an entry of a project's own file (a repository's) gets none of the
   user's environment: not the gateway's C{.env}, its C{${VAR}} expanded
   from the basics of the gateway's environment and its workspace's C{.env}
   only, any other C{${NAME}} read as the secret reference C{${env:NAME}}
   (L{mcpgateway.config.projectenv}); L{Scoped.notes} say what it is not
   given;
 - a project's entry that is the user's entry (the same spec once expanded
   from the gateway's environment, as adoption compares them, its request
   timeout aside) gets no child
   of its own: its clients are pointed at C{/<server>/mcp}, and its
   workspace route is still served, by the user's launch and child key (the
   same child), so a URL written before the user's entry was known, or
   before one appeared, keeps working (L{mcpgateway.core.pools.pool.childPerLaunch}:
   routes that all share the user's child are served by one shared child).

An entry of a project's own file (a repository's, L{ProjectEntry.origin})
gets an L{EntryOrigin} on its launch: its secret references resolve only
once the user approves that very entry (L{mcpgateway.config.origins}).
Its C{"sandbox"} may only narrow the default profile: what it asks beyond
(L{mcpgateway.sandbox.narrowing.widenings}: C{false}, C{allowWrite},
C{"network": "host"}...) is taken out of its launch, with a warning naming
the server, the file and each widening, until the user approves that very
entry too (L{mcpgateway.config.sandboxapprovals}).

Each variant has a C{childKey}, a keyed hash of what its child is (command,
args, env, cwd, sandbox): variants with equal keys share one child. So two
projects whose entries come out the same share a child, and two whose
C{.env} hold different tokens do not. A server without project routes has no
variants (the plain global or per-session pool); one whose project routes
are all the user's entry needs no more than that pool (one child). The scope
of each entry is decided by L{mcpgateway.config.classification.resolve}
(default C{global} for the user's, C{workspace} for a project's); the
server's pool takes the narrowest of its entries' scopes (a C{session} entry
makes the whole server per session; beside the user's entry, a repository's
own entry counts for a child per workspace at most, L{_poolShare}), and its
limits and timeouts from the user's entry (else the first project's), its
request timeout the longest of the entries its child serves
(L{longerTimeout}: each client waits as long as its own entry says; a
C{requestTimeout} of C{classification.json} is the operator's, and wins). A
server without a user's entry has no route C{""}: its spec's own C{command},
C{env} and C{cwd} are those of its first route by key (for C{/health} and
the npx/uvx resolution), and say nothing of the server as a whole: a reload
compares its routes, each by its own launch
(L{mcpgateway.core.gateway.gateway}), so a change of one workspace's
C{.env}, or of which route sorts first, touches no other route.

Blocking (C{realpath}, the workspace C{.env} files): call it where the config
is loaded, never on the reactor. Pure otherwise: what went wrong is in
L{Scoped.warnings}.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mcpgateway.config import classification
from mcpgateway.config.classification import Overrides, Promoted
from mcpgateway.config.envfiles import (
    EnvFile,
    expansionEnvironment,
    onlyListed,
    overlay,
    readWorkspaceEnv,
)
from mcpgateway.config.origins import entryDigest
from mcpgateway.config.pathwidening import outsideWorkspace, wordsOutside
from mcpgateway.config.projectenv import (
    asReferences,
    defaulted,
    expansion,
    unexpandable,
    withheldNote,
)
from mcpgateway.config.sandboxapprovals import SandboxApproval, approveCommand
from mcpgateway.config.servers import (
    EntryError,
    LoadedConfig,
    ProjectEntry,
    parseEntry,
    which,
)
from mcpgateway.config.workspacecode import (
    SAFE_PATH,
    interpreterVersion,
    pythonModule,
    shadowingModule,
)
from mcpgateway.config.workspaces import WorkspaceKeys
from mcpgateway.core.spec import SHARES, EntryOrigin, ServerSpec, Sharing, Variant
from mcpgateway.sandbox.narrowing import describe, narrowed, widenings
from mcpgateway.sandbox.profile import DEFAULT as DEFAULT_SANDBOX

CHILD = "child"
"""The domain of child keys (L{WorkspaceKeys.digest})."""
UNSCOPED = ("global",)
"""Scopes whose children are not tied to a workspace (no cwd, no workspace C{.env})."""


@dataclass
class Scoped:
    """What L{buildScopes} made."""

    specs: dict[str, ServerSpec] = field(default_factory=dict)
    envFiles: dict[str, EnvFile] = field(default_factory=dict)
    """Every C{.env} the specs depend on, by path (to watch for changes)."""
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the log says once, not a problem: what a project's own entry's
    children are not given of the user's environment (names only)."""


def childKey(keys: WorkspaceKeys, launch: ServerSpec) -> str:
    """The key of the child C{launch} starts: equal for equal command, args,
    env, cwd and sandbox (a route whose entry's C{"sandbox"} changed gets
    a new child, confined anew; the default profile adds nothing to the
    key). A project's own entry with secret references (its
    C{origin}) never shares a child with an entry of the user's: each is
    started with its own references, resolved or refused."""
    parts: list[object] = [
        launch.command,
        list(launch.args),
        [list(pair) for pair in launch.env],
        launch.cwd,
    ]
    if launch.origin is not None and launch.references:
        parts.append([launch.origin.workspace, launch.origin.digest])
    if launch.sandbox != DEFAULT_SANDBOX:
        parts.append({"sandbox": launch.sandbox.toJson()})
    if launch.confinedTo is not None:
        parts.append({"confinedTo": launch.confinedTo})
    material = json.dumps(parts, ensure_ascii=True, separators=(",", ":"))
    return keys.digest(CHILD, material.encode("ascii"))


def buildScopes(
    loaded: LoadedConfig,
    overrides: Overrides,
    keys: WorkspaceKeys | None,
    gatewayEnv: EnvFile,
    environ: Mapping[str, str],
    readWorkspace: Callable[[str], EnvFile] = readWorkspaceEnv,
    *,
    promotions: Mapping[str, Promoted] | None = None,
    sandboxApprovals: Sequence[SandboxApproval] = (),
) -> Scoped:
    """The served specs of C{loaded} (see the module docstring).

    @param keys: the state directory's keys; C{None} (its key file is
        unusable): the projects' entries are not served, one warning.
    @param gatewayEnv: the gateway's C{<state-dir>/.env}.
    @param environ: the gateway's environment (C{${VAR}} expansion, C{PATH}).
    @param readWorkspace: reads a workspace directory's C{.env}.
    @param promotions: the promoted servers (C{promotions.json}).
    @param sandboxApprovals: the project entries whose wider sandbox the
        user approved (C{sandbox-approvals.json}).
    """
    promotions = promotions or {}
    out = Scoped()
    _watch(out, gatewayEnv)
    users: dict[str, ServerSpec] = {}
    for name, raw in loaded.servers.items():
        spec = classification.resolve(raw, overrides.servers.get(name), promotions.get(name))
        users[name] = _launch(spec, overlay(spec.env, gatewayEnv), spec.cwd, environ)
    routes: dict[str, dict[str, Variant]] = {}
    if loaded.projects and keys is None:
        out.warnings.append(
            f"not serving {len(loaded.projects)} project entr"
            f"{'y' if len(loaded.projects) == 1 else 'ies'}: there are no workspace keys"
        )
    elif keys is not None:
        context = _Context(
            overrides, promotions, keys, gatewayEnv, environ, readWorkspace, out, sandboxApprovals
        )
        labels: dict[tuple[str, str], str] = {}
        for project in sorted(loaded.projects, key=lambda p: (p.name, p.workspace)):
            variant = context.variant(
                project, loaded.servers.get(project.name), users.get(project.name)
            )
            if variant is None:
                continue
            byKey = routes.setdefault(project.name, {})
            first = byKey.get(variant.key)
            if first is not None:
                if first.childKey != variant.childKey:
                    out.warnings.append(
                        f"server '{project.name}' ({project.label}) is the same workspace"
                        f" as {labels[project.name, variant.key]} (one directory, two"
                        " paths) with another definition; serving the first"
                    )
                else:  # the same server: the longest timeout serves both
                    byKey[variant.key] = replace(
                        first, launch=longerTimeout(first.launch, variant.launch)
                    )
                continue
            byKey[variant.key] = variant
            labels[project.name, variant.key] = project.label
    for name in [*users, *sorted(set(routes) - set(users))]:
        own = routes.get(name, {})
        user = users.get(name)
        if not own:
            assert user is not None
            out.specs[name] = user
            continue
        variants = [own[key] for key in sorted(own)]
        if user is not None:
            assert keys is not None
            variants.insert(0, Variant("", user, childKey(keys, user)))
        base = user if user is not None else variants[0].launch
        for other in variants:
            if other.childKey == variants[0].childKey:
                base = longerTimeout(base, other.launch)
        share = _poolShare(name, user, variants, out)
        out.specs[name] = replace(base, mode=share, variants=tuple(variants))
    return out


def _poolShare(name: str, user: ServerSpec | None, variants: list[Variant], out: Scoped) -> str:
    """How the pool of server C{name} shares its children: the narrowest
    scope of its entries. Beside the user's entry of that name, an entry of
    a repository's own file (its launch's C{origin}) counts for a child per
    workspace at most: a repository does not make the user's server a child
    per session or per credential (every session of it would lose what
    its child holds), and a warning says what was not followed."""

    def said(variant: Variant) -> int:
        asked = SHARES.index(variant.launch.mode)
        if user is None or variant.launch.origin is None:
            return asked
        return min(asked, SHARES.index(Sharing.WORKSPACE.value))

    share = SHARES[max(said(v) for v in variants)]
    for variant in variants:
        origin = variant.launch.origin
        if origin is not None and SHARES.index(variant.launch.mode) > SHARES.index(share):
            out.warnings.append(
                f'server \'{name}\' of {origin.path}: its "share": "{variant.launch.mode}"'
                f" is not followed: your own entry of that name shares its children ({share}),"
                " and a repository's entry does not change how your server is shared"
            )
    return share


def _watch(out: Scoped, envFile: EnvFile) -> None:
    out.envFiles[envFile.path] = envFile
    if envFile.warning is not None:
        out.warnings.append(envFile.warning)


@dataclass
class _Context:
    """What every project entry is resolved with."""

    overrides: Overrides
    promotions: Mapping[str, Promoted]
    keys: WorkspaceKeys
    gatewayEnv: EnvFile
    environ: Mapping[str, str]
    readWorkspace: Callable[[str], EnvFile]
    out: Scoped
    sandboxApprovals: Sequence[SandboxApproval] = ()
    workspaceFiles: dict[str, EnvFile] = field(default_factory=dict)

    def variant(
        self, project: ProjectEntry, user: ServerSpec | None, launched: ServerSpec | None
    ) -> Variant | None:
        """The route of C{project}; C{None} when it cannot have one (a
        warning). A project's entry that is the user's entry C{user} is
        served at its workspace route by the user's launch (C{launched}) and
        child key: one child for both routes."""
        name = project.name
        try:
            key = self.keys.key(project.workspace)
        except ValueError as e:
            self.out.warnings.append(f"server '{name}' ({project.label}): {e}; skipped")
            return None
        same = None if user is None else _asUser(project, user, self.environ)
        if same is not None and launched is not None:
            override = self.overrides.servers.get(name)
            if override is None or override.requestTimeout is None:  # else the operator's
                launched = longerTimeout(launched, same)
            return Variant(key, launched, childKey(self.keys, launched))
        workspace = self.keys.pathOf(key) or project.workspace
        wsFile = self.workspaceFiles.get(workspace)
        if wsFile is None:
            wsFile = self.workspaceFiles[workspace] = self.readWorkspace(workspace)
            _watch(self.out, wsFile)
        # Your own entry takes of the workspace's .env only what it leaves to it.
        given = wsFile if project.origin is not None else self.yours(project, wsFile)
        expanded = self.expanded(project, given)
        if expanded is None:
            return None
        parsed, asked = expanded
        spec = classification.resolve(
            parsed, self.overrides.servers.get(name), self.promotions.get(name), "workspace"
        )
        scoped = spec.mode not in UNSCOPED
        cwd = parsed.cwd
        if cwd is not None:
            cwd = os.path.join(workspace, cwd)  # an absolute cwd stays as it is
        elif scoped:
            cwd = workspace
        listed = (
            *(name for name, _ in parsed.env),
            *parsed.credentialEnv,
            *parsed.envFrom,
            *_referenced(project.entry),
        )
        _, left = onlyListed(wsFile, listed)
        passed, _ = onlyListed(given, listed)
        if scoped and left:
            self.out.warnings.append(
                f"{wsFile.path}: sets {', '.join(left)}, which server '{name}' does not list"
                ' (its "env", "credentialEnv" or "envFrom"); not passed to its children'
            )
        # The gateway's .env holds the user's own servers' credentials: a
        # project's own entry (a repository's) does not get it.
        gatewayFile = self.gatewayEnv if project.origin is None else None
        safePath: dict[str, str] = {}
        if gatewayFile is not None and cwd is not None:
            gatewayFile, safePath = self.ownCode(project, spec, cwd, gatewayFile, listed)
        env = overlay(parsed.env, gatewayFile, passed if scoped else None)
        if safePath:
            env = tuple(sorted({**dict(env), **safePath}.items()))
        launch = _launch(spec, env, cwd, self.environ, lookAgain=True)
        if (
            project.origin is None
            and given.values
            and self.chosenOutside(project, given, launch, workspace)
        ):
            return None
        if project.origin is not None:
            origin = EntryOrigin(project.origin, workspace, entryDigest(project.entry))
            launch = self.narrowedSandbox(replace(launch, origin=origin), origin)
            self.noteWithheld(project, launch, wsFile, asked)
        return Variant(key, launch, childKey(self.keys, launch))

    def ownCode(
        self,
        project: ProjectEntry,
        spec: ServerSpec,
        cwd: str,
        gatewayFile: EnvFile,
        listed: Sequence[str],
    ) -> tuple[EnvFile, dict[str, str]]:
        """Of the gateway's C{.env}, what your own entry C{project} gets
        when it runs in C{cwd}, and what its child is given to keep that
        folder off its import path (L{mcpgateway.config.workspacecode}): a
        C{python -m NAME} child gets C{PYTHONSAFEPATH=1} (unless its entry
        sets it), and all of the file when its interpreter is known to heed
        it; else, or when its entry unset it and the folder ships NAME
        (L{shadowingModule}), it may run the project's code, and gets only
        the names its entry lists, with a warning."""
        if pythonModule(spec.command, spec.args) is None:
            return gatewayFile, {}
        own = dict(spec.env)
        safePath = {} if SAFE_PATH in own else {SAFE_PATH: "1"}
        safe = bool(own.get(SAFE_PATH, "1"))
        shadow = shadowingModule(spec.command, spec.args, cwd)
        interpreter = spec.executable or shutil.which(spec.command, path=self.environ.get("PATH"))
        version = interpreterVersion(interpreter)
        if safe and version is not None and version >= (3, 11):
            return gatewayFile, safePath
        if shadow is None and not safe:
            return gatewayFile, safePath  # your entry's choice: the folder ships no NAME
        if shadow is not None:
            why = f"runs {shadow}, code of the project it runs in, not an installed package"
        else:
            why = (
                f"runs in the project's folder, which {interpreter or spec.command} may put first"
                " on its import path (PYTHONSAFEPATH keeps it off from Python 3.11 on): a"
                " module the project ships may run in its place"
            )
        given, left = onlyListed(gatewayFile, listed)
        withheld = f"; not given: {', '.join(left)}" if left else ""
        self.out.warnings.append(
            f"server '{project.name}' ({project.label}): its python -m {why}: of"
            f' {gatewayFile.path} it gets only the names its entry lists (its "env",'
            f' "${{NAME}}" and "envFrom"){withheld}'
        )
        return given, safePath

    def chosenOutside(
        self, project: ProjectEntry, given: EnvFile, launch: ServerSpec, workspace: str
    ) -> bool:
        """Whether a value the workspace's C{.env} gave your own entry
        C{project} (C{given}: what it takes of that file, L{yours}) makes
        its C{command}, C{args}, C{cwd} or a variable name a path outside
        the workspace (L{wordsOutside}). The file may be a cloned
        repository's, which must not choose what your server is shown or
        writes: that route of the server is not served then, with a warning
        naming the key and the path (never a value) and how to choose it."""
        names = set(given.names)
        entry = project.entry if isinstance(project.entry, dict) else {}

        def filled(raw: object) -> bool:
            return bool(_referenced(raw) & names)

        words: list[tuple[str, str]] = []
        rawArgs = entry.get("args")
        rawArgs = rawArgs if isinstance(rawArgs, list) else []
        if filled(rawArgs):
            whole = len(rawArgs) != len(launch.args)  # not one for one: judge them all
            words += [
                (f"args[{index}]", arg)
                for index, arg in enumerate(launch.args)
                if whole or filled(rawArgs[index])
            ]
        if filled(entry.get("command")):
            words.append(("command", launch.command))
        if filled(entry.get("cwd")) and launch.cwd is not None:
            words.append(("cwd", launch.cwd))
        rawEnv = entry.get("env")
        rawEnv = rawEnv if isinstance(rawEnv, dict) else {}
        words += [(f"env.{k}", v) for k, v in launch.env if k in names or filled(rawEnv.get(k))]
        home = self.environ.get("HOME") or os.path.expanduser("~")
        outside = wordsOutside(words, workspace, home)
        if not outside:
            return False
        shown = ", ".join(widening.describe() for widening in outside)
        self.out.warnings.append(
            f"server '{project.name}' ({project.label}): {given.path} makes its {shown}, outside"
            f" the workspace {workspace}: a project's file may not choose what your"
            " server is shown; not served from this workspace (set the variable in your"
            f" environment or {self.gatewayEnv.path} to choose it yourself)"
        )
        return True

    def yours(self, project: ProjectEntry, wsFile: EnvFile) -> EnvFile:
        """Of a workspace's C{wsFile}, what your own entry C{project} (a
        local scope of C{~/.claude.json}) takes: the names it leaves to the
        file (its C{envFrom} and C{credentialEnv}, a C{${NAME}} that neither
        the gateway's environment nor its C{.env} sets). A name it sets
        itself, or that you set, keeps your value: the file may be a cloned
        repository's, which must not move your server's data folder or
        swap your token for its own. A warning names the names not taken
        (never their values)."""
        entry = project.entry if isinstance(project.entry, dict) else {}
        delegated = {
            name
            for key in ("envFrom", "credentialEnv")
            for name in entry.get(key) or ()
            if isinstance(name, str)
        }
        given = entry.get("env")
        env: dict[str, Any] = given if isinstance(given, dict) else {}
        own = {name for name, value in env.items() if not _referenced(value)}  # a value of its own
        set_ = own | set(self.environ) | {name for name, _ in self.gatewayEnv.values}
        delegated |= {name for name in _referenced(entry) if name not in set_}
        taken, kept = onlyListed(wsFile, delegated)
        mine = sorted(name for name in kept if name in set(env) | _referenced(entry))
        if mine:
            self.out.warnings.append(
                f"{wsFile.path}: sets {', '.join(mine)}, which server '{project.name}'"
                f" ({project.label}) or your environment sets already: yours are kept (list"
                " a name in the entry's \"envFrom\" to take the file's)"
            )
        return taken

    def expanded(
        self, project: ProjectEntry, wsFile: EnvFile
    ) -> tuple[ServerSpec, tuple[str, ...]] | None:
        """The entry of C{project} parsed, its C{${VAR}} expanded, and the
        names of its C{${NAME}} read as C{${env:NAME}}; C{None} when it
        cannot be served (a warning). The user's own entry expands from the
        gateway's environment under both C{.env} files; a project's own
        (a repository's) from the basics of that environment under its
        workspace's C{.env} only (L{mcpgateway.config.projectenv})."""
        name, entry = project.name, project.entry
        scope = "project" if project.label.startswith("project") else "local"
        asked: tuple[str, ...] = ()
        if project.origin is None:
            environ = expansionEnvironment(self.environ, self.gatewayEnv, wsFile)
        else:
            blocked = unexpandable(entry, wsFile.names)
            if blocked:
                self.out.warnings.append(
                    f"server '{name}' ({project.label}): its command or cwd names"
                    f" {', '.join(f'${{{n}}}' for n in blocked)}, a variable of yours, which a"
                    " project's own file may not use there; skipped"
                )
                return None
            entry, asked = asReferences(entry, wsFile.names)
            environ = expansion(self.environ, wsFile.values)
        try:
            return parseEntry(name, entry, environ, scope), asked
        except EntryError as e:
            self.out.warnings.append(f"server '{name}' ({project.label}): {e}; skipped")
            return None

    def noteWithheld(
        self, project: ProjectEntry, launch: ServerSpec, wsFile: EnvFile, asked: tuple[str, ...]
    ) -> None:
        """Note what the children of C{launch} (a project's own entry) are
        not given of the user's environment (names only; logged once)."""
        assert project.origin is not None
        given = {name for name, _ in launch.env}
        userNames = {*self.environ, *self.gatewayEnv.names}
        note = withheldNote(
            launch.name,
            project.origin,
            self.environ,
            (self.gatewayEnv.path, self.gatewayEnv.names),
            given,
            asked,
            defaulted(project.entry, wsFile.names, userNames),
        )
        if note is not None:
            self.out.notes.append(note)

    def narrowedSandbox(self, launch: ServerSpec, origin: EntryOrigin) -> ServerSpec:
        """C{launch} of a project's own entry (its C{origin}), unless the
        user approved this very entry: its sandbox narrowed to the default
        (with the entry's narrowing keys), and its child shown nothing its
        entry names outside its workspace (C{confinedTo}, which the
        sandbox's one path rule holds). A warning names the server, the
        file, each widening (each path outside its workspace) and the
        command that approves it."""
        if any(
            approval.covers(launch.name, origin.workspace, origin.digest)
            for approval in self.sandboxApprovals
        ):
            return launch
        home = self.environ.get("HOME") or os.path.expanduser("~")
        for outside in outsideWorkspace(
            launch.args, launch.env, launch.cwd, origin.workspace, home
        ):
            self.out.warnings.append(
                f"server '{launch.name}' ({origin.path}): its {outside.key} names"
                f" {outside.path}, outside its workspace {origin.workspace}: not shown to its"
                " children (a project's own file gets the default view and its own workspace)"
                f" until you approve this entry: {approveCommand(launch.name, origin.workspace)}"
            )
        launch = replace(launch, confinedTo=origin.workspace)
        profile = launch.sandbox
        wider = widenings(profile)
        if not wider:
            return launch
        self.out.warnings.append(
            f"server '{launch.name}' ({origin.path}): its \"sandbox\" asks for more than the"
            f" default profile ({'; '.join(describe(profile, key) for key in wider)}), which a"
            " project's own file may not give itself: ignored, its children run with the"
            " default profile (narrowed as its entry says) until you approve this entry:"
            f" {approveCommand(launch.name, origin.workspace)}"
        )
        return replace(launch, sandbox=narrowed(profile))


_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?=\}|:-)")


def _referenced(entry: object) -> set[str]:
    """The names an entry refers to as C{${NAME}} or C{${NAME:-default}} (in
    its command, args, env or cwd): its value reaches the child through the
    entry already. A secret reference (C{${env:NAME}}, C{${keyring:NAME}}...)
    names no variable of a workspace's C{.env}."""
    return set(_REFERENCE.findall(json.dumps(entry)))


def _asUser(
    project: ProjectEntry, user: ServerSpec, environ: Mapping[str, str]
) -> ServerSpec | None:
    """The project's entry, expanded from the gateway's environment, when
    it is the user's but for its request timeout (adoption points it at
    C{/<name>/mcp} then); else C{None}."""
    try:
        spec = parseEntry(project.name, project.entry, environ, user.scope)
    except EntryError:
        return None
    alike = replace(
        spec,
        executable=user.executable,
        requestTimeout=user.requestTimeout,
        requestTimeoutDeclared=user.requestTimeoutDeclared,
    )
    return spec if alike == user else None


def longerTimeout(spec: ServerSpec, other: ServerSpec) -> ServerSpec:
    """C{spec} with C{other}'s request timeout when C{other} (an entry of
    the same server, or of a route sharing its child) declares a longer one."""
    if not other.requestTimeoutDeclared or other.requestTimeout <= spec.requestTimeout:
        return spec
    return replace(spec, requestTimeout=other.requestTimeout, requestTimeoutDeclared=True)


def _launch(
    spec: ServerSpec,
    env: tuple[tuple[str, str], ...],
    cwd: str | None,
    environ: Mapping[str, str],
    lookAgain: bool = False,
) -> ServerSpec:
    """C{spec} with C{env} and C{cwd}, its executable looked up on the
    C{PATH} its child will have (again only when C{env} changed it, or
    C{lookAgain}: C{spec} was expanded with another environment)."""
    path = dict(env).get("PATH")
    if path == dict(spec.env).get("PATH") and not lookAgain:
        return replace(spec, env=env, cwd=cwd)  # looked up on this PATH already
    searchPath = environ.get("PATH") if path is None else path
    return replace(spec, env=env, cwd=cwd, executable=which(spec.command, searchPath))
