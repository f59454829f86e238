"""What the tests of mcpgateway.runtime (and others that need a fresh interpreter) share."""
