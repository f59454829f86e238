"""Every private Twisted name the gateway touches is in the register
(L{mcpgateway.runtime.twistedprivate}): a use the register does not list
fails here, so the register's own test (C{test_twistedprivate.py}), which
checks each listed name against the installed Twisted, covers them all.

The rule, read from every module of C{mcpgateway/} as an AST:

  1. An import from C{twisted.*} of a C{_name}, or of or from a module whose
     dotted path has a C{_part}, and a string constant naming such a module
     (C{"twisted.application.twist._twist"}), is a private import: it must
     be in L{twistedprivate.IMPORTS}, and only C{twistedprivate.py} may
     import it.
  2. Inside a class that derives from a Twisted class (through the gateway's
     own classes too), C{self._name} (read, set, or defined in the class
     body as a method or attribute) is Twisted's when one of the Twisted
     classes of its MRO defines C{_name} (in its C{__dict__}, or as
     C{self._name = ...} in its source).
  3. Anywhere else, C{obj._name} (and C{getattr}, C{hasattr}, C{setattr}
     with C{"_name"}) is Twisted's when Twisted's own source defines
     C{_name} (C{def _name}, C{class _name}, C{x._name = }, C{_name = }) and
     the module does not define it itself (C{def}, C{class}, a name or a
     C{self.}/C{cls.} attribute assigned, leaving out rule 2's names), nor
     is it one of L{GATEWAY_OWN}, the gateway's own names reached from
     another of its modules. C{obj._name} where C{obj} is a Twisted module
     or object imported (C{reactor._x}, C{http._x}) is Twisted's whatever
     the module defines. C{self._name} in a class of the gateway's own
     (not derived from Twisted's) is the gateway's.

Uses of rules 2 and 3 must be in L{twistedprivate.ATTRIBUTES} (rule 2: under
the Twisted class that defines the name; rule 3: under any class).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mcpgateway
import twisted
from mcpgateway.runtime import twistedprivate
from tests.support.parsed import Parsed, fromSource, parsed

GATEWAY = Path(mcpgateway.__file__).parent
TWISTED = Path(twisted.__file__).parent
REGISTER = "mcpgateway/runtime/twistedprivate.py"

_DEFINED_IN_SOURCE = (
    re.compile(r"\b(?:def|class)\s+(_[A-Za-z]\w*)"),
    re.compile(r"\.(_[A-Za-z]\w*)\s*(?::[^=\n]*)?=(?!=)"),
    re.compile(r"^\s*(_[A-Za-z]\w*)\s*(?::[^=\n]*)?=(?!=)", re.M),
)
_PRIVATE_MODULE = re.compile(r"^twisted(\.\w+)*\._\w+(\.\w+)*$")


def isPrivate(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def definedNames(source: str) -> set[str]:
    """The C{_names} C{source} defines: C{def}, C{class}, assignments."""
    return {m for pattern in _DEFINED_IN_SOURCE for m in pattern.findall(source)}


@functools.cache
def twistedDefines() -> frozenset[str]:
    """Every C{_name} Twisted's own source (not its tests) defines."""
    names: set[str] = set()
    for path in TWISTED.rglob("*.py"):
        if "test" not in path.relative_to(TWISTED).parts:
            names |= definedNames(path.read_text(encoding="utf-8"))
    return frozenset(names)


@functools.cache
def twistedClassNames(cls: type) -> frozenset[str]:
    """The C{_names} Twisted's class C{cls} defines itself (not its bases)."""
    names = {n for n in vars(cls) if isPrivate(n)}
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return frozenset(names)
    names |= set(re.findall(r"\bself\.(_[A-Za-z]\w*)\s*(?::[^=\n]*)?=(?!=)", source))
    return frozenset(names)


def twistedOwner(bases: tuple[type, ...], name: str) -> type | None:
    """The first Twisted class in the MROs of C{bases} that defines C{name}."""
    for base in bases:
        for cls in base.__mro__:
            if cls.__module__.startswith("twisted.") and name in twistedClassNames(cls):
                return cls
    return None


@dataclass(frozen=True)
class Use:
    where: str
    name: str
    owner: str | None
    """The Twisted class the name is of (rule 2), C{"import"} or C{"module
    name"} (rule 1), or C{None} (rule 3)."""


@dataclass
class Module:
    path: str
    dotted: str
    read: Parsed
    imports: dict[str, str]
    """Local name: the dotted name it is bound to."""


def modules() -> Iterator[Module]:
    for path in sorted(GATEWAY.rglob("*.py")):
        rel = path.relative_to(GATEWAY.parent)
        dotted = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        read = parsed(path)
        yield Module(str(rel), dotted, read, importMap(read))


def importMap(read: Parsed) -> dict[str, str]:
    bound: dict[str, str] = {}
    for node in read.imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    bound[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def dottedName(node: ast.expr, imports: dict[str, str]) -> str | None:
    """What C{node} (C{a.b.c}) names, through its module's imports."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in imports:
        return None
    return ".".join([imports[node.id], *reversed(parts)])


def resolveTwisted(dotted: str) -> object | None:
    """The Twisted object C{dotted} names, imported; else C{None}."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                value = getattr(value, part)
        except AttributeError:
            return None
        return value
    return None


class Classes:
    """The gateway's classes, and the Twisted classes each derives from."""

    def __init__(self, all: list[Module]) -> None:
        self.defs: dict[str, tuple[Module, ast.ClassDef]] = {}
        for module in all:
            for node in module.read.nodes:
                if isinstance(node, ast.ClassDef):
                    self.defs[f"{module.dotted}.{node.name}"] = (module, node)

    @functools.cache  # noqa: B019 (one instance per test run)
    def twistedBases(self, dotted: str) -> tuple[type, ...]:
        module, node = self.defs[dotted]
        found: list[type] = []
        for base in node.bases:
            name = dottedName(base, module.imports)
            if name is None and isinstance(base, ast.Name):
                name = f"{module.dotted}.{base.id}"
            if name is None:
                continue
            if name in self.defs:
                found.extend(self.twistedBases(name))
            elif name.startswith("twisted."):
                cls = resolveTwisted(name)
                if isinstance(cls, type):
                    found.append(cls)
        return tuple(found)


_ACCESSORS = {"getattr", "hasattr", "setattr"}

GATEWAY_OWN = {
    "_check": "mcpgateway/clientconfigs/engine.py",
    "_finish": "mcpgateway/core/gateway/catalogprobe.py",
}
"""The gateway's own private names that another of its modules reaches
(rule 3 would take them for Twisted's, which has names alike), with the
module that defines each."""


def accessedName(node: ast.AST) -> tuple[ast.expr, str] | None:
    """C{(obj, "_name")} for C{obj._name} and C{getattr(obj, "_name")}."""
    if isinstance(node, ast.Attribute) and isPrivate(node.attr):
        return node.value, node.attr
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _ACCESSORS
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
        and isPrivate(node.args[1].value)
    ):
        return node.args[0], node.args[1].value
    return None


def definedHere(node: ast.AST) -> list[str]:
    """The C{_names} C{node} defines: a function, a class, a name or a
    C{self.}/C{cls.} attribute assigned."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name] if isPrivate(node.name) else []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    else:
        return []
    names = []
    for target in targets:
        for e in ast.walk(target):
            if isinstance(e, ast.Name) and isPrivate(e.id):
                names.append(e.id)
            elif (
                isinstance(e, ast.Attribute)
                and isinstance(e.value, ast.Name)
                and e.value.id in ("self", "cls")
                and isPrivate(e.attr)
            ):
                names.append(e.attr)
    return names


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


_IMPORTS_AND_NAMES = frozenset({ast.Import, ast.ImportFrom, ast.Constant})
"""The nodes rule 1 reads (L{Scan.privateImport})."""
_ACCESSES = frozenset({ast.Attribute, ast.Call})
"""The nodes that may reach a C{_name} (L{accessedName})."""
_DEFINITIONS = frozenset(
    {ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign, ast.AugAssign}
)
"""The nodes that may define a C{_name} (L{definedHere})."""


class Scan:
    """One module's private Twisted names (rules 1 and 2), the accesses
    rule 3 judges, and the C{_names} the module defines for itself."""

    def __init__(self, module: Module, classes: Classes) -> None:
        self.module = module
        self.classes = classes
        self.uses: list[Use] = []
        self.defines: set[str] = set()
        self.others: list[tuple[str, str]] = []
        self.visit(module.read.tree, ())

    def where(self, node: ast.AST) -> str:
        return f"{self.module.path}:{getattr(node, 'lineno', 0)}"

    def visit(self, node: ast.AST, bases: tuple[type, ...]) -> None:
        kind = type(node)
        if isinstance(node, ast.ClassDef):
            bases = self.classes.twistedBases(f"{self.module.dotted}.{node.name}")
            self.overrides(node, bases)
        if kind in _IMPORTS_AND_NAMES:
            self.privateImport(node)
        elif kind in _ACCESSES:
            found = accessedName(node)
            if found is not None:
                self.access(node, found[0], found[1], bases)
        if kind in _DEFINITIONS:
            for name in definedHere(node):
                if not (bases and twistedOwner(bases, name)):
                    self.defines.add(name)
        for child in ast.iter_child_nodes(node):
            self.visit(child, bases)

    def overrides(self, node: ast.ClassDef, bases: tuple[type, ...]) -> None:
        """Rule 2: Twisted's names defined in the class body."""
        for statement in node.body:
            if isinstance(statement, ast.Assign | ast.AnnAssign):
                names = definedHere(statement)
            elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                names = [statement.name]
            else:
                continue
            for name in names:
                owner = twistedOwner(bases, name) if isPrivate(name) else None
                if owner is not None:
                    self.uses.append(Use(self.where(statement), name, qualified(owner)))

    def access(self, node: ast.AST, obj: ast.expr, name: str, bases: tuple[type, ...]) -> None:
        if isinstance(obj, ast.Name) and obj.id in ("self", "cls"):
            owner = twistedOwner(bases, name) if bases else None
            if owner is not None:  # rule 2
                self.uses.append(Use(self.where(node), name, qualified(owner)))
            return  # a class of the gateway's own: its own attribute
        target = dottedName(obj, self.module.imports)
        if target is not None and target.startswith("twisted"):
            self.uses.append(Use(self.where(node), name, None))
        else:
            self.others.append((self.where(node), name))

    def privateImport(self, node: ast.AST) -> None:
        """Rule 1."""
        names: list[str] = []
        kind = "import"
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if _PRIVATE_MODULE.match(alias.name)]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("twisted"):
            names = [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if isPrivate(alias.name) or _PRIVATE_MODULE.match(f"{node.module}.{alias.name}")
            ]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value] if _PRIVATE_MODULE.match(node.value) else []
            kind = "module name"
        self.uses.extend(Use(self.where(node), name, kind) for name in names)

    def twistedUses(self) -> list[Use]:
        """Rules 1 and 2, then rule 3 on the other accesses."""
        return self.uses + [
            Use(where, name, None)
            for where, name in self.others
            if name in twistedDefines() and name not in self.defines and name not in GATEWAY_OWN
        ]


@functools.cache
def scanAll() -> tuple[Scan, ...]:
    all = list(modules())
    classes = Classes(all)
    return tuple(Scan(module, classes) for module in all)


@functools.cache
def allUses() -> tuple[Use, ...]:
    uses = {use for scan in scanAll() for use in scan.twistedUses()}
    return tuple(sorted(uses, key=lambda u: (u.where, u.name)))


def registered(use: Use) -> bool:
    if use.owner == "import":
        return use.where.startswith(REGISTER) and use.name in twistedprivate.IMPORTS
    if use.owner == "module name":  # or the register's own keys: its test imports them
        return use.name in twistedprivate.IMPORTS or (
            use.where.startswith(REGISTER) and use.name in twistedprivate.ATTRIBUTES
        )
    if use.owner is None:
        return any(use.name in names for names in twistedprivate.ATTRIBUTES.values())
    return use.name in twistedprivate.ATTRIBUTES.get(use.owner, {})


def test_every_private_twisted_name_the_gateway_uses_is_registered() -> None:
    missing = [use for use in allUses() if not registered(use)]
    assert not missing, "\n".join(f"{u.where}: {u.name} ({u.owner})" for u in missing)


def test_every_registered_attribute_is_used() -> None:
    """The register lists no name the gateway no longer touches."""
    used = {(u.owner, u.name) for u in allUses()} | {(None, u.name) for u in allUses()}
    stale = [
        (owner, name)
        for owner, names in twistedprivate.ATTRIBUTES.items()
        for name in names
        if (owner, name) not in used and (None, name) not in used
    ]
    assert not stale


TUNED_USES = {
    "mcpgateway/tuned/channel.py": "_handlingRequest",
    "mcpgateway/tuned/request.py": "_disconnected",
    "mcpgateway/httpbase/headers.py": "_rawHeaders",
    "mcpgateway/tuned/reactor.py": "_poller",
    "mcpgateway/tuned/turnflush.py": "_tempDataLen",
}
"""One private Twisted name each module of C{mcpgateway/tuned/} (the
gateway's replacements of Twisted's machinery, which lean on it most) and
the headers they make (C{mcpgateway/httpbase/headers.py}) is known to
touch."""


def test_the_scan_finds_the_tuned_runtimes_private_names() -> None:
    found = {(use.where.split(":")[0], use.name) for use in allUses()}
    assert set(TUNED_USES.items()) <= found


def test_the_gateways_own_names_alike_twisteds_are_defined_where_listed() -> None:
    scans = {scan.module.path: scan for scan in scanAll()}
    for name, path in GATEWAY_OWN.items():
        assert name in scans[path].defines, (name, path)
        assert name in twistedDefines(), name


SAMPLE = """
from twisted.web import http
from twisted.web._newclient import RequestNotSent
from twisted.internet import reactor

WARM = "twisted.application.twist._twist"


class Stream:
    def __init__(self) -> None:
        self._buffer = []
        self._disconnected = False

    def gone(self, request, transport) -> bool:
        reactor._stopped
        return self._disconnected or transport._tempDataLen or getattr(request, "_encoder")


class Later(http.Request):
    def _cleanup(self) -> None:
        self._mine = 1
        self._disconnected = True


class Later2(Later):
    def more(self) -> None:
        self._parsePOSTFormSubmission = False
        self._mine
"""


def sampleScan() -> Scan:
    read = fromSource(SAMPLE)
    module = Module("mcpgateway/sample.py", "mcpgateway.sample", read, importMap(read))
    return Scan(module, Classes([module]))


def test_the_rule_finds_each_kind_of_use_and_not_the_gateways_own() -> None:
    found = {(use.name, use.owner) for use in sampleScan().twistedUses()}
    assert found == {
        ("twisted.web._newclient.RequestNotSent", "import"),
        ("twisted.application.twist._twist", "module name"),
        ("_stopped", None),
        ("_tempDataLen", None),
        ("_encoder", None),
        ("_cleanup", "twisted.web.http.Request"),
        ("_disconnected", "twisted.web.http.Request"),
        ("_parsePOSTFormSubmission", "twisted.web.http.Request"),
    }


def test_a_use_outside_the_register_is_not_registered() -> None:
    assert not registered(Use("mcpgateway/web/x.py:1", "_cleanup", "twisted.web.http.Request"))
    assert not registered(Use("mcpgateway/web/x.py:1", "twisted.web._newclient.X", "import"))
    assert registered(Use("mcpgateway/tuned/turnflush.py:1", "_tempDataLen", None))
