# -*- test-case-name: tests.governance.test_policy -*-
"""Who may call what, with which arguments: a Cedar policy over every MCP
request of a team gateway.

A L{Policy} is one parsed policy file. It decides a request
(L{RequestFacts}: the principal, the MCP method as the action, the
server's tool, resource or prompt as the resource, the call's arguments
and where it came from as the context) with the reference Cedar engine
(C{cedarpy}, imported only when a policy is loaded: a gateway without
C{--policy} never loads it), and says whether an item of a listing may be
shown (L{Policy.visible}: whether some call of it could be permitted,
by Cedar's partial evaluation with the context unknown).

Cedar denies what no policy permits. C{--policy-default allow} turns that
round: a request no policy decides (nothing permits it, nothing forbids
it) is allowed, as if the file ended with C{permit(principal, action,
resource);}, so only explicit C{forbid}s refuse. Either way a policy that
fails to evaluate on a request (it reads an attribute the request lacks,
without C{has}) refuses it: a broken rule never lets a call through.

Evaluation is CPU-bound and short; the parsed policy set, the entities of
each principal with each resource, and each listing verdict are cached
with the L{Policy} (a reloaded file is a new one).

The entity types, actions and context are L{SCHEMA}'s (docs/guide/policy.md).

Data-origin labels (L{mcpgateway.flow.labels}) are facts like the others:
a tool's are its entity's C{labels}, the client's gathered ones are the
context's C{labels}. A C{forbid} annotated C{@approval("why")} asks for a
person instead of refusing: a request only such forbids stop, that the
policy would allow without them, is decided C{approval} (see
L{Policy.decide}); a C{tools/call} so decided is held for a person's yes
(L{mcpgateway.governance.flowpolicy}).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from mcpgateway.core.decision import ALLOWED, Decision

if TYPE_CHECKING:
    import cedarpy

Default = Literal["allow", "deny"]

NAMESPACE = "Gateway"
SCHEMA = """\
namespace Gateway {
  // A group a token's "groups" claim names.
  entity Group;

  // The caller: its name (a tokens file's principal, a JWT's subject),
  // how it was proven ("token", "oauth", "none"), whether it is an admin,
  // its OAuth scopes; its token's other claims of one value are its tags.
  entity Principal in [Group] = {
    name: String,
    via: String,
    admin: Bool,
    scopes: Set<String>,
  } tags String;

  // A configured server: kind is "stdio", "remote" or "openapi"; scope is
  // how its children are shared ("gateway", "principal", "session"...).
  entity Server = { name: String, kind: String, scope: String };

  // What a server offers; the id is "<server>/<name or uri>". A tool's
  // labels are its data-origin labels: "untrusted", "private", "egress".
  entity Tool in [Server] = { name: String, server: String, labels: Set<String> };
  entity Resource in [Server] = { uri: String, server: String };
  entity Prompt in [Server] = { name: String, server: String };

  // The typed part of every request's context. "arguments" (the call's
  // arguments, a record whose shape is the tool's) is there too, always,
  // but has no type a schema can give: read it with "has". "labels" are
  // the data-origin labels the client has gathered from results so far.
  type Context = {
    client: String,
    labels: Set<String>,
    route: String,
    time: Long,
    hour: Long,
    weekday: Long,
    source?: ipaddr,
  };

  action "tools/call" appliesTo { principal: Principal, resource: Tool, context: Context };
  action "resources/read" appliesTo { principal: Principal, resource: Resource, context: Context };
  action "prompts/get" appliesTo { principal: Principal, resource: Prompt, context: Context };
  action "tasks/get", "tasks/result", "tasks/cancel", "tasks/list"
    appliesTo { principal: Principal, resource: Server, context: Context };
}
"""
"""The Cedar schema of the requests the gateway asks its policy about."""

DECIDED: Mapping[str, str] = {
    "tools/call": "Tool",
    "resources/read": "Resource",
    "prompts/get": "Prompt",
    "tasks/get": "Server",
    "tasks/result": "Server",
    "tasks/cancel": "Server",
    "tasks/list": "Server",
}
"""The methods the policy decides, and the entity type of their resource."""

LISTED: Mapping[str, tuple[str, str, str]] = {
    "tools/list": ("tools", "tools/call", "name"),
    "resources/list": ("resources", "resources/read", "uri"),
    "prompts/list": ("prompts", "prompts/get", "name"),
}
"""Each listing method: the result's list, the action an item of it is
shown for, and the item's key naming it."""

APPROVAL = "approval"
"""The annotation that makes a C{forbid} ask for a person's yes (its value:
why, as the person is shown)."""

DEFAULT_DENY_ID = "default-deny"
"""The policy id a refusal names when no policy decided and the default
is C{deny}."""
MAX_CACHED = 4096
MAX_DEPTH = 32
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
_ERRORED = re.compile(r"policy `([^`]+)`")


class PolicyError(Exception):
    """A policy file that cannot be used: one line saying why."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of a request, as the policy sees it."""

    name: str = ""
    groups: frozenset[str] = frozenset()
    claims: tuple[tuple[str, str], ...] = ()
    admin: bool = False
    via: str = "none"
    scopes: frozenset[str] = frozenset()
    key: str = ""
    """The keyed hash of the name, as sessions carry it (never shown to
    the policy)."""


@dataclass(frozen=True, slots=True)
class TargetServer:
    """The server a request goes to."""

    server: str
    kind: str = "stdio"
    scope: str = "gateway"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """One request as the policy decides it."""

    caller: Caller
    action: str
    target: TargetServer
    name: str = ""
    """The tool, prompt or resource URI (C{""}: the server itself)."""
    arguments: Mapping[str, Any] | None = None
    client: str = ""
    route: str = ""
    time: float = 0.0
    source: str = ""
    labels: frozenset[str] = frozenset()
    """The data-origin labels the client has gathered (the context's)."""
    toolLabels: frozenset[str] = frozenset()
    """The labels of the tool called (its entity's)."""


def callerOf(principal: object) -> Caller:
    """The L{Caller} of an authenticated principal
    (L{mcpgateway.httpbase.principal.Principal}; C{None}: anonymous)."""
    if principal is None:
        return Caller()
    return Caller(
        name=str(getattr(principal, "name", "")),
        groups=frozenset(getattr(principal, "groups", frozenset())),
        claims=tuple(getattr(principal, "claims", ())),
        admin=bool(getattr(principal, "admin", False)),
        via=str(getattr(principal, "via", "none")),
        scopes=frozenset(getattr(principal, "scopes", frozenset())),
        key=str(getattr(principal, "key", "")),
    )


def cedarValue(value: Any, depth: int = 0) -> Any:
    """A JSON value as a Cedar JSON value (C{None} when Cedar has none for
    it): records keep their keys except those starting C{__} (Cedar's
    entity and extension escapes: a client may not forge an entity or an
    extension value), lists become sets, numbers beyond a Cedar C{Long}
    and fractions become text, C{null} is left out."""
    if depth > MAX_DEPTH or value is None:
        return None
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if LONG_MIN <= value <= LONG_MAX else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        items = (cedarValue(item, depth + 1) for item in value)
        return [item for item in items if item is not None]
    if isinstance(value, dict):
        record: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("__"):
                continue
            converted = cedarValue(item, depth + 1)
            if converted is not None:
                record[key] = converted
        return record
    return None


def _uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"{NAMESPACE}::{kind}", "id": ident}


def cedarString(ident: str) -> str:
    """C{ident} as a Cedar string literal, in the normalized form Cedar
    accepts for an entity id (Rust's debug escaping)."""
    out = []
    for index, char in enumerate(ident):
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable() and not (index == 0 and unicodedata.combining(char)):
            out.append(char)
        else:
            out.append(f"\\u{{{ord(char):x}}}")
    return '"' + "".join(out) + '"'


_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\0": "\\0",
    "'": "\\'",
}


def _uidText(uid: Mapping[str, str]) -> str:
    return f"{uid['type']}::{cedarString(uid['id'])}"


def resourceUid(facts: RequestFacts) -> dict[str, str]:
    """The entity uid of what C{facts} acts on."""
    kind = DECIDED.get(facts.action, "Server")
    if kind == "Server" or not facts.name:
        return _uid("Server", facts.target.server)
    return _uid(kind, f"{facts.target.server}/{facts.name}")


def _callerEntities(caller: Caller) -> list[dict[str, Any]]:
    groups = sorted(caller.groups)
    return [
        {
            "uid": _uid("Principal", caller.name),
            "attrs": {
                "name": caller.name,
                "via": caller.via,
                "admin": caller.admin,
                "scopes": sorted(caller.scopes),
            },
            "parents": [_uid("Group", group) for group in groups],
            "tags": dict(caller.claims),
        },
        *({"uid": _uid("Group", group), "attrs": {}, "parents": []} for group in groups),
    ]


def _resourceEntities(facts: RequestFacts) -> list[dict[str, Any]]:
    target = facts.target
    server = _uid("Server", target.server)
    entities: list[dict[str, Any]] = [
        {
            "uid": server,
            "attrs": {"name": target.server, "kind": target.kind, "scope": target.scope},
            "parents": [],
        }
    ]
    uid = resourceUid(facts)
    if uid != server:
        key = "uri" if uid["type"].endswith("::Resource") else "name"
        attrs: dict[str, Any] = {key: facts.name, "server": target.server}
        if uid["type"].endswith("::Tool"):
            attrs["labels"] = sorted(facts.toolLabels)
        entities.append({"uid": uid, "attrs": attrs, "parents": [server]})
    return entities


def contextOf(facts: RequestFacts) -> dict[str, Any]:
    """The Cedar context of C{facts} (see L{SCHEMA})."""
    moment = datetime.fromtimestamp(facts.time, UTC)
    arguments = cedarValue(dict(facts.arguments or {}))
    context: dict[str, Any] = {
        "arguments": arguments,
        "client": facts.client,
        "labels": sorted(facts.labels),
        "route": facts.route,
        "time": int(facts.time),
        "hour": moment.hour,
        "weekday": moment.weekday(),
    }
    try:
        ipaddress.ip_address(facts.source)
    except ValueError:
        pass
    else:
        context["source"] = {"__extn": {"fn": "ip", "arg": facts.source}}
    return context


_CONTEXT = {"Var": "context"}


def _readsContextLabels(node: Any) -> bool:
    """Whether the JSON form of a policy (Cedar's) reads C{context.labels}:
    an attribute access or C{has} of C{labels} on the context, or the
    context used any other way than by one of its other attributes."""
    if isinstance(node, list):
        return any(_readsContextLabels(item) for item in node)
    if not isinstance(node, dict):
        return False
    if node == _CONTEXT:
        return True
    for operator in (".", "has"):
        access = node.get(operator)
        if isinstance(access, dict) and access.get("left") == _CONTEXT:
            return access.get("attr") == "labels"
    return any(_readsContextLabels(value) for value in node.values())


class _Lru(OrderedDict[Hashable, Any]):
    def remember(self, key: Hashable, value: Any) -> Any:
        self[key] = value
        if len(self) > MAX_CACHED:
            self.popitem(last=False)
        return value


ARGUMENTS_UNTYPED = "attribute `arguments` in context"
"""How the validator words a read of C{context.arguments}, which L{SCHEMA}
cannot type (its shape is the tool's): not a mistake."""


def schemaWarnings(cedarpy: Any, text: str, ids: Mapping[str, str]) -> tuple[str, ...]:
    """What Cedar's validator says is wrong with the policies of C{text}
    against L{SCHEMA}, once each, as C{"<policy id>: <what>"} (C{ids}:
    Cedar's id of each policy -> the id a refusal names); what it says of
    C{context.arguments} left out."""
    try:
        found = cedarpy.validate_policies(text, SCHEMA)
    except Exception as e:  # a validator that cannot run: say so, decide as before
        return (f"the policy could not be checked against the schema: {e}",)
    out: list[str] = []
    for error in found.errors:
        what = str(error.error)
        if ARGUMENTS_UNTYPED in what:
            continue
        what = what.split(", ", 1)[1] if what.startswith("for policy ") else what
        line = f"{ids.get(error.policy_id, error.policy_id)}: {what}"
        if line not in out:
            out.append(line)
    return tuple(out)


class Policy:
    """One parsed policy file, deciding requests (see the module docstring)."""

    def __init__(self, text: str, default: Default = "deny") -> None:
        """
        @raise PolicyError: C{text} is not a Cedar policy set.
        """
        import cedarpy

        self._cedar = cedarpy
        try:
            self._set = cedarpy.PolicySet.from_str(text)
            described = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as e:
            raise PolicyError(" ".join(str(e).split()) or "not a Cedar policy set") from None
        self.default: Default = default
        self.version = "cedar-" + hashlib.sha256(f"{default}\0{text}".encode()).hexdigest()[:16]
        """Names this policy (its text and default): a person's yes to a
        call it held is bound to it, and a changed policy asks again."""
        self._permits: set[str] = set()
        self.ids: dict[str, str] = {}
        """Cedar's id of each policy -> the id a refusal names (its
        C{@id} annotation, else Cedar's own C{policyN})."""
        self.approvals: dict[str, str] = {}
        """Cedar's id of each C{@approval} forbid -> why it asks."""
        static = described.get("staticPolicies", {})
        self.readsClientLabels = any(_readsContextLabels(body) for body in static.values())
        """Whether a decision may turn on the client's gathered labels (a
        policy reads C{context.labels}, or the context whole): if not, the
        decision made without them is the decision."""
        for internal, body in static.items():
            annotations = body.get("annotations", {})
            annotated = annotations.get("id")
            self.ids[internal] = annotated if annotated else internal
            if body.get("effect") == "permit":
                self._permits.add(internal)
            elif APPROVAL in annotations:
                self.approvals[internal] = annotations[APPROVAL] or "a person decides"
        self.warnings = schemaWarnings(cedarpy, text, self.ids)
        """What Cedar's validator finds wrong with it against L{SCHEMA} (a
        misspelt attribute: such a policy fails to evaluate, which refuses
        every request in its scope), each naming its policy."""
        self._unasked: cedarpy.PolicySet | None = None
        """The set without its C{@approval} forbids (C{None}: it has none)."""
        if self.approvals:
            kept = {k: v for k, v in static.items() if k not in self.approvals}
            self._unasked = cedarpy.PolicySet.from_json_str(
                json.dumps({**described, "staticPolicies": kept})
            )
        self._entities: _Lru = _Lru()
        self._visible: _Lru = _Lru()

    def __len__(self) -> int:
        return len(self.ids)

    def _entitiesFor(self, facts: RequestFacts) -> cedarpy.Entities:
        kind = DECIDED.get(facts.action, "Server")
        key = (facts.caller, facts.target, kind, facts.name, facts.toolLabels)
        found: cedarpy.Entities | None = self._entities.get(key)
        if found is not None:
            self._entities.move_to_end(key)
            return found
        document = json.dumps([*_callerEntities(facts.caller), *_resourceEntities(facts)])
        made = self._cedar.Entities.from_json_str(document)
        self._entities.remember(key, made)
        return made

    def _named(self, internal: list[str]) -> tuple[str, ...]:
        return tuple(sorted({self.ids.get(one, one) for one in internal}))

    def decide(self, facts: RequestFacts) -> Decision:
        """The decision on one request: C{approval} when only C{@approval}
        forbids stop it and the rest of the policy allows it (a plain
        forbid, or no permit under C{--policy-default deny}, refuses it
        whatever a person would say)."""
        request = {
            "principal": _uid("Principal", facts.caller.name),
            "action": _uid("Action", facts.action),
            "resource": resourceUid(facts),
            "context": contextOf(facts),
        }
        entities = self._entitiesFor(facts)
        decided, forbids = self._judged(facts, request, self._set, entities)
        if self._unasked is None or not forbids or not forbids <= self.approvals.keys():
            return decided
        without, _ = self._judged(facts, request, self._unasked, entities)
        if not without.allowed:
            return without
        named = self._named(sorted(forbids))
        why = "; ".join(sorted({self.approvals[one] for one in forbids}))
        what = f"{facts.target.server}/{facts.name}" if facts.name else facts.target.server
        return Decision(
            "approval",
            named,
            f"{facts.action} of {what} needs a person's yes by policy {', '.join(named)}: {why}",
        )

    def _judged(
        self,
        facts: RequestFacts,
        request: dict[str, Any],
        policies: cedarpy.PolicySet,
        entities: cedarpy.Entities,
    ) -> tuple[Decision, set[str]]:
        """The decision of C{policies}, and Cedar's ids of the forbids that
        made it (empty: none did, or a policy failed to evaluate)."""
        result = self._cedar.is_authorized(request, policies, entities)
        diagnostics = result.diagnostics
        errored = [m.group(1) for m in map(_ERRORED.search, diagnostics.errors) if m]
        if errored:
            return self._refusal(facts, self._named(errored), "failed to evaluate"), set()
        reasons = list(diagnostics.reasons)
        if result.allowed:
            return Decision("allowed", self._named(reasons)), set()
        if reasons:
            return self._refusal(facts, self._named(reasons), "refused"), set(reasons)
        if self.default == "allow":
            return ALLOWED, set()
        return self._refusal(facts, (DEFAULT_DENY_ID,), "not permitted"), set()

    def _refusal(self, facts: RequestFacts, ids: tuple[str, ...], how: str) -> Decision:
        what = f"{facts.target.server}/{facts.name}" if facts.name else facts.target.server
        named = ", ".join(ids)
        return Decision("denied", ids, f"{facts.action} of {what} {how} by policy {named}")

    def visible(self, facts: RequestFacts) -> bool:
        """Whether an item of a listing (C{facts} naming its call, without
        arguments) is shown: whether some call of it could be allowed.
        Cedar's partial evaluation with the context unknown says so; an
        evaluation that fails hides it."""
        key = (facts.caller, facts.target, facts.action, facts.name, facts.toolLabels)
        found = self._visible.get(key)
        if found is not None:
            return bool(found)
        request = {
            "principal": _uidText(_uid("Principal", facts.caller.name)),
            "action": _uidText(_uid("Action", facts.action)),
            "resource": _uidText(resourceUid(facts)),
        }
        entities = self._entitiesFor(facts)
        try:
            shown = self._shown(request, self._set, entities)
            if shown is None:  # only forbids asking for a yes stop it: shown if it could be
                assert self._unasked is not None
                shown = bool(self._shown(request, self._unasked, entities))
        except Exception:
            shown = False
        return bool(self._visible.remember(key, shown))

    def _shown(
        self, request: dict[str, str], policies: cedarpy.PolicySet, entities: cedarpy.Entities
    ) -> bool | None:
        """Whether some call of C{request} could be allowed by C{policies};
        C{None} when only C{@approval} forbids refuse every call of it."""
        result = self._cedar.is_authorized_partial(request, policies, entities)
        decision = result.decision
        if decision == self._cedar.Decision.Allow:
            return True
        if decision == self._cedar.Decision.Deny:
            reasons = set(result.diagnostics.reasons)
            forbids = reasons - self._permits
            if forbids and self._unasked is not None and forbids <= self.approvals.keys():
                return None
            return not reasons and self.default == "allow"
        undecided = set(result.diagnostics.may_be_determining)
        return bool(undecided & self._permits) or self.default == "allow"


def loadPolicy(text: str, default: Default = "deny") -> Policy:
    """A L{Policy} of C{text}; L{PolicyError} when it does not parse."""
    return Policy(text, default)
