"""The design documents name only code that exists, and the architecture
page names all of it: every package of C{mcpgateway/} in its room list and
every service the running gateway builds in its service tree.

What counts as naming a module (the rule each check applies):

  - a slash path whose first segment is C{mcpgateway}, a package of
    C{mcpgateway/} at any depth (C{core}, C{web}, C{pools}, C{plumbing},
    C{era2026}, ...) or a top folder of the checkout (C{tests},
    C{benchmarks}, C{scripts}, C{twisted}, C{deploy}): C{tuned/channel},
    C{core/pools/}, C{mcpgateway/web/app.py}, C{runtime/timers.Every}.
    Under C{mcpgateway} and its packages, each segment is a package and
    the last a module (with or without C{.py}) or a package; a C{.Name}
    after the module is a name the module defines at its top (a class, a
    function, an assignment or an import). A path that starts at a nested
    package is read from each place that package sits. Under the other
    folders the path is a file or a folder as written;
  - a bare file name, C{name.py} with no folder: a Python file of that
    name is somewhere in C{mcpgateway/} or one of those top folders;
  - a code span holding a dotted name whose first part is C{mcpgateway}, a
    package of C{mcpgateway/} at any depth or a module directly in it:
    C{`tap.makeService`}, C{`mcpgateway.launch.GATEWAY`},
    C{`era2026.lazysupport.ERA2026_SUPPORT`}. The longest prefix that is a module
    is the module (read from each place its first part sits); the part
    after it is a name it defines at its top. A name ending in a data
    file's suffix (C{aggregate.json}) is a file, not a module.

Not a module, so not checked: a slash path preceded by C{/}, C{.}, C{~},
C{$}, C{<} or a word character (URLs, C{/api/v1}, C{~/.cache/...},
C{<cache>/peers}), a path whose first segment is none of the above
(C{stdin/stdout}, C{docs/...}, which C{tests/test_docs_links.py} checks),
and a path that is a string the gateway's code itself says (MCP methods
such as C{tasks/get}, C{_meta} keys such as C{mcpgateway/optional}).

C{docs/design/*.md} is read whole, fenced blocks included; C{docs/guide/*.md}
and C{README.md} only for slash paths that start with C{mcpgateway/} (in
them C{mcpgateway.task} is a span's name, C{mcpgateway.socket} a systemd
unit)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import mcpgateway
from tests.support.parsed import parsed

PACKAGE = Path(mcpgateway.__file__).parent
CHECKOUT = PACKAGE.parent
DESIGN = CHECKOUT / "docs" / "design"
GUIDE = CHECKOUT / "docs" / "guide"
ARCHITECTURE = DESIGN / "architecture.md"
FILE_SUFFIXES = frozenset({"json", "jsonl", "toml", "yaml", "yml", "md", "txt", "log", "env"})
TOP_FOLDERS = frozenset({"tests", "benchmarks", "scripts", "twisted", "deploy"})

SLASH_PATH = re.compile(
    r"(?<![\w/.~$<-])((?:[A-Za-z_][\w-]*/)+(?:[A-Za-z_][\w-]*(?:\.[A-Za-z_]\w*)*)?)"
)
BARE_FILE = re.compile(r"(?<![\w/.~$<-])([A-Za-z_]\w*\.py)\b(?!/)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
DOTTED = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(\))?$")


@cache
def packagesByName() -> dict[str, tuple[Path, ...]]:
    """Where each package of C{mcpgateway/} sits, by its own name: the
    folders a path starting with that name is read from."""
    found: dict[str, list[Path]] = {"mcpgateway": [CHECKOUT]}
    for init in sorted(PACKAGE.rglob("__init__.py")):
        folder = init.parent
        if folder != PACKAGE:
            found.setdefault(folder.name, []).append(folder.parent)
    return {name: tuple(places) for name, places in found.items()}


@cache
def fileNames() -> frozenset[str]:
    """The names of the Python files of the checkout's own folders."""
    return frozenset(
        path.name
        for folder in ("mcpgateway", *TOP_FOLDERS)
        for path in (CHECKOUT / folder).rglob("*.py")
    )


@cache
def topNames() -> frozenset[str]:
    """The modules and packages directly in C{mcpgateway/}."""
    return frozenset(
        path.stem
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py") or (path / "__init__.py").exists()
    )


@cache
def codeWords() -> frozenset[str]:
    """Every string constant of the gateway's code that looks like a slash
    path: the MCP methods and C{_meta} keys it speaks."""
    words = set()
    for path in PACKAGE.rglob("*.py"):
        for node in parsed(path).nodes:
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "/" in node.value:
                words.add(node.value)
    return frozenset(words)


@cache
def topLevelNames(module: Path) -> frozenset[str]:
    """The names C{module} defines at its top."""
    names: set[str] = set()
    for node in parsed(module).tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        else:
            names.update(
                sub.id
                for sub in ast.walk(node)
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store)
            )
    return frozenset(names)


def moduleFile(folder: Path) -> Path | None:
    """The module C{folder} names: C{folder.py}, or the package's
    C{__init__.py}; None if neither exists."""
    if folder.with_suffix(".py").is_file():
        return folder.with_suffix(".py")
    if (folder / "__init__.py").is_file():
        return folder / "__init__.py"
    return None


def checkModulePath(places: tuple[Path, ...], segments: list[str]) -> str | None:
    """Why C{segments} (the last possibly C{module.py} or C{module.Name})
    names nothing from any of C{places}; None if it names something."""
    *folders, last = segments
    moduleName, _, attribute = last.removesuffix(".py").partition(".")
    for place in places:
        target = place.joinpath(*folders, moduleName) if moduleName else place.joinpath(*folders)
        module = moduleFile(target)
        if module is None and not target.is_dir():
            continue
        if attribute and (module is None or attribute.split(".")[0] not in topLevelNames(module)):
            return f"{module} defines no {attribute.split('.')[0]}"
        return None
    return "no such module or package"


def checkSlashPath(path: str) -> str | None:
    """Why the slash C{path} names nothing, by the rule of this module;
    None if it names something or is not a module path."""
    path = path.rstrip("/")
    if path in codeWords():
        return None
    segments = path.split("/")
    first = segments[0]
    if first in TOP_FOLDERS:
        return None if (CHECKOUT / path).exists() else "no such file or folder"
    places = packagesByName().get(first)
    if places is None:
        return None
    return checkModulePath(places, segments)


def checkDottedName(name: str) -> str | None:
    """Why the dotted C{name} names nothing, by the rule of this module;
    None if it names something or is not a module's name."""
    parts = name.split(".")
    if parts[-1] in FILE_SUFFIXES:
        return None
    if parts[0] in packagesByName():
        places = packagesByName()[parts[0]]
    elif parts[0] in topNames():
        places = (PACKAGE,)
    else:
        return None
    for place in places:
        for end in range(len(parts), 0, -1):
            module = moduleFile(place.joinpath(*parts[:end]))
            if module is not None:
                if end < len(parts) and parts[end] not in topLevelNames(module):
                    return f"{module} defines no {parts[end]}"
                return None
    return "no such module"


def mentions(text: str, onlyOurs: bool) -> Iterator[tuple[int, str, str | None]]:
    """Each module path and dotted name of the page C{text}: (line, what
    it says, why it names nothing or None). With C{onlyOurs}, only the
    slash paths that start with C{mcpgateway/}."""
    for number, line in enumerate(text.splitlines(), 1):
        for match in SLASH_PATH.finditer(line):
            path = match.group(1)
            if not onlyOurs or path.startswith("mcpgateway/"):
                yield number, path, checkSlashPath(path)
        if onlyOurs:
            continue
        for match in BARE_FILE.finditer(line):
            name = match.group(1)
            yield number, name, None if name in fileNames() else "no file of that name"
        for span in CODE_SPAN.finditer(line):
            dotted = DOTTED.match(span.group(2).strip())
            if dotted:
                yield number, dotted.group(1), checkDottedName(dotted.group(1))


def pages() -> list[tuple[Path, bool]]:
    """The pages checked, each with whether only C{mcpgateway...} names
    count on it."""
    return [
        *((page, False) for page in sorted(DESIGN.glob("*.md"))),
        *((page, True) for page in sorted(GUIDE.glob("*.md"))),
        (CHECKOUT / "README.md", True),
    ]


@pytest.mark.parametrize(
    ("page", "onlyOurs"), pages(), ids=lambda value: getattr(value, "name", "")
)
def test_every_module_a_page_names_exists(page: Path, onlyOurs: bool) -> None:
    stale = [
        f"{page.relative_to(CHECKOUT)}:{line}: {said}: {why}"
        for line, said, why in mentions(page.read_text(encoding="utf-8"), onlyOurs)
        if why is not None
    ]
    assert stale == []


@pytest.mark.parametrize(
    ("said", "right"),
    [
        ("tuned/channel", True),
        ("web/channel", False),
        ("mcpgateway/tuned/channel.py", True),
        ("core/pools/", True),
        ("pools/factory", True),
        ("pools/nothing", False),
        ("runtime/timers.Every", True),
        ("runtime/timers.Never", False),
        ("tests/test_house.py", True),
        ("tests/test_nothing.py", False),
        ("tasks/get", True),
        ("mcpgateway/optional", True),
        ("stdin/stdout", True),
    ],
)
def test_the_rule_for_slash_paths(said: str, right: bool) -> None:
    assert (checkSlashPath(said) is None) is right


@pytest.mark.parametrize(
    ("said", "right"),
    [
        ("tap.makeService", True),
        ("mcpgateway.launch.GATEWAY", True),
        ("mcpgateway.launch.NOTHING", False),
        ("web.plumbing.stock", True),
        ("tuned.channel", True),
        ("web.stock", False),
        ("os.environ", True),
        ("era2026.lazysupport.ERA2026_SUPPORT", True),
        ("aggregate.json", True),
    ],
)
def test_the_rule_for_dotted_names(said: str, right: bool) -> None:
    assert (checkDottedName(said) is None) is right


def test_a_page_is_read_for_paths_and_code_spans() -> None:
    text = "See **web/channel** and `tap.nothing`, not /web/channel or ~/web/x.\n"
    assert [(line, said) for line, said, why in mentions(text, False) if why] == [
        (1, "web/channel"),
        (1, "tap.nothing"),
    ]


def fencedBlockAfter(heading: str) -> list[str]:
    """The lines of the first fenced block under the heading C{heading} of
    the architecture page."""
    lines = ARCHITECTURE.read_text(encoding="utf-8").splitlines()
    start = lines.index(heading)
    opening = next(i for i in range(start, len(lines)) if lines[i].startswith("```"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
    return lines[opening + 1 : closing]


ROOM = re.compile(r"^  ([\w.]+/?)")


def roomSections() -> dict[str, str]:
    """The room list's entries (C{core/}, C{tap.py}, the line names them
    two spaces in), each with its text: its lines up to the next entry,
    the rooms nested in it among them."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in fencedBlockAfter("## The rooms"):
        match = ROOM.match(line)
        if match:
            current = sections.setdefault(match.group(1), [])
        current.append(line)
    return {entry: "\n".join(text) for entry, text in sections.items()}


def test_the_room_list_names_every_package_and_top_module() -> None:
    """Each package directly in C{mcpgateway/} is an entry (C{core/}), each
    module directly in it is named in an entry (C{tap.py}, or a line of
    several), and each nested package is named (C{pools/}) in the text of
    its top package's entry."""
    sections = roomSections()
    text = "\n".join(sections.values())
    missing = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        folder = init.parent
        if folder == PACKAGE:
            continue
        parts = folder.relative_to(PACKAGE).parts
        if len(parts) == 1:
            found = f"{parts[0]}/" in sections
        else:
            section = sections.get(f"{parts[0]}/", "")
            found = re.search(rf"(?<![\w/]){re.escape(parts[-1])}/", section) is not None
        if not found:
            missing.append("/".join(parts) + "/")
    missing.extend(
        path.name
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name != "__init__.py" and re.search(rf"\b{re.escape(path.name)}", text) is None
    )
    assert missing == []


def test_every_room_entry_exists() -> None:
    entries = [entry for entry in roomSections() if entry != "mcpgateway/"]
    assert entries
    assert [entry for entry in entries if not (PACKAGE / entry).exists()] == []


@cache
def serviceClasses() -> frozenset[str]:
    """The classes of C{mcpgateway/} that are Twisted services: those whose
    bases (by name, transitively) reach C{Service} or C{MultiService}."""
    bases: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in parsed(path).nodes:
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(
                    base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                    for base in node.bases
                )
    services = {"Service", "MultiService"}
    grown = True
    while grown:
        before = len(services)
        services |= {name for name, of in bases.items() if of & services}
        grown = len(services) > before
    return frozenset(services - {"Service", "MultiService"})


def builtServices() -> set[str]:
    """The services the running gateway builds, read from the code that
    assembles its tree (C{startup/}, C{tap.py}): each service class those
    modules name, and each service class a function they call is
    annotated to return (C{makeManholeService}, C{loadPolicy})."""
    services = serviceClasses()
    returning: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in parsed(path).nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
                words = set(re.findall(r"\w+", ast.unparse(node.returns)))
                returning.setdefault(node.name, set()).update(words & services)
    built: set[str] = set()
    for path in [*sorted((PACKAGE / "startup").glob("*.py")), PACKAGE / "tap.py"]:
        for node in parsed(path).nodes:
            name = (
                node.id
                if isinstance(node, ast.Name)
                else node.attr
                if isinstance(node, ast.Attribute)
                else None
            )
            if name in services:
                built.add(name)
            if isinstance(node, ast.Call):
                called = node.func
                calledName = (
                    called.id
                    if isinstance(called, ast.Name)
                    else called.attr
                    if isinstance(called, ast.Attribute)
                    else ""
                )
                built |= returning.get(calledName, set())
    return built


def test_the_service_tree_names_every_service_the_gateway_builds() -> None:
    tree = "\n".join(fencedBlockAfter("## The service tree"))
    named = set(re.findall(r"\w+", tree))
    built = builtServices()
    assert {"InstanceService", "GatewayService", "ListenerService"} <= built
    assert sorted(built - named) == []


def test_every_class_on_a_branch_of_the_service_tree_exists() -> None:
    """What hangs on a branch (C{├── Name}, C{└── Name} followed by a count) is a class of
    C{mcpgateway/}."""
    classes = {
        node.name
        for path in PACKAGE.rglob("*.py")
        for node in parsed(path).nodes
        if isinstance(node, ast.ClassDef)
    }
    branches = [
        name
        for line in fencedBlockAfter("## The service tree")
        for match in re.finditer(r"(?:[├└]── |^)(_?[A-Z]\w*(?:, _?[A-Z]\w*)*)", line)
        for name in match.group(1).split(", ")
    ]
    assert branches
    assert [name for name in branches if name not in classes] == []
