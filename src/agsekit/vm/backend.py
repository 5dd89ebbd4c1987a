"""What agsekit needs from a VM manager. Multipass implements it today; another manager
(Lima, say) can be added beside it without touching the commands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agsekit.config.model import VmSpec
from agsekit.core.errors import AgsekitError
from agsekit.tools.ptyrelay import Handover

RUNNING = "Running"
STOPPED = "Stopped"
DELETED = "Deleted"


@dataclass(frozen=True)
class Resources:
    """CPUs and sizes in bytes."""

    cpus: int
    memory: int
    disk: int


@dataclass(frozen=True)
class GuestUsage:
    """What the running guest sees; absent while it is stopped."""

    cpus: int | None
    memory_total: int | None
    memory_used: int | None
    disk_total: int | None
    disk_used: int | None


@dataclass(frozen=True)
class ActiveMount:
    source: str
    target: str


@dataclass(frozen=True)
class VmStatus:
    name: str
    state: str
    guest: GuestUsage | None
    mounts: tuple[ActiveMount, ...]
    ipv4: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def deleted(self) -> bool:
        return self.state == DELETED


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


class VmNotRunningError(AgsekitError):
    """The VM exists but cannot be reached now (stopped, or still booting)."""


@dataclass(frozen=True)
class SshEndpoint:
    """Where the VM's sshd listens, and the user to log in as."""

    host: str
    port: int
    user: str


class VmBackend(Protocol):
    name: str

    def ensure_available(self) -> None:
        """Raises an AgsekitError with the fix when the manager is missing or unreachable."""
        ...

    def version(self) -> str: ...

    def states(self) -> dict[str, str]:
        """Every VM the manager knows, with its state (deleted ones included)."""
        ...

    def status(self, name: str) -> VmStatus | None:
        """State, guest usage and active mounts of one VM, or None when it does not exist."""
        ...

    def resources(self, name: str) -> Resources:
        """The CPUs, memory and disk the VM is configured with (it may be stopped)."""
        ...

    def create(self, spec: VmSpec) -> None: ...

    def start(self, name: str) -> None: ...

    def stop(self, name: str, *, force: bool = False) -> None: ...

    def restart(self, name: str) -> None: ...

    def destroy(self, name: str) -> None:
        """Remove the VM and its disk for good (this VM only)."""
        ...

    def set_resources(
        self, name: str, *, cpus: int | None, memory: str | None, disk: str | None
    ) -> None:
        """Change configured resources of a stopped VM."""
        ...

    def mount(self, source: Path, name: str, target: str) -> None: ...

    def umount(self, name: str, target: str) -> None: ...

    def mount_source_problem(self, source: Path) -> str | None:
        """Why the manager could not read source (a sandboxing rule), or None."""
        ...

    def exec(
        self,
        name: str,
        command: Sequence[str],
        *,
        workdir: str | None = None,
        input: str | None = None,
    ) -> ExecResult: ...

    def exec_attached(
        self,
        name: str,
        command: Sequence[str],
        *,
        workdir: str | None = None,
        handover: Handover | None = None,
    ) -> int:
        """Run with the user's terminal. With a handover, the command first gets its
        payload on stdin, out of sight (see tools/ptyrelay.py)."""
        ...

    def shell(self, name: str) -> int: ...

    def ssh_endpoint(self, name: str) -> SshEndpoint:
        """The running VM's sshd (its current address: it may change at each start);
        raises an AgsekitError with the fix when the VM is absent or not running."""
        ...
