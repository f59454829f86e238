"""What a module loads when imported on its own, asked of a fresh
interpreter (this one has loaded everything the tests import): the tests
that keep Twisted out of the command-line tool and the bridge's CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence


def loadedUnder(modules: Sequence[str], packages: Sequence[str]) -> list[str]:
    """The modules of the top-level C{packages} (C{"twisted"}, C{"klein"})
    that importing C{modules} loads, sorted."""
    code = (
        f"import json, sys, {', '.join(modules)};"
        "print(json.dumps(sorted(m for m in sys.modules"
        f" if m.split('.')[0] in {tuple(packages)!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded: list[str] = json.loads(out.stdout)
    return loaded
