# -*- test-case-name: tests.registry.test_display -*-
"""Outside text as a person reads it before saying yes to it.

What a registry serves, or a session asks to run, is shown to the person
who confirms it: in a terminal (C{mcpgateway add}) or in a client's dialog
(the self-service confirmation). Neither may be fooled by the text itself:

 - a control or format character (a terminal escape, a right-to-left
   override) is shown escaped (L{shown});
 - an argument is shown as a shell would need it quoted (it is never run by
   one), with every whitespace but a single space made visible: a run of
   spaces as C{⟨40 spaces⟩}, a tab as C{⟨1 tab⟩} (L{showArgument}), so that
   padding cannot push the rest of a command line out of a dialog's view;
 - a command line cut to fit says what it leaves out, in arguments and
   characters (L{commandLineShown}), and how many arguments there are
   (L{argumentCount}).
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from collections.abc import Sequence

WHITESPACE = re.compile(r"\s+")
"""A run of whitespace characters (any Unicode space, tab or line break)."""


def badCharacter(text: str) -> str | None:
    """The first control, format or separator character of C{text} (a
    terminal escape, a right-to-left override, a line break) as C{U+XXXX}."""
    for c in text:
        if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            return f"U+{ord(c):04X}"
    return None


def shown(text: str) -> str:
    """C{text} with control and format characters escaped, for a terminal."""
    return "".join(c if badCharacter(c) is None else repr(c)[1:-1] for c in text)


def plural(count: int, word: str) -> str:
    """C{1 argument}, C{2 arguments}."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


WHITESPACE_NAMES = {" ": "space", "\t": "tab", "\n": "line break", "\r": "carriage return"}


def _whitespace(run: str) -> str:
    """A run of whitespace made visible: C{⟨3 spaces⟩}, C{⟨1 tab⟩},
    C{⟨2 line breaks, 1 space⟩}, C{⟨\\xa0 (4 times)⟩}; a single space
    stays one."""
    if run == " ":
        return run
    groups: list[str] = []
    i = 0
    while i < len(run):
        j = i
        while j < len(run) and run[j] == run[i]:
            j += 1
        count = j - i
        name = WHITESPACE_NAMES.get(run[i])
        escaped = repr(run[i])[1:-1]
        if name is not None:
            groups.append(plural(count, name))
        else:
            groups.append(escaped if count == 1 else f"{escaped} ({count} times)")
        i = j
    return "⟨" + ", ".join(groups) + "⟩"


def visible(text: str) -> str:
    """C{text} with its whitespace made visible (L{_whitespace}) and its
    control and format characters escaped (L{shown})."""
    parts: list[str] = []
    end = 0
    for match in WHITESPACE.finditer(text):
        parts += [shown(text[end : match.start()]), _whitespace(match.group())]
        end = match.end()
    parts.append(shown(text[end:]))
    return "".join(parts)


def showArgument(argument: str) -> str:
    """One argv item as a person should read it: L{visible}, quoted as a
    shell would need it."""
    return shlex.quote(visible(argument))


def argumentCount(argv: Sequence[str]) -> str:
    """How many arguments follow the program of C{argv}, in words."""
    return plural(max(len(argv) - 1, 0), "argument")


def commandLineShown(argv: Sequence[str], limit: int | None = None) -> str:
    """C{argv} as one line (L{showArgument} each item); past C{limit}
    characters, cut, ending with what was left out: C{… and 3 more
    arguments (1200 more characters)}."""
    parts = [showArgument(argument) for argument in argv]
    line = " ".join(parts)
    if limit is None or len(line) <= limit:
        return line
    hidden = 0
    start = 0
    for part in parts:
        if start >= limit:
            hidden += 1
        start += len(part) + 1
    more = plural(len(line) - limit, "more character")
    if hidden:
        return f"{line[:limit]}… and {plural(hidden, 'more argument')} ({more})"
    return f"{line[:limit]}… and {more}"


def cappedText(text: str, limit: int) -> str:
    """C{text} (L{visible}), cut at C{limit} characters with the count of
    those left out."""
    text = visible(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… and {plural(len(text) - limit, 'more character')}"
