"""Pieces every layer shares: errors with exit codes, the reporter protocol, the clock."""
