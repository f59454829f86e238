# -*- test-case-name: tests.flow.test_table -*-
"""The shipped table of well-known servers: what each of their tools reads
and what it sends.

A server is known by the package its entry runs (a word of its C{command}
or C{args}: an npm or PyPI package with or without its version, a
container image with or without its registry and tag, a program's path, a
path into the package's own folder, C{python -m} its module) or, for a
remote server, by its URL's host. Each row lists its tools as names or
patterns (C{*}, C{?} as a shell has them), the first that matches a tool
giving its labels; a tool no pattern matches gets its labels from its
annotations (L{mcpgateway.flow.defaults}).

The rows, by family (docs/guide/flow.md has the table):

 - C{fetch}: a URL of the caller's choosing is fetched: C{untrusted} and
   C{egress}, whatever its annotations say (a read-only fetch still sends
   what the URL carries);
 - C{filesystem}, C{git}: the user's files and history are C{private};
   writing them keeps the data on the machine (no label);
 - C{memory}: what it gives back is the user's (C{private}); storing is
   local;
 - C{github}: what anyone may write (issues, pull requests, comments,
   reviews, discussions, notifications) is C{untrusted}; a repository's
   content and the account's lists are C{private} (a repository may be);
   every change is C{egress} (a comment, a pull request, a push);
 - C{playwright}, C{puppeteer}: a page is C{untrusted}; acting on one
   (navigate, click, type, upload, evaluate) may send data out: C{egress};
 - C{slack}, C{email}: a message is C{untrusted} (someone else wrote it)
   and C{private} (it is the user's); lists of channels and users are
   C{private}; posting, replying and sending are C{egress}; a draft stays
   in the mailbox (no label);
 - C{brave-search}, C{context7}: search results and library documents are
   C{untrusted}; the query goes to one service, not to a place of the
   caller's choosing (no C{egress});
 - C{sequential-thinking}, C{time}: neither reads nor sends (no label).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from mcpgateway.flow.labels import NO_LABELS, Label, Labels

__all__ = ["TABLE", "KnownServer", "knownServer"]

U = frozenset({Label.UNTRUSTED})
P = frozenset({Label.PRIVATE})
UP = frozenset({Label.UNTRUSTED, Label.PRIVATE})
UE = frozenset({Label.UNTRUSTED, Label.EGRESS})
E = frozenset({Label.EGRESS})


@dataclass(frozen=True)
class KnownServer:
    """One row of the table."""

    name: str
    """The family's name, as displays show where a label came from."""
    packages: tuple[str, ...]
    """The packages, images, programs and modules that run it (lower case)."""
    tools: tuple[tuple[str, Labels], ...]
    """Tool names or patterns with their labels, the first match wins."""
    hosts: tuple[str, ...] = ()
    """The hosts of its remote endpoints (lower case)."""

    def forTool(self, name: str) -> Labels | None:
        """The labels of tool C{name}; C{None}: the row does not say."""
        for pattern, labels in self.tools:
            if fnmatchcase(name, pattern):
                return labels
        return None


def _each(patterns: str, labels: Labels) -> tuple[tuple[str, Labels], ...]:
    return tuple((pattern, labels) for pattern in patterns.split())


GITHUB_CHANGES = (
    "create_* update_* add_* push_* merge_* delete_* fork_* request_* submit_* assign_*"
    " dismiss_* mark_* manage_* star_* unstar_* reprioritize_* remove_* cancel_* rerun_*"
    " run_* *_write"
)
GITHUB_OTHERS_WRITE = "*issue* *pull_request* *comment* *review* *discussion* *notification*"

TABLE: tuple[KnownServer, ...] = (
    KnownServer(
        "fetch",
        ("mcp-server-fetch", "mcp_server_fetch", "@modelcontextprotocol/server-fetch", "mcp/fetch"),
        _each("*", UE),
    ),
    KnownServer(
        "filesystem",
        ("@modelcontextprotocol/server-filesystem", "mcp/filesystem"),
        _each("write_file create_directory move_file", NO_LABELS) + _each("*", P),
    ),
    KnownServer(
        "git",
        ("mcp-server-git", "mcp_server_git", "@modelcontextprotocol/server-git", "mcp/git"),
        _each("git_add git_commit git_reset git_create_branch git_checkout git_init", NO_LABELS)
        + _each("*", P),
    ),
    KnownServer(
        "memory",
        ("@modelcontextprotocol/server-memory", "mcp/memory"),
        _each("read_graph search_nodes open_nodes", P) + _each("*", NO_LABELS),
    ),
    KnownServer(
        "github",
        (
            "@modelcontextprotocol/server-github",
            "github-mcp-server",
            "ghcr.io/github/github-mcp-server",
            "mcp/github",
        ),
        _each(GITHUB_CHANGES, E) + _each(GITHUB_OTHERS_WRITE, U) + _each("*", P),
        hosts=("api.githubcopilot.com",),
    ),
    KnownServer(
        "playwright",
        ("@playwright/mcp", "@executeautomation/playwright-mcp-server", "mcp/playwright"),
        _each("browser_close browser_resize browser_install", NO_LABELS)
        + _each(
            "browser_snapshot browser_take_screenshot browser_console_messages"
            " browser_network_requests browser_wait_for browser_tabs",
            U,
        )
        + _each("*", UE),
    ),
    KnownServer(
        "puppeteer",
        ("@modelcontextprotocol/server-puppeteer", "mcp/puppeteer"),
        _each("puppeteer_screenshot", U) + _each("*", UE),
    ),
    KnownServer(
        "slack",
        (
            "@modelcontextprotocol/server-slack",
            "@zencoderai/slack-mcp-server",
            "slack-mcp-server",
            "mcp/slack",
        ),
        _each("*post* *reply* *add_message* *reaction*", E)
        + _each("*list_channels* channels_list *users* *user_profile*", P)
        + _each("*", UP),
    ),
    KnownServer(
        "email",
        ("@gongrzhe/server-gmail-autoauth-mcp", "mcp-email-server", "mcp_email_server"),
        _each("send_* *reply* *forward*", E)
        + _each("*draft* modify_* delete_* batch_* *label* *filter* *account*", NO_LABELS)
        + _each("*", UP),
    ),
    KnownServer(
        "brave-search",
        ("@modelcontextprotocol/server-brave-search", "@brave/brave-search-mcp-server"),
        _each("*", U),
    ),
    KnownServer("context7", ("@upstash/context7-mcp",), _each("*", U), hosts=("mcp.context7.com",)),
    KnownServer(
        "sequential-thinking",
        ("@modelcontextprotocol/server-sequential-thinking", "mcp/sequentialthinking"),
        _each("*", NO_LABELS),
    ),
    KnownServer("time", ("mcp-server-time", "mcp_server_time", "mcp/time"), _each("*", NO_LABELS)),
)
"""The shipped rows (see the module)."""

_REQUIREMENT_END = re.compile(r"[=<>!~\[;\s]")
"""Where a PyPI requirement's name ends (its version, extras or marker)."""


def knownServer(command: str, args: Sequence[str] = ()) -> KnownServer | None:
    """The row of the server an entry runs with C{command} and C{args} (a
    remote server's URL as its command), the first word of the command line
    that names one deciding; C{None}: not a server of the table."""
    for word in (command, *args):
        names = set(_names(word))
        path = word.lower().replace("\\", "/")
        for row in TABLE:
            if names.intersection(row.packages) or names.intersection(
                f"host:{host}" for host in row.hosts
            ):
                return row
            if any(f"/{package}/" in path for package in row.packages if _folder(package)):
                return row  # a path into the package's own folder (node_modules/...)
    return None


def _folder(package: str) -> bool:
    """Whether C{package} is a folder's name where it is installed: an npm
    package (C{@scope/name}, C{name}) or a Python module, not an image."""
    return package.startswith("@") or "/" not in package


def _names(word: str) -> Iterator[str]:
    """What a command-line word may name a package by: itself without a
    version or a tag, its last path segments, or C{host:} its URL's host."""
    word = word.strip().lower().replace("\\", "/")
    if word.startswith(("http://", "https://")):
        try:
            host = urlsplit(word).hostname
        except ValueError:
            return
        if host:
            yield f"host:{host}"
        return
    name = _REQUIREMENT_END.split(word, maxsplit=1)[0]
    at = name.find("@", 1)  # an npm version: pkg@1.2, @scope/pkg@latest
    if at > 0:
        name = name[:at]
    slash = name.rfind("/")
    colon = name.find(":", slash + 1)  # an image's tag: ghcr.io/o/image:latest
    if colon >= 0:
        name = name[:colon]
    for suffix in (".exe", ".cmd"):
        name = name.removesuffix(suffix)
    parts = [part for part in name.split("/") if part]
    yield name
    for count in (1, 2, 3):  # a program's path; an image under its registry
        if len(parts) >= count:
            yield "/".join(parts[-count:])
