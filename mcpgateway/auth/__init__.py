"""Who is calling: the identities of a team gateway's clients (static
bearer tokens, OAuth 2.1 access tokens) and what each may do.

Layering: C{auth} imports nothing of C{web}, C{config}, C{ops} or C{cli};
the core imports nothing of C{auth} (it sees a principal's key, a string).
"""
