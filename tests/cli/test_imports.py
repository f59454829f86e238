"""The command-line tool starts fast: it never loads Twisted or Klein."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_imports_no_twisted() -> None:
    code = (
        "import sys, mcpgateway.cli.main, mcpgateway.cli.checks;"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('twisted', 'klein', 'werkzeug')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
