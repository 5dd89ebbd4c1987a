"""VmBackend on top of the Multipass adapter."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from agsekit.config.model import VmSpec
from agsekit.core.errors import AgsekitError
from agsekit.tools import multipass as mp
from agsekit.tools.ptyrelay import Handover
from agsekit.vm import confinement
from agsekit.vm.backend import (
    ActiveMount,
    ExecResult,
    GuestUsage,
    Resources,
    SshEndpoint,
    VmNotRunningError,
    VmStatus,
)

SSH_USER = "ubuntu"  # the default user of Multipass' Ubuntu images
SSH_PORT = 22
# For the tests only: their sshd on loopback stands in for the VM's, on a port of its own
# and as the user running the tests.
TEST_PORT_ENV = "AGSEKIT_TEST_SSH_PORT"
TEST_USER_ENV = "AGSEKIT_TEST_SSH_USER"


class MultipassBackend:
    name = "multipass"

    def ensure_available(self) -> None:
        mp.list_instances()  # fails with the fix when not installed or the daemon is down

    def version(self) -> str:
        found = mp.version()
        return found.daemon or found.client

    def states(self) -> dict[str, str]:
        return {item.name: item.state for item in mp.list_instances()}

    def status(self, name: str) -> VmStatus | None:
        try:
            info = mp.info(name)
        except mp.InstanceNotFoundError:
            return None
        guest = None
        if info.cpu_count is not None or info.memory_total is not None:
            guest = GuestUsage(
                cpus=info.cpu_count,
                memory_total=info.memory_total,
                memory_used=info.memory_used,
                disk_total=info.disk_total,
                disk_used=info.disk_used,
            )
        return VmStatus(
            name=name,
            state=info.state,
            guest=guest,
            mounts=tuple(ActiveMount(m.source, m.target) for m in info.mounts),
            ipv4=info.ipv4,
        )

    def resources(self, name: str) -> Resources:
        values = mp.get_configured(name)
        return Resources(values.cpus, values.memory, values.disk)

    def create(self, spec: VmSpec) -> None:
        with cloud_init_file(spec.cloud_init) as path:
            mp.launch(spec.name, cpus=spec.cpu, memory=spec.ram, disk=spec.disk, cloud_init=path)

    def start(self, name: str) -> None:
        mp.start(name)

    def stop(self, name: str, *, force: bool = False) -> None:
        mp.stop(name, force=force)

    def restart(self, name: str) -> None:
        mp.restart(name)

    def destroy(self, name: str) -> None:
        mp.delete_purge(name)

    def set_resources(
        self, name: str, *, cpus: int | None, memory: str | None, disk: str | None
    ) -> None:
        for key, value in (("cpus", cpus), ("memory", memory), ("disk", disk)):
            if value is not None:
                mp.set_setting(name, key, str(value))

    def mount(self, source: Path, name: str, target: str) -> None:
        mp.mount(source, name, target)

    def umount(self, name: str, target: str) -> None:
        mp.umount(name, target)

    def mount_source_problem(self, source: Path) -> str | None:
        return confinement.snap_problem(source) if confinement.applies() else None

    def exec(
        self,
        name: str,
        command: Sequence[str],
        *,
        workdir: str | None = None,
        input: str | None = None,
    ) -> ExecResult:
        result = mp.exec_captured(name, command, workdir=workdir, input=input)
        return ExecResult(result.returncode, result.stdout, result.stderr)

    def exec_attached(
        self,
        name: str,
        command: Sequence[str],
        *,
        workdir: str | None = None,
        handover: Handover | None = None,
    ) -> int:
        return mp.exec_attached(name, command, workdir=workdir, handover=handover)

    def shell(self, name: str) -> int:
        return mp.shell(name)

    def ssh_endpoint(self, name: str) -> SshEndpoint:
        status = self.status(name)
        if status is None or status.deleted:
            raise AgsekitError(
                f"the VM {name} does not exist in Multipass",
                hint=f"create it with `agsekit create-vm {name}`",
            )
        if not status.running:
            raise VmNotRunningError(
                f"the VM {name} is not running ({status.state.lower()})",
                hint=f"start it with `agsekit start-vm {name}`",
            )
        if not status.ipv4:
            raise VmNotRunningError(
                f"the VM {name} has no IPv4 address yet", hint="wait for it to finish booting"
            )
        port = os.environ.get(TEST_PORT_ENV, "")
        user = os.environ.get(TEST_USER_ENV, "")
        return SshEndpoint(
            status.ipv4[0], int(port) if port.isdigit() else SSH_PORT, user or SSH_USER
        )


def cloud_init_yaml(data: dict[str, Any]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    buffer = StringIO()
    yaml.dump(data, buffer)
    return "#cloud-config\n" + buffer.getvalue()


@contextmanager
def cloud_init_file(data: dict[str, Any]) -> Iterator[Path | None]:
    """The cloud-init user-data as a file Multipass can read, removed afterwards.

    It lives in the user's home, not under a hidden folder and not in /tmp: the Multipass
    snap cannot read /tmp (its own is private) nor hidden folders."""
    if not data:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="agsekit-cloud-init-", suffix=".yaml", dir=Path.home())
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(cloud_init_yaml(data))
        yield path
    finally:
        path.unlink(missing_ok=True)
