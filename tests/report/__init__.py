"""Tests of mcpgateway.report: the C{/health} and C{/metrics} bodies.

These are read through the real Site on purpose: the same body is served
on every route that shows it."""
