"""The root command: lazy loading of subcommands and the one top-level error handler."""

from __future__ import annotations

import importlib
import sys

import click

from agsekit import __version__
from agsekit.core.errors import AgsekitError, ConfigError

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
    "config-example": ("config", "config_example", "Print a fully commented example config."),
    "config-check": ("config", "config_check", "Validate the config and show what it resolves to."),
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
@click.option("--debug", is_flag=True, help="Show tracebacks and the commands agsekit runs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Run AI coding agents inside a Multipass VM while the host keeps snapshots of your
    projects, so that anything an agent destroys can be brought back.

    \b
    Snapshots:  agsekit backup-once --source-dir ~/proj --dest-dir ~/backups-proj
    Config:     agsekit config-example > ~/.config/agsekit/config.yaml

    Run `agsekit COMMAND --help` for the details of each command.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI and turns expected errors into one clear message."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="agsekit", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("\nAborted.\n")
        sys.exit(130)
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
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(141)
    sys.exit(code if isinstance(code, int) else 0)


def report_error(exc: AgsekitError) -> None:
    lines = [f"agsekit: error: {exc.message}"]
    if isinstance(exc, ConfigError):
        lines += [f"  {problem}" for problem in exc.problems]
    if exc.hint:
        lines.append(f"  hint: {exc.hint}")
    sys.stderr.write("\n".join(lines) + "\n")
