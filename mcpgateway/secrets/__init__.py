"""Secrets by reference: C{${keyring:NAME}}, C{${op://...}}, C{${env:NAME}} and
C{${file:PATH}} in a config entry, resolved when a child starts and never
shown (L{references}: the forms; L{store}: the secret store; L{resolve}:
the spawner's resolver; C{docs/guide/secrets.md})."""
