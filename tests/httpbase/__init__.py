"""Tests of mcpgateway.httpbase: what every HTTP connection and request of
the gateway is made of and held to, on either front (the tuned channel and
the stock one), most of them through a site."""
