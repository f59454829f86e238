"""Which of the gateway's own files a piece of code runs: L{filesRun}."""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Any


def filesRun(call: Any) -> set[str]:
    """The files under C{mcpgateway/} whose code runs during C{call()}."""
    import mcpgateway

    package = os.path.dirname(os.path.abspath(mcpgateway.__file__)) + os.sep
    seen: set[str] = set()

    def profiler(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(package):
            seen.add(frame.f_code.co_filename[len(package) :])

    sys.setprofile(profiler)
    try:
        call()
    finally:
        sys.setprofile(None)
    return seen
