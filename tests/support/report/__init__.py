"""What the tests of mcpgateway.report share."""
