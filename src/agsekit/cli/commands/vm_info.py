"""status and doctor."""

from __future__ import annotations

import sys

import click

from agsekit.cli.options import config_option, json_option, load


@click.command("status")
@config_option
@json_option
def status(config_path: str | None, as_json: bool) -> None:
    """Show whether the background service is installed and running (and a config error it
    reports), then each configured VM: state, configured and real resources, mounts, and per
    mount the latest snapshot, its age, whether a backup loop is running and what the
    service does (watching or polling and why, last error, pending changes); per VM with
    port-forwarding, each forward and whether it is up (and who keeps it up: `agsekit
    portforward` or the service); then the agent sessions running now (agent, VM, folder,
    since when).

    \b
    Examples:
      agsekit status
      agsekit status --json
    """
    from agsekit.agents.sessions import running_sessions
    from agsekit.cli.service_render import service_json, service_lines
    from agsekit.service.manage import installation
    from agsekit.service.state import read_status
    from agsekit.vm.backends import default_backend
    from agsekit.vm.status import as_json as to_json
    from agsekit.vm.status import collect

    service = read_status()
    installed = installation()
    reports = collect(load(config_path), default_backend(), service=service)
    sessions = running_sessions()
    if as_json:
        from dataclasses import asdict

        from agsekit.cli.render import print_json

        print_json(
            {
                "vms": to_json(reports),
                "sessions": [asdict(s) for s in sessions],
                "service": service_json(service, installed),
            }
        )
        return
    from agsekit.cli.vm_render import print_sessions, print_status

    for line in service_lines(service, installed):
        click.echo(line)
    print_status(reports)
    print_sessions(sessions)


@click.command("doctor")
@config_option
def doctor(config_path: str | None) -> None:
    """Check the host and the config, and say how to fix each problem.

    Checks: Multipass installed and its daemon reachable, snap confinement of configured
    folders, configured mounts missing or empty inside a running VM, and for each backup
    folder: interrupted (-partial) snapshots, free space, working hard links, and every
    snapshot's metadata against its manifest (the fast form of `backup-check`). Exits 1
    when a problem is found.

    \b
    Example:
      agsekit doctor
    """
    from agsekit.cli.vm_render import print_checks
    from agsekit.vm.backends import default_backend
    from agsekit.vm.doctor import PROBLEM, run_checks

    checks = run_checks(load(config_path, required=False), default_backend())
    print_checks(checks)
    sys.exit(1 if any(c.level == PROBLEM for c in checks) else 0)


@click.command("prepare")
@click.option("--yes", "-y", is_flag=True, help="Install without asking.")
def prepare(yes: bool) -> None:
    """Install what the host needs and lacks: Multipass and openssh.

    Supported: Debian/Ubuntu (snapd + the multipass snap), macOS (Homebrew cask), Arch
    Linux. The plan is printed first; sudo is used only for the steps that need it.
    Running it again when everything is in place changes nothing.

    \b
    Example:
      agsekit prepare --yes
    """
    from agsekit.cli.commands.vm import confirm
    from agsekit.cli.render import TerminalReporter
    from agsekit.vm.prerequisites import command_line, detect_host, make_plan, run_plan

    facts = detect_host()
    plan = make_plan(facts)
    if plan.nothing_to_do:
        click.echo(f"{plan.system}: Multipass and ssh are installed; nothing to do")
        return
    click.echo(f"{plan.system}: agsekit will run:")
    for step in plan.steps:
        click.echo(f"  {' '.join(command_line(step, facts))}    # {step.description}")
    for item in plan.manual:
        click.echo(f"  by hand: {item}")
    if plan.steps:
        confirm("Run these commands?", yes)
    run_plan(plan, facts, TerminalReporter())
    click.echo("done; check everything with `agsekit doctor`")
