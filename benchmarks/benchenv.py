"""Where the benchmark suite lives and runs: its folder, the checkout it
measures, the interpreter it starts its workers with, and its log line.

Every module of the suite (C{bench.py} and the modules it is split into)
imports these from here, so none needs C{bench.py} itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MCPLOAD = HERE / "mcpload.py"
PY = sys.executable
SE_PACKAGE = "@modelcontextprotocol/server-everything"


def log(text: str) -> None:
    """A progress line on stderr (stdout carries the report)."""
    sys.stderr.write(f"bench: {text}\n")
    sys.stderr.flush()
