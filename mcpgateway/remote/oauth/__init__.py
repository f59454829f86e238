"""OAuth 2.1 to remote servers: the gateway as an OAuth client of each remote
server that asks for one (discovery, dynamic registration, PKCE, resource
indicators, refresh), and the tokens it keeps, encrypted."""
