# -*- test-case-name: tests.sandbox.test_layout, tests.sandbox.test_defaults -*-
"""What a confined child may do when its entry says nothing more: the
tables and the rules, as data (L{mcpgateway.sandbox.layout} applies them to
the paths of this machine).

 - The system, read-only: L{SYSTEM_DIRS} (the ones that exist), minus
   L{DENY_SYSTEM} (password hashes, host keys, saved Wi-Fi passwords).
 - Its own program (the resolved executable, the installation it belongs
   to, the interpreter of a script), the files and directories its
   arguments and C{cwd} name, read-only; a workspace-scoped child's
   workspace writable.
 - Its launcher's package caches, writable (L{LAUNCHERS}: C{npx}'s
   C{~/.npm}, C{uvx}'s C{~/.cache/uv}...), and, when the entry says
   nothing of the network, the launcher's package registries
   (L{network}).
 - Never L{DENY_HOME} (keys, cloud credentials, browser profiles,
   keyrings, shell histories), the gateway's state directory, the other
   servers' directories or the entry's C{denyRead}: each is masked even
   under an allowed path. An C{allowRead}/C{allowWrite} that names one of
   L{DENY_HOME} itself (C{~/.aws} for an AWS server) lifts that one mask;
   nothing lifts the state directory's.

Pure: no file is read here.
"""

from __future__ import annotations

import os

SYSTEM_DIRS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc",
    "/opt",
    "/var",
    "/nix",
    "/gnu",
    "/snap",
    "/run/current-system",
)
"""Bound read-only (a symlink, as merged-C{/usr} systems have C{/bin}, is
made the same symlink)."""

VAR_HIDDEN = ("/var/mail", "/var/spool", "/var/log", "/var/backups", "/var/lib/docker")
"""Parts of C{/var} a server has no business reading: each is an empty
directory in the sandbox (C{/var/tmp} is a private one)."""

DENY_SYSTEM = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssl/private",
    "/etc/krb5.keytab",
    "/etc/NetworkManager/system-connections",
    "/etc/wireguard",
    "/etc/ssh/ssh_host_rsa_key",
    "/etc/ssh/ssh_host_ecdsa_key",
    "/etc/ssh/ssh_host_ed25519_key",
    "/etc/ssh/ssh_host_dsa_key",
)
"""System files readable by their owner alone: a gateway that runs as root
would otherwise hand them to its children (root without capabilities
still reads what root owns)."""

DENY_HOME = (
    "~/.ssh",
    "~/.aws",
    "~/.gnupg",
    "~/.config/gcloud",
    "~/.kube",
    "~/.docker",
    "~/.azure",
    "~/.netrc",
    "~/.git-credentials",
    "~/.config/gh",
    "~/.npmrc",
    "~/.pypirc",
    "~/.mozilla",
    "~/.config/google-chrome",
    "~/.config/chromium",
    "~/.config/BraveSoftware",
    "~/.config/microsoft-edge",
    "~/.local/share/keyrings",
    "~/.password-store",
    "~/.config/1Password",
    "~/.config/Bitwarden",
    "~/.bash_history",
    "~/.zsh_history",
    "~/.local/share/fish/fish_history",
    "~/.python_history",
    "~/.node_repl_history",
    "~/.psql_history",
    "~/.mysql_history",
    "~/Library/Keychains",
    "~/Library/Application Support/Google/Chrome",
    "~/Library/Application Support/Firefox",
    "~/Library/Application Support/BraveSoftware",
    "~/Library/Cookies",
    "~/Library/Mail",
    "~/Library/Messages",
)
"""Never visible to a child, even under a path it may read or write."""


class Launcher:
    """What one package launcher needs: its caches (writable, created when
    missing) and the registries it installs from."""

    def __init__(
        self,
        caches: tuple[tuple[str, str | None], ...],
        registries: tuple[str, ...] = (),
        reads: tuple[str, ...] = (),
    ) -> None:
        self.caches = caches
        """C{(path, variable)}: the cache, and the variable that moves it."""
        self.registries = registries
        self.reads = reads
        """Paths it reads besides (a user's packages)."""


_NPM = Launcher((("~/.npm", "npm_config_cache"),), ("registry.npmjs.org",))
_UV = Launcher(
    (("~/.cache/uv", "UV_CACHE_DIR"), ("~/.local/share/uv", "UV_TOOL_DIR")),
    (
        "pypi.org",
        "files.pythonhosted.org",
        "releases.astral.sh",
        "github.com",
        "release-assets.githubusercontent.com",
        "objects.githubusercontent.com",
    ),
)
"""C{uv}/C{uvx}: packages from PyPI, and the Python a package needs when the
machine has none that fits (uv's managed Pythons, kept in
C{~/.local/share/uv/python}): uv fetches them from its own mirror,
C{releases.astral.sh}, then from their GitHub releases, which C{github.com}
redirects to C{release-assets.githubusercontent.com} (formerly
C{objects.githubusercontent.com})."""
_PYTHON = Launcher((), (), ("~/.local/lib",))

LAUNCHERS: dict[str, Launcher] = {
    "npx": _NPM,
    "npm": _NPM,
    "pnpm": Launcher(
        (("~/.local/share/pnpm", "PNPM_HOME"), ("~/.cache/pnpm", None)), ("registry.npmjs.org",)
    ),
    "pnpx": Launcher(
        (("~/.local/share/pnpm", "PNPM_HOME"), ("~/.cache/pnpm", None)), ("registry.npmjs.org",)
    ),
    "yarn": Launcher(
        (("~/.cache/yarn", "YARN_CACHE_FOLDER"), ("~/.yarn", None)), ("registry.yarnpkg.com",)
    ),
    "bunx": Launcher((("~/.bun", "BUN_INSTALL"),), ("registry.npmjs.org",)),
    "bun": Launcher((("~/.bun", "BUN_INSTALL"),), ("registry.npmjs.org",)),
    "deno": Launcher(
        (("~/.cache/deno", "DENO_DIR"),), ("deno.land", "jsr.io", "registry.npmjs.org")
    ),
    "uvx": _UV,
    "uv": _UV,
    "pipx": Launcher(
        (
            ("~/.local/pipx", None),
            ("~/.local/share/pipx", "PIPX_HOME"),
            ("~/.cache/pipx", None),
        ),
        ("pypi.org", "files.pythonhosted.org"),
    ),
    "python": _PYTHON,
    "python3": _PYTHON,
}
"""By the basename of the command an entry runs (before the gateway resolved
C{npx}/C{uvx} to the package's own program: then the package lives in the
state directory, installed by the gateway, and needs no registry)."""

STATE_INSTALLS = ("npx", "uvx")
"""The state directory's folders of the packages the gateway installed for
C{npx}/C{uvx} servers (L{mcpgateway.runtime.paths.NPX_DIR},
L{mcpgateway.runtime.paths.UVX_DIR}): a server's own is visible to it, the
rest of the state directory never."""

PROCESSES = 512
"""Processes (and threads) a child may start besides those its user runs."""
OPEN_FILES = 8192
MEMORY_MB = 8192
"""The data segment a child may grow to (C{RLIMIT_DATA}): a runaway
allocation's bound, not a quota (V8 and Python reserve address space they
never touch, which C{RLIMIT_AS} would count)."""

UNSET_VARIABLES = (
    "SSH_AUTH_SOCK",
    "GPG_AGENT_INFO",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
)
"""The user's agents and buses, which a child cannot reach in the sandbox:
not named to it either."""


def launcherOf(command: str) -> Launcher | None:
    """The launcher an entry's C{command} is, if it is one of L{LAUNCHERS}."""
    name = os.path.basename(command)
    if name.startswith("python3."):
        name = "python3"
    return LAUNCHERS.get(name)


def network(
    mode: str | None, allowed: tuple[str, ...], command: str
) -> tuple[str, tuple[str, ...]]:
    """The network a child gets, and the domains it may reach: the entry's
    (C{mode} from its C{"network"}); when it says nothing, none, unless its
    C{command} is a launcher that installs at run time (C{npx -y} run as
    configured, with C{--no-resolve} or when the gateway could not install
    it first), which gets its registries."""
    if mode is not None:
        return mode, allowed
    launcher = launcherOf(command)
    if launcher is None or not launcher.registries:
        return "none", ()
    return "allow", launcher.registries
