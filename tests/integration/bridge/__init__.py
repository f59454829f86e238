"""The stdio bridge (C{mcpgateway bridge}) with real stdio clients and real
gateways, including the gateway it starts itself."""
