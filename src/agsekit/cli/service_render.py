"""Text and JSON for the service's status (`daemon status`, and its part of `status`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

import click

from agsekit.core.display import show_path
from agsekit.service.manage import Installation, is_active
from agsekit.service.state import MountState, ServiceStatus


def service_json(found: ServiceStatus, installed: Installation) -> dict[str, Any]:
    return {
        "installed": installed.installed,
        "manager": installed.manager,
        "unit": str(installed.path),
        "unit_command": installed.command,
        "unit_is_this_agsekit": installed.current,
        "manager_state": installed.state,
        "manager_problem": installed.problem,
        "running": found.running,
        "pid": found.pid if found.running else None,
        "started": found.started,
        "config": found.config,
        "config_error": found.config_error,
        "mounts": [asdict(m) for m in found.mounts] if found.running else [],
    }


def service_lines(found: ServiceStatus, installed: Installation) -> list[str]:
    lines = [_headline(found, installed)]
    if installed.installed and not installed.current:
        lines.append(
            f"  the unit starts another agsekit ({installed.command}); run `agsekit daemon "
            "install` to point it at this one"
        )
    if installed.problem:
        lines.append(f"  {installed.manager}: {installed.problem}")
    error = found.config_error if found.running else None
    if error:
        lines.append(f"  CONFIG ERROR since {_local(error.get('since'))}: {error.get('message')}")
        lines += [f"    {problem}" for problem in error.get("problems", [])]
        lines.append("    (the service keeps running with the last config that loaded)")
    return lines


def _headline(found: ServiceStatus, installed: Installation) -> str:
    if installed.installed:
        where = f"installed ({installed.manager}: {installed.path}"
        where += f", {installed.state})" if installed.state else ")"
    elif installed.manager == "none":
        where = "not installed (no service manager)"
    else:
        where = "not installed (agsekit daemon install)"
    if found.running:
        return f"service: running, pid {found.pid}, since {_local(found.started)}; {where}"
    if installed.installed and is_active(installed):
        return f"service: starting; {where}"
    return f"service: NOT RUNNING; {where}"


def mount_lines(state: MountState, indent: str = "  ") -> list[str]:
    """What the service does for one mount."""
    if state.mode == "watching":
        head = f"watching ({state.watches} folders)"
    elif state.mode == "polling":
        head = f"POLLING: {state.reason}"
    else:
        head = state.mode
    pending = ""
    if state.pending_changes:
        pending = f"; {state.pending_changes} change(s) pending since {_local(state.pending_since)}"
    lines = [f"{indent}service: {head}{pending}"]
    if state.fix:
        lines.append(f"{indent}  fix: {state.fix}")
    if state.last_snapshot:
        lines.append(
            f"{indent}  last snapshot {state.last_snapshot} ({_age(state.last_snapshot_at)}); "
            f"last check {_age(state.last_check)}"
        )
    if state.overflows:
        lines.append(
            f"{indent}  the event queue overflowed {state.overflows} time(s), last "
            f"{_age(state.last_overflow)}: a full check followed each time"
        )
    if state.last_error:
        lines.append(f"{indent}  LAST ERROR ({_age(state.last_error_at)}): {state.last_error}")
    return lines


def print_service(found: ServiceStatus, installed: Installation) -> None:
    for line in service_lines(found, installed):
        click.echo(line)
    if not found.running:
        return
    for state in found.mounts:
        click.echo(f"mount {show_path(state.source)}:")
        for line in mount_lines(state):
            click.echo(line)


def _local(text: str | None) -> str:
    if not text:
        return "?"
    try:
        return datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return text


def _age(text: str | None) -> str:
    from agsekit.cli.vm_render import age

    if not text:
        return "never"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return age((datetime.now(timezone.utc) - moment).total_seconds())
