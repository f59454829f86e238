"""A confined child's stderr, read for what the sandbox refused: each kind
told in one line that names the key allowing it; any other line, nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpgateway.sandbox.failures import explain

HOME = "/home/u"
STATE = "/home/u/.mcpgateway"


def note(line: str, network: str = "none") -> str | None:
    return explain(line, network, HOME, STATE)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (
            "Error: EACCES: permission denied, open '/home/u/.ssh/id_rsa'",
            "the sandbox hides ~/.ssh/id_rsa (its deny list): allow this server that one path"
            ' with "sandbox": {"filesystem": {"allowRead": ["~/.ssh"]}}',
        ),
        (
            "PermissionError: [Errno 13] Permission denied: '/home/u/.mcpgateway/state.json'",
            "the sandbox never shows a server the gateway's state directory"
            " (~/.mcpgateway/state.json)",
        ),
        (
            "Error: EROFS: read-only file system, open '/srv/data/out.txt'",
            'the sandbox denied writing /srv/data/out.txt: allow it with "sandbox":'
            ' {"filesystem": {"allowWrite": ["/srv/data/out.txt"]}}',
        ),
        (
            "OSError: [Errno 30] Read-only file system: '/work/x'",
            'the sandbox denied writing /work/x: allow it with "sandbox": {"filesystem":'
            ' {"allowWrite": ["/work/x"]}}',
        ),
        (
            "Error: EACCES: permission denied, mkdir '/opt/cache'",
            'the sandbox denied writing /opt/cache: allow it with "sandbox": {"filesystem":'
            ' {"allowWrite": ["/opt/cache"]}}',
        ),
        (
            "cat: /srv/secret: Permission denied",
            'the sandbox denied /srv/secret: allow it with "sandbox": {"filesystem":'
            ' {"allowRead": ["/srv/secret"]}} (allowWrite to write it)',
        ),
        (
            "Error: ENOENT: no such file or directory, open '/home/u/notes/a.md'",
            "~/notes/a.md is not visible in the sandbox (the home directory is hidden): allow it"
            ' with "sandbox": {"filesystem": {"allowRead": ["~/notes/a.md"]}}',
        ),
        (
            "Error: getaddrinfo EAI_AGAIN api.github.com",
            'the sandbox has no network (it tried api.github.com): allow it with "sandbox":'
            ' {"network": {"allowedDomains": ["api.github.com"]}}',
        ),
        (
            "socket.gaierror: [Errno -3] Temporary failure in name resolution",
            'the sandbox has no network: allow it with "sandbox": {"network": {"allowedDomains":'
            ' ["example.com"]}}',
        ),
        (
            "Error: spawn EAGAIN",
            'it reached the sandbox\'s process limit: raise it with "sandbox": {"limits":'
            ' {"processes": 1024}}',
        ),
        (
            "bwrap: Creating new namespace failed: Operation not permitted",
            "bubblewrap could not start it: Creating new namespace failed: Operation not"
            " permitted (`mcpgateway sandbox check` says why; --sandbox off, or"
            ' "sandbox": false in its entry, runs it unconfined)',
        ),
        (
            "mcpgateway sandbox: cannot confine the server: landlock_restrict_self: x",
            "the sandbox could not start it: cannot confine the server: landlock_restrict_self:"
            ' x ("sandbox": false in its entry runs it unconfined)',
        ),
    ],
)
def test_each_refusal_is_told_with_the_key_that_allows_it(line: str, words: str) -> None:
    assert note(line) == words


@pytest.mark.parametrize(
    "line",
    [
        "Starting default (STDIO) server...",
        "Error: ENOENT: no such file or directory, open '/srv/missing.json'",  # not hidden
        "Error: getaddrinfo EAI_AGAIN api.github.com",  # with the network: not the sandbox's
        "",
    ],
)
def test_other_lines_say_nothing(line: str) -> None:
    network = "host" if "getaddrinfo" in line else "none"
    assert note(line, network) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_line_is_read_without_a_crash(line: str) -> None:
    result = note(line)
    assert result is None or "\n" not in result
