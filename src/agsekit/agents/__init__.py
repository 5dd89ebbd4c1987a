"""AI agents inside the VM: the catalogue of agent types, installing them, running them
with snapshots around every session, and the secrets they are given."""
