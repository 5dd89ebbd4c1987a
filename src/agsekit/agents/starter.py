"""The starter configuration offered when `agsekit run AGENT` finds no config at all."""

from __future__ import annotations

import json
from pathlib import Path

STARTER_VM = "agsekit"


def starter_config(folder: Path, agent_type: str) -> str:
    """One VM (2 CPUs, 4G RAM, 20G disk), this folder as a mount, and the agent."""
    source = json.dumps(str(folder))  # a double-quoted YAML scalar, whatever the path holds
    return (
        starter_vms("agsekit run") + "mounts:\n"
        f"  - source: {source}\n"
        f"    vm: {STARTER_VM}\n"
        "agents:\n"
        f"  {agent_type}:\n"
        f"    type: {agent_type}\n"
    )


def starter_vms(command: str) -> str:
    """The starter's comment line and its one VM."""
    return (
        f"# Written by `{command}`; see `agsekit config-example` for every option.\n"
        "vms:\n"
        f"  {STARTER_VM}:\n"
        "    cpu: 2\n"
        "    ram: 4G\n"
        "    disk: 20G\n"
    )


def write_starter(path: Path, text: str) -> None:
    """Write the config; never over an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(text)
