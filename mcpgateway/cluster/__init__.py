"""Several gateway replicas behind a load balancer, with no session store.

A session id is sealed (AEAD under a key the replicas share) and names the
replica that owns the session and the facts another replica needs to serve
it (L{mcpgateway.cluster.sealing}). A request for a session another replica
owns is forwarded to that owner while it answers
(L{mcpgateway.cluster.forward}, authenticated by L{mcpgateway.cluster.peer});
when the owner is gone, a session on a shared server is served here from
its sealed facts (L{mcpgateway.cluster.routing}).

Layering: C{cluster} may import C{core} and C{httpbase.principal}; the core
imports nothing of it.
"""
