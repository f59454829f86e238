# -*- test-case-name: tests.sandbox.test_launchercaches -*-
"""A package launcher's caches and environments: the confined child's own.

A child whose command is a package launcher (L{defaults.LAUNCHERS}: C{npx},
C{uvx}, C{pnpm}, C{poetry}...) downloads, builds and installs as it
starts. Where the tool keeps that by default (C{~/.npm}, C{~/.cache/uv},
uv's tool environments, C{PNPM_HOME}, poetry's, hatch's and pipenv's
environments) is shared with the user and with everything else that runs
the tool: a file planted there (a C{.pth}, a C{node_modules/.bin} shim, a
script in C{PNPM_HOME}, which is on the user's C{PATH}) runs unconfined the
next time the user, or the gateway, runs that tool. So a confined child's
are its own: folders of the gateway's state directory kept for its entry
alone, C{<state>/caches/<key>/<tool>/...} (C{<key>}: the request's
C{cacheKey}, L{mcpgateway.sandbox.request.cacheKey}), made 0700 by the
launcher, bound writable over the state directory's mask
(L{mcpgateway.sandbox.masks.reopen}), and named by the tool's own
variables whatever the entry's C{env} says. An entry's value for one of
them is ignored, with a note: it would choose what the child writes
(C{"POETRY_CACHE_DIR": "/etc"} in a repository's C{.mcp.json}).

Where the user's own copy saves a download or holds what the tool must
run, it is shown read-only, never writable (L{FINDERS}): uv's managed
Pythons, and the environments poetry, hatch and pipenv made for the
project the child runs in (each tool names them by a digest of the
project's path), with the installation of the Python each was made from.

The gateway's own installers (C{npm install}, C{uv tool install}) are
launchers too: their caches are their install's own. The variables the
gateway set to folders of the install itself (C{UV_TOOL_DIR} in
C{<state>/uvx/<package>}) are kept.

Standard library only: the launcher imports it before every confined
child (C{hashlib} and C{base64} only for poetry, hatch and pipenv).
"""

from __future__ import annotations

import os
import stat

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.places import Places, expand, real, under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

MAX_KEY = 128
XDG = (("~/.cache/", "XDG_CACHE_HOME"), ("~/.local/share/", "XDG_DATA_HOME"))
PROJECT_DEPTH = 16
"""Folders looked at, from the working directory up, for a project's file."""


class Caches:
    """What a child's launcher gets (L{prepare}).

    @ivar own: the child's own folder (C{<state>/caches/<key>/<tool>}),
        made: bound writable.
    @ivar shown: the user's copies the tool runs from (a managed Python,
        the project's environments), each with the path it was found
        through: bound read-only (L{readable}).
    @ivar variables: set in the child's environment, whatever it holds
        (L{environment}).
    @ivar ignored: the entry's variables that are one of those, or
        another launcher's (in any spelling): their values name no place
        of the server's.
    """

    def __init__(self) -> None:
        self.own: list[str] = []
        self.shown: list[tuple[str, str]] = []
        self.variables: dict[str, str] = {}
        self.ignored: set[str] = set()


def keyOf(request: Mapping[str, Any], field: str = "cacheKey") -> str:
    """The folder of the entry's caches: the request's C{cacheKey} (or
    another key it carries, C{field}) when it is a plain file name, else
    its server's name made one."""
    key = request.get(field)
    if isinstance(key, str) and _fileName(key) == key and len(key) <= MAX_KEY:
        return key
    return _fileName(str(request.get("server") or ""))


def _fileName(text: str) -> str:
    name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in text)
    return "_" + name if name.startswith(".") or not name else name


def prepare(
    places: Places,
    request: Mapping[str, Any],
    environ: Mapping[str, str],
    command: str,
    cwd: str,
    argv: list[str],
    notes: list[str],
) -> Caches:
    """The caches of a child whose entry runs C{command} (C{argv}, in
    C{cwd}): its own folder made, the user's copies its tool runs from
    found, its variables set. The entry's value for one of them, or for
    another launcher's (a C{node} server's C{UV_CACHE_DIR}: the user's uv
    cache, which C{uvx} installs from), names no place of the server's:
    it is ignored (L{Caches.ignored}), and noted in C{notes}."""
    caches = Caches()
    entry = {str(name) for name in request.get("entryEnv") or ()}
    launcher = defaults.launcherOf(command)
    if launcher is None or launcher.tool is None or not launcher.caches:
        _others(caches, entry, environ, {}, notes)
        return caches
    root = os.path.join(places.stateDir, defaults.STATE_CACHES, keyOf(request), launcher.tool)
    variables = {variable: os.path.join(root, path) for variable, path in launcher.caches}
    finder = FINDERS.get(launcher.tool)
    if finder is not None:
        found, caches.shown = finder(places, _UserCopies(places, environ, entry), cwd, argv)
        variables.update(found)
    install = request.get("install")
    if isinstance(install, str) and install.startswith("/"):
        for variable in variables:  # the gateway's own install: its folders are its own
            value = environ.get(variable, "")
            if value.startswith("/") and under(real(value), real(install)):
                variables[variable] = value
    caches.variables = variables
    named = {_normal(variable): variable for variable in variables}
    for name in sorted(entry):
        match = named.get(_normal(name))
        if match is None:
            continue
        caches.ignored.add(name)
        if environ.get(name) != variables[match]:
            notes.append(
                f"{name}={environ.get(name, '')} in its env is ignored: the sandbox names"
                f" {launcher.tool}'s caches ({match}={variables[match]})"
            )
    _others(caches, entry, environ, named, notes)
    why = _make(places.stateDir, root, sorted({path for _, path in launcher.caches}))
    if why is None:
        caches.own.append(root)
    else:
        notes.append(f"its launcher's own caches {root}: {why}")
    return caches


def _others(
    caches: Caches,
    entry: Iterable[str],
    environ: Mapping[str, str],
    own: Mapping[str, str],
    notes: list[str],
) -> None:
    """The entry's variables that name another launcher's caches (not
    C{own}, this child's): ignored, and noted."""
    for name in sorted(entry):
        if _normal(name) in KNOWN and _normal(name) not in own:
            caches.ignored.add(name)
            notes.append(
                f"{name}={environ.get(name, '')} in its env names a package launcher's caches,"
                " shared with the user: not the server's to write, not shown"
            )


def readable(places: Places, caches: Caches) -> list[str]:
    """The user's copies to show the child read-only, once the places it
    may write are known: not one found through a symlink in one of them
    (the child's to have made)."""
    return [path for path, via in caches.shown if places.follow(via)[1]]


def environment(environ: Mapping[str, str], variables: Mapping[str, str]) -> dict[str, str]:
    """C{environ} with C{variables} set, and every other spelling of their
    names removed: npm and pnpm read C{NPM_CONFIG_CACHE} and
    C{npm_config_cache} alike (and C{-} for C{_}), the last one they find
    winning."""
    names = {_normal(name) for name in variables}
    env = {k: v for k, v in environ.items() if _normal(k) not in names}
    env.update(variables)
    return env


def _normal(name: str) -> str:
    return name.lower().replace("-", "_")


KNOWN = frozenset(
    _normal(variable) for launcher in defaults.LAUNCHERS.values() for variable, _ in launcher.caches
)
"""Every launcher's cache variables, in their plain spelling."""


def _make(stateDir: str, root: str, paths: Iterable[str]) -> str | None:
    """Make C{root} (inside the existing C{stateDir}) and its missing
    parents, each a directory of mode 0700, and in it each of C{paths}: a
    directory (C{cache}), or a folder and a file in it, made empty (mode
    0600) when missing (C{config/config.toml}). What stands in the way (a
    symlink, or a file where a directory goes, the child left in its own
    folder) is removed, never followed. Why not, or C{None}."""
    if not os.path.isdir(stateDir):
        return f"the state directory {stateDir} does not exist"
    path = stateDir
    try:
        for part in os.path.relpath(root, stateDir).split("/"):
            path = os.path.join(path, part)
            _made(path, True)
        for named in paths:
            folder, _, name = named.partition("/")
            path = os.path.join(root, folder)
            _made(path, True)
            if name:
                path = os.path.join(root, folder, name)
                _made(path, False)
    except OSError as e:
        return f"{path} cannot be made: {e.strerror or e}"
    return None


def _made(path: str, directory: bool) -> None:
    """C{path}, a directory or a regular file, made when missing or
    something else (which is removed first). Another child's launcher may
    make it at the same moment: what it made is as good."""

    def there() -> bool:
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode):
            return True
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "a directory where a file goes")
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False  # another child's launcher removed it just now
        return False

    if there():
        return
    try:
        if directory:
            os.mkdir(path, 0o700)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        if not there():
            raise


class _UserCopies:
    """Where the user keeps a tool's own copies: as the gateway's
    environment says (never the entry's), else the tool's default."""

    def __init__(self, places: Places, environ: Mapping[str, str], entry: set[str]) -> None:
        self.places = places
        self.environ = environ
        self.entry = entry

    def value(self, name: str) -> str | None:
        """The gateway's value of C{name}, an absolute path (not the entry's)."""
        value = "" if name in self.entry else self.environ.get(name, "")
        return os.path.normpath(value) if value.startswith("/") else None

    def default(self, path: str) -> str:
        """C{path} (C{~/.cache/...}, C{~/.local/share/...}) where the
        gateway's C{XDG_CACHE_HOME} and C{XDG_DATA_HOME} move it."""
        for prefix, variable in XDG:
            moved = self.value(variable)
            if path.startswith(prefix) and moved is not None:
                return os.path.join(moved, path[len(prefix) :])
        home = self.places.home
        return expand(path, home, home)

    def folder(self, path: str) -> str | None:
        """C{path}, when it is a folder that may be shown read-only: there,
        reached through no symlink the child may have made, not wide, not
        in the state directory."""
        target = self.places.resolve(path)
        if target is None or not os.path.isdir(target):
            return None
        if self.places.wide(target) or under(target, self.places.stateDir):
            return None
        return path


Found = tuple[dict[str, str], list[tuple[str, str]]]
"""The variables that name the user's copies, and those copies (read-only),
each with the path it was found through."""


def _uv(places: Places, user: _UserCopies, cwd: str, argv: list[str]) -> Found:
    """uv's managed Pythons (C{UV_PYTHON_INSTALL_DIR}, default
    C{~/.local/share/uv/python}): a Python the user has need not be
    downloaded; one the user lacks makes C{uvx} fail (read-only), as it
    does offline."""
    named = user.value("UV_PYTHON_INSTALL_DIR") or user.default("~/.local/share/uv/python")
    pythons = user.folder(named)
    if pythons is None:
        return {}, []
    return {"UV_PYTHON_INSTALL_DIR": pythons}, [(pythons, pythons)]


def _poetry(places: Places, user: _UserCopies, cwd: str, argv: list[str]) -> Found:
    """The environments C{poetry install} made for the project (the
    nearest C{pyproject.toml} at or above the working directory, or the
    one C{-C}/C{--directory}/C{-P}/C{--project} names): in its
    C{virtualenvs} folder, named C{<name>-<digest of the project's
    path>-py<version>}, with its C{envs.toml} (the version C{poetry env
    use} chose)."""
    cache = user.value("POETRY_CACHE_DIR") or user.default("~/.cache/pypoetry")
    named = user.value("POETRY_VIRTUALENVS_PATH") or os.path.join(cache, "virtualenvs")
    folder = user.folder(named)
    project = _project(places, _poetryStart(argv, cwd), ("pyproject.toml",))
    if folder is None or project is None:
        return {}, []
    marks = [f"-{_digest(path)[:8]}-py" for path in _spellings(project)]
    envs = _entries(folder, lambda name: any(mark in name for mark in marks))
    if not envs:
        return {}, []
    chosen = [p for p in [os.path.join(folder, "envs.toml")] if os.path.isfile(p)]
    shown = [*_same(envs), *_same(chosen), *_bases(places, envs)]
    return {"POETRY_VIRTUALENVS_PATH": folder}, shown


def _poetryStart(argv: list[str], cwd: str) -> str:
    """Where poetry looks for its project: C{cwd}, or the folder its
    options before C{run} name."""
    start = cwd
    words = argv[1:]
    for i, word in enumerate(words):
        if word == "run":
            break
        for option in ("-C", "--directory", "-P", "--project"):
            if word == option and i + 1 < len(words):
                start = os.path.join(cwd, words[i + 1])
            elif word.startswith(option + "=") and option.startswith("--"):
                start = os.path.join(cwd, word[len(option) + 1 :])
    return os.path.normpath(start)


def _hatch(places: Places, user: _UserCopies, cwd: str, argv: list[str]) -> Found:
    """The environments hatch made for the project (the nearest
    C{pyproject.toml} or C{setup.py} at or above the working directory):
    C{<data>/env/virtual/<name>/<digest of the project's path>/}, with
    what hatch recorded of them (C{<data>/env/.metadata/<digest>/})."""
    named = user.value("HATCH_DATA_DIR") or user.default("~/.local/share/hatch")
    data = user.folder(named)
    project = _project(places, cwd, ("pyproject.toml", "setup.py"))
    if data is None or project is None:
        return {}, []
    ids = {_digest(path)[:8] for path in _spellings(project)}
    virtual = os.path.join(data, "env", "virtual")
    storages = [
        os.path.join(name, id)
        for name in _entries(virtual, lambda name: not name.startswith("."))
        for id in sorted(ids)
        if os.path.isdir(os.path.join(name, id))
    ]
    if not storages:
        return {}, []
    recorded = [os.path.join(data, "env", ".metadata", id) for id in sorted(ids)]
    recorded = [path for path in recorded if os.path.isdir(path)]
    envs = [env for storage in storages for env in _entries(storage, lambda name: True)]
    shown = [*_same(storages), *_same(recorded), *_bases(places, envs)]
    return {"HATCH_DATA_DIR": data}, shown


def _pipenv(places: Places, user: _UserCopies, cwd: str, argv: list[str]) -> Found:
    """The environment pipenv made for the project's C{Pipfile} (the
    nearest at or above the working directory, or C{PIPENV_PIPFILE}): in
    C{WORKON_HOME}, named C{<name>-<digest of the Pipfile's path>}."""
    named = user.value("WORKON_HOME") or user.default("~/.local/share/virtualenvs")
    folder = user.folder(named)
    given = user.environ.get("PIPENV_PIPFILE", "")
    if given:
        pipfile: str | None = os.path.normpath(os.path.join(cwd, given))
    else:
        project = _project(places, cwd, ("Pipfile",))
        pipfile = None if project is None else os.path.join(project, "Pipfile")
    if folder is None or pipfile is None or not os.path.isfile(pipfile):
        return {}, []
    import base64
    import hashlib

    marks = [
        "-" + base64.urlsafe_b64encode(hashlib.sha256(path.encode()).digest()[:6]).decode()[:8]
        for path in _spellings(pipfile)
    ]
    envs = _entries(folder, lambda name: any(name.endswith(mark) for mark in marks))
    if not envs:
        return {}, []
    return {"WORKON_HOME": folder}, [*_same(envs), *_bases(places, envs)]


FINDERS: dict[str, Callable[[Places, _UserCopies, str, list[str]], Found]] = {
    "uv": _uv,
    "poetry": _poetry,
    "hatch": _hatch,
    "pipenv": _pipenv,
}
"""By tool: the user's copies its child is shown read-only, and the
variables that name them (in place of the child's own folders)."""


def _project(places: Places, start: str, names: tuple[str, ...]) -> str | None:
    """The nearest folder at or above C{start} that holds one of C{names},
    never a wide one (the home)."""
    return places.nearestHolding(start, names, PROJECT_DEPTH)


def _spellings(path: str) -> list[str]:
    """C{path} as given and as resolved: a tool digests the one it was given."""
    return list(dict.fromkeys([path, real(path)]))


def _digest(text: str) -> str:
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _entries(folder: str, keep: Callable[[str], bool]) -> list[str]:
    """The folders in C{folder} whose name C{keep} keeps."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    out = []
    for name in names:
        path = os.path.join(folder, name)
        if keep(name) and os.path.isdir(path) and not os.path.islink(path):
            out.append(path)
    return out


def _same(paths: Iterable[str]) -> list[tuple[str, str]]:
    return [(path, path) for path in paths]


def _bases(places: Places, envs: Iterable[str]) -> list[tuple[str, str]]:
    """The installations of the Pythons the environments C{envs} were made
    from (their C{bin/python} resolved: a pyenv version, a managed Python),
    where the system does not show them already."""
    found: dict[str, str] = {}
    for env in envs:
        link = os.path.join(env, "bin", "python")
        target = places.resolve(link)
        if target is None or under(target, real(env)) or not os.path.isfile(target):
            continue
        root = places.installRoot(target)
        if not places.visible(root) and not places.wide(root):
            found.setdefault(root, link)
    return list(found.items())
