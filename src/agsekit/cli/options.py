"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from agsekit.config.model import Config

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
