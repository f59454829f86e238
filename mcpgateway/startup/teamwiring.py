# -*- test-case-name: tests.startup.test_teamwiring,tests.startup.test_idle_imports -*-
"""Start-up's team features, each wired only when an option asks for it: a
cluster replica (C{--cluster-key-file}), the door (C{--auth-tokens},
C{--oauth-issuer}) and the audit log (C{--audit-log}), the policy
(C{--policy}), the self-service server (C{--self-service}).

A laptop's gateway asks for none of them: it gets the empty surface
(L{TeamServices} with no gate, limit, audit log or cluster), and none of
L{mcpgateway.startup.cluster}, L{mcpgateway.startup.team},
L{mcpgateway.startup.policywiring}, L{mcpgateway.startup.selfservice} (nor
what they load) is imported. The options of these features are
L{mcpgateway.startup.teamoptions}'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcpgateway.runtime.reactortype import IReactor
    from mcpgateway.startup.cluster import ClusterWiring
    from mcpgateway.startup.options import Options
    from mcpgateway.startup.preflight import Preflight
    from mcpgateway.startup.selfservice import BuiltinServer
    from mcpgateway.web.teamcluster import TeamServices

TEAM_OPTIONS = ("auth-tokens", "oauth-issuer", "audit-log")
"""The options that wire L{mcpgateway.startup.team.wireTeam} (with a
cluster's key: a replica's door takes its peers' requests)."""


def clusterOf(options: Options, pre: Preflight) -> ClusterWiring | None:
    """A replica's wiring when preflight read a cluster's keys, else C{None}."""
    if not pre.clusterKeys:
        return None
    from mcpgateway.startup.cluster import ClusterWiring

    return ClusterWiring.of(options, pre)


def selfServiceOf(options: Mapping[str, Any]) -> BuiltinServer | None:
    """C{--self-service}'s built-in server (C{None}: not asked; see
    L{mcpgateway.startup.selfservice.selfServiceOf})."""
    if not options.get("self-service"):
        return None
    from mcpgateway.startup import selfservice

    return selfservice.selfServiceOf(options)


def teamOf(
    options: Options,
    pre: Preflight,
    reactor: IReactor,
    top: Any,
    gateway: Any,
    secret: bytes | None,
    cluster: ClusterWiring | None,
) -> TeamServices:
    """What the gateway puts in front of its endpoints: the team's door,
    limits, audit log and a replica's peers when an option asks for any
    (L{mcpgateway.startup.team.wireTeam}), else the empty surface."""
    if cluster is None and not any(options.get(name) for name in TEAM_OPTIONS):
        from mcpgateway.web.teamcluster import TeamServices

        return TeamServices(publicHealth=bool(options.get("public-health")))
    from mcpgateway.startup.team import wireTeam

    return wireTeam(options, pre, reactor, top, gateway, secret, cluster)


def wirePolicy(options: Options, reactor: IReactor, top: Any, team: TeamServices) -> None:
    """C{--policy}'s gate on every request of C{team}'s door and on the
    aggregate's member requests of C{top}'s gateway
    (L{mcpgateway.startup.policywiring}); nothing without it."""
    if not options.get("policy"):
        return
    from mcpgateway.startup import policywiring

    team.requestPolicy = policywiring.wirePolicy(options, reactor, top)


def wirePolicyOn(team: TeamServices, gateway: Any, step: Any) -> None:
    """Put the aggregate's member requests of C{gateway} and the flow step
    C{step}'s labelled calls to C{team}'s policy (nothing without one)."""
    if team.requestPolicy is None:
        return
    from mcpgateway.startup import policywiring

    policywiring.wireAggregatePolicy(team.requestPolicy, gateway)
    policywiring.wirePolicyLabels(team.requestPolicy, step)
