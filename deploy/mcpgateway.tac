# twistd -ny deploy/mcpgateway.tac
#
# For those who keep .tac files: the same service tree as `twistd -n mcpgateway`,
# configured here instead of on the command line. Edit the options list.
from twisted.application.service import Application

from mcpgateway.tap import RunnerOptions, makeService

options = RunnerOptions()  # installs the gateway's reactor, unless twistd -r named one
options.parseOptions(["--port", "9100"])  # e.g. add "--config", "/path/to/servers.json"

application = Application("mcpgateway")
makeService(options).setServiceParent(application)
