# -*- test-case-name: tests.config.test_deniedenv -*-
"""The environment variables that choose the code a program runs.

A workspace's C{.env} may come with a cloned repository, and a client's
C{X-Mcp-Env-*} headers come from whoever holds a token: neither may set a
variable that makes the server's program (which the user configured) load
or run other code, read its configuration from elsewhere, or fetch its
packages from elsewhere. L{isDenied} says which; it holds even when a
server's entry lists the name (its C{envFrom} and C{credentialEnv} may not),
while the user's own entry C{env} and the gateway's C{<state-dir>/.env}
set anything.

The families (L{FAMILIES}) go by prefix where a tool reads a whole family
(C{npm_config_*}, C{UV_*}, C{GIT_*}), by name where a prefix would take
plain credentials too (Go's C{GO*} would take C{GOOGLE_API_KEY}). A name is
tested in capitals: Windows reads every name in any case, npm reads its
own in any case. A denylist cannot be complete; the rule that does the
work is that a workspace's C{.env} passes only the names the server's entry
lists (L{mcpgateway.config.envfiles.onlyListed}).
"""

from __future__ import annotations

from dataclasses import dataclass

from mcpgateway.sandbox.defaults import LOADER_NAMES, LOADER_PREFIXES


@dataclass(frozen=True)
class DeniedVariables:
    """Variables denied for one reason."""

    why: str
    """What they steer: why a workspace or a client may not set them."""
    prefixes: tuple[str, ...] = ()
    """Every name starting with one of these (in capitals)."""
    names: tuple[str, ...] = ()
    """These names (in capitals)."""


FAMILIES = (
    DeniedVariables(
        "the dynamic loader and the C library load shared objects, charset"
        " converters and locales from these",
        LOADER_PREFIXES,
        LOADER_NAMES,
    ),
    DeniedVariables(
        "a shell runs these, or the commands and functions they name (a child"
        " that is a script, or runs one)",
        ("BASH",),  # BASH_ENV, BASHOPTS, BASH_FUNC_*, BASH_LOADABLES_PATH
        ("ENV", "SHELL", "SHELLOPTS", "PS4", "PROMPT_COMMAND", "IFS", "CDPATH", "FPATH", "ZDOTDIR"),
    ),
    DeniedVariables(
        "where programs are found (PWD fills a ${PWD} command), where the user's"
        " own configuration is read from (.npmrc, .gitconfig, pip.conf, uv.toml,"
        " caches of built packages), and where temporary files go",
        ("XDG_",),
        (
            "PATH",
            "HOME",
            "PWD",
            "OLDPWD",
            "TMPDIR",
            "TMP",
            "TEMP",
            "USERPROFILE",
            "APPDATA",
            "LOCALAPPDATA",
            "COMSPEC",
            "PATHEXT",
            "PSMODULEPATH",
        ),
    ),
    DeniedVariables(
        "programs other programs start (an editor, a pager, a browser, a password prompt)",
        (),
        (
            "EDITOR",
            "VISUAL",
            "PAGER",
            "MANPAGER",
            "BROWSER",
            "LESSOPEN",
            "LESSCLOSE",
            "VIMINIT",
            "EXINIT",
            "SUDO_ASKPASS",
            "SYSTEMD_PAGER",
            "SYSTEMD_EDITOR",
        ),
    ),
    DeniedVariables(
        "Python, its package installers and environment managers (PYTHONUSERBASE"
        " imports a .pth file; uvx and pip fetch packages from an index these name)",
        (
            "PYTHON",
            "PIP_",
            "PIPX_",
            "UV_",
            "POETRY_",
            "PDM_",
            "HATCH_",
            "CONDA_",
            "MAMBA_",
            "PIXI_",
            "RYE_",
            "PYENV",
        ),
        ("VIRTUAL_ENV",),
    ),
    DeniedVariables(
        "Node.js, its package managers and version managers (NODE_OPTIONS loads"
        " a module; npx fetches packages from the registry npm_config_registry names)",
        (
            "NODE_",
            "NPM_CONFIG_",
            "YARN_",
            "PNPM_",
            "COREPACK_",
            "BUN_",
            "DENO_",
            "TS_NODE_",
            "ELECTRON_",
            "VOLTA_",
            "NVM_",
            "FNM_",
            "NODENV",
        ),
    ),
    DeniedVariables(
        "the browser a browser-automation server starts, and the toolkit and"
        " graphics modules it loads",
        (
            "PLAYWRIGHT_",
            "PUPPETEER_",
            "CHROME_",
            "CHROMIUM_",
            "GTK_",
            "GDK_",
            "GIO_",
            "GST_PLUGIN",
            "GSETTINGS_",
            "QT_",
            "LIBGL_",
            "MESA_",
            "__EGL_",
            "__GLX_",
        ),
        (
            "GI_TYPELIB_PATH",
            "VK_ICD_FILENAMES",
            "VK_DRIVER_FILES",
            "VK_ADD_DRIVER_FILES",
            "VK_LAYER_PATH",
            "VK_ADD_LAYER_PATH",
            "VK_IMPLICIT_LAYER_PATH",
            "VK_ADD_IMPLICIT_LAYER_PATH",
        ),
    ),
    DeniedVariables(
        "the JVM and its build tools (JAVA_TOOL_OPTIONS loads an agent)",
        ("JAVA_", "_JAVA_", "JDK_", "MAVEN_", "GRADLE_", "SBT_", "ANT_"),
        ("CLASSPATH",),
    ),
    DeniedVariables(
        ".NET and its packages (DOTNET_STARTUP_HOOKS, CORECLR_PROFILER_PATH load assemblies)",
        ("DOTNET_", "CORECLR_", "COMPLUS_", "NUGET_", "MSBUILD"),
    ),
    DeniedVariables(
        "Ruby, Perl, PHP, Lua, Tcl, R, Julia and Erlang/Elixir (RUBYOPT, PERL5OPT,"
        " LUA_INIT run code at start-up; their library paths choose what is loaded)",
        (
            "RUBY",
            "GEM_",
            "BUNDLE_",
            "RBENV",
            "PERL",
            "PLENV",
            "PHP",
            "LUA_",
            "TCL",
            "R_",
            "JULIA_",
            "ERL_",
            "ELIXIR_",
            "MIX_",
        ),
        ("TK_LIBRARY",),
    ),
    DeniedVariables(
        "Rust's and Go's toolchains (RUSTC_WRAPPER, RUSTFLAGS, GOFLAGS, GOAUTH"
        " run or link other code; a GO prefix would take GOOGLE_API_KEY too)",
        ("CARGO_", "RUSTC", "RUSTDOC", "RUSTFLAGS", "RUSTUP_", "CGO_", "GOENV"),
        (
            "GOFLAGS",
            "GOPATH",
            "GOROOT",
            "GOBIN",
            "GOAUTH",
            "GOPROXY",
            "GOPRIVATE",
            "GONOPROXY",
            "GONOSUMDB",
            "GOSUMDB",
            "GOINSECURE",
            "GOVCS",
            "GOWORK",
            "GOTOOLCHAIN",
            "GOEXPERIMENT",
            "GOCACHE",
            "GOMODCACHE",
            "GOTMPDIR",
            "GCCGO",
        ),
    ),
    DeniedVariables(
        "the compilers and build tools a package install runs to build native"
        " code (node-gyp, pip: CC, or CFLAGS with -fplugin, runs other code)",
        ("PKG_CONFIG", "CMAKE_", "CCACHE_"),
        (
            "CC",
            "CXX",
            "CPP",
            "LD",
            "AR",
            "AS",
            "CFLAGS",
            "CXXFLAGS",
            "CPPFLAGS",
            "LDFLAGS",
            "MAKE",
            "MAKEFLAGS",
            "MFLAGS",
            "GNUMAKEFLAGS",
        ),
    ),
    DeniedVariables(
        "version control and the remote shells and signers it runs"
        " (GIT_SSH_COMMAND, GIT_CONFIG_*, hooks in an HGRCPATH)",
        ("GIT_", "SSH_", "SVN_", "RSYNC_"),
        ("HG", "HGRCPATH", "HGEDITOR", "HGMERGE", "CVS_RSH", "GNUPGHOME"),
    ),
    DeniedVariables(
        "version managers whose shims choose the interpreter a command runs",
        ("ASDF_", "MISE_", "RTX_", "SDKMAN_", "JENV_", "PROTO_"),
    ),
    DeniedVariables(
        "whose certificates a download trusts, and where TLS keys are written"
        " (a package fetched through someone else's proxy and certificate)",
        ("OPENSSL_",),
        (
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "SSLKEYLOGFILE",
            "CURL_HOME",
            "WGETRC",
        ),
    ),
    DeniedVariables(
        "container and cloud tools whose configuration names programs they run"
        " (a kubeconfig's exec plugin, an AWS credential_process, a Docker CLI"
        " plugin, gcloud's Python)",
        ("CONTAINERS_", "HELM_", "CLOUDSDK_"),
        (
            "DOCKER_CONFIG",
            "DOCKER_HOST",
            "DOCKER_CONTEXT",
            "DOCKER_CERT_PATH",
            "DOCKER_TLS_VERIFY",
            "KUBECONFIG",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
            "AZURE_CONFIG_DIR",
            "AZURE_EXTENSION_DIR",
            "TF_CLI_CONFIG_FILE",
            "TERRAFORM_CONFIG",
            "GH_CONFIG_DIR",
            "GH_BROWSER",
            "GH_EDITOR",
            "GH_PAGER",
        ),
    ),
)
"""Every denied family, with what it steers."""

DENIED_NAMES = frozenset(name for family in FAMILIES for name in family.names)
"""The names denied one by one."""
DENIED_PREFIXES = tuple(prefix for family in FAMILIES for prefix in family.prefixes)
"""The prefixes of the families denied whole."""
ALLOWED_IN_DENIED = frozenset({"NODE_ENV", "MIX_ENV"})
"""Names in a denied family that steer nothing (C{NODE_ENV} and C{MIX_ENV}
only say C{production} or C{development})."""


def isDenied(name: str) -> bool:
    """Whether a workspace's C{.env} or a client's C{X-Mcp-Env-*} header may
    not set C{name}, in whatever case it is written."""
    upper = name.upper()
    if upper in ALLOWED_IN_DENIED:
        return False
    return upper in DENIED_NAMES or upper.startswith(DENIED_PREFIXES)
