"""The error hierarchy. Each error carries the one sentence a user reads and the exit code.

The CLI's top-level handler is the only place that turns these into output; domain code
raises them and never prints.
"""

from __future__ import annotations


class AgsekitError(Exception):
    """An expected failure: printed as one clear message, never as a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(AgsekitError):
    """The command line asks for something impossible (bad path, conflicting flags)."""

    exit_code = 2


class ConfigError(AgsekitError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ToolNotFoundError(AgsekitError):
    """An external program (rsync, multipass, ...) is not installed."""

    exit_code = 127


class ToolFailedError(AgsekitError):
    """An external program ran and failed; message holds its own words."""

    def __init__(
        self,
        message: str,
        *,
        argv: list[str],
        returncode: int,
        stderr: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class SnapshotError(AgsekitError):
    """A snapshot could not be taken or read; older snapshots are untouched."""


class NothingToSnapshotError(SnapshotError):
    """The source looks wiped or unmounted; refusing to record that as the latest state."""

    exit_code = 3


class LockBusyError(AgsekitError):
    """Another agsekit process holds the store's lock and waiting was not allowed."""

    exit_code = 75
