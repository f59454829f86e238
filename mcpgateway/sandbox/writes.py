# -*- test-case-name: tests.sandbox.test_writes -*-
"""Where a confined child may write, found before anything else of its
layout: the data places its entry's variables name, its workspace,
C{allowWrite}, the folders its arguments name, its launcher's caches.

They are settled first (L{settle}) because a symlink the child left in one
of them at an earlier start must never be followed at the next one
(L{mcpgateway.sandbox.places.Places.resolve}): not to bind a file's
target writable as its data (C{memory.json} made a link to C{~/.bashrc}),
not to show a directory it points to.

A place that does not exist yet is made, as the server would make it
(L{make}): a directory (its parents too, mode 0700) or an empty file, but
never where its nearest existing directory is the system's.

Standard library only: the launcher imports it.
"""

from __future__ import annotations

import os

from mcpgateway.sandbox.places import Places, under

TYPE_CHECKING = False  # typing itself is not imported: the launcher starts lean
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

DATA_WORDS = frozenset(
    {
        "MEMORY", "DATA", "DB", "DATABASE", "SQLITE", "STORAGE", "STORE", "STATE",
        "CACHE", "LOG", "LOGS", "OUTPUT", "NOTES", "HISTORY",
    }
)  # fmt: skip
"""Words of a variable's name that say the server keeps its data there."""
PLACE_WORDS = frozenset({"FILE", "PATH", "DIR", "DIRECTORY", "FOLDER"})
"""The last word of a variable's name that says its value is a place."""
DIRECTORY_WORDS = frozenset({"DIR", "DIRECTORY", "FOLDER"})
SECRET_WORDS = frozenset(
    {"KEY", "CERT", "CA", "TOKEN", "SECRET", "CREDENTIAL", "CREDENTIALS", "PASSWORD", "AUTH",
     "CONFIG"}
)  # fmt: skip
"""Words of a variable's name that say its value is read, never written."""
MAX_ROUNDS = 4


def writesThere(name: str) -> bool:
    """Whether the entry's variable C{name} names where the server writes
    its data (C{MEMORY_FILE_PATH}, C{DB_PATH}, C{DATA_DIR}, C{LOG_FILE}):
    its last word a place (L{PLACE_WORDS}), a data word in it
    (L{DATA_WORDS}), no secret's or config's word (L{SECRET_WORDS}), not an
    C{XDG_} base directory (shared by every program)."""
    words = name.upper().split("_")
    return (
        words[-1] in PLACE_WORDS
        and words[0] != "XDG"
        and not DATA_WORDS.isdisjoint(words)
        and SECRET_WORDS.isdisjoint(words)
    )


def namesDirectory(path: str, given: str, lastWord: str | None = None) -> bool:
    """Whether the place C{path} (as the entry wrote it: C{given}) is a
    directory: one that is there and no symlink says so itself; otherwise
    (missing, or a symlink, which the child may have made in place of a
    data file) its words do: a trailing C{/}, a variable's last word
    (C{DATA_DIR}, not C{MEMORY_FILE}), a name without an extension."""
    if given.endswith("/"):
        return True
    if os.path.lexists(path) and not os.path.islink(path):
        return os.path.isdir(path)
    return directoryByWords(path, given, lastWord)


def directoryByWords(path: str, given: str, lastWord: str | None = None) -> bool:
    """Whether the place C{path} is a directory by its words alone (as
    L{namesDirectory} judges one that is not there): pure, for the gateway,
    which reads no file to explain a failure."""
    if given.endswith("/"):
        return True
    if lastWord is not None and lastWord.upper() in DIRECTORY_WORDS:
        return True
    if lastWord is not None and lastWord.upper() == "FILE":
        return False
    name = os.path.basename(path)
    return "." not in name.lstrip(".")


class Want:
    """A place the child may write, as its entry names it (C{path},
    absolute, not resolved), and once L{settle}d the real path it is
    (C{target}), or C{None}: refused."""

    def __init__(
        self,
        path: str,
        why: str,
        make: str | None = None,
        accept: Callable[[str], bool] | None = None,
    ) -> None:
        self.path = path
        self.why = why
        """What names it (C{allowWrite ~/notes}, C{MEMORY_FILE_PATH}), for notes."""
        self.make = make
        """C{"directory"} or C{"file"}: made when missing (L{make})."""
        self.accept = accept
        """Whether its real path may be written (a folder argument's: a
        directory, not the system's)."""
        self.target: str | None = None


def settle(places: Places, wants: list[Want], roots: Iterable[str] = ()) -> None:
    """Resolve every want, and set C{places.writableRoots} to what the
    child may write (C{roots}: besides the wants, its own installs). A
    want reached through a symlink inside another (or inside itself, made
    at an earlier start) is refused. Repeated until no new place is found:
    each found one may make a symlink on another's way the child's."""
    places.writableRoots = sorted(set(roots))
    for _ in range(MAX_ROUNDS):
        for want in wants:
            target = places.resolve(want.path, writing=True)
            if target is not None and want.accept is not None and not want.accept(target):
                target = None
            want.target = target
        found = {want.target for want in wants if want.target is not None}
        grown = found - set(places.writableRoots)
        places.writableRoots = sorted({*places.writableRoots, *found})
        if not grown:
            return


def make(places: Places, path: str, directory: bool) -> str | None:
    """Make C{path} (real, missing): a directory, with the parents it
    lacks (mode 0700), or an empty file (0600) in such a directory; never
    where its nearest existing directory is the system's or the state
    directory. Why not, or C{None}: made (or there already)."""
    if os.path.lexists(path):
        return None
    ancestor = os.path.dirname(path)
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if places.system(ancestor) or under(ancestor, places.stateDir):
        return f"{ancestor} is the system's: not made"
    missing = []
    parent = os.path.dirname(path) if not directory else path
    while parent != ancestor:
        missing.append(parent)
        parent = os.path.dirname(parent)
    try:
        for folder in reversed(missing):
            os.mkdir(folder, 0o700)
        if not directory:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            os.close(os.open(path, flags, 0o600))
    except OSError as e:
        return f"cannot be made: {e.strerror or e}"
    return None
