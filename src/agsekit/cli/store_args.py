"""The store options every history command shares: --dest-dir DEST or --mount PATH, and
the policies that apply to a store."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from agsekit.cli import completion
from agsekit.cli.options import config_option, load, mount_containing

if TYPE_CHECKING:
    from agsekit.config.model import AlarmPolicy, Config, MountSpec, RetentionPolicy
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
        shell_complete=completion.mounts,
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
class Policies:
    """What applies to one store. retention is None when the config does not load: a
    broken config must never make agsekit guess what to delete."""

    retention: RetentionPolicy | None
    alarm: AlarmPolicy
    problem: str | None = None  # why retention is skipped


@dataclass(frozen=True)
class StoreTarget:
    store: Store
    named_source: Path | None  # the folder named on the command line (its mount's source)
    config_path: str | None
    mount: MountSpec | None

    def live_source(self) -> Path:
        """The live folder: the one named (through --mount) wins over the recorded one,
        with a warning when they differ."""
        from agsekit.snapshots.history.catalog import live_source, source_note

        source = live_source(self.store, self.named_source)
        note = source_note(self.store, source)
        if note is not None:
            click.echo(f"warning: {note}", err=True)
        return source

    def source_or_none(self) -> Path | None:
        from agsekit.core.errors import AgsekitError

        try:
            return self.named_source or self.store.recorded_source()
        except AgsekitError:
            return self.named_source

    def tree_paths(self, paths: tuple[str, ...]) -> list[bytes]:
        """PATHs as typed, as paths inside the snapshots."""
        from agsekit.snapshots.history.selection import tree_path

        if not paths:
            return []
        source = self.source_or_none()
        if source is None:
            return [tree_path(p, Path("/nonexistent-root"), Path("/")) for p in paths]
        return [tree_path(p, source, Path.cwd()) for p in paths]

    def policies(self) -> Policies:
        """The mount's policies; for --dest-dir, those of the mount whose backup folder it
        is, else the top-level ones of the config (defaults when there is no config)."""
        from agsekit.core.errors import ConfigError

        if self.mount is not None:
            return Policies(self.mount.retention, load_alarm(self.config_path))
        try:
            return policies_for_dest(load(self.config_path, required=False), self.store.dest)
        except ConfigError as exc:
            return broken_config_policies(exc, self.store)


def load_alarm(config_path: str | None) -> AlarmPolicy:
    from agsekit.config.model import AlarmPolicy
    from agsekit.core.errors import ConfigError

    try:
        return load(config_path, required=False).alarm
    except ConfigError:
        return AlarmPolicy()


def broken_config_policies(exc: Exception, store: Store) -> Policies:
    """No retention, and the alarm policy of the last config that loaded for the store
    (its defaults only when none ever did): a broken config never changes either."""
    from agsekit.config.model import AlarmPolicy
    from agsekit.snapshots.keep.alarm import remembered_policy

    text = getattr(exc, "message", str(exc))
    problems = getattr(exc, "problems", [])
    detail = f" ({problems[0]})" if problems else ""
    alarm = remembered_policy(store)
    which = (
        "the alarm keeps the policy of the last config that loaded"
        if alarm is not None
        else "the alarm uses its defaults (no config has loaded for this store yet)"
    )
    return Policies(
        None,
        alarm or AlarmPolicy(),
        f"the config does not load ({text}{detail}): retention is skipped until it does; " + which,
    )


def policies_for_dest(config: Config, dest: Path) -> Policies:
    real = os.path.realpath(dest)
    for mount in config.mounts:
        if os.path.realpath(mount.backup) == real:
            return Policies(mount.retention, config.alarm)
    return Policies(config.retention, config.alarm)


def quiet_policies(dest: Path) -> Policies:
    """Policies for commands that take no --config (backup-once, backup-repeated): from
    the default config when it loads; when it exists but does not load, retention is
    skipped (and the alarm keeps the last policy that loaded)."""
    from agsekit.core.errors import ConfigError
    from agsekit.snapshots.engine.store import Store

    try:
        config = load(None, required=False)
    except ConfigError as exc:
        return broken_config_policies(exc, Store(dest))
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
        target = StoreTarget(store, None, config_path, None)
    elif mount_path is not None:
        config = load(config_path)
        mount = mount_containing(config, mount_path)
        store = Store(mount.backup)
        target = StoreTarget(store, mount.source, config_path, mount)
    if not store.exists():
        raise UsageError(f"there is no snapshot folder at {store.dest}")
    return target
