"""Adapters for external programs. Only this package starts processes."""
