"""Agents' users and prefixes, and when agsekit warns or refuses (no VM needed)."""

from __future__ import annotations

from pathlib import Path

from agsekit.agents.catalogue import kind_of
from agsekit.agents.identity import binary_path, guest_user, install_dir, slug
from agsekit.agents.isolation import exposure, sharing_warnings, sharing_with
from agsekit.config.load import load_config
from agsekit.config.model import Config


def config(tmp_path: Path, agents: str, vms: str = "vms: {a: {}, b: {}}\n") -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(vms + "mounts:\n  - {source: /p, vm: a}\nagents:\n" + agents)
    return load_config(path)


KEYED = "    env: {KEY: '${KEY}'}\n"
BOTH_KEYED = f"  claude:\n    type: claude\n{KEYED}  codex:\n    type: codex\n{KEYED}"


def test_user_and_prefix_names_are_safe_and_distinct() -> None:
    assert slug("claude") == "claude"
    names = ["Claude", "claude.work", "claude work", "claude-work", "x" * 40]
    slugs = [slug(n) for n in names]
    assert len(set(slugs)) == len(slugs)
    for made in slugs:
        assert made == made.lower() and set(made) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
        assert len("agsekit-" + made) <= 32


def test_an_agent_lives_under_opt_and_is_started_by_absolute_path(tmp_path: Path) -> None:
    agent = config(tmp_path, "  claude: {type: claude}\n").agents["claude"]
    assert guest_user(agent) == "agsekit-claude"
    assert install_dir(agent) == "/opt/agsekit/agents/claude"
    assert binary_path(agent, kind_of("claude")) == "/opt/agsekit/agents/claude/bin/claude"


def test_no_warning_for_one_agent_or_for_agents_apart(tmp_path: Path) -> None:
    alone = config(tmp_path, "  claude: {type: claude, isolation: none}\n")
    assert exposure(alone, "a", {}) is None
    apart = config(tmp_path, "  claude: {type: claude}\n  codex: {type: codex}\n")
    records = {"a": {"claude": {"isolated": True}, "codex": {"isolated": True}}}
    assert exposure(apart, "a", records) is None


def test_warning_names_the_agents_and_why(tmp_path: Path) -> None:
    cfg = config(tmp_path, "  claude: {type: claude}\n  codex: {type: codex, isolation: none}\n")
    found = exposure(cfg, "a", {"a": {"claude": {"version": "1"}}})  # no "isolated": old
    assert found is not None
    assert found.agents == ("claude", "codex")
    assert "claude was installed the old way" in found.message
    assert "codex runs as the VM's user (isolation: none)" in found.message


def test_keyed_agents_share_a_vms_folders_unless_in_separate_vms(tmp_path: Path) -> None:
    shared = config(
        tmp_path, f"  claude:\n    type: claude\n{KEYED}  codex:\n    type: codex\n{KEYED}"
    )
    assert sharing_with(shared, shared.agents["claude"], "a") == ["codex"]
    assert len(sharing_warnings(shared)) == 2
    keyless = config(tmp_path, f"  claude:\n    type: claude\n{KEYED}  codex: {{type: codex}}\n")
    assert sharing_with(keyless, keyless.agents["claude"], "a") == []
    assert sharing_with(keyless, keyless.agents["codex"], "a") == []
    apart = config(
        tmp_path,
        f"  claude:\n    type: claude\n{KEYED}  codex:\n    type: codex\n    vm: b\n{KEYED}",
    )
    assert sharing_with(apart, apart.agents["claude"], "a") == []
    assert sharing_warnings(apart) == []


def test_no_vm_no_policy(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"agents:\n  claude:\n    type: claude\n{KEYED}  codex:\n    type: codex\n{KEYED}"
    )
    assert sharing_warnings(load_config(path)) == []
