"""The shape of the code base, enforced: packages import one way, no two
packages and no two modules import each other (directly or around a circle),
no module passes 800 lines and no function 100.

Every module under C{mcpgateway/} is read as an AST, with the imports inside
functions and C{TYPE_CHECKING} blocks (a lazy import is still a dependency).
The packages are layers (L{RANKS}), lowest first; each may import the ones
below it, never one above it or one of the same rank
(docs/design/architecture.md draws them):

  1. C{protocol}: JSON-RPC, the envelope, the revisions' vocabulary, limits;
  2. C{runtime}: timers, logs, paths, process facts, the reactor's type, and
     the interface a turn's writes leave through (C{turnwrites});
  3. C{sandbox}: confining a child (the profile, its layout, the launcher),
     which C{core}'s spec carries and its spawner runs; and C{httpbase}: what
     every HTTP connection and request is made of and held to, whichever
     front reads it (bounds, the door, the capped body, the headers); and
     C{flow}: data-origin labels and the flow rule (an entry's labels, the
     shipped table, a client's gathered labels, the decision of one call),
     which C{core}'s spec carries and the HTTP face asks;
  4. C{core}: one child, many clients, which knows neither HTTP nor files;
     it has floors of its own, lowest first (L{CORE_FLOORS}): the kernel
     (the modules directly in C{core/}: children, routing, fanout,
     sessions, specs, the read model, and the vocabulary the features
     share), C{era2026} (the 2026-07-28 revision), C{tasks}, C{pools},
     C{aggregate} (the C{/mcp} endpoint), and C{gateway} (the modules
     that put them together: L{GATEWAY_FLOOR}), each a folder of its own;
  5. C{config}: reading the servers' configuration; C{remote}: remote
     servers as children; C{trust}: pinned tools (the policy C{core}'s
     tool gate is handed);
  6. C{auth}: who a caller is; C{registry}: installing servers by name;
  7. C{governance}: what a caller may do (policy, rate limits, the
     decisions the audit trail records);
  8. C{cluster} and C{clientconfigs}: replicas; MCP clients' config files;
  9. C{report}: what the gateway reports (health, metrics), rendered;
     C{secrets}: secrets by reference;
  10. C{ops}: the jobs around the gateway (state, sessions on disk, reaper,
      management, manhole);
  11. C{tuned}: the gateway's replacements of Twisted's machinery (its
      reactor, the turn's flush, the HTTP channel, reader and request),
      which implement what C{runtime} and C{httpbase} declare and are
      plugged in from above: only C{startup} and the site (C{web/app.py})
      import it (L{TUNED_IMPORTERS});
  12. C{web}: the HTTP face;
  13. C{startup}: the options and the wiring of a running gateway;
  14, 15. C{tap}, then C{launch}: what twistd loads;
  16, 17. C{bridge}, then C{cli}: the programs a user runs.

C{healthcheck}, C{manholeproxy} and C{demo} are programs of their own
(C{python -m}), each importing at most C{runtime} (ranked 3: nothing
imports them). C{selfservice} (the C{gateway} server of C{--self-service},
18) is a program of its own too, above what it imports (C{protocol},
C{config}'s variable rules, C{registry}); nothing imports it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.house import MODULES, ROOT, imported, owningModule
from tests.support.parsed import Parsed, fromSource, parsed, sourceOf

RANKS = {
    "protocol": 1,
    "runtime": 2,
    "sandbox": 3,
    "httpbase": 3,
    "flow": 3,
    "healthcheck": 3,
    "manholeproxy": 3,
    "demo": 3,
    "core": 4,
    "config": 5,
    "remote": 5,
    "trust": 5,
    "auth": 6,
    "registry": 6,
    "governance": 7,
    "cluster": 8,
    "clientconfigs": 8,
    "report": 9,
    "secrets": 9,
    "ops": 10,
    "tuned": 11,
    "web": 12,
    "startup": 13,
    "tap": 14,
    "launch": 15,
    "bridge": 16,
    "cli": 17,
    "selfservice": 18,
}
"""Each package's layer (a module directly in C{mcpgateway/} is a package
of its own), lowest first: see the module's docstring."""
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 100

TUNED_IMPORTERS = ("mcpgateway.startup", "mcpgateway.web.app")
"""The only modules (and packages) that import C{tuned}: they plug it in."""


def package(module: str) -> str:
    """The top-level package (or module) of C{module} under mcpgateway."""
    return module.split(".")[1] if "." in module else module


def test_every_package_has_a_rank() -> None:
    assert {package(m) for m in MODULES if m != "mcpgateway"} <= set(RANKS)


def test_packages_import_only_the_packages_below_them() -> None:
    wrong = []
    for module, path in MODULES.items():
        if module == "mcpgateway":
            continue
        source = package(module)
        for line, target in imported(path):
            into = package(target)
            if target == "mcpgateway" or into == source:
                continue
            if RANKS[into] >= RANKS[source]:
                wrong.append(f"{path.relative_to(ROOT.parent)}:{line}: {source} imports {target}")
    assert wrong == []


def test_only_startup_and_the_site_import_tuned() -> None:
    importers = {
        f"{path.relative_to(ROOT.parent)}:{line}"
        for module, path in MODULES.items()
        if package(module) != "tuned"
        and not any(module == i or module.startswith(f"{i}.") for i in TUNED_IMPORTERS)
        for line, target in imported(path)
        if package(target) == "tuned"
    }
    assert importers == set()


def importGraph(planted: Mapping[str, str] | None = None) -> dict[str, set[str]]:
    """Each module of C{mcpgateway/} -> the modules it imports; C{planted}:
    module -> code read in place of its own."""
    planted = planted or {}
    return {
        m: {t for _, t in imported(p, planted.get(m)) if t != m and t in MODULES}
        for m, p in MODULES.items()
    }


def packageGraph(modules: Mapping[str, set[str]]) -> dict[str, set[str]]:
    """The packages of C{modules} (module -> the modules it imports), each
    -> the other packages its modules import (C{mcpgateway} itself left
    out: its C{__init__} holds only the version)."""
    graph: dict[str, set[str]] = {}
    for module, targets in modules.items():
        if module == "mcpgateway":
            continue
        source = package(module)
        graph.setdefault(source, set()).update(
            package(t) for t in targets if t != "mcpgateway" and package(t) != source
        )
    for targets in list(graph.values()):
        for target in targets:
            graph.setdefault(target, set())
    return graph


def importCycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules of C{graph} (module -> the modules it imports)
    that import each other around a circle (Tarjan's strongly connected
    components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    onStack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        onStack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in onStack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                onStack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_no_modules_import_each_other() -> None:
    assert importCycles(importGraph()) == []


def test_no_packages_import_each_other_around_a_circle() -> None:
    """Counting every import, lazy ones and C{TYPE_CHECKING} ones among them."""
    assert importCycles(packageGraph(importGraph())) == []


def test_the_package_check_finds_a_planted_circle() -> None:
    """A lazy import of the HTTP face in a child, and one under
    C{TYPE_CHECKING} of the site in the turn flusher, each close a circle
    through the packages that import C{core} and C{tuned}."""
    lazy = MODULES["mcpgateway.core.child"].read_text(encoding="utf-8") + (
        "\n\ndef planted() -> None:\n    from mcpgateway.web.app import makeSite\n"
    )
    [circle] = importCycles(packageGraph(importGraph({"mcpgateway.core.child": lazy})))
    assert {"core", "web"} <= set(circle)
    typed = MODULES["mcpgateway.tuned.turnflush"].read_text(encoding="utf-8") + (
        "\nif TYPE_CHECKING:\n    from mcpgateway.web import app\n"
    )
    [circle] = importCycles(packageGraph(importGraph({"mcpgateway.tuned.turnflush": typed})))
    assert circle == ["tuned", "web"]


def test_imports_are_seen_wherever_they_stand_and_however_they_are_spelt() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import mcpgateway.protocol.jsonrpc\n"
        "from mcpgateway.runtime import logs\n"
        "from ..protocol.bounds import MAX_BODY\n"
        "from . import spawn\n"
        "if TYPE_CHECKING:\n    from mcpgateway.web.app import GatewaySite\n"
        "def f() -> None:\n    from mcpgateway.tuned.turnflush import TurnFlusher\n"
    )
    seen = [target for _, target in imported(MODULES["mcpgateway.core.child"], source)]
    assert seen == [
        "mcpgateway.protocol.jsonrpc",
        "mcpgateway.runtime.logs",
        "mcpgateway.protocol.bounds",
        "mcpgateway.core.spawn",
        "mcpgateway.web.app",
        "mcpgateway.tuned.turnflush",
    ]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_stays_under_800_lines(module: str) -> None:
    lines = sourceOf(MODULES[module]).count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module}: {lines} lines"


def functionLengths() -> dict[str, int]:
    """Every function and method of the package by C{module.name}: its
    lines, from C{def} to its last line (the longest of a name's
    definitions)."""
    lengths: dict[str, int] = {}
    for module, path in MODULES.items():
        for node in parsed(path).nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{module}.{node.name}"
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                lengths[name] = max(length, lengths.get(name, 0))
    return lengths


def test_no_function_passes_100_lines() -> None:
    long = [
        f"{name}: {length} lines"
        for name, length in functionLengths().items()
        if length > MAX_FUNCTION_LINES
    ]
    assert long == []


ARCHITECTURE = ROOT.parent / "docs" / "design" / "architecture.md"
LAYER_COLUMN = 32
"""Where the words of a line of the architecture page's layers start."""


def drawnLayers(page: str) -> dict[str, float]:
    """The packages the layers figure of C{page} (the fenced block after
    C{## The layers}) draws, each with its layer, and those the paragraph
    after it ranks in parentheses (C{demo.py} (3))."""
    lines = page[page.index("## The layers") :].splitlines()
    opening = next(i for i, line in enumerate(lines) if line.startswith("```"))
    closing = next(i for i in range(opening + 1, len(lines)) if lines[i].startswith("```"))
    drawn: dict[str, float] = {}
    layer = 0.0
    for line in lines[opening + 1 : closing]:
        for number, name in re.findall(r"(\d+)|(\w+)(?:/|\.py)", line[:LAYER_COLUMN]):
            if number:
                layer = float(number)
            else:
                drawn[name] = layer
    after = "\n".join(lines[closing + 1 : closing + 4])
    for group, number in re.findall(r"((?:\w+(?:/|\.py)[ ,and]*)+)\((\d+)\)", after):
        for name in re.findall(r"(\w+)(?:/|\.py)", group):
            drawn[name] = float(number)
    return drawn


def test_the_architecture_page_draws_the_layers() -> None:
    assert drawnLayers(ARCHITECTURE.read_text(encoding="utf-8")) == RANKS


def test_the_layers_are_read_from_the_figure_and_the_paragraph_after_it() -> None:
    page = (
        "## The layers\n\n```\n 1  protocol/   the wire\n"
        " 3  sandbox/  httpbase/           more\n"
        "                                    core/ is named in the words only\n"
        "14  tap.py, 15 launch.py          what twistd loads\n```\n\n"
        "demo.py and healthcheck.py (3) and selfservice/ (18) are programs.\n"
    )
    assert drawnLayers(page) == {
        "protocol": 1,
        "sandbox": 3,
        "httpbase": 3,
        "tap": 14,
        "launch": 15,
        "demo": 3,
        "healthcheck": 3,
        "selfservice": 18,
    }


def test_the_cycle_check_finds_a_circle_and_only_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert importCycles(graph) == [["a", "b", "c"]]
    assert importCycles({"a": {"b"}, "b": set()}) == []


def test_a_name_imported_from_a_module_counts_as_that_module() -> None:
    assert owningModule("mcpgateway.core.gateway.Gateway") == "mcpgateway.core.gateway"
    assert package("mcpgateway.core.pools.pool") == "core"
    assert package("mcpgateway.tap") == "tap"


CLIENT_NEUTRAL = (
    "mcpgateway.clientconfigs.engine",
    "mcpgateway.clientconfigs.passes",
    "mcpgateway.clientconfigs.backups",
    "mcpgateway.clientconfigs.restoring",
    "mcpgateway.clientconfigs.reports",
    "mcpgateway.clientconfigs.documents",
)
"""The adoption machinery, which knows clients only through the adapter
interface (stamp keys, blocks and scopes come from the adapter)."""


@pytest.mark.parametrize("module", CLIENT_NEUTRAL)
def test_the_adoption_machinery_imports_no_client_adapter(module: str) -> None:
    adapters = [
        name
        for _, name in imported(MODULES[module])
        if name.startswith("mcpgateway.clientconfigs.clients.")
        and owningModule(name) != "mcpgateway.clientconfigs.clients.base"
    ]
    assert adapters == []


def classSpans() -> dict[str, tuple[int, list[str]]]:
    """Every class of the package by C{module.Class}: its lines, and its
    bases resolved to C{module.Class} where they are classes of the package
    (by a name defined in the same module or imported from another)."""
    spans: dict[str, tuple[int, list[str]]] = {}
    for module, path in MODULES.items():
        nodes = parsed(path).nodes
        names: dict[str, str] = {}
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in nodes:
            if isinstance(node, ast.ClassDef):
                names.setdefault(node.name, f"{module}.{node.name}")
        for node in nodes:
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [names[b.id] for b in node.bases if isinstance(b, ast.Name) and b.id in names]
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            spans[f"{module}.{node.name}"] = (length, bases)
    return spans


def classWithBases(name: str, spans: dict[str, tuple[int, list[str]]]) -> int:
    """The lines of class C{name} with those of its bases (transitively)
    that live in the same top-level package: a mixin of the same package
    is part of the class, not a split of it."""
    home = package(name.rpartition(".")[0])
    seen: set[str] = set()
    pending = [name]
    total = 0
    while pending:
        current = pending.pop()
        if current in seen or current not in spans:
            continue
        seen.add(current)
        length, bases = spans[current]
        total += length
        pending.extend(b for b in bases if package(b.rpartition(".")[0]) == home)
    return total


STILL_OVER: frozenset[str] = frozenset()
"""The classes still over the limit with their same-package bases, each
to be split by job into collaborators; the list only shrinks."""


def test_no_class_with_its_same_package_bases_passes_800_lines() -> None:
    spans = classSpans()
    sizes = {name: classWithBases(name, spans) for name in spans}
    over = {name for name, size in sizes.items() if size > MAX_MODULE_LINES}
    assert over - STILL_OVER == set(), {name: sizes[name] for name in over - STILL_OVER}
    assert STILL_OVER - over == set(), "split: take these off STILL_OVER"


def test_a_class_counts_with_its_same_package_mixins() -> None:
    spans = {
        "mcpgateway.web.a.Host": (500, ["mcpgateway.web.b.Mixin", "twisted.web.resource.Resource"]),
        "mcpgateway.web.b.Mixin": (400, ["mcpgateway.core.c.Base"]),
        "mcpgateway.core.c.Base": (300, []),
    }
    assert classWithBases("mcpgateway.web.a.Host", spans) == 900
    assert classWithBases("mcpgateway.web.b.Mixin", spans) == 400


BENCHMARKS = ROOT.parent / "benchmarks"
BENCH_MODULES = {path.stem: path for path in sorted(BENCHMARKS.glob("*.py"))}
"""The scripts and modules of C{benchmarks/}, by the name they import each
other by (each script puts its folder first on C{sys.path})."""

BENCH_LONG_FUNCTIONS: frozenset[str] = frozenset()
"""Benchmark functions still over 100 lines, each to be split; the list
only shrinks."""


def benchImported(path: Path) -> Iterator[tuple[int, str]]:
    """Every C{benchmarks/} module C{path} imports: (line, module), with the
    imports inside functions."""
    for node in parsed(path).imports:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            if name in BENCH_MODULES:
                yield node.lineno, name


def benchImportGraph() -> dict[str, set[str]]:
    return {m: {t for _, t in benchImported(p) if t != m} for m, p in BENCH_MODULES.items()}


def benchFunctionLengths(path: Path) -> dict[str, int]:
    """Every function and method of one C{benchmarks/} module by name: its
    lines, from C{def} to its last line (the longest of a name's
    definitions)."""
    lengths: dict[str, int] = {}
    for node in parsed(path).nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            lengths[node.name] = max(length, lengths.get(node.name, 0))
    return lengths


def test_there_are_benchmarks_to_check() -> None:
    assert {"bench", "mcpload", "canned", "workerio"} <= set(BENCH_MODULES)


@pytest.mark.parametrize("module", sorted(BENCH_MODULES))
def test_a_benchmark_module_keeps_the_house_rules(module: str) -> None:
    """Under 800 lines, no function over 100, a docstring saying its job."""
    path = BENCH_MODULES[module]
    source = parsed(path).source
    lines = source.count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module}: {lines} lines"
    long = {
        f"{module}.{name}": length
        for name, length in benchFunctionLengths(path).items()
        if length > MAX_FUNCTION_LINES
    }
    assert set(long) - BENCH_LONG_FUNCTIONS == set(), long
    assert ast.get_docstring(parsed(path).tree), f"{module}: no module docstring"


def test_the_long_benchmark_functions_are_still_long() -> None:
    still = {
        f"{module}.{name}"
        for module, path in BENCH_MODULES.items()
        for name, length in benchFunctionLengths(path).items()
        if length > MAX_FUNCTION_LINES
    }
    assert BENCH_LONG_FUNCTIONS - still == set(), "split: take these off BENCH_LONG_FUNCTIONS"


def test_no_benchmark_modules_import_each_other() -> None:
    assert importCycles(benchImportGraph()) == []


def test_the_benchmark_import_check_sees_lazy_and_from_imports(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "import os\nimport bench\nfrom mcpload import out\n"
        "def f() -> None:\n    import canned\n    from mcpgateway import core\n",
        encoding="utf-8",
    )
    assert sorted(benchImported(script)) == [(2, "bench"), (3, "mcpload"), (5, "canned")]


CORE_FLOORS = ("kernel", "era2026", "tasks", "pools", "aggregate", "gateway")
"""The floors of C{core}, lowest first: a module imports modules of its
own floor or of the floors below it, never one above.

The kernel is what every feature stands on; C{era2026} (the 2026-07-28
revision, before and behind a handshake-era child) stands on the kernel
alone; C{tasks} keeps calls that outlive their answers, 2026 requests
among them; C{pools} hold the children (their 2026 side, their children's
own tasks); C{aggregate} serves every server's pool as one endpoint; the
C{gateway} folder holds all of it together, so it is the top floor. Each
floor but the kernel is a folder of C{core/}: the layout shows the ranks."""

GATEWAY_FLOOR = frozenset(
    f"mcpgateway.core.gateway.{name}"
    for name in (
        "gateway",
        "settings",
        "serverset",
        "reconfiguring",
        "aggregateside",
        "sessioncapacity",
        "sessionopener",
        "ownerlookup",
        "foreignsessions",
        "continuity",
        "shutdown",
        "readmodel",
        "catalog",
        "catalogprobe",
        "catalogserve",
    )
)
"""The modules of C{core/gateway/} that put the floors together: the
L{Gateway<mcpgateway.core.gateway.gateway.Gateway>} and its collaborators,
and the catalogs, which lists every pool's children. Any module directly in
C{core/} is the kernel's."""


def coreFloor(module: str) -> str | None:
    """The floor of C{core} that C{module} is on (L{CORE_FLOORS}), or
    C{None} for a module outside C{core}."""
    parts = module.split(".")
    if len(parts) < 3 or parts[1] != "core":
        return None
    if module in GATEWAY_FLOOR:
        return "gateway"
    if parts[2] in CORE_FLOORS and (len(parts) > 3 or MODULES[module].name == "__init__.py"):
        return parts[2]
    return "kernel"


def coreBackArrows() -> list[str]:
    """Every import in C{core} of a module on a higher floor than the
    importer's, as C{path:line: floor imports module (floor)}."""
    rank = {floor: position for position, floor in enumerate(CORE_FLOORS)}
    wrong = []
    for module, path in MODULES.items():
        source = coreFloor(module)
        if source is None:
            continue
        for line, target in imported(path):
            into = coreFloor(target)
            if into is not None and rank[into] > rank[source]:
                wrong.append(
                    f"{path.relative_to(ROOT.parent)}:{line}: {source} imports {target} ({into})"
                )
    return sorted(set(wrong))


def test_every_module_of_core_is_on_a_floor() -> None:
    assert set(MODULES) >= GATEWAY_FLOOR
    floors = {coreFloor(m) for m in MODULES if m.startswith("mcpgateway.core.")}
    assert floors == set(CORE_FLOORS)


def test_core_floors_import_only_their_own_and_the_floors_below() -> None:
    assert coreBackArrows() == []


def test_core_modules_import_each_other_around_no_circle() -> None:
    graph = importGraph()
    core = {
        module: {target for target in targets if coreFloor(target) is not None}
        for module, targets in graph.items()
        if coreFloor(module) is not None
    }
    assert importCycles(core) == []


def test_core_floors_are_read_from_the_path_and_the_gateway_floor() -> None:
    assert coreFloor("mcpgateway.core.router") == "kernel"
    assert coreFloor("mcpgateway.core.gateway") == "gateway"
    assert coreFloor("mcpgateway.core.era2026.listen") == "era2026"
    assert coreFloor("mcpgateway.core.pools.pool") == "pools"
    assert coreFloor("mcpgateway.core.aggregate") == "aggregate"
    assert coreFloor("mcpgateway.web.endpoints.mcp") is None


RETIRED_WORDS = ("modern", "legacy", "wire2026")
"""Names the project no longer uses for its ideas: the 2026-07-28 revision
is C{era2026}, the revisions before it are the C{handshake} era, the
2024-11-05 transport is C{httpsse}. A string may still hold a retired word
(an older config word or option name, still read)."""


def retiredNames(read: Parsed) -> list[str]:
    """The identifiers of the module C{read} (every name bound, read or
    imported, attributes and arguments included) that hold a retired
    word."""
    found: list[str] = []
    for node in read.nodes:
        names: list[str] = []
        if isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, ast.alias):
            names = [node.name, node.asname or ""]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        found += [name for name in names if any(w in name.lower() for w in RETIRED_WORDS)]
    return found


def test_no_name_holds_a_retired_word() -> None:
    offenders = {
        module: names
        for module, path in MODULES.items()
        if (names := retiredNames(parsed(path))) or any(w in module.lower() for w in RETIRED_WORDS)
    }
    assert offenders == {}


def test_the_retired_word_check_sees_names_and_not_strings() -> None:
    source = (
        "import mcpgateway.protocol.wire2026\n"
        "def f(modern: int) -> None:\n"
        "    x.legacyMode = 1\n"
        "OLD = 'modern'\n"
    )
    assert retiredNames(fromSource(source)) == [
        "mcpgateway.protocol.wire2026",
        "modern",
        "legacyMode",
    ]


def emptyTests(source: str) -> list[str]:
    """The test functions in C{source} whose body is only a docstring or
    C{pass}: a test that cannot fail, reported as a pass (one turned off is
    skipped, with its reason)."""
    found = []
    for node in fromSource(source).nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            body = [
                statement
                for statement in node.body
                if not (
                    isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
                )
            ]
            if all(isinstance(statement, ast.Pass) for statement in body):
                found.append(node.name)
    return found


def test_no_test_is_only_a_docstring_or_pass() -> None:
    tests = ROOT.parent / "tests"
    offenders = {
        str(path.relative_to(tests)): names
        for path in sorted(tests.rglob("test_*.py"))
        if (names := emptyTests(sourceOf(path)))
    }
    assert offenders == {}


def test_the_empty_test_check_sees_a_docstring_and_a_pass_and_only_them() -> None:
    source = (
        "def test_a() -> None:\n    '''Turned off.'''\n"
        "def test_b() -> None:\n    pass\n"
        "def test_c() -> None:\n    '''Checks.'''\n    assert f()\n"
        "def helper() -> None:\n    pass\n"
    )
    assert emptyTests(source) == ["test_a", "test_b"]


def classDefinitions(sources: dict[str, Parsed]) -> dict[str, list[str]]:
    """Every class name defined in C{sources} (module -> its code, parsed),
    nested classes included, with the modules defining it (once per
    definition)."""
    defined: dict[str, list[str]] = {}
    for module, read in sources.items():
        for node in read.nodes:
            if isinstance(node, ast.ClassDef):
                defined.setdefault(node.name, []).append(module)
    return defined


def test_no_class_name_is_defined_twice() -> None:
    """A class name says one thing: a grep for it finds it and only it."""
    sources = {module: parsed(path) for module, path in MODULES.items()}
    twice = {name: where for name, where in classDefinitions(sources).items() if len(where) > 1}
    assert twice == {}


def test_the_class_name_check_sees_two_modules_and_a_nested_class() -> None:
    sources = {
        "a": "class Opener:\n    class Step:\n        pass\n",
        "b": "class Opener:\n    pass\nclass Step:\n    pass\nclass Alone:\n    pass\n",
    }
    defined = classDefinitions({module: fromSource(code) for module, code in sources.items()})
    assert {name: where for name, where in defined.items() if len(where) > 1} == {
        "Opener": ["a", "b"],
        "Step": ["a", "b"],
    }


NAMED_APART = {
    "mcpgateway.runtime.threads": (
        "the home of RunInThread, the type of every thread runner the wiring hands"
        " out, and of runInline; SerialJobs is one user of them"
    ),
    "mcpgateway.core.era2026.lazysupport": (
        "its package names the revision: LazyEra2026Support is era2026/lazysupport"
    ),
    "mcpgateway.startup.selfservice": (
        "the wiring of --self-service, named by its option as start-up's other wiring"
        " modules are; BuiltinServer is the server it wires"
    ),
}
"""The modules whose one public class is most of them yet does not carry
their name, each with why the two names part."""


def soleClassShare(read: Parsed) -> tuple[str, float] | None:
    """The one public top-level class of the module C{read} and the share
    of its non-blank lines it spans (its decorators included); C{None}
    when the module has no public class or more than one."""
    tree = read.tree
    public = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_")
    ]
    if len(public) != 1:
        return None
    (cls,) = public
    lines = read.lines
    start = min([cls.lineno] + [decorator.lineno for decorator in cls.decorator_list])
    spanned = sum(1 for line in lines[start - 1 : cls.end_lineno] if line.strip())
    return cls.name, spanned / sum(1 for line in lines if line.strip())


def classesNamedApart(sources: dict[str, Parsed]) -> dict[str, str]:
    """The modules of C{sources} (module -> its code, parsed) whose one
    public class spans more than half of them and whose name (underscores
    dropped) that class's name, lowercased, does not contain: module ->
    class."""
    apart = {}
    for module, read in sources.items():
        found = soleClassShare(read)
        if found is None:
            continue
        name, share = found
        if share > 0.5 and module.rpartition(".")[2].replace("_", "") not in name.lower():
            apart[module] = name
    return apart


def test_a_module_that_is_its_class_carries_its_name() -> None:
    """A grep for a class's idea finds its module too: a module that is its
    one class is named by it (L{NAMED_APART} says why the few others part)."""
    sources = {
        module: parsed(path) for module, path in MODULES.items() if path.name != "__init__.py"
    }
    apart = classesNamedApart(sources)
    assert {module: name for module, name in apart.items() if module not in NAMED_APART} == {}
    assert set(NAMED_APART) <= set(apart)


def test_the_module_name_check_weighs_the_class_against_the_module() -> None:
    big = "class Preparer:\n    '''Prepares.'''\n\n    def run(self) -> None:\n        pass\n"
    helpers = "def a() -> None:\n    pass\n\n\ndef b() -> None:\n    pass\n"
    codes = {
        "pkg.preparing": '"""Preparing."""\n\n' + big,
        "pkg.preparer": big,
        "pkg.pre_parer": big,
        "pkg.helped": big + helpers + helpers,
        "pkg.two": big + "class Other:\n    pass\n",
        "pkg.private": big + "class _Hidden:\n    pass\n",
    }
    sources = {module: fromSource(code) for module, code in codes.items()}
    assert soleClassShare(sources["pkg.preparer"]) == ("Preparer", 1.0)
    assert soleClassShare(sources["pkg.two"]) is None
    assert classesNamedApart(sources) == {"pkg.preparing": "Preparer", "pkg.private": "Preparer"}
