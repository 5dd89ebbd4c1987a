"""Plain-text rendering of `status` and `doctor` results."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import click

from agsekit.agents.sessions import Session
from agsekit.config.sizes import format_size
from agsekit.network.forwardstate import ForwardingState
from agsekit.vm.backend import Resources
from agsekit.vm.doctor import Check
from agsekit.vm.status import ABSENT, MountStatus, VmReport


def print_status(reports: list[VmReport]) -> None:
    if not reports:
        click.echo("no VMs in the config")
    for report in reports:
        for line in status_lines(report):
            click.echo(line)


def status_lines(report: VmReport) -> list[str]:
    address = f" ({', '.join(report.actual.ipv4)})" if report.actual and report.actual.ipv4 else ""
    state = "not created" if report.state == ABSENT else report.state
    lines = [f"{report.name}: {state}{address}"]
    actual = report.actual_resources
    lines.append(f"  config: {_resources(report.wanted)}")
    if actual is not None:
        lines.append(f"  VM:     {_resources(actual)}")
    for diff in report.differences:
        lines.append(
            f"  differs: {diff.field} {diff.configured} in the config, {diff.actual} in the VM "
            f"(agsekit resize-vm {report.name})"
        )
    if report.state == ABSENT:
        lines.append(f"  create it with: agsekit create-vm {report.name}")
    for mount in report.mounts:
        lines += _mount_lines(mount)
    lines += [
        f"  mount {m.source} -> {m.target}: active but not in the config"
        for m in report.unexpected_mounts
    ]
    if report.forwards:
        lines.append("  " + forwarding_line(report.forwarding))
        lines += [f"    {forward.describe()}" for forward in report.forwards]
    return lines


def forwarding_line(state: ForwardingState | None) -> str:
    if state is None or not state.running:
        return (
            "forwards: not kept up (run `agsekit portforward`, or install the service: "
            "`agsekit daemon install`)"
        )
    who = f"forwards ({state.keeper}, pid {state.pid})"
    since = f" since {_local(state.since)}" if state.since else ""
    if state.up:
        return f"{who}: up through {state.address}{since}"
    if state.error is None:
        return f"{who}: connecting"
    return f"{who}: DOWN{since}: {state.error}"


def _local(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _resources(res: Resources) -> str:
    return f"cpu {res.cpus}, ram {format_size(res.memory)}, disk {format_size(res.disk)}"


def _mount_lines(mount: MountStatus) -> list[str]:
    from agsekit.cli.commands.history import left_out_line
    from agsekit.core.display import format_bytes, show_path

    where = f"{show_path(str(mount.spec.source))} -> {mount.spec.target}"
    state = "mounted" if mount.active else "NOT MOUNTED (agsekit mount --all)"
    if mount.latest_snapshot is None:
        snapshot = "no snapshot yet"
    else:
        snapshot = f"latest snapshot {mount.latest_snapshot} ({age(mount.latest_age_seconds)})"
    loop = "backup loop running" if mount.loop_running else "no backup loop running"
    lines = [f"  mount {where}: {state}; {snapshot}; {loop}"]
    if mount.room is not None:
        room = mount.room
        inodes = (
            f", {room.inodes_free} of {room.inodes_total} inodes free" if room.inodes_total else ""
        )
        lines.append(
            f"    store {mount.spec.backup}: {format_bytes(room.free)} of "
            f"{format_bytes(room.total)} free{inodes}"
        )
    if mount.problem:
        lines.append(f"    problem: {mount.problem}")
    if mount.left_out:
        lines.append("    " + left_out_line(list(mount.left_out)))
    if mount.service is not None:
        from agsekit.cli.service_render import mount_lines

        lines += mount_lines(mount.service, indent="    ")
    return lines


def age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown age"
    if seconds < 0:
        return "in the future: check the clock"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def print_checks(checks: list[Check]) -> None:
    marks = {"ok": "ok     ", "warning": "warning", "problem": "PROBLEM"}
    for check in checks:
        click.echo(f"{marks.get(check.level, check.level)}  {check.message}")
        if check.fix:
            click.echo(f"         fix: {check.fix}")


def print_sessions(sessions: Sequence[Session]) -> None:
    if not sessions:
        click.echo("agent sessions: none running")
        return
    click.echo("agent sessions:")
    for session in sessions:
        since = datetime.fromisoformat(session.started)
        seconds = (datetime.now(timezone.utc) - since).total_seconds()
        local = since.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        click.echo(
            f"  {session.agent} in {session.vm} on {session.folder}, "
            f"since {local} ({age(seconds)}), pid {session.pid}"
        )
