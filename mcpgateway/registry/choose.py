# -*- test-case-name: tests.registry.test_choose -*-
"""Which of a server's packages or remotes to install, and why any other
cannot be.

On a laptop a stdio package is preferred (it runs here, with the person's
own credentials, and the gateway shares its child): C{npm} (C{npx}), then
C{pypi} (C{uvx}), then C{oci} (C{docker}), those whose program is on C{PATH}
first. A remote is chosen when there is no package that can be installed, or
when asked for. Other registry types (C{nuget}, C{mcpb}, ...), packages that
run an HTTP server of their own, identifiers their registry would not
accept, versions that are not exact and packages from another package
registry are refused, each with the reason (L{refusal}).
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, replace

from mcpgateway.registry.schema import Package, ServerDetail, Transport

RUNNERS = {"npm": "npx", "pypi": "uvx", "oci": "docker"}
"""The package types installed, in the order preferred, and the program each runs."""
KINDS = (*RUNNERS, "remote")
REMOTE_TYPES = {"streamable-http": "http", "sse": "sse"}
"""A remote's transport and the C{type} of the gateway entry that reaches it."""
DEFAULT_BASES = {
    "npm": ("https://registry.npmjs.org",),
    "pypi": ("https://pypi.org", "https://pypi.org/simple"),
}
"""The package registries whose packages C{npx} and C{uvx} fetch by name."""
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io", "hub.docker.com")

NPM_NAME = re.compile(r"(?:@[a-z0-9~][a-z0-9._~-]*/)?[a-z0-9~][a-z0-9._~-]*", re.IGNORECASE)
"""An npm package name: scoped or not; never starting with C{.}, C{_} or C{-}
(npm's rules, and an option to C{npx}; lower case for new names, upper case
still found in old ones)."""
SEMVER = re.compile(
    r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
"""An exact semantic version (npm's versions), no range, no tag."""
PYPI_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
"""A Python distribution's name (PEP 508)."""
PEP440 = re.compile(
    r"(?:[0-9]+!)?[0-9]+(?:\.[0-9]+)*"
    r"(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?"
    r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?"
    r"(?:[-_.]?dev[-_.]?[0-9]*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?",
    re.IGNORECASE,
)
"""An exact Python version (PEP 440), no specifier."""
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
OCI_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
OCI_PATH = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
OCI_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
"""An image reference, C{[registry/]namespace/image[:tag][@digest]}, in the
parts of the distribution project's grammar (the registry is the first
component when it has a C{.} or a C{:} or is C{localhost})."""
MAX_IDENTIFIER = 255


class InstallError(ValueError):
    """A server (or the package asked for) that cannot be installed; the
    message says why, in one line or a few."""


@dataclass(frozen=True)
class Choice:
    """What an install runs: a C{package}, or a C{remote}."""

    server: ServerDetail
    package: Package | None = None
    remote: Transport | None = None

    @property
    def kind(self) -> str:
        """C{npm}, C{pypi}, C{oci} or C{remote}."""
        return "remote" if self.package is None else self.package.registryType


def packageSpec(package: Package) -> str:
    """What the runner is given: C{name@version} (npm, pypi) or the image
    reference with its tag or digest (oci).

    @raise InstallError: the identifier or version is not one its registry
        accepts, or the image has no tag or digest.
    """
    kind, identifier, version = package.registryType, package.identifier, package.version
    if len(identifier) > MAX_IDENTIFIER:
        raise InstallError(f"its identifier is longer than {MAX_IDENTIFIER} characters")
    if kind == "npm":
        if not NPM_NAME.fullmatch(identifier) or len(identifier) > 214:
            raise InstallError(f"{identifier!r} is not an npm package name")
        if version is None or not SEMVER.fullmatch(version):
            raise InstallError(f"npm version {version!r} is not an exact version")
        return f"{identifier}@{version}"
    if kind == "pypi":
        if not PYPI_NAME.fullmatch(identifier):
            raise InstallError(f"{identifier!r} is not a Python package name")
        if version is None or not PEP440.fullmatch(version):
            raise InstallError(f"PyPI version {version!r} is not an exact version")
        return f"{identifier}@{version}"
    if kind == "oci":
        return _image(package)
    raise InstallError(f"registry type {kind!r} is not installed by name")


@dataclass(frozen=True)
class ImageReference:
    """An image reference in its parts."""

    domain: str | None
    path: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        text = self.path if self.domain is None else f"{self.domain}/{self.path}"
        if self.tag is not None:
            text += f":{self.tag}"
        return text if self.digest is None else f"{text}@{self.digest}"


def parseImage(reference: str) -> ImageReference | None:
    """C{reference} in its parts; C{None} when it is not an image reference."""
    name, at, digest = reference.partition("@")
    if at and not OCI_DIGEST.fullmatch(digest):
        return None
    tag = None
    head, colon, tail = name.rpartition(":")
    if colon and "/" not in tail:
        name, tag = head, tail
        if not OCI_TAG.fullmatch(tag):
            return None
    domain = None
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        if not OCI_DOMAIN.fullmatch(first):
            return None
        domain, name = first, rest
    if not OCI_PATH.fullmatch(name):
        return None
    return ImageReference(domain, name, tag, digest if at else None)


def _image(package: Package) -> str:
    """The image reference of an oci package: its identifier with its tag
    (or the older entries' separate C{version} as the tag), and the host of
    its C{registryBaseUrl} when the identifier names no registry."""
    image = parseImage(package.identifier)
    if image is None:
        raise InstallError(f"{package.identifier!r} is not an image reference")
    if image.tag is None and image.digest is None:
        version = package.version
        if version is None or not OCI_TAG.fullmatch(version) or version == "latest":
            raise InstallError(
                f"image {package.identifier!r} has no tag or digest (a fixed version)"
            )
        image = replace(image, tag=version)
    if image.domain is None and package.registryBaseUrl:
        host = urllib.parse.urlsplit(package.registryBaseUrl).netloc.lower()
        if not OCI_DOMAIN.fullmatch(host):
            raise InstallError(f"registryBaseUrl {package.registryBaseUrl!r} names no registry")
        if host not in DOCKER_HUB:
            image = replace(image, domain=host)
    return str(image)


def refusal(package: Package) -> str | None:
    """Why C{package} cannot be installed; C{None} when it can."""
    kind = package.registryType
    if kind not in RUNNERS:
        return (
            f"registry type {kind!r} is not installed by name (npm, pypi and oci packages"
            " are, and remotes)"
        )
    if package.transport.type != "stdio":
        return (
            f"it runs an HTTP server of its own ({package.transport.type}); only stdio"
            " packages are installed"
        )
    bases = DEFAULT_BASES.get(kind)
    base = (package.registryBaseUrl or "").rstrip("/")
    if bases is not None and base and base not in bases:
        return f"it comes from {base}, not {bases[0]}: other package registries are not used"
    if kind in ("npm", "pypi") and package.runtimeArguments:
        return (
            f"it gives {RUNNERS[kind]} options of its own (runtimeArguments), which could"
            " change what it runs"
        )
    try:
        packageSpec(package)
    except InstallError as e:
        return str(e)
    return None


def remoteRefusal(remote: Transport) -> str | None:
    """Why C{remote} cannot be reached; C{None} when it can."""
    if remote.type not in REMOTE_TYPES:
        return f"remote transport {remote.type!r} is not streamable-http or sse"
    url = remote.url or ""
    if not url.lower().startswith(("http://", "https://", "{")):
        return f"remote URL {url!r} is not an http(s) URL"
    return None


def available(program: str) -> bool:
    """Whether C{program} is on this process's C{PATH}."""
    return shutil.which(program) is not None


def describe(package: Package) -> str:
    """A package in a few words: C{npm @scope/name@1.2.3 (stdio)}."""
    version = f"@{package.version}" if package.version and package.registryType != "oci" else ""
    return f"{package.registryType} {package.identifier}{version} ({package.transport.type})"


def choose(
    server: ServerDetail,
    kind: str | None = None,
    remote: bool = False,
    isAvailable: Callable[[str], bool] = available,
) -> Choice:
    """The package or remote of C{server} to install: of C{kind} when given
    (C{npm}, C{pypi}, C{oci}, C{remote}), a remote when C{remote}, else the
    first installable package in L{RUNNERS}' order, those whose program is
    available first; a remote when no package can be installed.

    @raise InstallError: nothing of what was asked can be installed; the
        message lists each refusal.
    """
    if remote:
        kind = "remote"
    reasons = [f"  {problem}" for problem in server.problems]
    if kind != "remote":
        usable: list[Package] = []
        for package in server.packages:
            if kind is not None and package.registryType != kind:
                continue
            why = refusal(package)
            if why is None:
                usable.append(package)
            else:
                reasons.append(f"  {describe(package)}: {why}")
        order = list(RUNNERS)
        usable.sort(
            key=lambda p: (not isAvailable(RUNNERS[p.registryType]), order.index(p.registryType))
        )
        if usable:
            return Choice(server, package=usable[0])
    if kind in (None, "remote"):
        for transport in server.remotes:
            why = remoteRefusal(transport)
            if why is None:
                return Choice(server, remote=transport)
            reasons.append(f"  remote {transport.type}: {why}")
    asked = {None: "", "remote": " as a remote"}.get(kind, f" as its {kind} package")
    if not reasons:
        has = f" (it has: {', '.join(server.kinds)})" if server.kinds else ""
        reasons = [f"  it lists nothing of that kind{has}" if kind else "  it lists no package"]
    raise InstallError(f"{server.name} cannot be installed{asked}:\n" + "\n".join(reasons))
