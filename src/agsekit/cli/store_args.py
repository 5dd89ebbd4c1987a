"""The store options every history command shares: --dest-dir DEST or --mount PATH."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from agsekit.cli.options import config_option, load, mount_containing

if TYPE_CHECKING:
    from agsekit.config.model import AlarmPolicy, Config, RetentionPolicy
    from agsekit.snapshots.engine.store import Store

F = TypeVar("F", bound=Callable[..., Any])


def store_options(func: F) -> F:
    func = config_option(func)
    func = click.option(
        "--mount",
        "mount_path",
        metavar="PATH",
        type=click.Path(path_type=Path),
        help="Use the snapshot folder of the configured mount that holds PATH.",
    )(func)
    func = click.option(
        "--dest-dir",
        "dest_dir",
        metavar="DEST",
        type=click.Path(file_okay=False, path_type=Path),
        help="Snapshot folder (as given to backup-once --dest-dir).",
    )(func)
    return func


@dataclass(frozen=True)
class StoreTarget:
    store: Store
    source: Path | None  # the live folder: recorded in the store, else the mount's source
    config_path: str | None
    mount_retention: RetentionPolicy | None
    mount_alarm: AlarmPolicy | None

    def policies(self) -> tuple[RetentionPolicy, AlarmPolicy]:
        """The mount's policies; for --dest-dir, those of the mount whose backup folder it
        is, else the top-level ones of the config (defaults when there is no config)."""
        if self.mount_retention is not None and self.mount_alarm is not None:
            return self.mount_retention, self.mount_alarm
        return policies_for_dest(load(self.config_path, required=False), self.store.dest)


def policies_for_dest(config: Config, dest: Path) -> tuple[RetentionPolicy, AlarmPolicy]:
    real = os.path.realpath(dest)
    for mount in config.mounts:
        if os.path.realpath(mount.backup) == real:
            return mount.retention, config.alarm
    return config.retention, config.alarm


def quiet_policies(dest: Path) -> tuple[RetentionPolicy, AlarmPolicy]:
    """Policies for commands that take no --config (backup-once, backup-repeated): from
    the default config when it loads, else the defaults."""
    from agsekit.config.load import empty_config
    from agsekit.core.errors import ConfigError

    try:
        config = load(None, required=False)
    except ConfigError:
        config = empty_config(None)
    return policies_for_dest(config, dest)


def resolve_store(
    dest_dir: Path | None, mount_path: Path | None, config_path: str | None
) -> StoreTarget:
    from agsekit.core.errors import UsageError
    from agsekit.snapshots.engine.store import Store

    if (dest_dir is None) == (mount_path is None):
        raise UsageError("give the snapshot folder as --dest-dir DEST or --mount PATH (one)")
    if dest_dir is not None:
        store = Store(dest_dir.expanduser())
        target = StoreTarget(store, store.recorded_source(), config_path, None, None)
    elif mount_path is not None:
        config = load(config_path)
        mount = mount_containing(config, mount_path)
        store = Store(mount.backup)
        source = store.recorded_source() or mount.source
        target = StoreTarget(store, source, config_path, mount.retention, config.alarm)
    if not store.exists():
        raise UsageError(f"there is no snapshot folder at {store.dest}")
    return target
