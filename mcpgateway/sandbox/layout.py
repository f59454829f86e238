# -*- test-case-name: tests.sandbox.test_layout, tests.sandbox.test_workspaceseal -*-
"""A confined child's view of the file system, as real paths on this
machine: what it reads, what it writes, what is masked.

L{build} applies the rules of L{mcpgateway.sandbox.defaults} and the
server's profile to a I{request} (the JSON object the gateway hands the
launcher, L{mcpgateway.sandbox.confine}) and the child's command line. It
reads the file system (real paths, which paths exist, a script's first
line), so the launcher runs it, in the child's process before its exec,
never the gateway's reactor. Every path it gives is absolute and
resolved: a symlink named by an argument is bound at its real path and at
the name the child was given, so both resolve alike; but a symlink the
child may have made (inside a place it may write) is never followed but to
what every child is shown anyway (L{mcpgateway.sandbox.places}).

In order: the places the child may write (L{mcpgateway.sandbox.writes}:
its data, its workspace, C{allowWrite}, the folders its arguments name,
its launcher's own caches: L{mcpgateway.sandbox.launchercaches}), then
what it reads (its program and its version manager's tree, its
arguments, its C{cwd}, its module paths, the paths its C{env} names,
C{allowRead}), then the masks and what is bound again over them
(L{mcpgateway.sandbox.masks}).

Standard library only, and no C{dataclasses}: the launcher imports it
before every confined child.
"""

from __future__ import annotations

import os

from mcpgateway.sandbox import (
    defaults,
    launchercaches,
    maskparents,
    masks,
    packagecopy,
    workspaceseal,
    writes,
)
from mcpgateway.sandbox.commandline import SHELLS, argumentPaths, dataFiles, scriptPaths
from mcpgateway.sandbox.pathrule import A_PROGRAM, PathRule
from mcpgateway.sandbox.places import (
    SCRIPT_SUFFIXES,
    Places,
    expand,
    programRoots,
    real,
    under,
)
from mcpgateway.sandbox.writes import Want, writesThere

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = [
    "SCRIPT_SUFFIXES",
    "SHELLS",
    "Layout",
    "argumentPaths",
    "build",
    "expand",
    "real",
    "scriptPaths",
    "under",
    "writesThere",
]

SKIPPED_VARIABLES = frozenset(
    {"HOME", "PATH", "PWD", "TMPDIR", "SHELL", "PYTHONPATH", "NODE_PATH", "XDG_RUNTIME_DIR"}
)
"""Variables whose value is no data of the server's own."""


class Layout:
    """The file system of one confined child.

    @ivar system: C{(kind, source, path)}: C{"ro"} binds C{source} at
        C{path}, C{"symlink"} makes C{path} a symlink to C{source}.
    @ivar private: empty writable directories of the child's own
        (C{/tmp}, C{/var/tmp}, its C{HOME}), gone when it ends; those of
        C{sealedPrivate} read-only.
    @ivar soft: system parts shown empty (C{/var/log}), unless bound again.
    @ivar readOnly: C{(source, path)}, bound read-only.
    @ivar writable: C{(source, path)}, bound read-write.
    @ivar masked: C{(path, isDirectory)}: never visible, even under a bound path.
    @ivar reopened: C{(path, writable)} bound again after the masks: the
        child's own installs under the masked state directory (writable
        for the gateway's install of its package, and the package an
        C{npx} server runs from), a path an C{allow} names inside a
        masked one.
    @ivar presented: the directories directly holding a masked path that
        bubblewrap shows as a C{tmpfs} of their other entries, the masks
        made inside it (L{mcpgateway.sandbox.maskparents}).
    @ivar placeholders: files the entry names that do not exist yet, where
        nothing may be bound: empty and read-only in the sandbox.
    @ivar sealed: names that do not exist, in a writable folder, that the
        child may not make: the C{.git} and the clients' settings a
        repository's workspace lacks (L{mcpgateway.sandbox.workspaceseal}).
        The folder holding them takes no new entry.
    @ivar cwdMade: the working directory is shown by nothing else (the
        gateway's own, for an entry without C{cwd}): an empty one is made
        (its arguments' relative paths, bound, are found from there).
    @ivar caches: its launcher's own caches (bound again over the state
        directory's mask, writable), the user's copies its tool runs from
        (read-only), and the variables that name them
        (L{mcpgateway.sandbox.launchercaches}).
    @ivar packageCopy: C{(copy, package)}: the child's own copy of the
        C{npx} package it runs (L{mcpgateway.sandbox.packagecopy}), writable:
        bubblewrap shows it at the package's path, with the package's own
        C{node_modules} read-only over it; under Landlock the child runs it
        where it is (C{None}: it runs no such package, or has no copy).
    @ivar notes: what was left out and why (a missing C{allowRead} path).
    @ivar refused: the paths the entry named that the one path rule
        (L{mcpgateway.sandbox.pathrule}) kept from the child, each with
        its source, why and its fix (in C{notes} too): the launcher says
        each as the child starts.
    """

    def __init__(self, home: str, cwd: str, network: str) -> None:
        self.home = home
        self.cwd = cwd
        self.network = network
        self.system: list[tuple[str, str, str]] = []
        self.private: list[str] = []
        self.soft: list[str] = []
        self.readOnly: list[tuple[str, str]] = []
        self.writable: list[tuple[str, str]] = []
        self.masked: list[tuple[str, bool]] = []
        self.reopened: list[tuple[str, bool]] = []
        self.presented: list[maskparents.Presented] = []
        self.placeholders: list[str] = []
        self.sealed: list[str] = []
        self.sealedPrivate: list[str] = []
        self.cwdMade = False
        self.caches = launchercaches.Caches()
        self.packageCopy: tuple[str, str] | None = None
        self.notes: list[str] = []
        self.refused: list[str] = []

    def toJson(self) -> dict[str, Any]:
        """The layout as a JSON object (C{mcpgateway sandbox show})."""
        return {
            "home": self.home,
            "cwd": self.cwd,
            "network": self.network,
            "system": [list(item) for item in self.system],
            "private": self.private,
            "readOnly": [path for _, path in self.readOnly],
            "writable": [path for _, path in self.writable],
            "masked": [path for path, _ in self.masked],
            "reopened": [path for path, _ in self.reopened],
            "presented": [path for path, _, _, _ in self.presented],
            "placeholders": self.placeholders,
            "sealed": self.sealed,
            "variables": dict(self.caches.variables),
            "notes": self.notes,
            "refused": self.refused,
        }


def build(
    request: Mapping[str, Any],
    argv: list[str],
    environ: Mapping[str, str],
    mechanism: str | None = None,
) -> Layout:
    """The layout of the child that runs C{argv} (its executable first) for
    C{request}, in the environment C{environ} it gets, confined by
    C{mechanism} (default: the request's)."""
    home = real(str(request.get("home") or "/"))
    entry = {str(name) for name in request.get("entryEnv") or ()}
    # Where the machine's version managers are is the gateway's to say, never the entry's.
    host = {name: value for name, value in environ.items() if name not in entry}
    places = Places(home, real(str(request["stateDir"])), host)
    rules = (request.get("profile") or {}).get("filesystem") or {}
    gatewayFiles = masks.gatewayFilesOf(request)
    confinedTo = request.get("confinedTo") if isinstance(request.get("confinedTo"), str) else None
    given, strayed = _given(request, confinedTo)
    cwd = real(str(given or request.get("gatewayCwd") or home))
    if not given and masks.forbidden(cwd, places, rules, gatewayFiles):
        cwd = home  # the gateway runs in its state directory: nothing of it is shown
    network = str((request.get("network") or {}).get("mode") or "none")
    layout = Layout(home, cwd, network)
    layout.notes += strayed
    _system(layout, places)
    install = request.get("install")
    install = real(install) if isinstance(install, str) and install.startswith("/") else None
    interpreters = [p for p in request.get("interpreterPaths") or () if isinstance(p, str)]
    server = str(request.get("server") or "")
    entryEnv = request.get("entryEnv") or ()
    rule = PathRule(places, environ, entryEnv, gatewayFiles, interpreters, confinedTo, server)
    binds = _Binds(places, layout, rule, install)
    arguments = argumentPaths(argv[1:], cwd)
    scripted = [
        p for p in scriptPaths(argv, str(environ.get("HOME") or home)) if not places.wide(real(p))
    ]
    own = _ownPackage(layout, places, request, [os.path.abspath(argv[0]), *arguments], mechanism)
    # What the child may write, first: no symlink it may have left there is followed.
    command = str(request.get("command") or argv[0])
    data = [os.path.dirname(p) for p in dataFiles(argv[1:], cwd, writesThere)]
    wants = _wants(
        layout, places, request, str(given or ""), rules, [*arguments, *data], environ, argv
    )
    writes.settle(places, wants, [p for p in (install, own, *layout.caches.own) if p is not None])
    if install is not None:  # the gateway's own install of this server's package
        binds.add(install, writable=True)
    allowed: list[tuple[str, bool]] = []
    for want in wants:
        _written(layout, binds, places, want, entry)
        if want.target is not None and want.why.startswith("allowWrite"):
            allowed.append((want.target, True))
    if "learn" in request and home in layout.private:  # learning: the home shown, read-only
        layout.private.remove(home)
        binds.add(home, source="learn")
    programs = [argv[0], *(p for p in scripted if os.path.isfile(p) and os.access(p, os.X_OK))]
    runs = None if rule.confinedTo is None else binds.runs
    for program in programs:
        for root in programRoots(places, program, environ, cwd, runs):
            if runs is None or binds.installation(root):
                binds.add(root, source="program")
    for path in [*arguments, *scripted]:
        _named(binds, places, path)
    if given:
        binds.add(str(given) if str(given).startswith("/") else cwd, source="cwd")
    _modulePaths(layout, binds, places, request, programs, environ)
    wanted = {want.why for want in wants} | layout.caches.ignored
    names = [name for name in request.get("entryEnv") or () if name not in wanted]
    _entryVariables(layout, binds, places, names, environ)
    if "learn" in request:  # a missing file in the home shown fails as read-only anyway
        layout.placeholders = [p for p in layout.placeholders if not under(p, home)]
    launcher = defaults.launcherOf(command)
    for path in launcher.reads if launcher is not None else ():
        binds.add(expand(path, home, home), source="program")
    for path in launchercaches.readable(places, layout.caches):  # the user's, its tool runs from
        binds.add(path, source="program")
    _readsAndDenials(layout, binds, places, rules, allowed)
    if binds.homeNamed:
        _emptyHome(layout)
    layout.readOnly = binds.listed(False)
    layout.writable = binds.listed(True)
    named = [p for path in [argv[0], *arguments, *scripted] for p in _bothNames(places, path)]
    shown = [path for _, path in (*layout.readOnly, *layout.writable)]
    layout.masked = masks.apply(
        layout.home, layout.cwd, shown, places, request, rules, allowed, named
    )
    gateway = [real(p) for p in gatewayFiles]
    layout.reopened = masks.reopen(
        layout.masked, places, allowed, binds.inState, install, own, gateway, layout.caches.own
    )
    layout.presented = maskparents.present(layout.masked, _shown(layout), layout.notes)
    _settleCwd(layout, places, given)
    return layout


def _readsAndDenials(
    layout: Layout,
    binds: _Binds,
    places: Places,
    rules: Mapping[str, Any],
    allowed: list[tuple[str, bool]],
) -> None:
    """What the profile's C{allowRead} shows (added to C{allowed}), then what
    stays read-only inside a writable place: the profile's C{denyWrite}, and
    a repository's workspace's git repositories and clients' settings
    (L{mcpgateway.sandbox.workspaceseal})
    but those its C{allowWrite} names (only ever once approved)."""
    home, cwd = layout.home, layout.cwd
    for path in rules.get("allowRead") or ():
        full = expand(path, home, cwd)
        if not os.path.exists(full):
            layout.notes.append(f"allowRead {path}: {full} does not exist")
            continue
        target = binds.add(full, source=f"allowRead {path}")
        if target is not None:
            allowed.append((target, False))
    for path in rules.get("denyWrite") or ():
        target = places.resolve(expand(path, home, cwd))
        if target is not None and os.path.exists(target):
            binds.readOnly(target)
    workspace = binds.confinedTo
    if workspace is not None and binds.writes(workspace):
        granted = [path for path, writable in allowed if writable]  # its approved allowWrite
        workspaceseal.seal(workspace, granted, binds, layout)


def _emptyHome(layout: Layout) -> None:
    """The entry names the user's home, which no confined child is shown: a
    server given it (C{server-filesystem ~}, or C{.} run there) would see
    its own empty home, and what it wrote would be lost when it ends. Shown
    empty and read-only instead, its writes fail and say so (C{EROFS})."""
    if layout.home not in layout.private:
        return
    layout.sealedPrivate.append(layout.home)
    layout.notes.append(
        f"its entry names your home {layout.home}, which no confined child is shown: the"
        " home it sees is empty and read-only (name folders of its own instead)"
    )


def _given(request: Mapping[str, Any], confinedTo: str | None) -> tuple[Any, list[str]]:
    """The working directory the entry names (C{None}: none), and the note
    saying why it is not the one it named: a repository's entry runs in its
    workspace, whatever C{cwd} it names."""
    given = request.get("cwd")
    if not given or confinedTo is None or under(real(str(given)), real(confinedTo)):
        return given, []
    return confinedTo, [
        f"cwd {given}: outside its workspace {confinedTo}: it runs in its workspace, and is"
        " shown nothing of that folder"
    ]


def _ownPackage(
    layout: Layout,
    places: Places,
    request: Mapping[str, Any],
    paths: list[str],
    mechanism: str | None,
) -> str | None:
    """The C{npx} package the child runs (the first of C{paths} in one),
    when it is bound writable: never where the child has a copy of its own
    (L{Layout.packageCopy}, set here); else for a child whoever calls its
    server shares, never for one kept for one person (its code runs in
    every child of the server)."""
    package = masks.ownPackage(places, paths)
    if package is not None and packagecopy.usable(package, mechanism or request.get("mechanism")):
        copy = packagecopy.copyPath(places.stateDir, launchercaches.keyOf(request, "copyKey"))
        layout.packageCopy = (copy, package)
    return None if layout.packageCopy is not None or request.get("servesOne") else package


def _shown(layout: Layout) -> list[tuple[str, str, bool | None]]:
    """C{(path, source, writable)} of every bind that shows the child the
    host's file system, C{(path, "", None)} of its empty directories."""
    out: list[tuple[str, str, bool | None]] = [
        (path, source, False) for kind, source, path in layout.system if kind == "ro"
    ]
    out += [(path, "", None) for path in (*layout.private, *layout.soft)]
    out += [(path, source, False) for source, path in layout.readOnly]
    out += [(path, source, True) for source, path in layout.writable]
    return out


def _bothNames(places: Places, path: str) -> list[str]:
    """C{path} as given and as resolved (unless through a symlink the child
    may have made)."""
    target = places.resolve(path)
    return [os.path.abspath(path), *([] if target is None else [target])]


def _wants(
    layout: Layout,
    places: Places,
    request: Mapping[str, Any],
    given: str,
    rules: Mapping[str, Any],
    arguments: list[str],
    environ: Mapping[str, str],
    argv: list[str],
) -> list[Want]:
    """The places the child may write, as its entry names them: its
    workspace (a project: never the home, what holds it, the system's or the
    state directory), its data (L{_dataWants}), C{allowWrite}, the folders its
    arguments name and those of the data files they name (never the home or
    what holds it, never the system's or the state directory); its
    launcher's caches are its own (L{launchercaches.prepare}: made now, in
    the state directory), and the entry's value for a variable that names
    one is no data place of the server's."""
    home, cwd = layout.home, layout.cwd
    wants = []

    def project(target: str) -> bool:  # a workspace is a project, never the home or more
        return not (places.wide(target) or places.system(target) or under(target, places.stateDir))

    if given and request.get("workspace"):
        path = given if given.startswith("/") else cwd
        wants.append(Want(path, "its workspace", accept=project))
    wants += _dataWants(layout, places, request.get("entryEnv") or (), environ)
    for path in rules.get("allowWrite") or ():
        full = expand(path, home, cwd)
        directory = writes.namesDirectory(full, path)
        wants.append(Want(full, f"allowWrite {path}", "directory" if directory else "file"))

    def folder(target: str) -> bool:
        return (
            os.path.isdir(target)
            and not places.wide(target)
            and not places.system(target)
            and not under(target, places.stateDir)
        )

    wants += [Want(path, "a folder its arguments name", accept=folder) for path in arguments]
    notes, command = layout.notes, str(request.get("command") or argv[0])
    layout.caches = launchercaches.prepare(places, request, environ, command, cwd, argv, notes)
    return [want for want in wants if want.why not in layout.caches.ignored]


def _dataWants(
    layout: Layout, places: Places, names: Iterable[str], environ: Mapping[str, str]
) -> list[Want]:
    """Where the entry's own C{env} says the server writes its data
    (L{writesThere}: C{MEMORY_FILE_PATH}, C{DATA_DIR}): a directory it
    names, or a file's directory (a server may write by renaming a
    temporary file beside its own; the file itself is never followed: the
    child may have made it a symlink), made when missing; the file alone
    where its directory is wide (the home is never writable whole), made
    empty when missing. Never a system path."""
    wants = []
    for name in names:
        value = environ.get(str(name), "")
        if not writesThere(str(name)) or not _placeValue(str(name), value):
            continue
        full = expand(value, layout.home, layout.cwd)
        if places.system(full):
            continue
        last = str(name).upper().split("_")[-1]
        if writes.namesDirectory(full, value, last):
            if not places.wide(full):
                wants.append(Want(full, str(name), "directory"))
        elif places.wide(os.path.dirname(full)):
            wants.append(Want(full, str(name), "file"))
        elif not places.system(os.path.dirname(full)):
            wants.append(Want(os.path.dirname(full), str(name), "directory"))
    return wants


def _placeValue(name: str, value: str) -> bool:
    return name not in SKIPPED_VARIABLES and ":" not in value and value.startswith(("/", "~/"))


def _written(
    layout: Layout, binds: _Binds, places: Places, want: Want, entryNames: set[str]
) -> None:
    """Bind a settled want writable (made first when missing, unless the
    path rule refuses it: nothing is made where nothing may be bound), or
    say why not."""
    if want.target is None:
        if want.accept is None:
            layout.notes.append(
                f"{want.why}: {want.path} is reached through a symlink the server may have"
                " made: not followed"
            )
        return
    source = _wantSource(want.why, entryNames)
    for name in dict.fromkeys((want.target, os.path.abspath(want.path))):
        if binds.refuse(name, True, source):
            return
    if want.make is not None and not os.path.lexists(want.target):
        why = writes.make(places, want.target, want.make == "directory")
        if why is not None:
            layout.notes.append(f"{want.why}: {want.path} does not exist ({why})")
            return
    binds.add(want.path, writable=True, target=want.target, source=source)


def _wantSource(why: str, entryNames: set[str]) -> str:
    """What asked for a writable place, as the path rule names it."""
    if why == "its workspace":
        return "workspace"
    if why == "a folder its arguments name":
        return "an argument"
    if why in entryNames:
        return f"env {why}"
    return why


def _named(binds: _Binds, places: Places, path: str) -> None:
    """What an argument (or a shell script's word) names, read-only: a
    directory, or a file's installation (L{Places.installRoot}; for a
    Node.js script, with its workspace's C{node_modules} above it,
    L{Places.hoistedModules}), at its real path and at the name given."""
    _, trusted = places.follow(path)
    target = places.resolve(path)
    if target is None:
        binds.notes.append(f"{path} is reached through a symlink the server may have made")
        return
    names = [target, os.path.abspath(path)] if trusted else [target]
    for name in dict.fromkeys(names):
        if not os.path.isfile(target):
            binds.add(name, source="an argument")
            continue
        root = places.installRoot(name)
        binds.add(root, source="an argument")
        for hoisted in places.hoistedModules(name, root):
            binds.add(hoisted, source="an argument")


def _modulePaths(
    layout: Layout,
    binds: _Binds,
    places: Places,
    request: Mapping[str, Any],
    programs: list[str],
    environ: Mapping[str, str],
) -> None:
    """The gateway's module path for a child its own Python runs, and
    C{PYTHONPATH}, C{NODE_PATH}: read-only, never a wide one (the gateway
    run as C{python -m} from the home has the home on its path)."""
    entries: list[tuple[str, str]] = []
    interpreter = real(str(request.get("interpreter") or "/"))
    if any(places.resolve(program) == interpreter for program in programs):
        named = request.get("interpreterPaths") or ()
        entries += [(e, "module path") for e in named if isinstance(e, str) and e.startswith("/")]
    for variable in ("PYTHONPATH", "NODE_PATH"):
        source = f"env {variable}"
        named = environ.get(variable, "").split(os.pathsep)
        entries += [(e, source) for e in named if e.startswith("/")]
    for entry, source in entries:
        target = places.resolve(entry)
        if target is None or not os.path.isdir(target):
            continue
        if places.wide(target) or under(target, places.stateDir):
            layout.notes.append(f"module path {entry}: too wide to show")
            continue
        binds.add(entry, source=source)


class _Binds:
    """The paths bound for a child, by the path it sees: C{(source,
    writable)}. Writable wins over read-only, except where a C{denyWrite}
    says otherwise; what the system binds show already is not bound again.
    Of the state directory only the child's own installs are bound
    (read-only, but the request's C{install}: the gateway's install of its
    package), and bound again over its mask (L{inState}). Every other
    path passes the one path rule (L{PathRule}) at its real path and at
    the name given, or is not bound at all."""

    def __init__(
        self, places: Places, layout: Layout, rule: PathRule, install: str | None = None
    ) -> None:
        self._places = places
        self._install = install
        self._layout = layout
        self._rule = rule
        self.notes = layout.notes
        self._table: dict[str, tuple[str, bool]] = {}
        self._readOnly: set[str] = set()
        self.inState: list[str] = []
        self.homeNamed = False
        """Whether the entry names the user's home (or what holds it) as a
        place of its own: an argument, a data variable, its C{cwd}."""
        self._installed: set[str] = set()
        """The installations of the user's programs a repository's entry
        runs (L{runs}): shown with them (L{installation})."""
        """The state directory's paths a bind would have shown."""

    def refuse(self, path: str, writable: bool, source: str) -> bool:
        """Whether the path rule refuses C{path} for C{source}; a refusal
        is noted once, with its fix."""
        why = self._rule.refusal(path, writable, source)
        if why is None:
            return False
        if source != A_PROGRAM and under(self._places.home, os.path.normpath(path)):
            self.homeNamed = True  # the entry means the user's home: never shown (L{build})
        if not writable and why.startswith("outside its workspace") and self._shownAlready(path):
            return True  # shown by that bind, under its masks: nothing to say
        line = self._rule.note(path, writable, source, why)
        if line not in self._layout.refused:
            self._layout.refused.append(line)
            self.notes.append(line)
        return True

    def add(
        self,
        path: str,
        writable: bool = False,
        target: str | None = None,
        source: str = "program",
    ) -> str | None:
        """Bind C{path} (C{target}: as resolved already) at its real path,
        and at its name when no symlink the child may have made is on its
        way, if the path rule lets C{source} have both. The real path
        bound, or C{None}."""
        places = self._places
        trusted = True
        if target is None:
            target, trusted = places.follow(path)
            if not trusted:
                target = places.resolve(path, writing=writable)
                if target is None:
                    self.notes.append(f"{path} is reached through a symlink the server may make")
                    return None
        if not os.path.exists(target):
            return None
        named = os.path.abspath(path)
        if under(target, places.stateDir) or under(named, places.stateDir):
            self.inState.append(target)
            own = masks.stateInstall(places, target) is not None and masks.stateInstall(
                places, named
            ) == masks.stateInstall(places, target)
            if not own or (writable and target != self._install):
                self.notes.append(f"{path} is in the gateway's state directory: not shown")
                return None
        elif self._learnsHome(target, writable, source):
            pass  # learn mode records what the server reads: the person's own run
        elif any(
            self.refuse(name, writable, source)
            for name in dict.fromkeys([target, named] if trusted else [target])
            if not (not writable and places.visible(name))
        ):
            return None
        for seen in dict.fromkeys([target, named] if trusted else [target]):
            if writable or not places.visible(seen):
                _, before = self._table.get(seen, (target, False))
                self._table[seen] = (target, writable or before)
        return target

    def runs(self, program: str) -> bool:
        """Whether a repository's entry may run C{program} (as named, or as
        resolved): the system's, its workspace's, the gateway's install of
        its package, or one of the user's installed programs
        (L{PathRule.programPlaces}); a refusal is noted."""
        named = os.path.abspath(program)
        if masks.stateInstall(self._places, named) is not None:
            return True  # the gateway's own install of its package (L{add} shows it alone)
        resolved = self._places.resolve(named)
        for path in (named, resolved):
            if path is not None and not self._rule.refusal(path, False, A_PROGRAM):
                self._installs(named, resolved)
                return True
        return not self.refuse(named, False, A_PROGRAM)

    def _installs(self, named: str, resolved: str | None) -> None:
        """Note the installations of a program the entry may run, as named
        and as resolved (a venv's C{python} is its base Python's), but for
        one in its workspace, which brings nothing beyond it."""
        workspace = self._rule.confinedTo
        for path in (named, resolved):
            if path is None or (workspace is not None and under(path, workspace)):
                continue
            install = self._places.installRoot(path)
            self._installed.add(install)
            self._installed.update(self._places.hoistedModules(path, install))
            if install in self._places.userBins:  # a --user install's code: ~/.local/lib
                self._installed.add(os.path.join(os.path.dirname(install), "lib"))

    def installation(self, root: str) -> bool:
        """Whether a repository's entry may be shown C{root}, a folder its
        program brings (its installation, the sources its environment
        imports, its version manager's files): in its workspace, the
        system's, the gateway's install of its package, or where the user's
        programs are installed (L{PathRule.programPlaces}, or the
        installation whose C{bin} is one of them). Where the repository
        sits (a checkout named C{bin}, a folder under another project's
        C{package.json}) or what the user develops (an editable install's
        sources) never widens what it is shown; a refusal is noted."""
        rule = self._rule
        path = os.path.normpath(root)
        found = self._places.resolve(path) or path
        if masks.stateInstall(self._places, found) is not None or self._places.visible(found):
            return True
        if rule.confinedTo is not None and under(found, rule.confinedTo):
            return True
        if any(under(found, install) for install in self._installed):
            return True
        for place in rule.programPlaces:
            if under(found, place) or place == os.path.join(found, "bin"):
                return True
        return not self.refuse(found, False, A_PROGRAM)  # a refusal is noted, with its fix

    def _shownAlready(self, path: str) -> bool:
        """Whether C{path} is bound already, or under a read-only bind (its
        program's folder, say). A repository's entry naming it read-only
        then asks for nothing it lacks: it is not bound again (the masks of
        the bind that shows it hold), and its refusal is not noted."""
        return any(
            path == seen or (under(path, seen) and not writable)
            for seen, (_, writable) in self._table.items()
        )

    def _learnsHome(self, target: str, writable: bool, source: str) -> bool:
        """Learn mode's home, read-only: the one wide bind, for a run the
        person asked for (a repository's C{"learn"} is narrowed away),
        which records what the server reads; its masks still hold."""
        return source == "learn" and not writable and target == self._places.home

    @property
    def confinedTo(self) -> str | None:
        """The workspace a repository's entry is confined to (its real path)."""
        return self._rule.confinedTo

    def writes(self, path: str) -> bool:
        """Whether C{path} is under a writable bind."""
        return any(w and under(path, seen) for seen, (_, w) in self._table.items())

    def readOnly(self, path: str) -> None:
        self._readOnly.add(path)
        if path in self._table:
            self._table[path] = (self._table[path][0], False)
        elif any(under(path, seen) for seen, (_, w) in self._table.items() if w):
            self._table[path] = (path, False)

    def listed(self, writable: bool) -> list[tuple[str, str]]:
        """The binds shown C{writable} (or read-only), C{(source, path)}; a
        read-only one inside a writable one only if made so on purpose
        (L{readOnly}), else it would only take the child's writes there."""
        return sorted(
            (source, seen)
            for seen, (source, rw) in self._table.items()
            if rw == writable
            and not (rw and seen in self._readOnly)
            and (rw or seen in self._readOnly or not self._writableAbove(seen))
            and self._needed(seen, source)
        )

    def _writableAbove(self, path: str) -> bool:
        """Whether a writable bind holds C{path} (not C{path} itself)."""
        return any(
            w and other != path and under(path, other) and other not in self._readOnly
            for other, (_, w) in self._table.items()
        )

    def _needed(self, seen: str, source: str) -> bool:
        """Whether a bind at a name (C{seen}) that is not its real path
        (C{source}) is needed: not when a symlink on the way to it is shown
        already (by another bind, or the system's), as the child then
        follows it to the real path, itself bound (and a mount cannot be
        made through it)."""
        if seen == source:
            return True
        parent = os.path.dirname(seen)
        while parent not in ("/", ""):
            if os.path.islink(parent) and (
                self._places.visible(parent)
                or any(under(parent, other) and other != seen for other in self._table)
            ):
                return False
            parent = os.path.dirname(parent)
        return True


def _system(layout: Layout, places: Places) -> None:
    """The system read-only, C{/var}'s private parts empty, the child's own
    temporary directories and home."""
    for directory in defaults.SYSTEM_DIRS:
        if os.path.islink(directory):
            layout.system.append(("symlink", os.readlink(directory), directory))
        elif os.path.isdir(directory):
            layout.system.append(("ro", directory, directory))
    if layout.network != "none":
        for name in ("/etc/resolv.conf", "/etc/hosts"):
            target = real(name)
            if target != name and os.path.exists(target) and not places.visible(target):
                layout.system.append(("ro", os.path.dirname(target), os.path.dirname(target)))
    layout.soft = [d for d in defaults.VAR_HIDDEN if os.path.isdir(d)]
    layout.private = ["/tmp", "/var/tmp"] if os.path.isdir("/var") else ["/tmp"]
    if layout.home not in ("/", *layout.private):
        layout.private.append(layout.home)


def _entryVariables(
    layout: Layout,
    binds: _Binds,
    places: Places,
    names: Iterable[str],
    environ: Mapping[str, str],
) -> None:
    """The paths the entry's own C{env} names (C{names}: but those bound
    writable already, L{_dataWants}), read-only, as its arguments': a
    file's directory (the file alone when that is wide), a file yet to be
    made in a directory that exists that directory. One to be made where
    nothing may be bound gets an empty read-only placeholder: writing it
    fails, saying so, instead of landing in the child's private home and
    vanishing with it."""
    for name in names:
        value = environ.get(str(name), "")
        if not _placeValue(str(name), value):
            continue
        source = f"env {name}"
        full = expand(value, layout.home, layout.cwd)
        directory = os.path.dirname(full)
        if os.path.exists(full):
            resolved = places.resolve(full)
            if resolved is None:
                layout.notes.append(f"{name}: {full} is reached through a symlink: not followed")
            elif os.path.isdir(resolved) or places.wide(os.path.dirname(resolved)):
                binds.add(full, source=source)
            else:
                binds.add(os.path.dirname(resolved), source=source)
        elif os.path.isdir(directory) and not places.wide(directory):
            binds.add(directory, source=source)
        elif not places.visible(full) and full not in layout.placeholders:
            layout.placeholders.append(full)


def _settleCwd(layout: Layout, places: Places, given: Any) -> None:
    """The child's working directory: its home where the gateway's own is
    masked (another server's directory); made empty where nothing shows it."""
    shown = [path for _, path in (*layout.readOnly, *layout.writable)]
    reopened = [path for path, _ in layout.reopened]
    inside = any(under(layout.cwd, path) for path, _ in layout.masked)
    if not given and inside and not any(under(layout.cwd, path) for path in reopened):
        layout.cwd = layout.home
    layout.cwdMade = not (
        places.visible(layout.cwd) or any(under(layout.cwd, path) for path in (*shown, *reopened))
    )
