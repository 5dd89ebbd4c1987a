"""The background service: watch the mounts, snapshot on change, install as a user service."""
