"""Shell completion: the script for each shell, and the values completed from the config
(VM, agent and mount names) and from a snapshot folder (snapshot names).

Completion runs on every Tab press, so it must be quick and must never fail: whatever
goes wrong (no config, a broken one, an unreadable store) completes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from agsekit.config.model import Config

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_AGSEKIT_COMPLETE"

Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]


def script(shell: str, command: click.Command) -> str:
    """The completion script for shell, to be sourced (bash, zsh) or saved (fish)."""
    from click.shell_completion import get_completion_class

    kind = get_completion_class(shell)
    if kind is None:
        raise click.BadParameter(f"{shell!r}: not one of {', '.join(SHELLS)}")
    return kind(command, {}, "agsekit", COMPLETE_VAR).source()


def _config(ctx: click.Context) -> Config | None:
    from agsekit.config.load import load_config
    from agsekit.config.paths import resolve_config_path

    path = ctx.params.get("config_path")
    with contextlib.suppress(Exception):
        return load_config(resolve_config_path(path if isinstance(path, str) else None))
    return None


def _matching(values: Iterable[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(v) for v in dict.fromkeys(values) if v.startswith(incomplete)]


def vms(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    config = _config(ctx)
    return _matching(config.vms if config else (), incomplete)


def agents(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    config = _config(ctx)
    return _matching(config.agents if config else (), incomplete)


def mounts(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Configured mount sources, as they would be typed (~ for the home folder)."""
    config = _config(ctx)
    if config is None:
        return []
    home = str(Path.home())
    sources = [str(m.source) for m in config.mounts]
    shown = ["~" + s[len(home) :] if s.startswith(home + "/") else s for s in sources]
    return _matching([*shown, *sources], incomplete)


def snapshots(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Snapshot names of the store named by --dest-dir, or --mount's, or the mount that
    holds the current folder; newest first."""
    from agsekit.snapshots.engine.store import Store

    with contextlib.suppress(Exception):  # also a current folder that was removed
        dest = _store_folder(ctx)
        if dest is not None:
            return _matching(reversed(Store(dest).snapshot_names()), incomplete)
    return []


def _store_folder(ctx: click.Context) -> Path | None:
    dest = ctx.params.get("dest_dir")
    if isinstance(dest, Path):
        return dest.expanduser()
    config = _config(ctx)
    if config is None:
        return None
    where = ctx.params.get("mount_path")
    folder = where.expanduser() if isinstance(where, Path) else Path.cwd()
    mount = config.mount_for(folder.absolute())
    return mount.backup if mount is not None else None
