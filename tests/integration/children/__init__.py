"""The gateway's stdio children on a real gateway: started only when called,
resolved to their real binaries, healed after a crash, ended with the
gateway, and held to their time limits."""
