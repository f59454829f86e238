# -*- test-case-name: tests.sandbox.test_layout, tests.sandbox.test_defaults -*-
"""What a confined child may do when its entry says nothing more: the
tables and the rules, as data (L{mcpgateway.sandbox.layout} applies them to
the paths of this machine).

 - The system, read-only: L{SYSTEM_DIRS} (the ones that exist), minus
   L{DENY_SYSTEM} (password hashes, host keys, saved Wi-Fi passwords).
 - Its own program (the resolved executable, the installation it belongs
   to, the interpreter of a script, the tree of the version manager it
   runs through: L{MANAGERS}), the files its arguments name and its
   C{cwd}, read-only; the folders its arguments name (never the home or
   what holds it, never the system's), a workspace-scoped child's
   workspace, writable.
 - Its launcher's package caches and environments, writable, its own
   (L{LAUNCHERS}: the variables C{npm_config_cache}, C{UV_CACHE_DIR}...
   name folders of the state directory kept for its entry alone), never
   the user's; and, when the entry says nothing of the network, the
   launcher's package registries (L{network}).
 - Never L{DENY_HOME} (keys, cloud and AI clients' credentials, the MCP
   clients' configs, browser profiles, keyrings, shell histories), the
   gateway's state directory and its own files, the other servers'
   directories or the entry's C{denyRead}: each is masked even under an
   allowed path. An C{allowRead}/C{allowWrite} that names one of
   L{DENY_HOME} itself (C{~/.aws} for an AWS server) lifts that one mask;
   nothing lifts the state directory's or the gateway's files'.

Pure: no file is read here.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping

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
    "/etc/security/opasswd",
    "/etc/ppp/chap-secrets",
    "/etc/ppp/pap-secrets",
    "/etc/ipsec.secrets",
    "/etc/letsencrypt/accounts",
    "/etc/letsencrypt/archive",
    "/etc/letsencrypt/keys",
    "/etc/letsencrypt/live",
    "/var/cache/debconf/passwords.dat",
    "/var/cache/debconf/passwords.dat-old",
    "/var/lib/iwd",
)
"""System files readable by their owner alone: a gateway that runs as root
would otherwise hand them to its children (root without capabilities
still reads what root owns). Those deeper than L{PRIVATE_SCAN_DEPTH}
below L{PRIVATE_SCAN_ROOTS} are named here; the shallower ones a root
gateway finds by their mode (L{mcpgateway.sandbox.masks})."""

PRIVATE_SCAN_ROOTS = ("/etc", "/opt", "/var")
"""Where a gateway run as root looks for its own files no one else may
read (a directory no one else may enter, a file no one else may read),
to mask them as it masks L{DENY_SYSTEM}."""
PRIVATE_SCAN_DEPTH = 2
"""How deep: C{/etc/ssl/private}, C{/var/lib/private}, C{/opt/vendor/key}
(about 800 entries and 2 ms on a Debian system; a third level costs
four times that)."""
PRIVATE_SCAN_LIMIT = 4096
"""Entries looked at, at most, whatever the depth."""
PRIVATE_PROBE_DEPTH = 6
PRIVATE_PROBE_LIMIT = 100_000
PRIVATE_PROBE_MAX = 256
"""The deeper look a root gateway's probe takes once, after it daemonized
(about 9,000 entries and 50 to 200 ms on a Debian system): what it finds
(at most L{PRIVATE_PROBE_MAX}) every child's request names, masked as the
shallow scan's are (a file made later is masked only by that scan)."""

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
    # The AI clients' credentials, and every client config the gateway adopts
    # (their MCP entries carry tokens in env and headers).
    "~/.claude.json",
    "~/.claude/.credentials.json",
    "~/.codex/auth.json",
    "~/.codex/config.toml",
    "~/.cursor/mcp.json",
    "~/.config/Code/User/mcp.json",
    "~/.config/Code - Insiders/User/mcp.json",
    "~/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings",
    "~/.config/Code - Insiders/User/globalStorage/saoudrizwan.claude-dev/settings",
    "~/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings",
    "~/.config/Code - Insiders/User/globalStorage/rooveterinaryinc.roo-cline/settings",
    "~/Library/Application Support/Code/User/mcp.json",
    "~/Library/Application Support/Code - Insiders/User/mcp.json",
    "~/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings",
    "~/Library/Application Support/Code - Insiders/User/globalStorage/"
    "saoudrizwan.claude-dev/settings",
    "~/Library/Application Support/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings",
    "~/Library/Application Support/Code - Insiders/User/globalStorage/"
    "rooveterinaryinc.roo-cline/settings",
    "~/.config/Claude/claude_desktop_config.json",
    "~/Library/Application Support/Claude/claude_desktop_config.json",
    "~/.gemini/settings.json",
    "~/.gemini/oauth_creds.json",
    "~/.gemini/google_accounts.json",
    "~/.gemini/.env",
    "~/.codeium/windsurf/mcp_config.json",
    "~/.codeium/mcp_config.json",
    "~/.cline/data/settings",
    "~/Documents/Cline/MCP/cline_mcp_settings.json",
    "~/.continue/config.yaml",
    "~/.continue/config.json",
    "~/.continue/.env",
    "~/.config/opencode/opencode.json",
    "~/.config/opencode/opencode.jsonc",
    "~/.local/share/opencode/auth.json",
    "~/.config/zed/settings.json",
    "~/.config/goose/config.yaml",
    "~/.config/goose/secrets.yaml",
    "~/.copilot/mcp-config.json",
    "~/.copilot/config.json",
    "~/.config/github-copilot",
    "~/.kiro/settings/mcp.json",
    "~/.junie/mcp/mcp.json",
    # Other tools' credentials.
    "~/.pgpass",
    "~/.my.cnf",
    "~/.cargo/credentials.toml",
    "~/.cargo/credentials",
    "~/.terraform.d/credentials.tfrc.json",
    "~/.vault-token",
    "~/.config/rclone",
    "~/.gem/credentials",
    "~/.config/hub",
    "~/.s3cfg",
)
"""Never visible to a child, even under a path it may read or write. The
AI clients' own directories (C{~/.claude}, C{~/.gemini}) hold the MCP
servers of their plugins and extensions, so their credentials and config
files are listed one by one, not the directories."""


class PackageLauncher:
    """What one package launcher needs: the variables that name where it
    keeps its caches and environments (each set to a folder of the
    child's own: L{mcpgateway.sandbox.launchercaches}) and the registries
    it installs from."""

    def __init__(
        self,
        tool: str | None,
        caches: tuple[tuple[str, str], ...] = (),
        registries: tuple[str, ...] = (),
        reads: tuple[str, ...] = (),
    ) -> None:
        self.tool = tool
        """Its folder among a child's own caches (C{<state>/caches/<key>/<tool>});
        C{None}: it keeps none."""
        self.caches = caches
        """C{(variable, path)}: the variable, set for the child to C{path}
        in its own folder (whatever the entry's C{env} says); the first
        part of C{path} is made a folder (hatch's C{config/config.toml}
        names a file in one)."""
        self.registries = registries
        self.reads = reads
        """Paths it reads besides (a user's packages)."""


_PYPI = ("pypi.org", "files.pythonhosted.org")
_NPM = PackageLauncher("npm", (("npm_config_cache", "cache"),), ("registry.npmjs.org",))
_PNPM = PackageLauncher(
    "pnpm",
    (
        ("PNPM_HOME", "home"),
        ("npm_config_store_dir", "store"),
        ("npm_config_cache_dir", "cache"),
        ("npm_config_state_dir", "state"),
        ("pnpm_config_store_dir", "store"),
        ("pnpm_config_cache_dir", "cache"),
        ("pnpm_config_state_dir", "state"),
    ),
    ("registry.npmjs.org",),
)
"""C{PNPM_HOME} (its global programs, and its store but where
C{store-dir} says) and its store, cache (C{pnpm dlx}'s packages) and
state, which pnpm reads from C{npm_config_*} (and, later releases,
C{pnpm_config_*}) before a project's C{.npmrc}."""
_BUN = PackageLauncher(
    "bun", (("BUN_INSTALL", "install"), ("BUN_INSTALL_CACHE_DIR", "cache")), ("registry.npmjs.org",)
)
_UV = PackageLauncher(
    "uv",
    (
        ("UV_CACHE_DIR", "cache"),
        ("UV_TOOL_DIR", "tools"),
        ("UV_TOOL_BIN_DIR", "bin"),
        ("UV_PYTHON_INSTALL_DIR", "python"),
        ("UV_PYTHON_BIN_DIR", "python-bin"),
    ),
    (
        *_PYPI,
        "releases.astral.sh",
        "github.com",
        "release-assets.githubusercontent.com",
        "objects.githubusercontent.com",
    ),
)
"""C{uv}/C{uvx}: packages from PyPI, and the Python a package needs when the
machine has none that fits (uv's managed Pythons: the user's, read-only,
when there are any, else its own): uv fetches them from its own mirror,
C{releases.astral.sh}, then from their GitHub releases, which C{github.com}
redirects to C{release-assets.githubusercontent.com} (formerly
C{objects.githubusercontent.com})."""
_PYTHON = PackageLauncher(None, (), (), ("~/.local/lib",))

LAUNCHERS: dict[str, PackageLauncher] = {
    "npx": _NPM,
    "npm": _NPM,
    "pnpm": _PNPM,
    "pnpx": _PNPM,
    "yarn": PackageLauncher(
        "yarn",
        (("YARN_CACHE_FOLDER", "cache"), ("YARN_GLOBAL_FOLDER", "global")),
        ("registry.yarnpkg.com",),
    ),
    "bunx": _BUN,
    "bun": _BUN,
    "deno": PackageLauncher(
        "deno",
        (("DENO_DIR", "dir"), ("DENO_INSTALL_ROOT", "install")),
        ("deno.land", "jsr.io", "registry.npmjs.org"),
    ),
    "uvx": _UV,
    "uv": _UV,
    "pipx": PackageLauncher(
        "pipx",
        (
            ("PIPX_HOME", "home"),
            ("PIPX_BIN_DIR", "bin"),
            ("PIPX_MAN_DIR", "man"),
            ("PIP_CACHE_DIR", "pip"),
        ),
        _PYPI,
    ),
    "poetry": PackageLauncher(
        "poetry",
        (
            ("POETRY_CACHE_DIR", "cache"),
            ("POETRY_VIRTUALENVS_PATH", "virtualenvs"),
            ("PIP_CACHE_DIR", "pip"),
        ),
        _PYPI,
    ),
    "hatch": PackageLauncher(
        "hatch",
        (
            ("HATCH_DATA_DIR", "data"),
            ("HATCH_CACHE_DIR", "cache"),
            ("HATCH_CONFIG", "config/config.toml"),
            ("UV_CACHE_DIR", "uv"),
            ("PIP_CACHE_DIR", "pip"),
        ),
        _PYPI,
    ),
    "pipenv": PackageLauncher(
        "pipenv",
        (
            ("WORKON_HOME", "virtualenvs"),
            ("PIPENV_CACHE_DIR", "cache"),
            ("PIP_CACHE_DIR", "pip"),
        ),
        _PYPI,
    ),
    "python": _PYTHON,
    "python3": _PYTHON,
}
"""By the basename of the command an entry runs (before the gateway resolved
C{npx}/C{uvx} to the package's own program: then the package lives in the
state directory, installed by the gateway, and needs no registry). The
gateway's own installers (C{npm install}, C{uv tool install}) are launchers
too: their caches are their own as well."""


class Manager:
    """A version manager whose programs run through its own tree (pyenv's
    C{shims/python3} runs C{libexec/pyenv}, which runs
    C{versions/3.12.1/bin/python3}): that tree, read-only, is what such a
    program needs, with the version files the manager reads."""

    def __init__(
        self,
        root: str,
        variable: str | None = None,
        reads: tuple[str, ...] = (),
        versionFiles: tuple[str, ...] = (),
        parts: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        """Its tree, where C{variable} does not move it."""
        self.variable = variable
        self.parts = parts
        """The folders of its tree a program needs, where the rest is no
        program's (Homebrew's C{etc} and C{var} hold its services' configs
        and data); none: the whole tree."""
        self.reads = reads
        """What it reads besides (C{~/.tool-versions}, its global config)."""
        self.versionFiles = versionFiles
        """The local version files it looks for from the working directory up."""


HOMEBREW_PARTS = (
    "bin",
    "sbin",
    "lib",
    "libexec",
    "include",
    "share",
    "opt",
    "Cellar",
    "Frameworks",
)
"""A Homebrew prefix's program folders (a brewed Node.js links the
libraries of C{opt/icu4c}, a link into C{Cellar})."""

MANAGERS = (
    Manager("~/.pyenv", "PYENV_ROOT", versionFiles=(".python-version",)),
    Manager("~/.nodenv", "NODENV_ROOT", versionFiles=(".node-version",)),
    Manager("~/.rbenv", "RBENV_ROOT", versionFiles=(".ruby-version",)),
    Manager(
        "~/.asdf",
        "ASDF_DATA_DIR",
        reads=("~/.tool-versions", "~/.asdfrc"),
        versionFiles=(".tool-versions",),
    ),
    Manager(
        "~/.local/share/mise",
        "MISE_DATA_DIR",
        reads=("~/.config/mise", "~/.tool-versions"),
        versionFiles=(".tool-versions", ".python-version", ".node-version", ".nvmrc"),
    ),
    Manager("~/.volta", "VOLTA_HOME"),
    Manager("/home/linuxbrew/.linuxbrew", "HOMEBREW_PREFIX", parts=HOMEBREW_PARTS),
    Manager("~/.linuxbrew", parts=HOMEBREW_PARTS),
)
"""Where people install their Pythons and Node.js: a program run from one
of these trees (or from any C{shims} directory: the tree is its parent)
sees the tree read-only. nvm needs nothing of this (a Node.js of its runs
from its own prefix, C{~/.nvm/versions/node/v22.1.0}, bound as any
installation is), nor do Nix profiles (their programs resolve into
C{/nix}, a system directory)."""

STATE_INSTALLS = ("npx", "uvx")
"""The state directory's folders of the packages the gateway installed for
C{npx}/C{uvx} servers (L{mcpgateway.runtime.paths.NPX_DIR},
L{mcpgateway.runtime.paths.UVX_DIR}): a server's own is visible to it, the
rest of the state directory never."""

INSTALLING = ".mcpgateway-installing"
"""The file in an install folder of L{STATE_INSTALLS} while an installer
runs there (its gateway's pid): what it holds is not to be trusted, nor
removed (L{mcpgateway.sandbox.installkeeping})."""

STATE_CACHES = "caches"
"""The state directory's folder of the package launchers' caches of
confined children, one folder per entry (C{caches/<key>/<tool>}): a
child's own is bound writable, the rest never shown
(L{mcpgateway.sandbox.launchercaches})."""

PROCESSES = 512
"""Processes (and threads) a child may start besides those its user runs."""
OPEN_FILES = 8192
MEMORY_MB = 8192
"""The data segment a child may grow to (C{RLIMIT_DATA}): a runaway
allocation's bound, not a quota (V8 and Python reserve address space they
never touch, which C{RLIMIT_AS} would count)."""

LOADER_PREFIXES = ("LD_", "DYLD_", "MALLOC_")
LOADER_NAMES = ("GCONV_PATH", "LOCPATH", "NLSPATH", "GLIBC_TUNABLES", "HOSTALIASES")
"""The variables from which the dynamic loader and the C library load shared
objects, charset converters and locales into any program that starts
(C{LD_PRELOAD}, C{LD_LIBRARY_PATH}, C{LD_AUDIT}, C{GCONV_PATH}...): never
set for a process that runs on the host unconfined (a child's launcher,
bubblewrap), only for the confined child (L{mcpgateway.sandbox.loaderenv})."""

UNSET_VARIABLES = (
    "SSH_AUTH_SOCK",
    "GPG_AGENT_INFO",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
)
"""The user's agents and buses, which a child cannot reach in the sandbox:
not named to it either."""


def launcherOf(command: str) -> PackageLauncher | None:
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


DEFAULT_PORTS = (443, 80)
"""The ports an allow-list rule without one allows
(L{mcpgateway.sandbox.netproxy})."""
REGISTRY_VARIABLES = (
    "npm_config_registry",
    "NPM_CONFIG_REGISTRY",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
)
"""The variables that move a launcher's package registry (the files that
can, C{~/.npmrc} and C{pip.conf}, are not read: C{~/.npmrc} is masked
in the sandbox anyway), besides npm's registry of one scope
(L{SCOPED_NPM_REGISTRY})."""
SCOPED_NPM_REGISTRY = re.compile(r"npm_config_@[^:/]+:registry", re.IGNORECASE)
"""npm's registry of one scope's packages (C{npm_config_@acme:registry}:
npm reads its own variables in any case)."""


def registryHosts(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The hosts of the package registries C{environ} names (an allow-list
    entry each: C{host}, or C{host:port} for a port not 80 or 443)."""
    out: dict[str, None] = {}
    scoped = sorted(name for name in environ if SCOPED_NPM_REGISTRY.fullmatch(name))
    for name in (*REGISTRY_VARIABLES, *scoped):
        for url in environ.get(name, "").split():
            try:
                parts = urllib.parse.urlsplit(url)
                host, port = parts.hostname, parts.port
            except ValueError:
                continue
            if host and parts.scheme in ("http", "https"):
                out[host if port in (None, *DEFAULT_PORTS) else f"{host}:{port}"] = None
    return tuple(out)
