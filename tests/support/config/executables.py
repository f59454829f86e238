"""Folders of executable scripts: what a config's commands are looked up on
(a PATH folder, a tool's own bin folder) without any real program."""

from __future__ import annotations

from pathlib import Path

SCRIPT = "#!/bin/sh\nexit 0\n"
"""A script that runs and does nothing."""


def scripts(folder: Path, *names: str, text: str = SCRIPT) -> Path:
    """Make C{folder} (and its parents) if it is missing, and in it an
    executable file of each of C{names} holding C{text}; C{folder}."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        script = folder / name
        script.write_text(text)
        script.chmod(0o755)
    return folder
