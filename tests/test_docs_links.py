"""Every link of the documentation leads somewhere: each relative link of
C{README.md}, C{docs/**/*.md} and the other READMEs names a file or folder
of the checkout, each C{#anchor} names a heading of its page (by GitHub's
slugs), and each C{docs/....md} path that the code, the tests, the
benchmarks or the deployment files name (in a docstring, a help text, a
log message, a comment) is a page that exists.

Pages move between C{docs/guide/} (running the gateway) and
C{docs/design/} (changing it); a link or a "see docs/....md" left behind
by such a move fails here, with the file, the line and the target."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

import mcpgateway

CHECKOUT = Path(mcpgateway.__file__).parent.parent

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
LINKED_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
TAG = re.compile(r"<[^>]+>")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
DOCS_PATH = re.compile(r"(?<![\w/.-])docs/(?:[\w-]+/)*[\w-]+\.md\b")


def markdownFiles() -> list[Path]:
    """The pages whose links are checked: the READMEs of the checkout and
    every page under C{docs/}."""
    pages = [CHECKOUT / "README.md", *sorted((CHECKOUT / "docs").rglob("*.md"))]
    pages.extend(
        path
        for path in (CHECKOUT / "benchmarks" / "README.md", CHECKOUT / "deploy" / "README.md")
        if path.exists()
    )
    return pages


def sourceFiles() -> list[Path]:
    """The files whose C{docs/....md} paths are checked: the gateway's code,
    the tests, the benchmarks, the plugin, CI, the deployment files and the
    project's metadata; not this module, whose own checks name missing
    pages on purpose, nor the virtual environments and packages a
    benchmark installs beside its code."""
    found: list[Path] = []
    for folder in ("mcpgateway", "tests", "benchmarks", "twisted", "deploy", ".ci"):
        root = CHECKOUT / folder
        if root.is_dir():
            found.extend(
                path
                for path in sorted(root.rglob("*"))
                if path.is_file()
                and path.suffix not in {".pyc", ".md"}
                and "golden" not in path.parts
                and not any(
                    part.startswith(".venv") or part == "node_modules" for part in path.parts
                )
                and path != Path(__file__)
            )
    found.extend(path for path in (CHECKOUT / "pyproject.toml",) if path.exists())
    return found


def proseLines(text: str) -> Iterator[tuple[int, str]]:
    """Each line of a markdown page outside fenced code blocks, with its
    number (from 1) and its code spans blanked out: a link or a heading
    inside code is text, not markup."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading's text: its rendered words, lower
    case, with every punctuation mark but C{-} and C{_} dropped and each
    space a hyphen."""
    parts = CODE_SPAN.split(heading)
    rendered = [
        part if index % 3 == 2 else TAG.sub("", LINKED_TEXT.sub(r"\1", part)).replace("*", "")
        for index, part in enumerate(parts)
        if index % 3 != 1
    ]
    text = "".join(rendered).lower()
    kept = "".join(
        char for char in text if char in "-_ " or unicodedata.category(char)[0] in {"L", "N", "M"}
    )
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a markdown page: its headings' slugs (a repeated
    slug numbered C{-1}, C{-2}, ... as GitHub numbers it) and its HTML
    C{<a name>}/C{<a id>} anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in proseLines(page.read_text(encoding="utf-8")):
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> Iterator[tuple[int, str]]:
    """Each link target of a markdown page (inline links, images and
    reference definitions), with its line number."""
    for number, line in proseLines(page.read_text(encoding="utf-8")):
        prose = CODE_SPAN.sub("", line)
        for target in INLINE_LINK.findall(prose):
            yield number, target
        reference = REFERENCE.match(prose)
        if reference is not None:
            yield number, reference.group(1)


def brokenLinks(page: Path, root: Path) -> list[str]:
    """What is wrong with the relative links of C{page}, one line each
    (C{file:line: target: why}); empty when every one resolves inside
    C{root}."""
    problems: list[str] = []
    where = page.relative_to(root)
    for number, target in links(page):
        if SCHEME.match(target) or target.startswith("/"):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / unquote(path)).resolve() if path else page
        if not resolved.exists():
            problems.append(f"{where}:{number}: {target}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved):
            problems.append(f"{where}:{number}: {target}: no heading #{anchor}")
    return problems


def missingDocs(source: Path, root: Path) -> list[str]:
    """The C{docs/....md} paths that C{source} names and that do not exist
    under C{root}, one line each (C{file:line: path})."""
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    return [
        f"{source.relative_to(root)}:{number}: {path}"
        for number, line in enumerate(text.splitlines(), 1)
        for path in DOCS_PATH.findall(line)
        if not (root / path).is_file()
    ]


@pytest.mark.parametrize("page", markdownFiles(), ids=lambda page: str(page.relative_to(CHECKOUT)))
def test_every_relative_link_resolves(page: Path) -> None:
    """Each relative link of each page names a file that exists, and its
    anchor a heading of that file."""
    assert brokenLinks(page, CHECKOUT) == []


def test_every_docs_path_in_the_sources_exists() -> None:
    """Each C{docs/....md} that the code, the tests and the deployment
    files name is a page of the checkout: a help text or a log line never
    sends a user to a page that moved."""
    missing = [line for source in sourceFiles() for line in missingDocs(source, CHECKOUT)]
    assert missing == []


def test_docs_index_names_every_page() -> None:
    """C{docs/README.md} links every page under C{docs/}, so a new page is
    listed in the index with what it is for."""
    index = CHECKOUT / "docs" / "README.md"
    named = {
        (index.parent / unquote(target.partition("#")[0])).resolve()
        for _, target in links(index)
        if not SCHEME.match(target)
    }
    pages = {path.resolve() for path in (CHECKOUT / "docs").rglob("*.md") if path != index}
    assert sorted(str(path.relative_to(CHECKOUT)) for path in pages - named) == []


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Stock Twisted and the tuned path", "stock-twisted-and-the-tuned-path"),
        (
            "Sampling, elicitation and roots: the `input_required` bridge",
            "sampling-elicitation-and-roots-the-input_required-bridge",
        ),
        ("MCP endpoints (`/<server>/mcp`)", "mcp-endpoints-servermcp"),
        (
            "4. A turn's writes wait for the next `epoll_wait`",
            "4-a-turns-writes-wait-for-the-next-epoll_wait",
        ),
        ("Restarts — and [what survives](continuity.md)", "restarts--and-what-survives"),
        ("**Bold** words", "bold-words"),
    ],
)
def test_slug_is_githubs(heading: str, expected: str) -> None:
    """Headings become GitHub's anchors: punctuation dropped, code and
    link text kept, each space a hyphen."""
    assert slug(heading) == expected


def test_repeated_headings_are_numbered(tmp_path: Path) -> None:
    """A heading's second and third occurrences get C{-1} and C{-2}, as on
    GitHub; headings inside fenced code are not headings."""
    page = tmp_path / "page.md"
    page.write_text("# Measured\n\n## Measured\n\n```\n# Measured\n```\n\n## Measured\n")
    assert anchors(page) == {"measured", "measured-1", "measured-2"}


def test_broken_links_are_found(tmp_path: Path) -> None:
    """The checker reports a missing page and a missing heading, and lets
    through a good link, a link inside code, an absolute URL and a good
    anchor: it fails on exactly the links a reader cannot follow."""
    (tmp_path / "guide").mkdir()
    (tmp_path / "guide" / "sandbox.md").write_text("# The sandbox\n\n## System calls\n")
    page = tmp_path / "design.md"
    page.write_text(
        "See [the sandbox](guide/sandbox.md#system-calls), [this](#notes),"
        " [moved](sandbox.md) and [gone](guide/sandbox.md#the-network).\n"
        "`[code](nowhere.md)` and [the web](https://example.com/x.md).\n\n"
        "```\n[fenced](nowhere.md)\n```\n\n## Notes\n\n[ref]: guide/missing.md\n"
    )
    assert brokenLinks(page, tmp_path) == [
        "design.md:1: sandbox.md: no such file",
        "design.md:1: guide/sandbox.md#the-network: no heading #the-network",
        "design.md:10: guide/missing.md: no such file",
    ]


def test_missing_docs_paths_are_found(tmp_path: Path) -> None:
    """A source that names a page which does not exist is reported with its
    line; a page that exists, and a path that only ends in C{docs/...}
    under another folder, are not."""
    (tmp_path / "docs" / "guide").mkdir(parents=True)
    (tmp_path / "docs" / "guide" / "sandbox.md").write_text("# The sandbox\n")
    source = tmp_path / "module.py"
    source.write_text(
        '"""Confined (docs/guide/sandbox.md)."""\n'
        'HELP = "see docs/sandbox.md, System calls"\n'
        'OTHER = "site/docs/sandbox.md"\n'
    )
    assert missingDocs(source, tmp_path) == ["module.py:2: docs/sandbox.md"]
