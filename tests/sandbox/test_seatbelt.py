"""macOS's C{sandbox-exec} profile (SBPL), read as text: deny by default,
the system and the child's own paths readable, its writable paths
writable, every mask denied after every allow, the network as the profile
says. (Untested on a real Mac: the text is what is checked.)"""

from __future__ import annotations

from mcpgateway.sandbox.layout import Layout
from mcpgateway.sandbox.seatbelt import command, profile, quoted


def layoutOf(network: str = "none") -> Layout:
    layout = Layout("/Users/u", "/Users/u/proj", network)
    layout.readOnly = [("/Users/u/srv", "/Users/u/srv")]
    layout.writable = [("/Users/u/proj", "/Users/u/proj")]
    layout.masked = [("/Users/u/.ssh", True), ("/Users/u/.mcpgateway", True)]
    layout.reopened = [("/Users/u/.mcpgateway/npx/pkg", False)]
    layout.placeholders = ["/Users/u/notes.jsonl"]
    return layout


def test_everything_is_denied_but_what_is_allowed() -> None:
    text = profile(layoutOf(), tmp="/Users/u/.mcpgateway/sandbox/srv/tmp")
    lines = text.splitlines()
    assert lines[:2] == ["(version 1)", "(deny default)"]
    assert '  (subpath "/usr")' in lines and '  (subpath "/System")' in lines
    assert '  (subpath "/Users/u/srv")' in lines
    writable = lines.index("(allow file-read* file-write*")
    assert lines[writable + 1 : writable + 3] == [
        '  (subpath "/Users/u/proj")',
        '  (subpath "/Users/u/.mcpgateway/sandbox/srv/tmp")',
    ]
    assert '(subpath "/Users/u")' not in text  # the home: only what is bound


def test_the_masks_come_after_every_allow_and_what_is_reopened_after_them() -> None:
    lines = profile(layoutOf()).splitlines()
    deny = lines.index("(deny file-read* file-write*")
    allows = [i for i, line in enumerate(lines) if line.startswith("(allow file-")]
    assert lines[deny + 1 : deny + 4] == [
        '  (subpath "/Users/u/.ssh")',
        '  (subpath "/Users/u/.mcpgateway")',
        '  (subpath "/Users/u/notes.jsonl")',
    ]
    reopened = lines.index('(allow file-read* (subpath "/Users/u/.mcpgateway/npx/pkg"))')
    assert max(i for i in allows if i < deny) < deny < reopened


def test_the_network_as_the_profile_says() -> None:
    assert "(deny network*)" in profile(layoutOf("none"))
    assert "(allow network*)" in profile(layoutOf("host"))


def test_paths_are_quoted_as_sbpl_strings() -> None:
    assert quoted('/a "b"\\c') == '"/a \\"b\\"\\\\c"'


def test_the_command_runs_sandbox_exec_with_the_profile() -> None:
    argv = command(layoutOf(), ["/usr/local/bin/node", "x.js"])
    assert argv[:2] == ["/usr/bin/sandbox-exec", "-p"] and argv[-2:] == [
        "/usr/local/bin/node",
        "x.js",
    ]
    assert argv[2].startswith("(version 1)")
