"""Where the gateway's CPU goes under load: the signals that turn
C{twist_wrapper.py}'s profiler on and off, and the profile's text and
summary (own time per source file, the top functions).
"""

from __future__ import annotations

import collections
import contextlib
import pstats
import signal
from pathlib import Path
from typing import Any

from benchenv import REPO

PROFILE_ON, PROFILE_OFF = signal.SIGRTMIN, signal.SIGRTMIN + 1
"""What turns twist_wrapper.py's profiler on and off (not SIGUSR1/2: the
gateway restarts on SIGUSR2)."""


def _shortPath(path: str) -> str:
    if path == "~":
        return "(built-in functions)"
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                path = "stdlib/" + path.split("/", 1)[1]
            return path
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(REPO))
    return path


def profileText(path: Path, top: int) -> tuple[str, dict[str, Any]]:
    """Top entries by cumulative and by own time, and own time per source file."""
    import io

    stream = io.StringIO()
    stats = pstats.Stats(str(path), stream=stream)
    byFile: collections.Counter[str] = collections.Counter()
    total = idle = 0.0
    for (filename, _, name), (_, _, tt, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "'poll' of 'select.epoll'" in name:
            idle += tt  # waiting for the next event: not work
            continue
        byFile[_shortPath(filename)] += tt
        total += tt
    summary: dict[str, Any] = {"busySeconds": round(total, 3), "epollWaitSeconds": round(idle, 3)}
    stream.write(
        f"\n==== own time per source file (busy {total:.3f} s; waiting in epoll "
        f"{idle:.3f} s left out) ====\n"
    )
    for name, tt in byFile.most_common(top):
        stream.write(f"{tt:9.3f} s  {100 * tt / total:5.1f}%  {name}\n")
    summary["byFile"] = [
        {"file": n, "tottime": round(t, 4), "share": round(t / total, 3)}
        for n, t in byFile.most_common(top)
    ]
    stats.strip_dirs()
    for key in ("cumulative", "tottime"):
        stream.write(f"\n==== top {top} by {key} ====\n")
        stats.sort_stats(key).print_stats(top)
        rows = []
        for func in stats.fcn_list[:top]:  # type: ignore[attr-defined]
            _, nc, tt, ct, _ = stats.stats[func]  # type: ignore[attr-defined]
            rows.append(
                {
                    "function": f"{func[0]}:{func[1]}({func[2]})",
                    "ncalls": nc,
                    "tottime": round(tt, 4),
                    "cumtime": round(ct, 4),
                }
            )
        summary[key] = rows
    return stream.getvalue(), summary
