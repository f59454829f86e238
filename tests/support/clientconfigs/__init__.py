"""What the tests of mcpgateway.clientconfigs share."""
