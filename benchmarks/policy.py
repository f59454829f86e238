"""The CPU of one policy decision (L{mcpgateway.governance.policy}) for a
10-rule and a 1,000-rule policy: a call allowed, a call refused, and a
listing verdict, cached and not. Prints microseconds per decision; asserts
nothing (run: .venv/bin/python benchmarks/policy.py)."""

from __future__ import annotations

import time

from mcpgateway.governance.policy import Caller, Policy, RequestFacts, TargetServer


def rules(count: int) -> str:
    lines = [
        f'@id("r{i}") permit(principal in Gateway::Group::"g{i}",'
        f' action == Gateway::Action::"tools/call", resource)'
        f' when {{ resource.name like "tool{i}_*" && context.arguments has path }};'
        for i in range(count - 1)
    ]
    lines.append('@id("admins") permit(principal in Gateway::Group::"admins", action, resource);')
    return "\n".join(lines)


def timed(label: str, run: object, repeat: int = 2000) -> None:
    assert callable(run)
    started = time.perf_counter()
    for _ in range(repeat):
        run()
    print(f"{label:40s} {(time.perf_counter() - started) / repeat * 1e6:8.1f} us")


def main() -> None:
    for count in (10, 1000):
        started = time.perf_counter()
        policy = Policy(rules(count))
        print(f"{count} rules: parsed in {(time.perf_counter() - started) * 1e3:.1f} ms")
        caller = Caller("ann", frozenset({"g1"}))
        allowed = RequestFacts(caller, "tools/call", TargetServer("s"), "tool1_x", {"path": "/a"})
        refused = RequestFacts(caller, "tools/call", TargetServer("s"), "other", {"path": "/a"})
        timed(f"  {count} rules: call allowed", lambda p=policy, f=allowed: p.decide(f))
        timed(f"  {count} rules: call refused", lambda p=policy, f=refused: p.decide(f))
        timed(f"  {count} rules: listing (cached)", lambda p=policy, f=allowed: p.visible(f))


if __name__ == "__main__":
    main()
