"""Every catalogued agent type installs (found and recorded with its version) and starts
in the VM, as its own user, through the Multipass double."""

from __future__ import annotations

import pytest

from agsekit.agents.catalogue import CATALOGUE
from agsekit.config.model import AGENT_TYPES
from tests.agents.conftest import VERSION, Setup, config_text, install_stand_in


def test_the_config_knows_every_catalogued_type() -> None:
    assert set(AGENT_TYPES) == set(CATALOGUE)


@pytest.mark.parametrize("agent_type", sorted(CATALOGUE))
def test_each_type_is_found_installed_and_starts(bare: Setup, agent_type: str) -> None:
    kind = CATALOGUE[agent_type]
    name = f"my-{agent_type}"
    bare.config.write_text(
        config_text(bare.project, bare.backups, bare.vm, f"  {name}:\n    type: {agent_type}\n")
    )
    install_stand_in(bare, name, agent_type)
    result = bare.run("install-agents")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{name}: {kind.title} {VERSION} already installed" in result.stdout
    ran = bare.run("run", name, "exit", "3")
    assert ran.returncode == 3, ran.stderr
    evidence = bare.guest_path(f"/home/agsekit-{name}") / "evidence"
    assert (evidence / "pwd").read_text().strip() == "/home/ubuntu/project"
