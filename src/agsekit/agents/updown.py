"""`up`: everything from an installed host to provisioned VMs, installed agents and
mounted folders, each step skipped when already done. `down`: stop the VMs, never under a
running session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agsekit.agents.install import install_agents
from agsekit.agents.sessions import running_sessions
from agsekit.config.model import Config
from agsekit.core.errors import AgsekitError
from agsekit.core.reporting import Reporter
from agsekit.provision.run import provision_running
from agsekit.vm.backend import RUNNING, VmBackend
from agsekit.vm.lifecycle import create_vms, start_vm, stop_vm
from agsekit.vm.mounts import ensure_mounts


class SessionsRunningError(AgsekitError):
    pass


@dataclass(frozen=True)
class UpStep:
    title: str
    run: Callable[[], str]  # returns what it did ("done", "already in place", ...)


def up_steps(
    config: Config,
    backend: VmBackend,
    reporter: Reporter,
    *,
    prepare: Callable[[], str],
    ignore_capacity: bool = False,
    service: Callable[[], str] | None = None,
) -> list[UpStep]:
    def create() -> str:
        missing = [n for n in config.vms if (s := backend.status(n)) is None or s.deleted]
        if not missing:
            return "all VMs exist"
        create_vms(config, missing, backend, reporter, ignore_capacity=ignore_capacity)
        return f"created {', '.join(missing)}"

    def start() -> str:
        stopped = [n for n in config.vms if (s := backend.status(n)) and s.state != RUNNING]
        for name in stopped:
            start_vm(config, name, backend, reporter)
        return f"started {', '.join(stopped)}" if stopped else "all VMs running"

    def bundles() -> str:
        if not any(spec.install for spec in config.vms.values()):
            return "no bundles configured"
        fresh = provision_running(config, list(config.vms), backend, reporter)
        done = [f"{r.bundle} in {r.vm}" for r in fresh if r.action != "present"]
        return f"installed {', '.join(done)}" if done else "all bundles installed"

    def agents() -> str:
        if not config.agents:
            return "no agents configured"
        results = install_agents(config, list(config.agents.values()), backend, reporter)
        fresh = [r.agent for r in results if r.action != "present"]
        return f"installed {', '.join(fresh)}" if fresh else "all agents installed"

    def mount() -> str:
        mounted = [m for vm in config.vms for m in ensure_mounts(config, vm, backend, reporter)]
        return f"mounted {len(mounted)} folder(s)" if mounted else "all folders mounted"

    steps = [
        UpStep("host: Multipass, ssh", prepare),
        UpStep("create VMs", create),
        UpStep("start VMs", start),
        UpStep("provision VMs", bundles),
        UpStep("install agents", agents),
        UpStep("mount folders", mount),
    ]
    if service is not None:  # protection of the host folders, whatever the VMs do
        steps.append(UpStep("background service", service))
    return steps


def run_up(steps: list[UpStep], reporter: Reporter) -> None:
    for number, step in enumerate(steps, start=1):
        reporter.info(f"[{number}/{len(steps)}] {step.title} ...")
        reporter.info(f"[{number}/{len(steps)}] {step.title}: {step.run()}")


def down(config: Config, backend: VmBackend, reporter: Reporter, *, force: bool) -> None:
    sessions = running_sessions()
    if sessions and not force:
        listing = "; ".join(f"{s.agent} in {s.vm} on {s.folder} (pid {s.pid})" for s in sessions)
        raise SessionsRunningError(
            f"{len(sessions)} agent session(s) running: {listing}",
            hint="end them first, or pass --force to stop the VMs anyway",
        )
    for name in config.vms:
        status = backend.status(name)
        if status is not None and not status.deleted:
            stop_vm(name, backend, reporter)
