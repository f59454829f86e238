"""twistd/twist plugin: C{twistd -n mcpgateway} and C{twist mcpgateway}.

Kept tiny and inert on purpose: Twisted imports every plugin file on every
run, so nothing here may import the reactor or klein. The maker itself is
L{mcpgateway.launch.GATEWAY}, which C{mcpgateway start} gives twistd directly.
"""

from mcpgateway import launch

mcpgateway = launch.GATEWAY
