"""Agent Safety Kit: AI coding agents in a VM, the host keeping snapshots of the projects."""

__version__ = "0.1.0"
