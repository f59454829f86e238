# -*- test-case-name: tests.sandbox.test_pathrule -*-
"""The one rule every path a confined child is shown passes, whatever
asked for it: an argument, a variable of its entry's C{env}, its C{cwd},
its workspace, a launcher's cache or environment, an editable install's
record, a workspace's C{node_modules}, C{allowRead}, C{allowWrite}, a
module path. L{mcpgateway.sandbox.layout} asks L{refusal} before it binds
anything; nothing is bound around it.

Two sources of trust decide what a path may be
(docs/guide/sandbox.md, "One rule for every path"):

 - I{What the path is.} Never shown, read or written: the root, the home
   or what holds it, the shared temporary directories (L{Places.wide}),
   the shared folders of the home (L{SHARED_HOME}: C{~/.config},
   C{~/.cache}, C{~/.local} and its C{share} and C{state}, each holding
   many programs' data), the state directory, the deny list
   (L{defaults.DENY_HOME}, L{defaults.DENY_SYSTEM}, the gateway's own
   files; an C{allowRead}/C{allowWrite} naming one of the home's lifts
   that mask alone, as the masks do). Never written, besides: the system
   (L{Places.system}) and every place that a process outside the sandbox
   later runs code from (L{RUNS_CODE}: the user's tool environments and
   program folders, shell start-up files, C{~/.config/autostart},
   systemd user units, the AI clients' hooks, a folder of the user's
   C{PATH}, an interpreter's C{site-packages}, the gateway's own
   installation), nor a folder that holds one.
 - I{Where the entry came from.} A repository's entry (a project's own
   file, not approved by the person: the request's C{confinedTo}, its
   workspace) is shown nothing its entry names outside its workspace:
   its program and the default view, nothing more
   (L{mcpgateway.config.pathwidening} warns of each such key).

A symlink is judged by where it leads and by the name it was given: both
are bound. Standard library only: the launcher imports it before every
confined child.
"""

from __future__ import annotations

import os
import shlex

from mcpgateway.sandbox import defaults
from mcpgateway.sandbox.places import Places, expand, real, under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

SHARED_HOME = ("~/.config", "~/.cache", "~/.local", "~/.local/share", "~/.local/state")
"""Folders of the home that hold many programs' data: never shown whole."""

RUNS_CODE = (
    # programs and libraries the user runs
    "~/.local/bin",
    "~/.local/lib",
    "~/bin",
    "~/.bin",
    "~/.local/share/applications",
    # the tools' environments and caches of built packages
    "~/.local/share/uv",
    "~/.cache/uv",
    "~/.local/pipx",
    "~/.local/share/pipx",
    "~/.cache/pipx",
    "~/.local/share/pnpm",
    "~/.cache/pnpm",
    "~/.npm",
    "~/.npm-global",
    "~/.yarn",
    "~/.cache/yarn",
    "~/.bun",
    "~/.deno",
    "~/.cache/deno",
    "~/.cache/pypoetry",
    "~/.local/share/pypoetry",
    "~/.local/share/hatch",
    "~/.cache/hatch",
    "~/.local/share/virtualenvs",
    "~/.virtualenvs",
    "~/.cache/pipenv",
    "~/.conda",
    "~/miniconda3",
    "~/anaconda3",
    "~/.pyenv",
    "~/.nodenv",
    "~/.rbenv",
    "~/.asdf",
    "~/.local/share/mise",
    "~/.volta",
    "~/.nvm",
    "~/.fnm",
    "~/.local/share/fnm",
    "~/.cargo",
    "~/.rustup",
    "~/go",
    "~/.gem",
    "~/.linuxbrew",
    # what tells those tools where to install from
    "~/.config/pip",
    "~/.pip",
    "~/.config/uv",
    "~/.config/pypoetry",
    "~/.condarc",
    # shells, sessions and services
    "~/.bashrc",
    "~/.bash_profile",
    "~/.bash_login",
    "~/.bash_logout",
    "~/.profile",
    "~/.zshrc",
    "~/.zshenv",
    "~/.zprofile",
    "~/.zlogin",
    "~/.zlogout",
    "~/.oh-my-zsh",
    "~/.config/fish",
    "~/.config/zsh",
    "~/.inputrc",
    "~/.pam_environment",
    "~/.xprofile",
    "~/.xinitrc",
    "~/.xsession",
    "~/.xsessionrc",
    "~/.config/environment.d",
    "~/.config/autostart",
    "~/.config/systemd",
    "~/.local/share/systemd",
    "~/.config/upstart",
    # programs that run what their configuration says
    "~/.gitconfig",
    "~/.config/git",
    "~/.vimrc",
    "~/.vim",
    "~/.config/nvim",
    "~/.emacs",
    "~/.emacs.d",
    "~/.config/emacs",
    "~/.claude/settings.json",
    "~/.claude/settings.local.json",
    "~/.claude/hooks",
    "~/.claude/plugins",
    "~/.claude/commands",
    "~/.claude/agents",
    "~/.vscode/extensions",
    "~/.cursor/extensions",
    "~/.config/Code/User/settings.json",
)
"""Places of the home that a process outside the sandbox later runs code
from, or reads where to get code from: never written by a child."""

PACKAGE_FOLDERS = ("site-packages", "dist-packages")
"""A folder of these names is an interpreter's: what is there is imported
by every program of that interpreter (a C{.pth} file runs at its start)."""

TOOL_VARIABLES = (
    "PNPM_HOME",
    "PIPX_HOME",
    "PIPX_BIN_DIR",
    "UV_TOOL_DIR",
    "UV_TOOL_BIN_DIR",
    "UV_PYTHON_INSTALL_DIR",
    "UV_CACHE_DIR",
    "npm_config_cache",
    "npm_config_prefix",
    "BUN_INSTALL",
    "DENO_DIR",
    "DENO_INSTALL",
    "POETRY_CACHE_DIR",
    "POETRY_VIRTUALENVS_PATH",
    "HATCH_DATA_DIR",
    "HATCH_CACHE_DIR",
    "WORKON_HOME",
    "PIPENV_CACHE_DIR",
    "YARN_CACHE_FOLDER",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "GOPATH",
    "GOBIN",
    "VOLTA_HOME",
    "PYENV_ROOT",
    "NVM_DIR",
    "CONDA_PREFIX",
    "VIRTUAL_ENV",
)
"""Variables of the user's environment that move a place of L{RUNS_CODE}."""

XDG_MOVES = (
    ("~/.config/", "XDG_CONFIG_HOME"),
    ("~/.local/share/", "XDG_DATA_HOME"),
    ("~/.cache/", "XDG_CACHE_HOME"),
    ("~/.local/state/", "XDG_STATE_HOME"),
)
"""The places of L{RUNS_CODE} a user's XDG variable moves."""

A_PROGRAM = "a program"
"""The source of a program a repository's entry runs (its command, a word
of its shell script, a script's C{#!} interpreter), before its
installation is shown as its C{program}'s: it must be the system's, in its
workspace or where the user's programs are installed
(L{PathRule.programPlaces})."""

DEFAULT_VIEW = ("program", "module path", "workspace")
"""What asked for a path, where a repository's entry gets it anyway: its
program's installation and what it needs to run, the gateway's module
path, its own workspace. Every other source (an argument, C{env}, C{cwd},
a launcher's cache, C{allowRead}) is the entry's own word."""


class PathRule:
    """The rule, with the facts of one child: its places, the user's
    environment (never the entry's own variables), its gateway's files,
    and the workspace a repository's entry is confined to."""

    def __init__(
        self,
        places: Places,
        environ: Mapping[str, str],
        entryVariables: Iterable[str] = (),
        gatewayFiles: Iterable[str] = (),
        interpreterPaths: Iterable[str] = (),
        confinedTo: str | None = None,
        server: str = "",
    ) -> None:
        self.places = places
        self.server = server or "<server>"
        """The server's name, as the fix of a refusal names it."""
        home = places.home
        own = {str(name) for name in entryVariables}
        user = {k: v for k, v in environ.items() if k not in own}
        self.denied = [expand(entry, home, home) for entry in defaults.DENY_HOME]
        self.never = [*defaults.DENY_SYSTEM, *(os.path.normpath(p) for p in gatewayFiles)]
        self.shared = {expand(entry, home, home) for entry in SHARED_HOME}
        self.shared |= {real(path) for path in self.shared}
        runs = [expand(entry, home, home) for entry in RUNS_CODE]
        for prefix, variable in XDG_MOVES:
            moved = user.get(variable, "")
            if moved.startswith("/"):
                runs += [
                    os.path.join(moved, expand(entry, home, home)[len(home) + len(prefix) - 1 :])
                    for entry in RUNS_CODE
                    if entry.startswith(prefix)
                ]
        tools = [user[name] for name in TOOL_VARIABLES if user.get(name, "").startswith("/")]
        path = [p for p in user.get("PATH", "").split(os.pathsep) if p.startswith("/")]
        interpreters = [p for p in interpreterPaths if p.startswith("/")]
        runs += [*tools, *path, *interpreters]
        installed = [*path, *tools, *interpreters, *(root for root, _ in places.managerTable)]
        self.programPlaces = sorted(
            {os.path.normpath(p) for p in installed} | {real(p) for p in installed}
        )
        """Where the user's programs are installed: the folders of the
        user's C{PATH}, the tool variables' and the gateway's interpreter's,
        the version managers' trees. A repository's program comes from
        these, the system or its own workspace."""
        self.runsCode = sorted(
            {os.path.normpath(p) for p in runs} | {real(p) for p in runs if os.path.lexists(p)}
        )
        self.confinedTo = None if confinedTo is None else real(confinedTo)

    def refusal(self, path: str, writable: bool, source: str) -> str | None:
        """Why C{path} (absolute: a real path, or the name a bind is also
        made at) may not be shown to the child, read-only or C{writable},
        when C{source} asked for it (C{"an argument"}, C{"env DATA_DIR"},
        C{"allowRead ~/notes"}...); C{None}: it may."""
        places = self.places
        path = os.path.normpath(path)
        if places.wide(path) or path in self.shared:
            return "too wide: it holds the home, or many programs' data"
        if under(path, places.stateDir):
            return "the gateway's state directory"
        if any(under(path, p) for p in self.never):
            return "on the deny list (the gateway's own files, the system's secrets)"
        if not source.startswith("allow") and any(under(path, p) for p in self.denied):
            return "on the deny list (keys and credentials)"
        if writable:
            if places.system(path):
                return "the system's"
            code = self.runsCodeAt(path)
            if code is not None:
                return code
        if self._outsideItsWorkspace(path, source):
            return (
                f"outside its workspace {self.confinedTo}: a repository's entry is"
                " not shown more than the default view"
            )
        return None

    def _outsideItsWorkspace(self, path: str, source: str) -> bool:
        """Whether a repository's entry names C{path} beyond its own
        workspace and what every child is shown anyway (a program: beyond
        where the user's programs are installed too)."""
        confined = self.confinedTo
        if confined is None or source in DEFAULT_VIEW or under(path, confined):
            return False
        if source == A_PROGRAM and any(under(path, p) for p in self.programPlaces):
            return False
        return not self.places.visible(path)

    def runsCodeAt(self, path: str) -> str | None:
        """Why writing C{path} would let a child plant code that runs
        outside its sandbox, or C{None}."""
        for place in self.runsCode:
            if under(path, place):
                return f"code run outside the sandbox comes from {place}"
            if under(place, path):
                return f"it holds {place}, where code run outside the sandbox comes from"
        if any(part in PACKAGE_FOLDERS for part in path.split("/")):
            return "an interpreter's packages: every program of it imports them"
        return None

    @staticmethod
    def fix(source: str, writable: bool) -> str:
        """What the person can do about a refusal of C{source}'s path."""
        if source.startswith(("env ", "an argument", "cwd", "its launcher")):
            return (
                "name a folder of the server's own (a project folder, a data folder under"
                " ~/.local/share/<server>) instead"
            )
        if writable:
            return "give the server a folder of its own with filesystem.allowWrite"
        return "name the files it needs with filesystem.allowRead"

    def note(self, path: str, writable: bool, source: str, why: str) -> str:
        """One line for the layout's notes (C{mcpgateway sandbox show}) and
        the child's start-up log: the source, the path, why, the fix."""
        how = "writable" if writable else "read-only"
        if why.startswith("outside its workspace"):
            project = shlex.quote(self.confinedTo) if self.confinedTo else "<project>"
            fix = (
                f"mcpgateway sandbox approve {shlex.quote(self.server)} --workspace {project}"
                " lets it"
            )
        else:
            fix = self.fix(source, writable)
        return f"{source}: {path} not shown {how}: {why}; {fix}"
