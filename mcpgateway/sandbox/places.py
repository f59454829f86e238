# -*- test-case-name: tests.sandbox.test_places -*-
"""The facts about this machine's paths that a confined child's layout
rests on: what the system binds show, which paths are too wide to bind
whole, what a program needs to run (its installation, its interpreter, its
version manager's tree), and how a path resolves when some directory on
its way is the child's to write.

A child may leave symlinks wherever it may write (a data directory, its
workspace, a folder it was given, its launcher's caches, its own package),
and its layout is built again from real paths at each of its starts: a
symlink followed there would bind whatever it points to (C{~/.bashrc} as
its C{memory.json}). So L{Places.resolve} follows a symlink found inside a
directory the child may write only to a place every child is shown anyway
(the system, a version manager's tree), and never for a path bound
writable.

Standard library only: the launcher imports it before every confined child.
"""

from __future__ import annotations

import os

from mcpgateway.sandbox import defaults

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts")
"""A script of a Node.js package: its package (the nearest C{package.json})
is bound, so the modules beside it resolve."""
PACKAGE_DEPTH = 5
HOISTED_DEPTH = 8
"""Folders above a Node.js package looked in for a workspace's C{node_modules}."""
MAX_LINKS = 40
"""Symlinks followed for one path before it counts as a loop (Linux's own limit)."""
PRIVATE = ("/tmp", "/var/tmp")
"""The child's own empty temporary directories: nothing of the host's shows there."""
KERNEL = ("/proc", "/sys", "/dev", "/run", "/boot")
"""Never a server's to write, though no system bind shows them."""


def real(path: str) -> str:
    return os.path.realpath(path)


def under(path: str, root: str) -> bool:
    """Whether C{path} is C{root} or inside it (both absolute, normalized)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


WIDE = ("/", "/tmp", "/var/tmp", "/dev/shm", "/run", "/home", "/Users", "/root")
"""Folders never bound whole, whoever's home this is (L{wide})."""


def wide(path: str, home: str, stateDir: str = "") -> bool:
    """Whether binding C{path} whole would show far more than a server's
    own files: the root, the home or what holds it, the shared temporary
    directories, the state directory. Pure: the gateway asks it too, of
    the paths an entry names (L{mcpgateway.sandbox.datafiles})."""
    return path in WIDE or path in (home, stateDir) or under(home, path)


def expand(path: str, home: str, cwd: str) -> str:
    """A profile's path made absolute: C{~} is C{home}, a relative path is
    under C{cwd}."""
    if path == "~" or path.startswith("~/"):
        path = home + path[1:]
    elif not path.startswith("/"):
        path = os.path.join(cwd, path)
    return os.path.normpath(path)


class Places:
    """The facts every rule needs: the home, the state directory, what the
    system binds show, the version managers' trees, and the directories the
    child may write (L{writableRoots}, set once they are known: until then
    every symlink is followed)."""

    def __init__(self, home: str, stateDir: str, environ: Mapping[str, str]) -> None:
        self.home = home
        self.userBins = {os.path.join(h, ".local", "bin") for h in (home, real(home))}
        """C{~/.local/bin}, as named and as resolved: where pipx, C{uv tool},
        C{pip install --user} and uv's own installer put programs."""
        self.stateDir = stateDir
        present = [d for d in defaults.SYSTEM_DIRS if os.path.isdir(d)]
        self.systemRoots = sorted({*present, *(real(d) for d in present)})
        """The system directories as named (C{/bin}) and as resolved (C{/usr/bin})."""
        self.managerTable = managerRoots(self, environ)
        """The version managers' trees on this machine (real), and which each is."""
        self.managers = [
            path
            for root, manager in self.managerTable
            for path in ([os.path.join(root, p) for p in manager.parts] or [root])
        ]
        """What of those trees a program may need (real paths)."""
        self.writableRoots: list[str] = []
        """The real paths the child may write: a symlink inside one is the child's."""

    def visible(self, path: str) -> bool:
        """Whether the system binds show C{path} already (not C{/var/log},
        shown empty, nor C{/var/tmp}, the child's own)."""
        return any(under(path, root) for root in self.systemRoots) and not any(
            under(path, hidden) for hidden in (*defaults.VAR_HIDDEN, *PRIVATE)
        )

    def system(self, path: str) -> bool:
        """Whether C{path} is the system's (C{/}, C{/usr}, C{/etc}, C{/var}
        and what they hold, C{/proc}...): never a server's to write."""
        roots = (*self.systemRoots, *KERNEL)
        return path == "/" or any(under(path, root) for root in roots)

    def wide(self, path: str) -> bool:
        """Whether binding C{path} whole would show far more than a server's
        own files: the root, the home or what holds it, the shared
        temporary directories, the state directory."""
        return wide(path, self.home, self.stateDir)

    def follow(self, path: str) -> tuple[str, bool]:
        """C{path} resolved as C{realpath} does, and whether every symlink on
        the way was outside L{writableRoots} (a symlink inside one is the
        child's to have made). A loop gives the path as it is, untrusted."""
        done = "/"
        rest = [part for part in reversed(os.path.abspath(path).split("/")) if part]
        trusted = True
        links = 0
        while rest:
            name = rest.pop()
            if name == ".":
                continue
            if name == "..":
                done = os.path.dirname(done)
                continue
            candidate = os.path.join(done, name)
            try:
                target = os.readlink(candidate)
            except OSError:  # not a symlink, or not there
                done = candidate
                continue
            links += 1
            if links > MAX_LINKS:
                return path, False
            if any(under(done, root) for root in self.writableRoots):
                trusted = False
            if target.startswith("/"):
                done = "/"
            rest.extend(part for part in reversed(target.split("/")) if part)
        return done, trusted

    def resolve(self, path: str, writing: bool = False) -> str | None:
        """The real path to bind for C{path}, or C{None}: a symlink the child
        may have made leads there, and it is not a place every child is
        shown anyway (the system, a version manager's tree), or it would be
        bound writable."""
        target, trusted = self.follow(path)
        if trusted:
            return target
        if writing:
            return None
        harmless = self.visible(target) or any(under(target, root) for root in self.managers)
        return target if harmless else None

    def childWrites(self, path: str) -> bool:
        """Whether C{path} (real) is inside a directory the child may write."""
        return any(under(path, root) for root in self.writableRoots)

    def installRoot(self, path: str) -> str:
        """What to bind for a program or a file at C{path}: the outermost
        C{node_modules} it is in, the installation its C{bin} is part of
        (but C{~/.local/bin} alone, whose C{~/.local} also holds the data
        and state of the user's applications: C{~/.local/share},
        C{~/.local/state}), or its directory (the file alone when that is
        L{wide})."""
        parts = path.split("/")
        if "node_modules" in parts:
            return "/".join(parts[: parts.index("node_modules") + 1])
        parent = os.path.dirname(path)
        if parent in self.userBins:
            return parent  # not ~/.local whole: its share and state are your data
        if os.path.basename(parent) == "bin":
            prefix = os.path.dirname(parent)
            if not self.wide(prefix):
                return prefix
        if path.endswith(SCRIPT_SUFFIXES):
            package = self.packageOf(parent)
            if package is not None:
                return package
        return path if self.wide(parent) else parent

    def hoistedModules(self, script: str, root: str) -> list[str]:
        """The C{node_modules} folders above the package C{root} of a
        Node.js C{script} (its L{installRoot}): where Node.js looks for a
        module its package does not hold, which is where a workspace
        (npm, yarn, pnpm) keeps its packages' dependencies. Up to the first
        L{wide} folder; none for a script inside a C{node_modules}, whose
        outermost one is bound whole."""
        if not script.endswith(SCRIPT_SUFFIXES) or root == script:
            return []
        if os.path.basename(root) == "node_modules":
            return []
        found = []
        directory = os.path.dirname(root)
        for _ in range(HOISTED_DEPTH):
            if self.wide(directory):
                break
            candidate = os.path.join(directory, "node_modules")
            if os.path.isdir(candidate):
                found.append(candidate)
            directory = os.path.dirname(directory)
        return found

    def packageOf(self, directory: str) -> str | None:
        """The nearest directory at or above C{directory} with a
        C{package.json}, within L{PACKAGE_DEPTH} levels, never a wide one."""
        return self.nearestHolding(directory, ("package.json",), PACKAGE_DEPTH)

    def nearestHolding(self, directory: str, names: tuple[str, ...], depth: int) -> str | None:
        """The nearest folder at or above C{directory}, within C{depth}
        levels, that holds a file of one of C{names}; never a wide one
        (the home): a package's or a project's root."""
        for _ in range(depth):
            if self.wide(directory):
                return None
            if any(os.path.isfile(os.path.join(directory, name)) for name in names):
                return directory
            parent = os.path.dirname(directory)
            if parent == directory:
                return None
            directory = parent
        return None


def managerRoots(places: Places, environ: Mapping[str, str]) -> list[tuple[str, defaults.Manager]]:
    """The version managers' trees on this machine (L{defaults.MANAGERS}:
    where their variable, or their default place, says), real, with the
    manager each is."""
    found: dict[str, defaults.Manager] = {}
    for manager in defaults.MANAGERS:
        moved = environ.get(manager.variable or "", "")
        path = moved if moved.startswith("/") else expand(manager.root, places.home, places.home)
        if os.path.isdir(path):
            resolved = real(path)
            if not places.wide(resolved):
                found.setdefault(resolved, manager)
    return sorted(found.items(), key=lambda item: item[0])


def programRoots(
    places: Places,
    executable: str,
    environ: Mapping[str, str],
    cwd: str,
    runs: Callable[[str], bool] | None = None,
) -> list[str]:
    """What a program needs to run: its installation (as named and as
    resolved) and, for a Python environment, the sources of its editable
    installs (L{editableSources}); a script's interpreter's (its C{#!}
    line, through C{env} too), up to three interpreters deep; and the tree
    of the version manager any of them belongs to (a C{shims} directory's parent, a known
    manager's root) with the version files that manager reads (its global
    ones, and the nearest of each of its local ones from C{cwd} up).
    C{runs} says whether a program (or interpreter) may be shown at all
    (a repository's: L{mcpgateway.sandbox.pathrule.A_PROGRAM}); none
    after the first it refuses is."""
    roots: list[str] = []
    managers: dict[str, defaults.Manager | None] = {}
    known = places.managerTable
    byRoot: dict[str, defaults.Manager | None] = dict(known)
    for _ in range(3):
        if runs is not None and not runs(executable):
            break
        resolved = places.resolve(executable)
        named = os.path.abspath(executable)
        for path in dict.fromkeys(p for p in (named, resolved) if p is not None):
            install = places.installRoot(path)
            roots.append(install)
            if install in places.userBins and not os.path.islink(path):
                # a script of a --user install (not a link to pipx's or uv's
                # own environment): its code is in ~/.local/lib
                lib = os.path.join(os.path.dirname(install), "lib")
                if os.path.isdir(lib):
                    roots.append(lib)
            roots += places.hoistedModules(path, install)
            roots += editableSources(places, path)
            for root, manager in known:
                if under(path, root):
                    managers.setdefault(root, manager)
            if os.path.basename(os.path.dirname(path)) == "shims":
                tree = os.path.dirname(os.path.dirname(path))
                if not places.wide(tree):
                    managers.setdefault(tree, byRoot.get(real(tree)))
        interpreter = None if resolved is None else _shebang(resolved, environ)
        if interpreter is None:
            break
        executable = interpreter
    trees = {
        tree: [os.path.join(tree, part) for part in used.parts] if used and used.parts else [tree]
        for tree, used in managers.items()
    }
    roots = [root for root in roots if not any(under(root, tree) for tree in trees)]
    for tree, used in managers.items():
        roots += [path for path in trees[tree] if os.path.exists(path)]
        if used is not None:
            roots += [expand(path, places.home, places.home) for path in used.reads]
            roots += _versionFiles(used.versionFiles, cwd)
    return roots


def editableSources(places: Places, program: str) -> list[str]:
    """The source folders of the editable installs (C{pip install -e},
    C{uv pip install -e}, a C{uv} project's own package) in the Python
    environment C{program} runs from (the prefix of its C{bin}): where
    their code is imported from, outside the environment. Each install
    names its folder in its C{*.dist-info/direct_url.json} (PEP 610,
    C{"dir_info": {"editable": true}}); a folder that is not there, or
    too L{wide<Places.wide>} to bind whole (the home), is left out, and so
    is a record in a place the child may write (it would name the folder
    shown at its next start)."""
    binDir = os.path.dirname(program)
    if os.path.basename(binDir) != "bin":
        return []
    lib = os.path.join(os.path.dirname(binDir), "lib")
    try:
        versions = [v for v in os.listdir(lib) if v.startswith("python")]
    except OSError:
        return []
    found: list[str] = []
    for version in versions:
        packages = os.path.join(lib, version, "site-packages")
        try:
            names = [n for n in os.listdir(packages) if n.endswith(".dist-info")]
        except OSError:
            continue
        for name in names:
            record = os.path.join(packages, name, "direct_url.json")
            if places.childWrites(real(record)):
                continue  # the child's own writing: it would choose what is shown next
            source = editableSource(record)
            if source is not None and os.path.isdir(source) and not places.wide(real(source)):
                found.append(source)
    return found


def editableSource(directUrl: str) -> str | None:
    """The local folder a C{direct_url.json} names when it records an
    editable install, else C{None} (no file, another kind of install, a
    URL that is not a local file's). Parsed only when it says
    C{editable}: the launcher imports no C{json} for the others."""
    try:
        with open(directUrl, "rb") as f:
            text = f.read(65536)
    except OSError:
        return None
    if b"editable" not in text:
        return None
    import json
    from urllib.parse import unquote, urlsplit

    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    info, url = record.get("dir_info"), record.get("url")
    if not isinstance(info, dict) or info.get("editable") is not True or not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    return path if path.startswith("/") else None


def _versionFiles(names: tuple[str, ...], cwd: str) -> list[str]:
    """The nearest file of each of C{names} at or above C{cwd} (a version
    manager's local version, C{.python-version})."""
    found = []
    for name in names:
        directory = cwd
        while True:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                found.append(candidate)
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    return found


def _shebang(path: str, environ: Mapping[str, str]) -> str | None:
    """The interpreter a script's C{#!} line names (C{/usr/bin/env X}: X on
    C{PATH}); C{None} for a binary, an unreadable file, or a line naming
    no executable file."""
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
        return None if name is None else which(name, environ.get("PATH", ""))
    named = words[0]  # an interpreter is a program: a file there, executable
    if named.startswith("/") and os.path.isfile(named) and os.access(named, os.X_OK):
        return named
    return None


def which(name: str, searchPath: str) -> str | None:
    """C{name} on C{searchPath}, as a shell finds it."""
    for directory in searchPath.split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
