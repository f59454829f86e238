"""The gateway's options as C{twistd mcpgateway} parses them, with the state
directory in a test's own folder (C{<tmp_path>/st}), and what a refused
command line writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpgateway import tap


def parseIn(tmp_path: Path, *extra: str) -> tap.Options:
    """The options of C{--state-dir <tmp_path>/st} and C{extra}."""
    options = tap.Options()
    options.parseOptions(["--state-dir", str(tmp_path / "st"), *extra])
    return options


def refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """What parsing C{extra} (see L{parseIn}) writes to stderr as it exits:
    the parse must be refused."""
    with pytest.raises(SystemExit):
        parseIn(tmp_path, *extra)
    return capsys.readouterr().err
