# -*- test-case-name: tests.config.test_npmrc -*-
"""What the user's C{~/.npmrc} would have told the gateway's own npm install.

The gateway installs an C{npx} server's package itself, confined as the
server's children are (L{mcpgateway.sandbox.installs}): the sandbox hides
C{~/.npmrc} (it holds registry tokens), so a registry named only there is
never asked. Direct C{npx -y @acme/server} reads it; the gateway's install
asks registry.npmjs.org instead and fails (C{404 Not Found - GET
https://registry.npmjs.org/@acme%2fserver}). When such an install fails,
L{registryHint} reads the file and says which registry it names for the
package (its scope's C{@acme:registry=}, or a C{registry=} of its own)
and the entry C{env} that names it, in npm's own environment form
(C{npm_config_@acme:registry}, C{npm_config_//host/:_authToken}: npm reads
a nerf-darted key from the environment as it is written), with the
registry's credentials as secret references (C{${keyring:NAME}}, or
C{${env:VAR}} where the file itself reads C{${VAR}}): never a value of
them, which this module only ever compares.

The file is read as npm's C{ini} parser reads it (L{parseNpmrc}): one
C{key = value} a line, C{;} and C{#} comments, quoted values, keys under a
C{[section]} not at the top. Synchronous file work: the resolver calls
L{registryHint} in a worker thread. Imports no Twisted.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 256 * 1024
"""A bigger file is not read (no hint): an C{.npmrc} is a few lines."""
PUBLIC_REGISTRY = "registry.npmjs.org"
"""The registry the gateway's install asks by default: one the file names
is no news."""
SECRET_FIELDS = ("_authToken", "_auth", "_password")
"""The credential fields of a registry (C{//host/path/:FIELD}) whose values
are secrets: named by reference, never shown."""
AUTH_FIELDS = (*SECRET_FIELDS, "username")
"""Every credential field of a registry npm reads (a C{_password} goes with
its C{username}, which is no secret)."""
_NPM_ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\??\}")
"""A value that is only npm's reference to a variable (C{${NPM_TOKEN}})."""
_SECRET_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_SPACE = "".join(
    chr(c) for c in (9, 10, 11, 12, 13, 32, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028)
) + "".join(chr(c) for c in (0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF))
"""What JavaScript's C{trim} takes off (a byte-order mark too)."""


def parseNpmrc(text: str) -> dict[str, str]:
    """The top-level settings of an C{.npmrc}'s C{text}, as npm's C{ini}
    parser reads them (the last of a key wins; C{key[]} lists, bare keys
    and keys under a C{[section]} are not registries and are left out)."""
    values: dict[str, str] = {}
    for line in re.split(r"[\r\n]+", text):
        if not line.strip(_SPACE) or line.lstrip(_SPACE)[:1] in (";", "#"):
            continue
        if re.fullmatch(r"\[[^\]]*\]\s*", line):
            break  # what follows is the section's, not npm's top level
        key, equals, value = line.partition("=")
        key = _unquoted(key)
        if not equals or not key or key.endswith("[]"):
            continue
        values[key] = _unquoted(value)
    return values


def _unquoted(text: str) -> str:
    """A key or value as C{ini} reads it: trimmed; a quoted one without its
    quotes (a double-quoted one read as JSON); else up to its first
    unescaped C{;} or C{#}, C{\\;} and C{\\#} unescaped."""
    text = text.strip(_SPACE)
    if text[:1] in ("'", '"') and text.endswith(text[0]):
        inner = text[1:-1] if text[0] == "'" else text
        try:
            parsed = json.loads(inner)
        except ValueError:
            return inner
        return parsed if isinstance(parsed, str) else inner
    out: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            out.append(char if char in "\\;#" else "\\" + char)
            escaped = False
        elif char in ";#":
            break
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    if escaped:
        out.append("\\")
    return "".join(out).strip(_SPACE)


def userConfigPath(environ: Mapping[str, str]) -> Path | None:
    """The user's npm config file, as npm finds it: C{npm_config_userconfig}
    (in any case), else C{~/.npmrc} of C{environ}'s C{HOME}."""
    for name, value in environ.items():
        if name.lower() == "npm_config_userconfig" and value:
            return Path(os.path.expanduser(value))
    home = environ.get("HOME")
    return Path(home) / ".npmrc" if home else None


def readNpmrc(path: Path) -> dict[str, str] | None:
    """The settings of the file at C{path} (L{parseNpmrc}); C{None} when it
    is missing, unreadable or too big. Never logs what it read."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_BYTES:
        return None
    return parseNpmrc(data.decode("utf-8", "replace"))


@dataclass(frozen=True)
class Registry:
    """One registry the file names for the package: its setting's name
    (C{@acme:registry} or C{registry}) and URL."""

    key: str
    url: str


def registriesFor(package: str, settings: Mapping[str, str]) -> list[Registry]:
    """The registries C{settings} name that the install of C{package} (a
    name, scoped or not) would have asked: its scope's, then the default
    one (its dependencies' and, without a scope's, its own), each unless
    it is the public registry the install asks anyway."""
    keys = [f"{package.split('/')[0]}:registry"] if package.startswith("@") else []
    out = []
    for key in [*keys, "registry"]:
        url = settings.get(key, "").strip()
        nerfed = nerfDart(url)  # an http(s) URL, as npm takes it
        if nerfed is not None and not nerfed.startswith(f"//{PUBLIC_REGISTRY}/"):
            out.append(Registry(key, url))
    return out


def nerfDart(url: str) -> str | None:
    """npm's key for C{url}'s credentials: C{//host[:port]/path/}, the
    URL's folder without its scheme or user (C{None}: not an http(s) URL)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port not in (None, {"http": 80, "https": 443}[parts.scheme]):
        host = f"{host}:{port}"
    folder = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return f"//{host}{folder}/"


def credentialsOf(url: str, settings: Mapping[str, str]) -> dict[str, str]:
    """The credential settings npm would send to the registry at C{url}:
    C{{"//host/path/:_authToken": value, ...}} of the deepest of its folders
    that has a token, an C{_auth} or a user and password (npm walks up the
    path), C{{}} when none has."""
    nerfed = nerfDart(url)
    prefix = nerfed or ""
    while len(prefix) > 2:
        found = {
            f"{prefix}:{field}": settings[f"{prefix}:{field}"]
            for field in AUTH_FIELDS
            if f"{prefix}:{field}" in settings
        }
        if (
            set(found) & {f"{prefix}:_authToken", f"{prefix}:_auth"}
            or len(set(found) & {f"{prefix}:username", f"{prefix}:_password"}) == 2
        ):
            return found
        # //host/a/b/ -> //host/a/b -> //host/a/ ...: npm's walk up
        prefix = prefix[:-1] if prefix.endswith("/") else prefix.rsplit("/", 1)[0] + "/"
    return {}


def secretName(key: str) -> str:
    """The secret store's name for the credential setting C{key}
    (C{//npm.acme.internal/:_authToken} -> C{npm-npm.acme.internal}):
    one per registry and field, as C{mcpgateway secret set} takes it."""
    folder, _, field = key.rpartition(":")
    words = [w for w in _SECRET_NAME_CHARS.split(folder.strip("/")) if w]
    suffix = {"_authToken": "", "_auth": "-auth", "_password": "-password"}.get(field, f"-{field}")
    return f"npm-{'-'.join(words)}"[:100] + suffix


@dataclass(frozen=True)
class EnvPlan:
    """The entry C{env} that names the registries and their credentials,
    and the secrets to store (by name) for the references in it."""

    env: dict[str, str]
    secrets: list[str]


def envPlan(registries: list[Registry], settings: Mapping[str, str]) -> EnvPlan:
    """The C{env} keys and values (npm's environment form) that give the
    install what the file gives npm: each registry's URL as written (by
    reference when it holds a user and password), each credential by reference
    (C{${env:VAR}} for a file's C{${VAR}}, else C{${keyring:NAME}}:
    L{secretName}), the C{username} as written."""
    env: dict[str, str] = {}
    secrets: list[str] = []

    def secret(key: str, value: str) -> str:
        variable = _NPM_ENV_VAR.fullmatch(value.strip())
        if variable is not None:
            return f"${{env:{variable.group(1)}}}"
        name = secretName(key)
        secrets.append(name)
        return f"${{keyring:{name}}}"

    for registry in registries:
        url = registry.url
        held = _hasUser(url)  # a URL with a user and password in it is a secret too
        env[f"npm_config_{registry.key}"] = (
            secret(f"{nerfDart(url) or '//'}:registry", url) if held else url
        )
        for key, value in credentialsOf(url, settings).items():
            plain = key.endswith(":username")
            env[f"npm_config_{key}"] = value if plain else secret(key, value)
    return EnvPlan(env, list(dict.fromkeys(secrets)))


def _hasUser(url: str) -> bool:
    """Whether C{url} carries a user (and perhaps a password: a secret)."""
    try:
        return urllib.parse.urlsplit(url.strip()).username is not None
    except ValueError:
        return "@" in url


def shownUrl(url: str) -> str:
    """C{url} as a line may show it: the user and password in it masked."""
    if not _hasUser(url):
        return url
    scheme, _, rest = url.strip().partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[-1]}" if rest else "***"


def settingOf(variable: str) -> str | None:
    """The npm setting an environment variable sets, as npm reads it: an
    C{npm_config_} name in any case, the rest lower-cased with C{-} for
    C{_}, a nerf-darted one (C{//host/:_authToken}) as written."""
    if variable[: len("npm_config_")].lower() != "npm_config_":
        return None
    rest = variable[len("npm_config_") :]
    return rest if rest.startswith("//") else re.sub(r"(?!^)_", "-", rest).lower()


def missingFrom(plan: EnvPlan, environ: Mapping[str, str]) -> EnvPlan:
    """C{plan} without what C{environ} (the install's) sets already (npm
    skips an empty variable)."""
    have = {settingOf(name) for name, value in environ.items() if value}
    env = {name: value for name, value in plan.env.items() if settingOf(name) not in have}
    needed = {v[len("${keyring:") : -1] for v in env.values() if v.startswith("${keyring:")}
    return EnvPlan(env, [name for name in plan.secrets if name in needed])


def registryHint(package: str, environ: Mapping[str, str]) -> str | None:
    """What a failed confined install of C{package} (its name) should be
    told of the user's npm config file, with C{environ} the install's
    environment: the registry the file names for it, unread, and the
    entry C{env} that names it (and the secrets to store for it); C{None}
    when the file names none the environment does not name already."""
    path = userConfigPath(environ)
    settings = None if path is None else readNpmrc(path)
    if path is None or not settings:
        return None
    registries = registriesFor(package, settings)
    plan = missingFrom(envPlan(registries, settings), environ)
    if not plan.env:
        return None
    shown = _shown(path, environ.get("HOME"))
    named = " and ".join(
        f"{registry.key.split(':')[0]}'s registry {shownUrl(registry.url)}"
        if ":" in registry.key
        else f"the registry {shownUrl(registry.url)}"
        for registry in registries
    )
    hint = (
        f"{shown} names {named}, which the gateway's install does not read (the sandbox"
        f' hides {shown}: it holds tokens); add to the entry\'s "env":'
        f" {json.dumps(plan.env, separators=(', ', ': '))}"
    )
    if plan.secrets:
        stores = " and ".join(f"`mcpgateway secret set {name}`" for name in plan.secrets)
        hint += f", and store {'its token' if len(plan.secrets) == 1 else 'them'} with {stores}"
    return hint


def _shown(path: Path, home: str | None) -> str:
    """C{path} with C{~} for C{home}."""
    if home:
        try:
            return f"~/{path.relative_to(home)}"
        except ValueError:
            pass
    return str(path)
