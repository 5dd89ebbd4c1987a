"""Where the configuration file is looked for."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def resolve_config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """--config PATH, else $CONFIG_PATH, else $XDG_CONFIG_HOME/agsekit/config.yaml."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit).expanduser().absolute()
    if env.get("CONFIG_PATH"):
        return Path(env["CONFIG_PATH"]).expanduser().absolute()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base).expanduser().absolute() / "agsekit" / "config.yaml"
