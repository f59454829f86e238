"""Who may connect to a gateway without authentication: its owner's account
only, as the kernel names each connection's when it is accepted."""
