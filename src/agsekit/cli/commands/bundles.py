"""list-bundles and provision: the toolchain bundles of a VM's `install:`."""

from __future__ import annotations

import click

from agsekit.cli import completion
from agsekit.cli.options import config_option, json_option, load


@click.command("list-bundles")
@json_option
def list_bundles(as_json: bool) -> None:
    """The bundles a VM's `install:` may list: what each installs, where it comes from,
    what is checked before it is used, and which versions it takes.

    \b
    Examples:
      agsekit list-bundles
      agsekit list-bundles --json
    In the config:
      vms:
        agent-ubuntu:
          install: [python:3.12, nodejs:22, golang, rust, docker, uv]
    """
    from dataclasses import asdict

    from agsekit.provision.catalogue import CATALOGUE

    if as_json:
        from agsekit.cli.render import print_json

        fields = ("name", "installs", "source", "verified", "versions")
        rows = [asdict(bundle) for bundle in CATALOGUE.values()]
        print_json([{key: row[key] for key in fields} for row in rows])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=True)
    for title in ("bundle", "installs", "source (what is checked)", "versions"):
        table.add_column(title, overflow="fold")
    for bundle in CATALOGUE.values():
        table.add_row(
            bundle.name, bundle.installs, f"{bundle.source} ({bundle.verified})", bundle.versions
        )
    Console().print(table)


@click.command("provision")
@click.argument("vm", required=False, shell_complete=completion.vms)
@click.option("--all", "all_vms", is_flag=True, help="Every VM of the config.")
@config_option
def provision(vm: str | None, all_vms: bool, config_path: str | None) -> None:
    """Install the bundles of the VM's `install:` that are missing.

    One round trip asks the VM what is there; only what is missing, or of another
    version than the config asks for, is installed, one step per bundle. What was
    installed is recorded with its version (bundles.json beside agents.json under
    ~/.local/state/agsekit). After a failed step, run it again: what is in place is
    only checked. create-vm, create-vms and up run this too.

    \b
    Examples:
      agsekit provision              # the VM of this folder's mount (else the first)
      agsekit provision agent-ubuntu
      agsekit provision --all
    """
    from agsekit.cli.render import TerminalReporter
    from agsekit.provision.run import provision as run
    from agsekit.vm.backends import default_backend
    from agsekit.vm.lifecycle import existing_status
    from agsekit.vm.selection import pick_vms

    config = load(config_path)
    names = pick_vms(config, vm, all_vms)
    backend = default_backend()
    reporter = TerminalReporter()
    for name in names:
        existing_status(backend, name)
        if not config.vms[name].install:
            reporter.info(f"[{name}] no bundles in its `install:`")
    run(config, names, backend, reporter)
