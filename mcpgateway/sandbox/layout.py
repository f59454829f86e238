# -*- test-case-name: tests.sandbox.test_layout -*-
"""A confined child's view of the file system, as real paths on this
machine: what it reads, what it writes, what is masked.

L{build} applies the rules of L{mcpgateway.sandbox.defaults} and the
server's profile to a I{request} (the JSON object the gateway hands the
launcher, L{mcpgateway.sandbox.confine}) and the child's command line. It
reads the file system (real paths, which paths exist, a script's first
line), so the launcher runs it, in the child's process before its exec,
never the gateway's reactor. Every path it gives is absolute and
resolved: a symlink named by an argument is bound at its real path and at
the name the child was given, so both resolve alike.

Standard library only, and no C{dataclasses}: the launcher imports it
before every confined child.
"""

from __future__ import annotations

import os

from mcpgateway.sandbox import defaults

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts")
"""A script of a Node.js package: its package (the nearest C{package.json})
is bound, so the modules beside it resolve."""
PACKAGE_DEPTH = 5
MAX_OTHERS = 256
SKIPPED_VARIABLES = frozenset(
    {"HOME", "PATH", "PWD", "TMPDIR", "SHELL", "PYTHONPATH", "NODE_PATH", "XDG_RUNTIME_DIR"}
)
"""Variables whose value is no data of the server's own."""
DATA_WORDS = frozenset(
    {
        "MEMORY", "DATA", "DB", "DATABASE", "SQLITE", "STORAGE", "STORE", "STATE",
        "CACHE", "LOG", "LOGS", "OUTPUT", "NOTES", "HISTORY",
    }
)  # fmt: skip
"""Words of a variable's name that say the server keeps its data there."""
PLACE_WORDS = frozenset({"FILE", "PATH", "DIR", "DIRECTORY", "FOLDER"})
"""The last word of a variable's name that says its value is a place."""
SECRET_WORDS = frozenset(
    {"KEY", "CERT", "CA", "TOKEN", "SECRET", "CREDENTIAL", "CREDENTIALS", "PASSWORD", "AUTH",
     "CONFIG"}
)  # fmt: skip
"""Words of a variable's name that say its value is read, never written."""


def writesThere(name: str) -> bool:
    """Whether the entry's variable C{name} names where the server writes
    its data (C{MEMORY_FILE_PATH}, C{DB_PATH}, C{DATA_DIR}, C{LOG_FILE}):
    its last word a place (L{PLACE_WORDS}), a data word in it
    (L{DATA_WORDS}), no secret's or config's word (L{SECRET_WORDS}), not an
    C{XDG_} base directory (shared by every program)."""
    words = name.upper().split("_")
    return (
        words[-1] in PLACE_WORDS
        and words[0] != "XDG"
        and not DATA_WORDS.isdisjoint(words)
        and SECRET_WORDS.isdisjoint(words)
    )


class Layout:
    """The file system of one confined child.

    @ivar system: C{(kind, source, path)}: C{"ro"} binds C{source} at
        C{path}, C{"symlink"} makes C{path} a symlink to C{source}.
    @ivar private: empty writable directories of the child's own
        (C{/tmp}, C{/var/tmp}, its C{HOME}), gone when it ends.
    @ivar soft: system parts shown empty (C{/var/log}), unless bound again.
    @ivar readOnly: C{(source, path)}, bound read-only.
    @ivar writable: C{(source, path)}, bound read-write.
    @ivar masked: C{(path, isDirectory)}: never visible, even under a bound path.
    @ivar reopened: C{(path, writable)} bound again after the masks: the
        child's own installs under the masked state directory (writable
        for the gateway's install of its package), a path an C{allow}
        names inside a masked one.
    @ivar placeholders: files the entry names that do not exist yet, where
        nothing may be bound: empty and read-only in the sandbox.
    @ivar cwdMade: the working directory is shown by nothing else (the
        gateway's own, for an entry without C{cwd}): an empty one is made
        (its arguments' relative paths, bound, are found from there).
    @ivar notes: what was left out and why (a missing C{allowRead} path).
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
        self.placeholders: list[str] = []
        self.cwdMade = False
        self.notes: list[str] = []

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
            "placeholders": self.placeholders,
            "notes": self.notes,
        }


def real(path: str) -> str:
    return os.path.realpath(path)


def under(path: str, root: str) -> bool:
    """Whether C{path} is C{root} or inside it (both absolute, normalized)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def expand(path: str, home: str, cwd: str) -> str:
    """A profile's path made absolute: C{~} is C{home}, a relative path is
    under C{cwd}."""
    if path == "~" or path.startswith("~/"):
        path = home + path[1:]
    elif not path.startswith("/"):
        path = os.path.join(cwd, path)
    return os.path.normpath(path)


class _Paths:
    """The facts every rule needs: the home, the state directory, what the
    system binds show."""

    def __init__(self, home: str, stateDir: str) -> None:
        self.home = home
        self.stateDir = stateDir
        present = [d for d in defaults.SYSTEM_DIRS if os.path.isdir(d)]
        self.systemRoots = sorted({*present, *(real(d) for d in present)})
        """The system directories as named (C{/bin}) and as resolved (C{/usr/bin})."""

    def visible(self, path: str) -> bool:
        """Whether the system binds show C{path} already."""
        return any(under(path, root) for root in self.systemRoots) and not any(
            under(path, hidden) for hidden in defaults.VAR_HIDDEN
        )

    def wide(self, path: str) -> bool:
        """Whether binding C{path} whole would show far more than a server's
        own files: the root, the home or what holds it, the shared
        temporary directories, the state directory."""
        if path in ("/", self.home, self.stateDir, "/tmp", "/var/tmp", "/dev/shm", "/run"):
            return True
        return under(self.home, path) or path in ("/home", "/Users", "/root")

    def installRoot(self, path: str) -> str:
        """What to bind for a program or a file at C{path} (real): the
        outermost C{node_modules} it is in, the installation its C{bin} is
        part of, or its directory (the file alone when that is L{wide})."""
        parts = path.split("/")
        if "node_modules" in parts:
            return "/".join(parts[: parts.index("node_modules") + 1])
        parent = os.path.dirname(path)
        if os.path.basename(parent) == "bin":
            prefix = os.path.dirname(parent)
            if not self.wide(prefix):
                return prefix
        if path.endswith(SCRIPT_SUFFIXES):
            package = self.packageOf(parent)
            if package is not None:
                return package
        return path if self.wide(parent) else parent

    def packageOf(self, directory: str) -> str | None:
        """The nearest directory at or above C{directory} with a
        C{package.json}, within L{PACKAGE_DEPTH} levels, never a wide one."""
        for _ in range(PACKAGE_DEPTH):
            if self.wide(directory):
                return None
            if os.path.isfile(os.path.join(directory, "package.json")):
                return directory
            parent = os.path.dirname(directory)
            if parent == directory:
                return None
            directory = parent
        return None


def programRoots(paths: _Paths, executable: str, environ: Mapping[str, str]) -> list[str]:
    """What a program needs to run: its installation (as named and as
    resolved), and a script's interpreter's (its C{#!} line, through
    C{env} too), up to three interpreters deep."""
    roots: list[str] = []
    for _ in range(3):
        resolved = real(executable)
        for path in dict.fromkeys((os.path.abspath(executable), resolved)):
            roots.append(paths.installRoot(path))
        interpreter = _shebang(resolved, environ)
        if interpreter is None:
            break
        executable = interpreter
    return roots


def _shebang(path: str, environ: Mapping[str, str]) -> str | None:
    """The interpreter a script's C{#!} line names (C{/usr/bin/env X}: X on
    C{PATH}); C{None} for a binary or an unreadable file."""
    try:
        with open(path, "rb") as script:
            head = script.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        name = next((w for w in words[1:] if not w.startswith("-")), None)
        return None if name is None else _which(name, environ.get("PATH", ""))
    return words[0] if words[0].startswith("/") else None


def _which(name: str, searchPath: str) -> str | None:
    for directory in searchPath.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def argumentPaths(args: Iterable[str], cwd: str) -> list[str]:
    """The existing files and directories arguments name: an absolute path,
    C{--flag=/path}, or a relative one that exists under C{cwd}."""
    found = []
    for arg in args:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        if not value or value.startswith("-") or "\0" in value or len(value) > 4096:
            continue
        if value.startswith("file://"):
            value = value[len("file://") :]
        candidate = value if value.startswith("/") else os.path.join(cwd, value)
        if os.path.lexists(candidate):
            found.append(os.path.normpath(candidate))
    return found


SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"})
"""Programs whose C{-c} argument is a script of commands (L{scriptPaths})."""
SCRIPT_BREAKS = str.maketrans({c: " " for c in ";&|()<>\"'`\n\t{}$"})


def scriptPaths(argv: list[str], home: str) -> list[str]:
    """The absolute (or C{~/}) paths a shell's C{-c} script names
    (C{sh -c "~/.venv/bin/server --db /data/x; ..."}), where they exist:
    the sandbox binds them as it binds arguments, as the shell would run
    them. Words only (no quoting or expansion is understood): a path
    with a space in it is not found."""
    if os.path.basename(argv[0]) not in SHELLS:
        return []
    script = None
    for index, arg in enumerate(argv[1:-1], start=1):
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg:
            script = argv[index + 1]
            break
    if script is None or len(script) > 65536:
        return []
    found = []
    for word in script.translate(SCRIPT_BREAKS).split():
        word = word.split("=", 1)[1] if "=" in word else word
        if word.startswith("~/"):
            word = os.path.join(home, word[2:])
        word = os.path.normpath(word) if word.startswith("/") and "\0" not in word else ""
        hidden = any(under(word, kernel) for kernel in ("/dev", "/proc", "/sys"))
        if word and not hidden and os.path.lexists(word):
            found.append(word)
    return list(dict.fromkeys(found))


def build(request: Mapping[str, Any], argv: list[str], environ: Mapping[str, str]) -> Layout:
    """The layout of the child that runs C{argv} (its executable first) for
    C{request}, in the environment C{environ} it gets."""
    home = real(str(request.get("home") or "/"))
    stateDir = real(str(request["stateDir"]))
    given = request.get("cwd")
    cwd = real(str(given or request.get("gatewayCwd") or home))
    network = str((request.get("network") or {}).get("mode") or "none")
    layout = Layout(home, cwd, network)
    paths = _Paths(home, stateDir)
    _system(layout, paths)
    rules = (request.get("profile") or {}).get("filesystem") or {}
    binds = _Binds(paths)
    if "learn" in request and home in layout.private:  # learning: the home shown, read-only
        layout.private.remove(home)
        binds.add(home)
    scripted = [
        p for p in scriptPaths(argv, str(environ.get("HOME") or home)) if not paths.wide(real(p))
    ]
    programs = [argv[0], *(p for p in scripted if os.path.isfile(p) and os.access(p, os.X_OK))]
    for program in programs:
        for root in programRoots(paths, program, environ):
            binds.add(root)
    for path in [*argumentPaths(argv[1:], cwd), *scripted]:
        resolved = real(path)
        for name in dict.fromkeys((resolved, os.path.abspath(path))):
            binds.add(paths.installRoot(name) if os.path.isfile(resolved) else name)
    if given:
        binds.add(str(given), writable=bool(request.get("workspace")))
    interpreter = real(str(request.get("interpreter") or "/"))
    if any(real(program) == interpreter for program in programs):
        for entry in request.get("interpreterPaths") or ():
            if isinstance(entry, str) and entry.startswith("/") and os.path.isdir(entry):
                binds.add(entry)
    for variable in ("PYTHONPATH", "NODE_PATH"):
        for entry in environ.get(variable, "").split(os.pathsep):
            if entry.startswith("/"):
                binds.add(entry)
    _entryVariables(layout, binds, paths, request.get("entryEnv") or (), environ)
    if "learn" in request:  # a missing file in the home shown fails as read-only anyway
        layout.placeholders = [p for p in layout.placeholders if not under(p, home)]
    _launcherPaths(layout, binds, str(request.get("command") or argv[0]), environ)
    allowed: list[tuple[str, bool]] = []
    for key in ("allowRead", "allowWrite"):
        for path in rules.get(key) or ():
            full = expand(path, home, cwd)
            if key == "allowWrite":
                _make(full, directory=path.endswith("/"))
            if not os.path.exists(full):
                layout.notes.append(f"{key} {path}: {full} does not exist")
                continue
            binds.add(full, writable=key == "allowWrite")
            allowed.append((real(full), key == "allowWrite"))
    for path in rules.get("denyWrite") or ():
        full = expand(path, home, cwd)
        if os.path.exists(full):
            binds.readOnly(real(full))
    install = request.get("install")
    install = real(install) if isinstance(install, str) and install.startswith("/") else None
    if install is not None:  # the gateway's own install of this server's package
        binds.add(install, writable=True)
    layout.readOnly = binds.listed(False)
    layout.writable = binds.listed(True)
    named = [os.path.abspath(argv[0]), real(argv[0])]
    named += [p for path in [*argumentPaths(argv[1:], cwd), *scripted] for p in (path, real(path))]
    _masks(layout, paths, request, rules, allowed, named)
    _reopen(layout, paths, allowed, install)
    bound = [path for _, path in (*layout.readOnly, *layout.writable)]
    layout.cwdMade = not (paths.visible(cwd) or any(under(cwd, path) for path in bound))
    return layout


class _Binds:
    """The paths bound for a child, by the path it sees: C{(source,
    writable)}. Writable wins over read-only, except where a C{denyWrite}
    says otherwise; what the system binds show already is not bound again."""

    def __init__(self, paths: _Paths) -> None:
        self._paths = paths
        self._table: dict[str, tuple[str, bool]] = {}
        self._readOnly: set[str] = set()

    def add(self, path: str, writable: bool = False) -> None:
        if not os.path.exists(path):
            return
        resolved = real(path)
        named = os.path.abspath(path)
        for seen in dict.fromkeys((resolved, named)):
            if writable or not self._paths.visible(seen):
                _, before = self._table.get(seen, (resolved, False))
                self._table[seen] = (resolved, writable or before)

    def readOnly(self, path: str) -> None:
        self._readOnly.add(path)
        if path in self._table:
            self._table[path] = (self._table[path][0], False)
        elif any(under(path, seen) for seen, (_, w) in self._table.items() if w):
            self._table[path] = (path, False)

    def listed(self, writable: bool) -> list[tuple[str, str]]:
        return sorted(
            (source, seen)
            for seen, (source, rw) in self._table.items()
            if rw == writable and not (rw and seen in self._readOnly) and self._needed(seen, source)
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
                self._paths.visible(parent)
                or any(under(parent, other) and other != seen for other in self._table)
            ):
                return False
            parent = os.path.dirname(parent)
        return True


def _system(layout: Layout, paths: _Paths) -> None:
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
            if target != name and os.path.exists(target) and not paths.visible(target):
                layout.system.append(("ro", os.path.dirname(target), os.path.dirname(target)))
    layout.soft = [d for d in defaults.VAR_HIDDEN if os.path.isdir(d)]
    layout.private = ["/tmp", "/var/tmp"] if os.path.isdir("/var") else ["/tmp"]
    if layout.home not in ("/", *layout.private):
        layout.private.append(layout.home)


def _make(path: str, directory: bool) -> None:
    """A writable path the profile names that does not exist yet, made (as
    the server would make it) when its directory exists: an empty file, or a
    directory when the profile's path ends with C{/}."""
    if os.path.lexists(path) or not os.path.isdir(os.path.dirname(path)):
        return
    try:
        if directory:
            os.mkdir(path, 0o700)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except OSError:
        pass  # noted as missing by the caller


def _entryVariables(
    layout: Layout, binds: _Binds, paths: _Paths, names: Iterable[str], environ: Mapping[str, str]
) -> None:
    """The paths the entry's own C{env} names (C{MEMORY_FILE_PATH}), as its
    arguments': a file's directory (the file alone when that is wide), a
    file yet to be made in a directory that exists that directory.

    Read-only, but for a variable whose name says the server writes its
    data there (L{writesThere}): that directory is writable (a server may
    write by renaming a temporary file beside its own), or the file alone
    where its directory is wide (made empty when missing: the home is never
    writable whole), never a path the system binds show. One to be made
    where nothing may be bound, for a variable that is read, gets an empty
    read-only placeholder: writing it fails, saying so, instead of landing
    in the child's private home and vanishing with it."""
    for name in names:
        value = environ.get(str(name), "")
        if name in SKIPPED_VARIABLES or ":" in value or not value.startswith(("/", "~/")):
            continue
        full = expand(value, layout.home, layout.cwd)
        writes = writesThere(str(name)) and not paths.visible(full)
        directory = os.path.dirname(full)
        if writes and not os.path.lexists(full) and paths.wide(directory):
            _make(full, directory=value.endswith("/"))
        if os.path.exists(full):
            resolved = real(full)
            if os.path.isdir(resolved):
                binds.add(resolved, writable=writes and not paths.wide(resolved))
            elif paths.wide(os.path.dirname(resolved)):
                binds.add(resolved, writable=writes)
            else:
                binds.add(os.path.dirname(resolved), writable=writes)
        elif os.path.isdir(directory) and not paths.wide(directory):
            binds.add(directory, writable=writes and not paths.visible(directory))
        elif not paths.visible(full) and full not in layout.placeholders:
            layout.placeholders.append(full)


def _launcherPaths(layout: Layout, binds: _Binds, command: str, environ: Mapping[str, str]) -> None:
    """The caches of the entry's launcher, writable (made when missing, as
    the launcher itself would), and what it reads."""
    launcher = defaults.launcherOf(command)
    if launcher is None:
        return
    for path, variable in launcher.caches:
        moved = environ.get(variable) if variable else None
        full = moved if moved and moved.startswith("/") else _xdg(path, layout.home, environ)
        try:
            os.makedirs(full, mode=0o700, exist_ok=True)
        except OSError as e:
            layout.notes.append(f"cache {full}: {e.strerror or e}")
            continue
        binds.add(full, writable=True)
    for path in launcher.reads:
        binds.add(expand(path, layout.home, layout.home))


def _xdg(path: str, home: str, environ: Mapping[str, str]) -> str:
    """C{~/.cache/...} and C{~/.local/share/...} where C{XDG_CACHE_HOME}
    and C{XDG_DATA_HOME} move them."""
    for prefix, variable in (("~/.cache/", "XDG_CACHE_HOME"), ("~/.local/share/", "XDG_DATA_HOME")):
        moved = environ.get(variable, "")
        if path.startswith(prefix) and moved.startswith("/"):
            return os.path.join(moved, path[len(prefix) :])
    return expand(path, home, home)


def _masks(
    layout: Layout,
    paths: _Paths,
    request: Mapping[str, Any],
    rules: Mapping[str, Any],
    allowed: list[tuple[str, bool]],
    named: list[str],
) -> None:
    """Everything never shown: the deny lists (unless an C{allow} names the
    entry itself), the state directory, C{denyRead}, the other servers'
    directories (unless they hold what this child runs or names, or its
    own working directory holds them). Only where the child would see
    them: under a path bound for it or a system directory (in its private,
    empty home a mask would only tell it which secrets exist).

    @param named: the paths this child's command line names (its program,
        its arguments), as given and resolved.
    """
    masked: dict[str, bool] = {}
    home, cwd = layout.home, layout.cwd
    exact = {path for path, _ in allowed}

    shown = [path for _, path in (*layout.readOnly, *layout.writable)]

    def mask(path: str, directory: bool | None = None) -> None:
        if not os.path.exists(path):
            return
        resolved = real(path)
        if paths.visible(resolved) or any(under(resolved, bound) for bound in shown):
            masked.setdefault(resolved, os.path.isdir(resolved) if directory is None else directory)

    for entry in defaults.DENY_HOME:
        full = expand(entry, home, home)
        if not (os.path.exists(full) and real(full) in exact):
            mask(full)
    for entry in defaults.DENY_SYSTEM:
        mask(entry)
    mask(paths.stateDir)
    for entry in rules.get("denyRead") or ():
        mask(expand(entry, home, cwd))
    own = [path for _, path in (*layout.readOnly, *layout.writable)]
    mine = own + named
    for other in list(request.get("others") or ())[:MAX_OTHERS]:
        if not isinstance(other, str) or not other.startswith("/") or not os.path.exists(other):
            continue
        resolved = real(other)
        root = _packageOf(resolved) if os.path.isfile(resolved) else resolved
        if _hides(root, own, mine, cwd if request.get("cwd") else None, paths):
            mask(root, True)
    layout.masked = sorted(masked.items())


def _packageOf(path: str) -> str:
    """The directory of another server's file: its Node.js package (in the
    last C{node_modules}, C{@scope/name} included) or the file's directory."""
    parts = path.split("/")
    if "node_modules" in parts[:-1]:
        last = len(parts) - 1 - parts[::-1].index("node_modules")
        size = 3 if last + 1 < len(parts) and parts[last + 1].startswith("@") else 2
        if last + size < len(parts):
            return "/".join(parts[: last + size])
    return os.path.dirname(path)


def _hides(root: str, own: list[str], mine: list[str], cwd: str | None, paths: _Paths) -> bool:
    """Whether another server's directory C{root} is masked for this child:
    when this child would see it (under one of its own paths, or in
    C{/opt} or C{/var}), but not when it holds a path of this child's, is
    inside the working directory its entry gives it (C{cwd}: its
    workspace), or is wide (C{mine}: the child's binds and what its
    command line names)."""
    if cwd is not None:
        mine = [*mine, cwd]
    if paths.wide(root) or (cwd is not None and under(root, cwd)):
        return False
    if any(under(path, root) for path in mine):
        return False
    if any(under(root, mine) for mine in own):
        return True
    return paths.visible(root) and (under(root, "/opt") or under(root, "/var"))


def _reopen(
    layout: Layout, paths: _Paths, allowed: list[tuple[str, bool]], install: str | None = None
) -> None:
    """What is bound again over the masks: the child's own packages the
    gateway installed in its state directory (C{npx/<package>},
    C{uvx/<package>}), writable for the gateway's own install of it (the
    request's C{install}: that folder alone), and a path an C{allow} names
    inside a masked one (C{~/.aws/config}, not the rest of C{~/.aws})."""
    reopened: dict[str, bool] = {}
    for folder in defaults.STATE_INSTALLS:
        base = os.path.join(paths.stateDir, folder)
        if install is not None and under(install, base) and install != base:
            reopened[install] = True
    for _, path in layout.readOnly:
        for folder in defaults.STATE_INSTALLS:
            base = os.path.join(paths.stateDir, folder)
            if under(path, base) and path != base:
                reopened.setdefault("/".join(path.split("/")[: base.count("/") + 2]), False)
    for path, writable in allowed:
        inside = any(under(path, mask) and path != mask for mask, _ in layout.masked)
        if inside and not under(path, paths.stateDir):
            reopened[path] = writable or reopened.get(path, False)
    layout.reopened = sorted(reopened.items())
