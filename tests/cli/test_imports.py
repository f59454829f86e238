"""The command-line tool starts fast: it never loads Twisted or Klein."""

from __future__ import annotations

from tests.support.runtime.loadedmodules import loadedUnder


def test_the_cli_imports_no_twisted() -> None:
    modules = ("mcpgateway.cli.main", "mcpgateway.cli.checks")
    assert loadedUnder(modules, ("twisted", "klein", "werkzeug")) == []
