"""Helpers shared by the test suites (databases, a live HTTP server)."""
