"""Restore: plan, the safety snapshot, apply, undo."""
