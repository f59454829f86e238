"""C{python -m mcpgateway.selfservice}: the gateway's own MCP server on stdio."""

import sys

from mcpgateway.selfservice.stdio import main

sys.exit(main())
