"""benchmarks/flowchains.py and flowreport.py, the pure parts of
flowsuite.py: by the shipped table's labels of the fixture servers (each
named by its package), every chain's last call is the first to meet
C{untrusted}, C{private} and C{egress} and every benign session's never
does; the counts the issue asks for; an answer's C{_meta} classified
whatever it holds; a scenario's verdict; an approved call's mutations; the
summary and the report (no gateway run)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mcpgateway.flow.defaults import ServerLabelling
from mcpgateway.flow.labels import NO_ENTRY_LABELS, Label
from tests.support.benchmarks import loadBenchmark

chains = loadBenchmark("flowchains")
flowreport = loadBenchmark("flowreport")
fixtures = loadBenchmark("flowfixtures")

TRIFECTA = {Label.UNTRUSTED, Label.PRIVATE}


def labels(step: Any) -> frozenset[Label]:
    """A step's tool labels as the gateway works them out for the suite's
    entry (the package name an C{args} word)."""
    package = chains.SERVERS[step.server]
    labelling = ServerLabelling.of("python", ("flowfixtures.py", package), NO_ENTRY_LABELS)
    return frozenset(labelling.tool(step.tool).labels)


def heldAt(scenario: Any) -> list[bool]:
    """For each call of C{scenario}, whether the default rule holds it."""
    gathered: set[Label] = set()
    out = []
    for step in scenario.steps:
        tool = labels(step)
        out.append(gathered >= TRIFECTA and Label.EGRESS in tool)
        gathered |= tool & TRIFECTA
    return out


def test_every_chain_is_held_at_its_last_call_only() -> None:
    made = chains.chains()
    assert len(made) >= 50
    assert len({c.name for c in made}) == len(made)
    assert {c.path for c in made} == {"routes", "shared", "relay"}
    for chain in made:
        assert heldAt(chain) == [False] * (len(chain.steps) - 1) + [True], chain.name
    for chain in chains.aggregateChains():
        assert heldAt(chain)[-1]


def test_no_benign_session_completes_the_trifecta() -> None:
    made = chains.benign()
    assert len(made) >= 200
    assert {s.name.split("#")[0] for s in made} == set(chains.BENIGN_KINDS)
    for session in made:
        assert not any(heldAt(session)), session.name


def test_the_sessions_the_labels_cannot_tell_are_held() -> None:
    for session in chains.labelsCannotTell():
        assert heldAt(session)[-1], session.name
        assert session.kind == "benign-held-by-design"


def test_every_tool_of_a_scenario_is_a_fixtures_tool() -> None:
    every = chains.chains() + chains.benign() + chains.labelsCannotTell()
    for scenario in every:
        for step in scenario.steps:
            assert step.tool in fixtures.SERVERS[chains.SERVERS[step.server]]


def test_each_chain_of_the_shared_path_uses_a_session_per_call() -> None:
    for chain in chains.chains():
        sessions = [s.session for s in chain.steps]
        assert sessions == (list(range(3)) if chain.path == "shared" else [0] * len(sessions))


DENIAL = "io.modelcontextprotocol/authorization-denial"


def test_an_answer_is_classified_by_its_denials_outcome() -> None:
    for word in ("held", "denied", "expired", "refused"):
        assert chains.outcome({"_meta": {DENIAL: {"outcome": word}}, "isError": True}) == word
    assert chains.outcome({"content": [], "isError": False}) == "allowed"
    assert chains.outcome({"_meta": {"other": 1}}) == "allowed"
    assert chains.outcome({"_meta": {DENIAL: {"outcome": 3}}}) == "allowed"


SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)


@given(
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=4),
    SCALARS | st.dictionaries(st.text(max_size=8), SCALARS, max_size=4),
)
def test_an_answer_without_a_usable_denial_is_allowed(meta: dict[str, Any], denial: Any) -> None:
    meta.pop(DENIAL, None)
    assert chains.outcome({"_meta": meta}) == "allowed"
    assert chains.outcome({"_meta": [meta]}) == "allowed"
    assert chains.outcome({"_meta": None}) == "allowed"
    usable = isinstance(denial, dict) and isinstance(denial.get("outcome"), str)
    expected = denial["outcome"] if usable else "allowed"
    assert chains.outcome({"_meta": {**meta, DENIAL: denial}}) == expected


def test_a_verdict_wants_a_chain_stopped_at_its_last_call_only() -> None:
    assert chains.verdict("chain", ["allowed", "allowed", "denied"], True)
    assert chains.verdict("chain", ["allowed", "held"], False)
    assert not chains.verdict("chain", ["allowed", "allowed", "allowed"], False)
    assert not chains.verdict("chain", ["denied", "allowed", "denied"], True)
    assert chains.verdict("benign", ["allowed", "allowed"], False)
    assert not chains.verdict("benign", ["allowed", "allowed"], True)
    assert not chains.verdict("benign", ["allowed", "held"], False)


def test_each_mutation_changes_the_call() -> None:
    step = chains.EGRESS["pull-request"]
    made = chains.mutations(step)
    assert len(made) == len(step.arguments) + 1
    for _, mutated in made:
        assert (mutated.server, mutated.tool) == (step.server, step.tool)
        assert mutated.arguments != step.arguments


def row(name: str, kind: str, path: str, outcomes: list[str], held: bool) -> dict[str, Any]:
    ok = chains.verdict(kind, outcomes, held)
    return {"name": name, "kind": kind, "path": path, "outcomes": outcomes, "held": held, "ok": ok}


def runData() -> dict[str, Any]:
    return {
        "labels": {"files": {"labels": ["private"], "source": "table", "row": "filesystem"}},
        "scenarios": [
            row("a+b->c/routes", "chain", "routes", ["allowed", "allowed", "denied"], True),
            row("a+b->d/relay", "chain", "relay", ["allowed", "allowed", "allowed"], False),
            row("research#0", "benign", "routes", ["allowed"], False),
            row("research#1", "benign", "routes", ["allowed", "denied"], True),
            row("docs-code-docs#0", "benign-held-by-design", "routes", ["denied"], True),
        ],
        "aggregate": [row("x/aggregate", "chain", "aggregate", ["allowed"] * 3, False)],
        "replays": [{"ok": True}, {"ok": False}],
        "scenarioSeconds": 3.0,
        "overhead": {
            "p50us": {"on": 1040.0, "off": 1000.0},
            "p90us": {"on": 2000.0, "off": 1900.0},
            "overheadP50us": 40.0,
            "pairedMedianUs": 35.0,
            "roundOverheadsUs": [30.0, 50.0],
            "rounds": 2,
            "callsPerRound": 10,
        },
        "ruleCPU": {"decideAndRecordUs": 5.0, "repeat": 10},
        "machine": {"python": "3.11", "platform": "Linux"},
    }


def test_the_summary_counts_what_each_goal_is_judged_by() -> None:
    s = flowreport.summary(runData())
    assert (s["chains"], s["chainsStopped"], s["chainsMissed"]) == (2, 1, ["a+b->d/relay"])
    assert s["chainsByPath"] == {"routes": 1, "relay": 1}
    assert (s["benign"], s["benignHeld"], s["benignHeldShare"]) == (2, 1, 0.5)
    assert (s["byDesign"], s["byDesignHeld"]) == (1, 1)
    assert (s["aggregate"], s["aggregateStopped"], s["aggregateWired"]) == (1, 0, False)
    assert (s["replayChecks"], s["replayChecksOk"]) == (2, 1)


def test_the_report_says_what_was_missed_and_what_is_not_wired() -> None:
    text = flowreport.report(runData())
    assert "1 of 2 (routes 1, relay 1)" in text
    assert "Chains not stopped: a+b->d/relay" in text
    assert "Benign sessions held: research#1" in text
    assert "not wired" in text
    assert "**+40 µs** | at most 50 µs | yes (rounds +30 to +50 µs) |" in text
    noisy = runData()
    noisy["overhead"]["roundOverheadsUs"] = [-900.0, 40.0]
    noisy["overhead"]["gatewayCpuUs"] = {"on": 130.0, "off": 100.0}
    noisy["overhead"]["roundCpuOverheadsUs"] = [20.0, 40.0]
    text = flowreport.report(noisy)
    assert "not resolved end to end: the rounds spread -900 to +40 µs" in text
    assert "130 / 100 µs: **+30 µs** | at most 50 µs | yes (rounds +20 to +40 µs) |" in text
    assert "| files | private | table (filesystem) |" in text
