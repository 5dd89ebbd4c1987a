"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from pathlib import Path

    from agsekit.config.model import Config, MountSpec

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    decorator = click.option(
        "--config",
        "config_path",
        metavar="PATH",
        help="Config file (default: $CONFIG_PATH, else ~/.config/agsekit/config.yaml).",
    )
    return decorator(func)


def json_option(func: F) -> F:
    decorator = click.option(
        "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of a table."
    )
    return decorator(func)


def load(config_path: str | None, *, required: bool = True) -> Config:
    from agsekit.config.load import load_config
    from agsekit.config.paths import resolve_config_path

    return load_config(resolve_config_path(config_path), required=required)


def mount_containing(config: Config, path: Path) -> MountSpec:
    """The configured mount whose source holds path (the deepest one), or a usage error
    that lists the mount sources."""
    from agsekit.core.errors import UsageError

    mount = config.mount_for(path.expanduser().absolute())
    if mount is None:
        known = ", ".join(str(m.source) for m in config.mounts) or "none configured"
        raise UsageError(
            f"{path} is not inside any mount in {config.path}", hint=f"mount sources: {known}"
        )
    return mount
