"""What the tests of the runtime share, and others that need a fresh interpreter
(no test module imports another)."""
