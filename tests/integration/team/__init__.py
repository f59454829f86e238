"""A team gateway: authentication, per-user sharing, policies, rate limits and
cache scopes, TLS and clusters behind a load balancer."""
