"""The root command: lazy loading of subcommands and the one top-level error handler."""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from agsekit import __version__
from agsekit.core.errors import AgsekitError, ConfigError

if TYPE_CHECKING:
    from agsekit.cli.output import GuardedStream

# name -> (module under agsekit.cli.commands, attribute, one-line help). Keeping the help
# here lets `agsekit --help` list every command without importing any of them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "backup-once": ("backup", "backup_once", "Take one snapshot of a folder now."),
    "backup-repeated": (
        "backup",
        "backup_repeated",
        "Take a snapshot now, then again every N minutes.",
    ),
    "backup-repeated-mount": (
        "backup",
        "backup_repeated_mount",
        "Repeated snapshots of one configured mount.",
    ),
    "backup-repeated-all": (
        "backup",
        "backup_repeated_all",
        "Repeated snapshots of every configured mount at once.",
    ),
    "daemon": (
        "daemon",
        "daemon",
        "The background service: snapshots on every change (install, status, logs).",
    ),
    "config-example": ("config", "config_example", "Print a fully commented example config."),
    "config-check": ("config", "config_check", "Validate the config and show what it resolves to."),
    "config-gen": (
        "config_gen",
        "config_gen",
        "Write a commented config by answering questions.",
    ),
    "addmount": (
        "config_edit",
        "addmount",
        "Add a folder to the config's mounts (shows the diff).",
    ),
    "removemount": (
        "config_edit",
        "removemount",
        "Unmount a folder and remove it from the config's mounts.",
    ),
    "prepare": ("vm_info", "prepare", "Install Multipass and ssh when missing."),
    "create-vms": ("vm", "create_vms", "Create every VM of the config (or compare it)."),
    "create-vm": ("vm", "create_vm", "Create one VM of the config (or compare it)."),
    "resize-vm": ("vm", "resize_vm", "Apply the configured cpu/ram/disk to an existing VM."),
    "start-vm": ("vm", "start_vm", "Start a VM and mount its configured folders."),
    "stop-vm": ("vm", "stop_vm", "Stop a VM."),
    "restart-vm": ("vm", "restart_vm", "Restart a VM and mount its configured folders."),
    "destroy-vm": ("vm", "destroy_vm", "Delete and purge one VM."),
    "mount": ("vm_mounts", "mount", "Mount configured folders into their VMs."),
    "umount": ("vm_mounts", "umount", "Unmount configured folders from their VMs."),
    "shell": ("vm_mounts", "shell", "Open an interactive shell in a VM."),
    "ssh": ("ssh", "ssh", "ssh into a VM with agsekit's key (extra ssh options, -- COMMAND)."),
    "portforward": (
        "ssh",
        "portforward",
        "Keep the VMs' port-forwarding up in the foreground (Ctrl+C stops).",
    ),
    "net": ("net", "net", "Egress control: the allowlist proxy's log (net log VM --denied -f)."),
    "status": ("vm_info", "status", "VMs, resources, mounts and latest snapshots."),
    "doctor": ("vm_info", "doctor", "Check the host and config; explain each fix."),
    "list-bundles": ("bundles", "list_bundles", "Toolchain bundles a VM's `install:` may list."),
    "provision": ("bundles", "provision", "Install a VM's missing toolchain bundles."),
    "install-agents": ("agents", "install_agents", "Install agents (and Node.js) into their VMs."),
    "run": ("agents", "run", "Run an agent in the VM on this folder, with snapshots around it."),
    "up": ("agents", "up", "Host software, VMs, agents, mounts: all in one step."),
    "down": ("agents", "down", "Stop the VMs (refuses while agent sessions run)."),
    "backup-list": ("history", "backup_list", "List snapshots with their changes, pins, labels."),
    "backup-diff": ("history", "backup_diff", "What changed between snapshots, or since one."),
    "backup-deleted": (
        "history",
        "backup_deleted",
        "Files the snapshots hold that are gone now.",
    ),
    "backup-history": ("history", "backup_history", "Every version of one file; bring one back."),
    "backup-restore": ("restore", "backup_restore", "Restore a snapshot (or paths) to a folder."),
    "backup-pin": ("keep", "backup_pin", "Pin a snapshot so retention never removes it."),
    "backup-unpin": ("keep", "backup_unpin", "Unpin a snapshot."),
    "backup-clean": ("keep", "backup_clean", "Apply the retention policy to a snapshot folder."),
    "backup-check": ("check", "backup_check", "Verify every snapshot against its manifest."),
    "backup-repoint": ("backup", "backup_repoint", "Move a snapshot folder to a moved project."),
    "completion": (
        "completion",
        "completion",
        "Print the shell completion script (bash, zsh, fish).",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(f"agsekit.cli.commands.{entry[0]}")
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="agsekit")
@click.option(
    "--debug",
    is_flag=True,
    help="Show Python tracebacks instead of one-line errors, and every external command "
    "agsekit runs (multipass, find, ...) on stderr. Secrets never travel in a command "
    "line; `run` shows the agent's environment names with their values masked.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run AI coding agents inside a Multipass VM while the host keeps snapshots of your
    projects, so that anything an agent destroys can be brought back.

    \b
    Snapshots:  agsekit backup-once --source-dir ~/proj --dest-dir ~/backups-proj
    Config:     agsekit config-gen   (or: agsekit config-example > ~/.config/agsekit/config.yaml)
    Projects:   cd ~/projects/app && agsekit addmount

    Run `agsekit COMMAND --help` for the details of each command.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        from agsekit.tools.runner import set_trace

        set_trace(True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns expected errors into one clear message."""
    from agsekit.cli import output
    from agsekit.cli.signals import exit_code_for_interrupt

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    guarded = output.guard_stdout()
    try:
        code = _invoke(argv, guarded)
        sys.stdout.flush()
        if guarded.failed is not None:
            if isinstance(code, int) and code:
                output.earned_exit.append(code)  # the work's own result (a stopped loop)
            raise output.OutputError(guarded.failed.errno, guarded.failed.strerror)
    except click.exceptions.Abort:  # click's word for Ctrl+C (and our SIGTERM/SIGHUP)
        _say("\nInterrupted.")
        sys.exit(exit_code_for_interrupt())
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except AgsekitError as exc:
        if debug:
            raise
        report_error(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted.\n")
        sys.exit(exit_code_for_interrupt())
    except (output.OutputError, BrokenPipeError) as exc:
        _say(f"agsekit: error: cannot write output: {output.describe(exc)}")
        sys.exit(output.earned_exit[-1] if output.earned_exit else 1)
    except OSError as exc:
        if debug:
            raise
        from agsekit.core.display import show_path

        where = f": {show_path(os.fsdecode(exc.filename))}" if exc.filename else ""
        _say(f"agsekit: error: {exc.strerror or exc}{where}")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _invoke(argv: list[str] | None, guarded: GuardedStream) -> Any:
    from agsekit.cli.output import OutputError, earned_exit

    try:
        return cli.main(args=argv, prog_name="agsekit", standalone_mode=False)
    except SystemExit as exc:
        if guarded.failed is None:
            raise
        # click itself turns a broken pipe into a silent exit 1: report it like any
        # other output error (another code is the command's own result: keep it)
        if isinstance(exc.code, int) and exc.code not in (0, 1):
            earned_exit.append(exc.code)
        raise OutputError(guarded.failed.errno, guarded.failed.strerror) from None


def _say(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except OSError:
        pass


def report_error(exc: AgsekitError) -> None:
    lines = [f"agsekit: error: {exc.message}"]
    if isinstance(exc, ConfigError):
        lines += [f"  {problem}" for problem in exc.problems]
    if exc.hint:
        lines.append(f"  hint: {exc.hint}")
    _say("\n".join(lines))
