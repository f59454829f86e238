# -*- test-case-name: tests.flow.test_step,tests.web.endpoints.test_flowpaths -*-
"""The flow rule on the path of a C{tools/call}: L{FlowStep}.

One object per gateway decides each call and records each result:

 - a tool's labels (L{mcpgateway.flow.defaults}) are worked out once per
   server entry and catalog, and kept (L{FlowStep.toolLabels}): a call looks
   them up, and they are worked out again when the entry or the catalog
   changed;
 - a call (L{FlowStep.decide}) is decided by what its client gathered
   (L{mcpgateway.flow.ledger}), narrowed by the call's C{_meta.flowOrigin},
   and the tool's labels (L{mcpgateway.flow.rule});
 - a held call (L{FlowStep.admit}) is forwarded when a person allowed
   exactly this call before (its retry), else held
   (L{mcpgateway.flow.held}) and waited for, at most L{WAIT_SECONDS} by the
   clock: allowed in time, it goes on; denied, expired, refused or out of
   time, it is answered with a denial (L{denial});
 - a result delivered to a client (L{FlowStep.record}) adds the tool's
   C{untrusted} and C{private} to what the client gathered.
 - a call whose answer is written by another path than a session's single
   call (a batch's member, a request of the 2026-07-28 revision) is decided,
   held, forwarded and recorded in one (L{FlowStep.through}); a request
   without a session names its client by what it carries
   (L{FlowStep.caller}, L{RequestClient}).

A gateway with a policy file gives the step a L{LabelPolicy}: each call
is then put to the policy again with the labels the client gathered and
the tool's, before the default rule; the policy may let it go on to the
rule, hold it for a person (its C{@approval} forbids) or refuse it.

The step is L{FlowStep.active} while a policy asks, or while a server
served can give C{private} (L{canGivePrivate}) and the default rule is
on: without C{private} no client can ever hold both C{untrusted} and
C{private}, and no call can be held; a call of such a gateway (the
README's, serving its bundled demo) runs nothing of the flow package.

Nothing here knows HTTP: the caller hands in the session (its id,
principal, client pid and C{clientInfo}), the call's C{params}, and a
catalogs object with a C{get(server)}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import CancelledError, Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorTime

from mcpgateway.flow.defaults import ServerLabelling
from mcpgateway.flow.labels import NO_LABELS, EntryLabels, Label, Labels, words
from mcpgateway.flow.ledger import ClientKey, Ledger, clientKey, narrowed
from mcpgateway.flow.rule import DEFAULT_SETTINGS, FlowDecision, FlowRule, FlowSettings, Verdict

if TYPE_CHECKING:
    # Loaded on the first call held (a gateway that holds none never loads it).
    from mcpgateway.flow.held import HeldCall, HeldCalls

__all__ = [
    "DENIAL_KEY",
    "WAIT_SECONDS",
    "Admission",
    "FlowStep",
    "LabelPolicy",
    "RequestClient",
    "canGivePrivate",
    "denial",
]

WAIT_SECONDS = 50.0
"""How long a held call's request stays open for a person's yes, at most;
past it the call is answered with a denial (the held call still waits for
a person, and a retry after a yes goes on). Under the 60 seconds a client
of the TypeScript SDK (its default request timeout) or Codex (its
C{tool_timeout_sec}) waits for an answer: such a client reads the denial,
which names the held call and how to allow it, not its own timeout."""

DENIAL_KEY = "io.modelcontextprotocol/authorization-denial"
"""The C{_meta} key of a denial's structured envelope (L{denial})."""

UNLISTED = 1000
"""How many tools a server's kept labels hold in all, with those called
that its catalog does not list (any name a client sends)."""

CALLERS = 4096
"""How many clients known by their requests alone (L{RequestClient}) the step
keys apart; past it a new one is keyed by its principal alone, with every
other such caller of that principal (it gathers no less)."""

SWEEP_EVERY = 60.0
"""Seconds between two sweeps of idle clients made for a new caller while
L{CALLERS} are kept."""

POLICY_VERSION = "flow-default-1"
"""The version of the default rule, bound into each held call's digest."""


class SpecLike(Protocol):
    """What the step reads of a server's entry."""

    @property
    def command(self) -> str: ...

    @property
    def args(self) -> Sequence[str]: ...

    @property
    def labels(self) -> EntryLabels: ...


class CallerSession(Protocol):
    """What the step reads of a client's session."""

    @property
    def id(self) -> str: ...

    @property
    def principal(self) -> str: ...

    @property
    def clientPid(self) -> int | None: ...

    @property
    def pidFromSocket(self) -> bool: ...

    @property
    def clientInfo(self) -> Any: ...


class LabelPolicy(Protocol):
    """A policy that reads labels (L{mcpgateway.governance.flowpolicy})."""

    def ask(
        self,
        principal: str,
        server: str,
        tool: str,
        arguments: Mapping[str, Any] | None,
        gathered: Labels,
        toolLabels: Labels,
    ) -> FlowDecision | None:
        """Its decision on a call of C{tool} of C{server} by a client of
        C{principal} (its key) that gathered C{gathered}: C{None} lets the
        default rule decide; a C{HOLD} or a C{DENY} is final."""


class CatalogsLike(Protocol):
    def get(self, server: str) -> Any:
        """The server's catalog (C{lists["tools"]}: its tools), or C{None}."""


def canGivePrivate(labelling: ServerLabelling) -> bool:
    """Whether a tool of a server labelled so may give C{private}: only an
    entry or the table does (annotations never do)."""
    entry = labelling.entry
    if any(Label.PRIVATE in labels for _, labels in entry.tools):
        return True
    if entry.server is not None:
        return Label.PRIVATE in entry.server
    known = labelling.known
    return known is not None and any(Label.PRIVATE in labels for _, labels in known.tools)


@dataclass
class _ServerTools:
    """The labels of one server's tools, for one entry and one catalog."""

    spec: Any
    catalog: Any
    labelling: ServerLabelling
    tools: dict[str, Labels]


@dataclass(frozen=True)
class Admission:
    """What becomes of a held call: forwarded (C{forward}), answered with
    C{denial} (a C{CallToolResult}), or nothing (C{ended}: its session
    ended while it waited, and no one is there to answer)."""

    forward: bool
    denial: dict[str, Any] | None = None
    ended: bool = False


@dataclass(frozen=True)
class RequestClient:
    """A client known by its request alone, where no MCP session names it
    (a request of the 2026-07-28 revision): what L{FlowStep.keyOf} reads
    of a session, made by L{RequestClient.of}."""

    id: str
    principal: str
    clientPid: int | None
    clientInfo: Any
    pidFromSocket: bool = False

    @classmethod
    def of(cls, principal: str, clientPid: int | None, clientInfo: Any) -> RequestClient:
        """The caller of a request of C{principal} (C{""}: none) that
        carries C{clientPid} (the pid it says it runs as) and
        C{clientInfo}: its client is keyed as a session's would be, by
        pid, else by principal and client name, else by principal alone
        (every nameless caller of a principal one client, so that leaving
        out C{clientInfo} gathers no less). Its C{id}, standing for a
        session's in the ledger, is one per client key."""
        info = clientInfo if isinstance(clientInfo, Mapping) else {}
        key = clientKey(principal, clientPid, info.get("name"), "")
        return cls("\0".join(("request", *key)), principal, clientPid, info)


Forward = Callable[[], "Deferred[dict[str, Any]]"]
"""Sends a call on and gives its JSON-RPC answer (L{FlowStep.through})."""


def denial(
    reason: str, labels: Labels, call: HeldCall | None, why: str, remedy: str
) -> dict[str, Any]:
    """The C{CallToolResult} of a call the flow rule did not let through:
    C{isError}, its text saying why and what would allow it, and in its
    C{_meta} under L{DENIAL_KEY} the same as structure: C{reason} (the
    rule's), C{outcome} (C{held}, C{denied}, C{expired}, C{refused}),
    C{heldCall} (the held call's id, C{None} when none was held),
    C{labels} (those that met) and C{remedy}."""
    outcome = "refused" if call is None else _OUTCOME.get(call.state.value, "held")
    text = f"The gateway did not run this call: {reason}. {why}. {remedy}"
    return {
        "content": [{"type": "text", "text": text}],
        "isError": True,
        "_meta": {
            DENIAL_KEY: {
                "reason": reason,
                "outcome": outcome,
                "heldCall": None if call is None else call.id,
                "labels": words(labels),
                "remedy": remedy,
            }
        },
    }


_OUTCOME = {"pending": "held", "denied": "denied", "expired": "expired"}


class FlowStep:
    """The flow rule on the call path of one gateway (see the module)."""

    def __init__(
        self,
        clock: IReactorTime,
        store: Callable[[], HeldCalls],
        ledger: Ledger | None = None,
        wait: float = WAIT_SECONDS,
    ) -> None:
        """
        @param clock: what the wait for a person is timed by.
        @param store: the gateway's held calls (made on first use).
        @param ledger: what each client gathered (a new one by C{clock}).
        @param wait: seconds a held call's request waits for a person.
        """
        self._clock = clock
        self._store = store
        self.ledger = ledger if ledger is not None else Ledger(clock)
        self.wait = wait
        self.rule = FlowRule(DEFAULT_SETTINGS)
        self.policy: LabelPolicy | None = None
        """The policy asked about each call with its labels (L{usePolicy})."""
        self.ruleActive = False
        """Whether the default rule can hold a call (see the module)."""
        self.active = False
        """Whether calls are decided and results recorded (see the module)."""
        self._specs: Mapping[str, SpecLike] = {}
        self._catalogs: CatalogsLike | None = None
        self._servers: dict[str, _ServerTools] = {}
        self._waiting: dict[str, set[Deferred[HeldCall]]] = {}
        """The waits of each session's held calls, stopped when it ends."""
        self._callers: set[str] = set()
        """The ids of the L{RequestClient}s keyed apart (at most L{CALLERS})."""
        self._swept = float("-inf")
        self._ending: str | None = None
        """Why the waits being stopped now end (L{endWaits}); C{None}: none is."""

    # -- configuration (off the call path) --------------------------------------

    def use(
        self,
        specs: Mapping[str, SpecLike],
        settings: FlowSettings = DEFAULT_SETTINGS,
        catalogs: CatalogsLike | None = None,
    ) -> None:
        """Serve C{specs} (by server name) under C{settings}, their tools
        listed in C{catalogs}: at start and at each reload."""
        self.rule = FlowRule(settings)
        self._specs = dict(specs)
        if catalogs is not None:
            self._catalogs = catalogs
        self._servers = {
            name: kept for name, kept in self._servers.items() if specs.get(name) is kept.spec
        }
        self.ruleActive = settings.default and any(
            canGivePrivate(ServerLabelling.of(spec.command, spec.args, spec.labels))
            for spec in specs.values()
        )
        self.active = self.policy is not None or self.ruleActive

    def usePolicy(self, policy: LabelPolicy) -> None:
        """Put every call to C{policy} with its labels, from now on."""
        self.policy = policy
        self.active = True

    # -- each call -------------------------------------------------------------

    def keyOf(self, session: CallerSession) -> ClientKey:
        """The client C{session} belongs to: its pid on a laptop (on a
        team gateway only the pid the gateway found itself), else its
        principal and C{clientInfo.name}, else the session."""
        pid = session.clientPid
        if pid is not None and session.principal and not session.pidFromSocket:
            pid = None  # a pid a team's client sent names nothing on this host
        info = session.clientInfo  # a JSON object, as the client sent it
        name = info.get("name") if isinstance(info, dict) else None
        return clientKey(session.principal, pid, name, session.id)

    def caller(self, principal: str, clientPid: int | None, clientInfo: Any) -> RequestClient:
        """The client of a request without a session (L{RequestClient.of}),
        keyed apart while fewer than L{CALLERS} are kept: memory stays
        bounded whatever names or pids requests carry. When full, idle
        clients are swept (at most every L{SWEEP_EVERY} seconds), and a
        new caller, if still no room, is its principal's nameless one."""
        caller = RequestClient.of(principal, clientPid, clientInfo)
        if caller.id in self._callers:
            return caller
        if len(self._callers) >= CALLERS:
            now = self._clock.seconds()
            if now - self._swept >= SWEEP_EVERY:
                self._swept = now
                self.ledger.sweep()
                self._callers = {kept for kept in self._callers if self.ledger.knows(kept)}
            if len(self._callers) >= CALLERS:
                return RequestClient.of(principal, None, None)
        self._callers.add(caller.id)
        return caller

    def toolLabels(self, server: str, tool: str) -> Labels:
        """The labels of C{server}'s tool C{tool}, worked out again only
        when the server's entry or catalog changed."""
        spec = self._specs.get(server)
        if spec is None:
            return NO_LABELS
        catalog = None if self._catalogs is None else self._catalogs.get(server)
        kept = self._servers.get(server)
        if kept is None or kept.spec is not spec or kept.catalog is not catalog:
            labelling = ServerLabelling.of(spec.command, spec.args, spec.labels)
            listed = () if catalog is None else catalog.lists.get("tools", ())
            tools = {name: found.labels for name, found in labelling.tools(listed).items()}
            kept = self._servers[server] = _ServerTools(spec, catalog, labelling, tools)
        labels = kept.tools.get(tool)
        if labels is None:  # not listed: as without annotations, kept for a few
            labels = kept.labelling.tool(tool).labels
            if len(kept.tools) < UNLISTED:
                kept.tools[tool] = labels
        return labels

    def decide(
        self, session: CallerSession, server: str, params: Mapping[str, Any]
    ) -> tuple[FlowDecision, Labels]:
        """The rule's decision on a C{tools/call} of C{session} with
        C{params}, and the tool's labels."""
        tool = _toolName(params)
        labels = self.toolLabels(server, tool)
        gathered = self.ledger.gathered(self.keyOf(session), session.id)
        gathered = narrowed(gathered, params.get("_meta"))
        if self.policy is not None:
            arguments = params.get("arguments")
            asked = self.policy.ask(
                session.principal,
                server,
                tool,
                arguments if isinstance(arguments, Mapping) else None,
                gathered,
                labels,
            )
            if asked is not None:
                return asked, labels
        return self.rule.decide(gathered, labels, tool), labels

    def record(self, session: CallerSession, labels: Labels) -> None:
        """A result of a tool labelled C{labels} reached C{session}'s client."""
        self.ledger.record(self.keyOf(session), session.id, labels)

    def closed(self, sessionId: str) -> None:
        """Session C{sessionId} ended: its client may be forgotten, and its
        held calls wait no more (they stay held, for a person to decide)."""
        self.ledger.closed(sessionId)
        for waited in list(self._waiting.pop(sessionId, ())):
            waited.cancel()

    def endWaits(self, why: str) -> int:
        """Answer every call waiting for a person's yes now, with its
        denial saying C{why} (a restart: the held calls are this process's
        alone, and a call still waiting when the old process closes its
        connections would reach its client as a broken stream, not as the
        denial); how many were."""
        waits = [waited for each in self._waiting.values() for waited in each]
        self._ending = why
        try:
            for waited in waits:
                waited.cancel()
        finally:
            self._ending = None
        return len(waits)

    def through(
        self,
        session: CallerSession,
        server: str,
        params: Any,
        forward: Forward,
        denied: Callable[[dict[str, Any]], Any],
        bounded: bool = True,
    ) -> Deferred[Any]:
        """A C{tools/call} of C{session} to C{server}, decided as one call
        of a server's route is: allowed (or held and then allowed) it is
        sent by C{forward}, and its answer, when a result, adds the tool's
        labels to what the client gathered; not let through, its answer is
        what C{denied} makes of the L{denial} (L{answered}: the call's
        result). A held call waits as L{admit} says (C{bounded}: at most
        L{wait} seconds; else until a person decides or the held call
        expires, for the call of a task, whose client does not wait on its
        request); cancelling the returned Deferred stops its wait (the
        held call stays for a person) or cancels the call sent on. A wait
        stopped otherwise fails with C{CancelledError}: no answer is owed."""
        if not isinstance(params, Mapping):  # no tool named: the server refuses it
            return maybeDeferred(forward)
        decision, labels = self.decide(session, server, params)

        def recorded(answer: Any) -> Any:
            if type(answer) is dict and "result" in answer:
                self.record(session, labels)
            return answer

        if decision.allowed:
            return maybeDeferred(forward).addCallback(recorded)

        def admitted(admission: Admission) -> Any:
            if admission.ended:
                raise CancelledError()
            if admission.denial is not None:
                return denied(admission.denial)
            return maybeDeferred(forward).addCallback(recorded)

        return self.admit(session, server, params, decision, bounded).addCallback(admitted)

    @staticmethod
    def answered(
        requestId: Any, shape: Mapping[str, Any] | None = None
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """What L{through} answers a request C{requestId} not let through
        with: the denial as its result (C{shape}'s members added, such as
        a revision's C{resultType})."""

        def answer(denial: dict[str, Any]) -> dict[str, Any]:
            return {"jsonrpc": "2.0", "id": requestId, "result": {**denial, **(shape or {})}}

        return answer

    # -- a held call -----------------------------------------------------------

    def admit(
        self,
        session: CallerSession,
        server: str,
        params: Mapping[str, Any],
        decision: FlowDecision,
        bounded: bool = True,
    ) -> Deferred[Admission]:
        """What becomes of a call the rule holds: at once, forwarded when a
        person allowed exactly this call (and the yes is used), or denied
        when it cannot be held; else once a person decided it (or the held
        call expired), or, when C{bounded}, L{wait} seconds passed. A call
        a policy denied (C{DENY}) is denied at once."""
        if decision.verdict is Verdict.DENY:
            why = "The gateway's policy refuses it"
            remedy = "Ask the person running the gateway; a person's yes cannot allow it"
            refused = denial(decision.reason, decision.met, None, why, remedy)
            return succeed(Admission(False, refused))
        from mcpgateway.flow.held import HeldCallsFull, HeldState, UnknownHeldCall

        store = self._store()
        principal, client = session.principal, self.keyOf(session)
        version = decision.version or POLICY_VERSION
        tool = _toolName(params)
        arguments = params.get("arguments", {})
        if not isinstance(arguments, Mapping):
            why = "Its arguments are not a JSON object"
            return succeed(
                Admission(False, denial(decision.reason, decision.met, None, why, _AGAIN))
            )
        claim = store.claim(principal, client, server, tool, arguments, version)
        if claim:
            return succeed(Admission(True))
        try:
            call = store.hold(
                principal,
                client,
                server,
                tool,
                arguments,
                version,
                decision.met,
                decision.reason,
            )
        except (HeldCallsFull, ValueError) as e:
            return succeed(
                Admission(False, denial(decision.reason, decision.met, None, str(e), _AGAIN))
            )
        waited = store.whenDecided(call.id)
        waits = self._waiting.setdefault(session.id, set())
        waits.add(waited)
        timedOut = False

        def timeUp() -> None:
            nonlocal timedOut
            timedOut = True
            waited.cancel()

        timer = self._clock.callLater(self.wait, timeUp) if bounded else None

        def done(result: Any) -> Any:
            waits.discard(waited)
            if not waits and self._waiting.get(session.id) is waits:
                del self._waiting[session.id]
            if timer is not None and timer.active():
                timer.cancel()
            return result

        def decided(result: HeldCall) -> Admission:
            if result.state is HeldState.ALLOWED:
                again = store.claim(principal, client, server, tool, arguments, version)
                if again:
                    return Admission(True)
                return self._denied(decision, result, again.why)
            if result.state is HeldState.DENIED:
                why = "A person denied it" + (f": {result.denyReason}" if result.denyReason else "")
                return self._denied(decision, result, why)
            return self._denied(decision, result, "The call ran out of time")

        def stopped(failure: Any) -> Admission:
            failure.trap(CancelledError)
            ending = self._ending
            if ending is not None:  # this process hands over, or stops: call again
                return Admission(False, denial(decision.reason, decision.met, call, ending, _ANEW))
            if not timedOut:  # its session ended
                return Admission(False, ended=True)
            try:
                now = store.get(call.id)
            except UnknownHeldCall:
                now = call
            return self._denied(decision, now, _TIME_UP.format(s=self.wait))

        return waited.addBoth(done).addCallbacks(decided, stopped)

    def _denied(self, decision: FlowDecision, call: HeldCall, why: str) -> Admission:
        remedy = _ALLOW.format(id=call.id) if call.state.value == "pending" else _AGAIN
        return Admission(False, denial(decision.reason, decision.met, call, why, remedy))


def _toolName(params: Mapping[str, Any]) -> str:
    """The name of the tool a call's C{params} call (C{""}: not a string)."""
    name = params.get("name")
    return name if isinstance(name, str) else ""


_ALLOW = "A person can allow it with `mcpgateway approvals allow {id}`; then call again"
_AGAIN = "Ask the person running the gateway; a new call is held for their yes"
_TIME_UP = "No person decided it within {s:g} seconds; it waits for their yes still"
_ANEW = "Call again: the gateway that serves it next holds it for a person's yes anew"
